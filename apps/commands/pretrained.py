"""`albert-tf import`, `export-checkpoint` and `pretrain`: pretrained encoders in and out."""

import functools

from albert_tf.apps.cli_common import (TEXT_COLUMN_HELP, add_config_option, add_run_options,
                                       command_line, config_from_args, positive_int,
                                       print_json, stdout_to_stderr)


def cmd_import(args):
    from albert_tf.checkpoints import import_checkpoint

    pretrained = import_checkpoint(args.source, args.path, args.out, overwrite=args.overwrite,
                                   revision=args.revision)
    backbone = pretrained.backbone
    print_json({"out": args.out, "heads": pretrained.heads,
                "num_parameters": int(backbone.count_params()),
                "vocabulary_size": backbone.vocabulary_size,
                "num_layers": backbone.num_layers, "hidden_dim": backbone.hidden_dim})


def add_import(commands):
    from albert_tf.checkpoints import SOURCES

    p = commands.add_parser(
        "import", help="import a keras-hub / Hugging Face / Google TF1 checkpoint",
        description="Convert a pretrained ALBERT checkpoint into a pretrained directory "
                    "(config, weights, tokenizer, metadata) that `train --init` fine-tunes. "
                    "keras-hub: a preset directory or handle (kaggle://..., hf://...); hf: a "
                    "save_pretrained directory (config.json, model.safetensors or "
                    "pytorch_model.bin, spiece.model) or a hub id such as "
                    "albert/albert-base-v2, through the Hugging Face cache (HF_HUB_OFFLINE=1 "
                    "uses only the cache); tf1: albert_config.json, model.ckpt-*, "
                    "30k-clean.model.")
    p.add_argument("source", choices=SOURCES, help="checkpoint format")
    p.add_argument("path", help="checkpoint directory, hub id (hf) or preset handle "
                                "(keras-hub)")
    p.add_argument("--revision", help="hub branch, tag or commit to pin (hf ids; default: "
                                      "main)")
    p.add_argument("--out", required=True, help="pretrained directory to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.set_defaults(func=cmd_import)


def cmd_export_checkpoint(args):
    from albert_tf.checkpoints import export_checkpoint

    print_json({"out": export_checkpoint(args.model, args.format, args.out),
                "format": args.format})


def add_export_checkpoint(commands):
    from albert_tf.checkpoints import TARGETS

    p = commands.add_parser(
        "export-checkpoint", help="write a model as a keras-hub preset or Hugging Face directory",
        description="Write the encoder of a pretrained or fine-tuned directory as a keras-hub "
                    "AlbertBackbone preset or a Hugging Face AlbertForPreTraining directory.")
    p.add_argument("model", help="pretrained or model directory")
    p.add_argument("--format", required=True, choices=TARGETS,
                   help="keras-hub: a keras-hub AlbertBackbone preset directory; hf: a Hugging "
                        "Face AlbertForPreTraining directory (config.json + model.safetensors)")
    p.add_argument("--out", required=True, help="directory to write (must be empty)")
    p.set_defaults(func=cmd_export_checkpoint)


def cmd_pretrain(args):
    from albert_tf.training.config import PretrainConfig
    from albert_tf.training.pretraining.trainer import pretrain

    with stdout_to_stderr():
        pretrained = pretrain(config_from_args(PretrainConfig, args), command=command_line())
    print_json({"out": args.out, **pretrained.metadata["heldout"],
                **pretrained.metadata["run"]})


def add_pretrain(commands):
    from albert_tf.training.config import PretrainConfig

    p = commands.add_parser(
        "pretrain", help="MLM + SOP pretraining on text files",
        description="Pretrain an ALBERT with masked-language modelling (n-gram masking) and "
                    "sentence-order prediction on text files (.txt lines, or the text column "
                    "of .tsv/.csv/.jsonl, optionally .gz; each row is a document). Writes a "
                    "pretrained directory with held-out MLM/SOP accuracy, corpus hashes and "
                    "a loss plot.")
    option = functools.partial(add_config_option, p, PretrainConfig)
    p.add_argument("--corpus", nargs="+", required=True, help="text or data files")
    add_run_options(p, PretrainConfig, "pretrained directory to write")
    option("--init", help="pretrained directory to continue from")
    option("--text-column", help=TEXT_COLUMN_HELP)
    option("--token-budget", help="padded tokens per batch (rows x length)")
    option("--steps", help="optimizer steps in all")
    option("--eval-every", help="steps between held-out evaluations and checkpoints")
    option("--heldout-fraction", help="documents kept out of training for MLM/SOP accuracy")
    option("--max-documents", type=positive_int, help="read only the first N documents")
    option("--time-limit-minutes", type=float,
           help="stop after this long and still write the model")
    option("--workers", help="threads building batches")
    p.set_defaults(func=cmd_pretrain)


COMMANDS = (add_import, add_export_checkpoint, add_pretrain)
