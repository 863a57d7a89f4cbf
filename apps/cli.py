"""`albert-tf`: the command line.

Conventions: `--help` on every command, results on stdout (JSON or JSON
lines), progress and errors on stderr, exit status 0 on success, 1 when
the input or options are wrong (message, no traceback), 2 for usage errors.
Heavy imports (Keras, a backend) happen inside the commands so that
`--help` is instant.
"""

import argparse
import json
import os
import sys

from albert_tf.apps.cli_common import (CommandParser, add_data_columns, add_texts,
                                       add_training_options, config_from_args, install_hint,
                                       print_json, start_tensorflow_quietly, stdout_to_stderr,
                                       summary)

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
# Commands that always run TensorFlow, and those that run Keras on its backend.
TENSORFLOW_COMMANDS = ("export",)
KERAS_COMMANDS = ("train", "quickstart", "evaluate", "predict", "embed", "pretrain", "import",
                  "export-checkpoint", "distill")


def _set_backend(args):
    if getattr(args, "backend", None):
        if "keras" in sys.modules and os.environ.get("KERAS_BACKEND") != args.backend:
            raise SystemExit("--backend must be chosen before Keras is imported")
        os.environ["KERAS_BACKEND"] = args.backend


def _text_chunks(args, size=1024):
    """Texts from the arguments, else every stdin line (empty ones included:
    each gets its record), `size` at a time: a long pipe is answered as it
    streams, not read into memory first."""
    if args.texts:
        yield args.texts
        return
    if sys.stdin.isatty():
        print("reading texts from stdin, one per line (Ctrl-D to end)", file=sys.stderr)
    chunk = []
    for line in sys.stdin:
        chunk.append(line.rstrip("\r\n"))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _answer_each(args, answer):
    """One JSON line per text, in input order, from `answer(texts)` (a list of
    dicts); returns the exit status.

    The rule for every command that takes texts (predict, embed, classify),
    from arguments or stdin alike: a text the model cannot take (empty,
    whitespace only, no tokens) gets `{"text": ..., "error": ...}` in its
    place, the others are answered, and the command exits 1 if any text had
    an error or none was given.
    """
    from albert_tf.errors import AlbertTfError, InputError

    seen = failed = 0
    for texts in _text_chunks(args):
        # Texts are checked before the model runs, and the error names the
        # first bad one: record it, drop it, ask again for the rest.
        records, pending = [None] * len(texts), list(range(len(texts)))
        while pending:
            try:
                answers = answer([texts[i] for i in pending])
            except InputError as error:
                if error.index is None or not 0 <= error.index < len(pending):
                    raise
                records[pending.pop(error.index)] = {"error": f"text {error.reason}"}
                failed += 1
                continue
            for i, result in zip(pending, answers):
                records[i] = result
            break
        for text, record in zip(texts, records):
            print(json.dumps({"text": text, **record}, ensure_ascii=False),
                  flush=getattr(args, "flush", False))
        seen += len(texts)
    if not seen:
        raise AlbertTfError("no texts given (as arguments or lines on stdin)")
    if failed:
        print(f"albert-tf {args.command}: {failed} of {seen} texts had errors (their records "
              "say why)", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


# --- commands -------------------------------------------------------------


def cmd_train_tokenizer(args):
    from albert_tf.tokenizer import AlbertTokenizer

    tokenizer = AlbertTokenizer.train_from_files(args.input, vocab_size=args.vocab_size,
                                                 seed=args.seed)
    tokenizer.save(args.out)
    print_json({"out": args.out, "vocab_size": tokenizer.vocab_size})


def _train_config(args):
    from albert_tf.training import TrainConfig

    return config_from_args(TrainConfig, args)


def cmd_train(args, note=None):
    from albert_tf.training import train

    with stdout_to_stderr():
        model = train(_train_config(args))
    print_json({**summary(model), **({"note": note} if note else {})})


QUICKSTART_NOTE = ("trained on the kit's small synthetic review set to show the workflow: it "
                   "knows that set's phrasing, not English sentiment; for real text train on "
                   "real data, or use `albert-tf demo` (a distilled SST-2 model)")


def cmd_quickstart(args):
    from albert_tf.datasets import MOVIE_REVIEWS_DEV, MOVIE_REVIEWS_TRAIN

    args.train, args.eval = MOVIE_REVIEWS_TRAIN, MOVIE_REVIEWS_DEV
    print(f"training a '{args.preset}' ALBERT on the bundled movie reviews "
          f"({MOVIE_REVIEWS_TRAIN}) and evaluating on {MOVIE_REVIEWS_DEV}", file=sys.stderr)
    cmd_train(args, note=QUICKSTART_NOTE)


def cmd_evaluate(args):
    from albert_tf.data import load_examples
    from albert_tf.model_dir import load

    model = load(args.model)
    training = model.config["training"]
    examples = load_examples(
        args.data, text_column=args.text_column or training.get("text_column"),
        text_pair_column=args.text_pair_column or training.get("text_pair_column"),
        label_column=args.label_column or training.get("label_column", "label"),
        multi_label=model.labels.multi_label,
        label_separator=training.get("label_separator", "|"))
    report = model.evaluate(examples, batch_size=args.batch_size)
    report["file"] = args.data
    print_json(report)


def cmd_predict(args):
    from albert_tf.model_dir import load

    model = load(args.model)

    def answer(texts):
        results = model.predict(texts, batch_size=args.batch_size)
        for result in results:
            if args.top_k:
                top = sorted(result["probabilities"].items(), key=lambda kv: -kv[1])
                result["probabilities"] = dict(top[:args.top_k])
        return results

    return _answer_each(args, answer)


def cmd_embed(args):
    from albert_tf.model_dir import load

    model = load(args.model)

    def answer(texts):
        vectors = model.embed(texts, pooling=args.pooling, batch_size=args.batch_size)
        return [{"embedding": [round(float(v), 6) for v in vector]} for vector in vectors]

    return _answer_each(args, answer)


def cmd_classify(args):
    from albert_tf.runtime import Classifier

    classifier = Classifier.load(args.export, recipe=args.recipe, num_threads=args.threads,
                                 max_batch_size=args.batch_size)
    print(f"albert-tf classify: {json.dumps(classifier.describe())}", file=sys.stderr)
    return _answer_each(args, lambda texts: [
        p.to_dict() for p in classifier.classify(texts, top_k=args.top_k,
                                                 long_texts=args.long_texts)])


def cmd_demo(args):
    from albert_tf.apps.demo import launch

    app = launch(args.export, host=args.host, port=args.port, num_threads=args.threads,
                 prevent_thread_lock=True, quiet=True)
    # The URL Gradio actually bound (with --port 0, the port it was given).
    print(f"albert-tf demo: serving on {app.local_url} (Ctrl-C to stop)", file=sys.stderr)
    app.block_thread()


def cmd_export(args):
    from albert_tf.export import ExportOptions, ParityError, export_model

    # Options left unset keep ExportOptions' defaults (one place to change them).
    given = {field: getattr(args, field) for field in ExportOptions.__dataclass_fields__
             if getattr(args, field, None) is not None}
    if args.mediapipe_recipes is not None:
        given["mediapipe_recipes"] = tuple(args.mediapipe_recipes)
    options = ExportOptions(model_dir=args.model, **given)
    try:
        rows, failure = export_model(options), None
    except ParityError as error:
        rows, failure = error.rows, error
        with open(os.path.join(args.out, "parity.md"), encoding="utf-8") as f:
            print(f.read(), file=sys.stderr)
    # stdout stays JSON either way; a miss also exits 1 with its one-line error.
    print_json({"out": args.out, "passed": failure is None, "formats": [
        {k: r.get(k) for k in ("file", "size_bytes", "accuracy", "agreement",
                               "max_abs_prob_diff", "failures")} for r in rows]})
    if failure is not None:
        raise failure


# --- parser ---------------------------------------------------------------


def build_parser():
    parser = argparse.ArgumentParser(
        prog="albert-tf",
        description="Train, evaluate and use ALBERT text classifiers.")
    from albert_tf import __version__

    parser.add_argument("--version", action="version", version=f"albert-tf {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=CommandParser)

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

    p = commands.add_parser("train-tokenizer", help="train a SentencePiece tokenizer",
                            description="Train an ALBERT SentencePiece (unigram) tokenizer on "
                                        "text files (.txt lines, or the text column of "
                                        ".tsv/.csv/.jsonl, optionally .gz).")
    p.add_argument("--input", nargs="+", required=True, help="text or data files")
    p.add_argument("--out", required=True, help="tokenizer directory to write")
    p.add_argument("--vocab-size", type=int, default=8000)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train_tokenizer)

    p = commands.add_parser("train", help="fine-tune a classifier",
                            description="Fine-tune an ALBERT classifier on a labelled file "
                                        "and write a model directory.")
    p.add_argument("--train", required=True, help="training file (.tsv/.csv/.jsonl[.gz])")
    p.add_argument("--eval", help="evaluation file for early stopping and metrics")
    add_data_columns(p)
    add_training_options(p)
    p.set_defaults(func=cmd_train)

    p = commands.add_parser("evaluate", help="metrics of a model on a labelled file (JSON)",
                            description="Print accuracy, macro-F1, per-class metrics and the "
                                        "confusion matrix as JSON.")
    p.add_argument("model", help="model directory")
    p.add_argument("--data", required=True, help="labelled file")
    add_data_columns(p, label_default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--backend", choices=["tensorflow", "jax", "torch"])
    p.set_defaults(func=cmd_evaluate)

    p = commands.add_parser(
        "export", help="SavedModel + quantized TFLite + parity report (needs TensorFlow)",
        description="Export a model directory: a SavedModel with a raw-string signature, "
                    "TFLite files by named recipe (float32, float16, dynamic_int8, int8), "
                    "MediaPipe TextClassifier variants, and a parity report. Exits 1 if a "
                    "format misses its parity target (files are kept for inspection).")
    p.add_argument("model", help="model directory")
    p.add_argument("--out", required=True, help="export directory to write")
    p.add_argument("--recipes",
                   help="comma-separated recipes (default: float32,float16,dynamic_int8,int8)")
    p.add_argument("--calibration", help="file of texts for int8 calibration "
                                         "(default: the model's training file)")
    p.add_argument("--calibration-size", type=int, help="texts to calibrate on (default: 1000)")
    p.add_argument("--eval", help="labelled file for the parity report")
    p.add_argument("--eval-size", type=int, help="use a seeded sample of N eval rows")
    p.add_argument("--mediapipe-recipes", nargs="*",
                   help="recipes to also write as MediaPipe TextClassifier files (default: "
                        "float32 dynamic_int8; none: pass the flag alone)")
    p.add_argument("--mediapipe-length", type=int,
                   help="MediaPipe's fixed input length (default: the model's max length)")
    p.add_argument("--min-agreement", type=float,
                   help="argmax agreement with the Keras float model every format must reach "
                        "(default: 0.99)")
    p.add_argument("--text-column", help="text column of the calibration/eval files")
    p.add_argument("--overwrite", action="store_true", default=None)
    p.set_defaults(func=cmd_export, backend="tensorflow")

    p = commands.add_parser(
        "classify", help="classify with an exported .tflite (TF-free runtime, JSON lines out)",
        description="Classify texts with the TF-free runtime (ai-edge-litert + sentencepiece "
                    "+ numpy): an export directory, one of its .tflite files, or a MediaPipe "
                    ".tflite. One JSON object per text, in input order: label, score, scores, "
                    "truncated, num_tokens (or error).")
    from albert_tf.runtime.bundle import RECIPE_PREFERENCE
    from albert_tf.runtime.classifier import LONG_TEXT_MODES

    p.add_argument("export", help="export directory or .tflite file")
    add_texts(p)
    p.add_argument("--recipe", help="which .tflite of the export (default: the first that "
                                    "passed its parity gate of "
                                    f"{', '.join(RECIPE_PREFERENCE)})")
    p.add_argument("--top-k", type=int, help="keep the k most likely labels in scores")
    p.add_argument("--long-texts", choices=LONG_TEXT_MODES, default=LONG_TEXT_MODES[0],
                   help="a text longer than the model's max length: cut it, or read it "
                        "sentence by sentence and combine their votes (reviews, articles)")
    p.add_argument("--threads", type=int, help="interpreter threads (default: all cores)")
    p.add_argument("--batch-size", type=int, default=32, help="texts per interpreter call")
    p.add_argument("--flush", action="store_true", help="flush after every line (for pipes)")
    p.set_defaults(func=cmd_classify)

    p = commands.add_parser(
        "demo", help="the Gradio web demo (TF-free runtime; bundled model by default)",
        description="Serve the Gradio demo on the TF-free runtime: classify, batch files, "
                    "recipe comparison, word attributions, similarity. Binds 127.0.0.1 and "
                    "creates no share link unless told otherwise.")
    p.add_argument("export", nargs="?", help="export directory (default: the bundled SST-2 "
                                             "sentiment model)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; 0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=int, default=7860, help="port to serve on; 0 takes any "
                                                         "free one (default: 7860)")
    p.add_argument("--threads", type=int, help="interpreter threads (default: all cores)")
    p.set_defaults(func=cmd_demo)

    for name, func, help_text in (
            ("predict", cmd_predict, "classify texts (JSON lines out)"),
            ("embed", cmd_embed, "embedding vectors of texts (JSON lines out)")):
        p = commands.add_parser(name, help=help_text,
                                description=f"{help_text[0].upper()}{help_text[1:]}, one "
                                            "JSON object per text in input order.")
        p.add_argument("model", help="model directory")
        add_texts(p)
        p.add_argument("--batch-size", type=int, default=64)
        p.add_argument("--backend", choices=["tensorflow", "jax", "torch"])
        if name == "predict":
            p.add_argument("--top-k", type=int, help="keep the k most likely labels")
        else:
            p.add_argument("--pooling", choices=["cls", "mean"], default="cls")
        p.set_defaults(func=func)

    from albert_tf.apps import cli_distill, cli_pretrained

    cli_pretrained.add_commands(commands)
    cli_distill.add_commands(commands)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    _set_backend(args)
    from albert_tf.errors import AlbertTfError

    # A user who set a TensorFlow log level sees everything it lets through.
    if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
        if args.command in TENSORFLOW_COMMANDS or (
                args.command in KERAS_COMMANDS
                and os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow"):
            start_tensorflow_quietly()

    try:
        status = args.func(args)
    except AlbertTfError as error:
        print(f"albert-tf {args.command}: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except ModuleNotFoundError as error:
        hint = install_hint(args.command, error.name)
        if hint is None:
            raise
        print(f"albert-tf {args.command}: error: {hint}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"albert-tf {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    return status or EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
