"""`albert-tf import`, `export-checkpoint` and `pretrain`: pretrained encoders in and out.

Registered on the main parser by `cli.build_parser`; same conventions
(JSON result on stdout, progress and errors on stderr, exit 1 on bad input).
"""

import shlex
import sys

from albert_tf.apps.cli_common import TEXT_COLUMN_HELP, config_from_args, print_json, stdout_to_stderr


def cmd_import(args):
    from albert_tf.checkpoints import import_checkpoint

    pretrained = import_checkpoint(args.source, args.path, args.out, overwrite=args.overwrite,
                                   revision=args.revision)
    backbone = pretrained.backbone
    print_json({"out": args.out, "heads": pretrained.heads,
                 "num_parameters": int(backbone.count_params()),
                 "vocabulary_size": backbone.vocabulary_size,
                 "num_layers": backbone.num_layers, "hidden_dim": backbone.hidden_dim})


def cmd_export_checkpoint(args):
    from albert_tf.checkpoints import export_checkpoint

    print_json({"out": export_checkpoint(args.model, args.format, args.out),
                 "format": args.format})


def cmd_pretrain(args):
    from albert_tf.pretraining.trainer import PretrainConfig, pretrain

    command = "albert-tf " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with stdout_to_stderr():
        pretrained = pretrain(config_from_args(PretrainConfig, args), command=command)
    print_json({"out": args.out, **pretrained.metadata["heldout"],
                 **pretrained.metadata["run"]})


def add_commands(commands):
    from albert_tf.checkpoints import SOURCES, TARGETS

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

    p = commands.add_parser(
        "pretrain", help="MLM + SOP pretraining on text files",
        description="Pretrain an ALBERT with masked-language modelling (n-gram masking) and "
                    "sentence-order prediction on text files (.txt lines, or the text column "
                    "of .tsv/.csv/.jsonl, optionally .gz; each row is a document). Writes a "
                    "pretrained directory with held-out MLM/SOP accuracy, corpus hashes and "
                    "a loss plot.")
    p.add_argument("--corpus", nargs="+", required=True, help="text or data files")
    p.add_argument("--out", required=True, help="pretrained directory to write")
    p.add_argument("--preset", default="small", choices=["tiny", "small", "base", "large"])
    p.add_argument("--init", help="pretrained directory to continue from")
    p.add_argument("--tokenizer", help="tokenizer dir or spiece.model (default: train one)")
    p.add_argument("--vocab-size", type=int, default=30000)
    p.add_argument("--text-column", help=TEXT_COLUMN_HELP)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--token-budget", type=int, default=16384,
                   help="padded tokens per batch (rows x length)")
    p.add_argument("--steps", type=int, default=10000, help="optimizer steps in all")
    p.add_argument("--eval-every", type=int, default=1000,
                   help="steps between held-out evaluations and checkpoints")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--warmup-ratio", type=float, default=0.05)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--heldout-fraction", type=float, default=0.01,
                   help="documents kept out of training for MLM/SOP accuracy")
    p.add_argument("--max-documents", type=int, help="read only the first N documents")
    p.add_argument("--precision", default="float32",
                   choices=["float32", "mixed_bfloat16", "mixed_float16"])
    p.add_argument("--time-limit-minutes", type=float,
                   help="stop after this long and still write the model")
    p.add_argument("--workers", type=int, default=1, help="threads building batches")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--backend", choices=["tensorflow", "jax", "torch"],
                   help="Keras backend (default: $KERAS_BACKEND or tensorflow)")
    p.set_defaults(func=cmd_pretrain)
