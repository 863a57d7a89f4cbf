"""`albert-tf quickstart`, `train-tokenizer` and `train`: fine-tuning from files."""

import sys

from albert_tf.apps.cli_common import (add_data_columns, add_training_options,
                                       config_from_args, positive_int, print_json,
                                       stdout_to_stderr, summary)

QUICKSTART_NOTE = ("trained on the kit's small synthetic review set to show the workflow: it "
                   "knows that set's phrasing, not English sentiment; for real text train on "
                   "real data, or use `albert-tf demo` (a distilled SST-2 model)")


def cmd_train(args, note=None):
    from albert_tf.training.config import TrainConfig
    from albert_tf.training.finetune import train

    config = config_from_args(TrainConfig, args)
    with stdout_to_stderr():
        model = train(config)
    if model is None:  # one of several processes, not the one that writes
        print(f"albert-tf train: this process's share is done; process 0 writes {config.out}",
              file=sys.stderr)
        return
    print_json({**summary(model), **({"note": note} if note else {})})


def add_train(commands):
    p = commands.add_parser("train", help="fine-tune a classifier",
                            description="Fine-tune an ALBERT classifier on a labelled file "
                                        "and write a model directory.")
    p.add_argument("--train", required=True, help="training file (.tsv/.csv/.jsonl[.gz])")
    p.add_argument("--eval", help="evaluation file for early stopping and metrics")
    add_data_columns(p)
    add_training_options(p)
    p.set_defaults(func=cmd_train)


def cmd_quickstart(args):
    from albert_tf.bundled import MOVIE_REVIEWS_DEV, MOVIE_REVIEWS_TRAIN

    args.train, args.eval = MOVIE_REVIEWS_TRAIN, MOVIE_REVIEWS_DEV
    print(f"training a '{args.preset}' ALBERT on the bundled movie reviews "
          f"({MOVIE_REVIEWS_TRAIN}) and evaluating on {MOVIE_REVIEWS_DEV}", file=sys.stderr)
    cmd_train(args, note=QUICKSTART_NOTE)


def add_quickstart(commands):
    p = commands.add_parser("quickstart", help="train + evaluate on the bundled reviews (offline)",
                            description="A first run in about a minute, with no data to "
                                        "download: train a tokenizer and a tiny ALBERT on the "
                                        "small synthetic movie-review set bundled with the "
                                        "kit, evaluate it, write a model directory. It shows "
                                        "the workflow; it is not a sentiment model for real "
                                        "text (use `albert-tf demo` for that).")
    add_training_options(p)
    p.set_defaults(func=cmd_quickstart, preset="tiny", epochs=6, vocab_size=400,
                   learning_rate=5e-4, batch_size=32, max_length=64)


def cmd_train_tokenizer(args):
    from albert_tf.text.tokenizer import AlbertTokenizer

    tokenizer = AlbertTokenizer.train_from_files(args.input, vocab_size=args.vocab_size,
                                                 seed=args.seed)
    tokenizer.save(args.out)
    print_json({"out": args.out, "vocab_size": tokenizer.vocab_size})


def add_train_tokenizer(commands):
    from albert_tf.training.config import TrainConfig

    p = commands.add_parser("train-tokenizer", help="train a SentencePiece tokenizer",
                            description="Train an ALBERT SentencePiece (unigram) tokenizer on "
                                        "text files (.txt lines, or the text column of "
                                        ".tsv/.csv/.jsonl, optionally .gz).")
    p.add_argument("--input", nargs="+", required=True, help="text or data files")
    p.add_argument("--out", required=True, help="tokenizer directory to write")
    p.add_argument("--vocab-size", type=positive_int, default=TrainConfig.vocab_size)
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.set_defaults(func=cmd_train_tokenizer)


COMMANDS = (add_quickstart, add_train_tokenizer, add_train)
