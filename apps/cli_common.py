"""What every `albert-tf` command shares: JSON on stdout, option groups, configs from args.

Kept apart from `cli.py` so that the command modules (`apps/commands/`)
import it without importing the main parser back.
"""

import argparse
import contextlib
import dataclasses
import functools
import json
import os
import shlex
import sys

from albert_tf.contract import BACKENDS, EXIT_HEADS
from albert_tf.native_stderr import native_stderr_filtered
from albert_tf.text.data import TEXT_COLUMN_CANDIDATES

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

TEXT_COLUMN_HELP = ("column with the text (default: the first of "
                    f"{', '.join(TEXT_COLUMN_CANDIDATES)} that the file has)")


def bounded(kind, low=None, high=None):
    """An argparse type: `kind(value)` within [low, high], else a usage error (exit 2)."""
    def parse(value):
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'a whole number' if kind is int else 'a number'}, got {value!r}"
            ) from None
        if high is None and number < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        if high is not None and not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be in [{low}, {high}], got {value}")
        return number

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


positive_int = bounded(int, 1)  # counts, sizes, threads
unit_interval = bounded(float, 0, 1)  # shares and probabilities
port_number = bounded(int, 0, 65535)  # 0: any free port


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """`--help` shows each option's default, unless it has none or its help names it."""

    def _get_help_string(self, action):
        # Identity, not `in`: 0 == False, and a default of 0 is worth showing.
        if (action.default is None or action.default is False
                or action.default == argparse.SUPPRESS or "default" in (action.help or "")):
            return action.help
        return super()._get_help_string(action)


class CommandParser(argparse.ArgumentParser):
    """Every `albert-tf` command: defaults shown in `--help`, and options and
    texts accepted in any order (`predict MODEL --backend jax "text"`)."""

    def __init__(self, *args, formatter_class=DefaultsFormatter, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)
        self._intermixing = False

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        # argparse prints nothing for an option without help, default included.
        if (action.help is None and action.option_strings and action.default is not None
                and action.default is not False):
            action.help = "(default: %(default)s)"
        return action

    def parse_known_args(self, args=None, namespace=None):
        # The subcommand action calls parse_known_args; route it through the
        # intermixed parse, which itself calls parse_known_args (hence the flag).
        if self._intermixing:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


TEXTS_HELP = ("texts to answer (default: one per stdin line); a text that cannot be answered "
              "(empty, no tokens) gets an \"error\" record in its place and the exit status "
              "is 1")


def add_texts(parser, pairs=False):
    """TEXT arguments, `--input FILE` and `--text-column`; with `pairs`, also
    `--text-pair-column` (for the commands that classify)."""
    parser.add_argument("texts", nargs="*", metavar="TEXT", help=TEXTS_HELP + (
        "; a pair model reads each as TEXT<TAB>PAIR" if pairs else ""))
    parser.add_argument("--input", metavar="FILE",
                        help="read the texts from a .tsv/.csv/.jsonl (optionally .gz) or .txt "
                             "file instead (the training commands' column rules); each record "
                             "carries its row: the line it ends on, as error messages count")
    parser.add_argument("--text-column", help=TEXT_COLUMN_HELP + "; with --input")
    if pairs:
        parser.add_argument("--text-pair-column",
                            help="with --input: the column with the second text of each pair, "
                                 "for a model trained on pairs (default: the model's own pair "
                                 "column; on stdin and as arguments a pair is TEXT<TAB>PAIR)")


def check_pair_options(args, takes_pairs, model_columns=(None, None)):
    """The pair column to read (None for a single-text model), or one line saying
    why the options do not fit the model. A pair model reading `--input` takes its
    own `(text column, pair column)` from training unless told otherwise (two
    text columns cannot be guessed)."""
    from albert_tf.errors import AlbertTfError

    column = getattr(args, "text_pair_column", None)
    if column and not takes_pairs:
        raise AlbertTfError(f"--text-pair-column {column}: this model reads single texts, "
                            "not pairs")
    if takes_pairs and getattr(args, "input", None):
        args.text_column = args.text_column or model_columns[0]
        if not (column or model_columns[1]):
            raise AlbertTfError("this model reads text pairs: pass --text-pair-column with "
                                "--input")
        return column or model_columns[1]
    return None


# The extra that brings each optional module (pyproject.toml's extras), for a
# one-line hint instead of a ModuleNotFoundError traceback.
MODULE_EXTRAS = {
    "keras": "tensorflow", "h5py": "tensorflow", "tensorflow": "tensorflow",
    "tensorflow_text": "export", "mediapipe": "export", "jax": "jax", "gradio": "demo",
    "ai_edge_litert": "runtime", "torch": "teacher", "transformers": "teacher",
    "accelerate": "teacher", "safetensors": "checkpoints", "keras_hub": "checkpoints",
    "matplotlib": "plot", "apache_beam": "beam",
}
# Commands whose whole stack is one extra: Keras or TensorFlow missing there
# means that extra, not the training one.
COMMAND_EXTRAS = {"export": "export", "demo": "demo", "import": "checkpoints",
                  "export-checkpoint": "checkpoints"}


def install_hint(command, missing):
    """One line naming the extra that provides the module `missing`, or None."""
    root = (missing or "").split(".")[0]
    extra = MODULE_EXTRAS.get(root)
    if extra is None:
        return None
    if extra in ("tensorflow", "jax") and command in COMMAND_EXTRAS:
        extra = COMMAND_EXTRAS[command]
    return (f"`{command}` needs {root}, which is not installed: pip install -e \".[{extra}]\" "
            "(from the albert-tf checkout)")


# TensorFlow's native start-up lines that look like errors on a CPU machine
# and are not: absl writes them to stderr before TF_CPP_MIN_LOG_LEVEL applies.
def start_tensorflow_quietly():
    """Import TensorFlow and initialise its devices (where cuInit reports)
    with the start-up noise filtered; a no-op if it is not installed."""
    with native_stderr_filtered():
        try:
            import tensorflow as tf
        except ImportError:
            return
        tf.config.list_physical_devices()


def print_json(value):
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


@contextlib.contextmanager
def stdout_to_stderr():
    """Keras' progress bar writes to stdout; keep stdout for the JSON result."""
    stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        yield
    finally:
        sys.stdout = stdout


def config_from_args(config_class, args):
    """A config dataclass from the parsed arguments of the same names."""
    fields = {f: getattr(args, f) for f in config_class.__dataclass_fields__ if hasattr(args, f)}
    fields["verbose"] = 1 if sys.stderr.isatty() else 2
    return config_class(**fields)


def summary(model):
    """The JSON a training command prints: where the model is and how good it is."""
    metrics = model.metadata.get("eval_metrics", {})
    return {"out": model.path,
            "accuracy": metrics.get("accuracy"), "macro_f1": metrics.get("macro_f1"),
            "train_seconds": model.config["training"].get("train_seconds"),
            "num_parameters": model.metadata.get("num_parameters")}


def add_data_columns(parser, label_default="label"):
    parser.add_argument("--text-column", help=TEXT_COLUMN_HELP)
    parser.add_argument("--text-pair-column", help="column with the second text of a pair")
    parser.add_argument("--label-column", default=label_default,
                        help=f"column with the label (default: {label_default or 'from the model'})")


def add_config_option(parser, config_class, flag, **kwargs):
    """`--flag` for the field of the same name, its default taken from the
    config dataclass (one place for every default: `training.config`)."""
    field = config_class.__dataclass_fields__[flag.lstrip("-").replace("-", "_")]
    default = None if field.default is dataclasses.MISSING else field.default
    if isinstance(default, bool):
        kwargs.setdefault("action", "store_true")
    elif default is not None and "choices" not in kwargs:
        kwargs.setdefault("type", type(default))
    parser.add_argument(flag, default=default, **kwargs)


def add_backend(parser):
    parser.add_argument("--backend", choices=BACKENDS,
                        help="Keras backend (default: $KERAS_BACKEND or tensorflow)")


def add_run_options(parser, config_class, out_help):
    """The options of `training.config.RunConfig`, shared by train, distill and pretrain."""
    from albert_tf.models.presets import PRESETS
    from albert_tf.training.config import PRECISIONS

    option = functools.partial(add_config_option, parser, config_class)
    parser.add_argument("--out", required=True, help=out_help)
    option("--preset", choices=list(PRESETS), help="model shape")
    option("--tokenizer", help="spiece.model or tokenizer dir (default: train one)")
    option("--vocab-size", help="pieces of a newly trained tokenizer")
    option("--max-length", help="tokens per example")
    option("--learning-rate", help="AdamW peak (warm-up, then linear decay)")
    option("--warmup-ratio", help="share of steps spent warming up")
    option("--weight-decay", help="AdamW decoupled weight decay")
    option("--clipnorm", help="global gradient norm clip")
    option("--dropout", type=float, help="backbone dropout" + (
        " (default: the preset's)" if config_class.dropout is None else ""))
    option("--precision", choices=PRECISIONS, help="compute dtype policy")
    option("--seed", help="seed of weights, tokenizer and batch order")
    option("--resume", help="continue an interrupted run from its last backup")
    option("--backup-minutes", help="minutes between backups inside an epoch (one is also "
                                    "taken at every epoch's end); --resume goes on from the "
                                    "last one's batch. 0 = after every batch")
    option("--overwrite", help="replace an existing --out")
    add_backend(parser)


def add_training_options(parser, config_class=None):
    """Fine-tuning's options (`TrainConfig`, or a subclass such as `DistillConfig`)."""
    from albert_tf.training.config import TrainConfig

    config_class = config_class or TrainConfig
    option = functools.partial(add_config_option, parser, config_class)
    add_run_options(parser, config_class, "model directory to write")
    option("--init", help="pretrained directory to start from (from `albert-tf import` or "
                          "`albert-tf pretrain`), or a model directory with the same labels "
                          "to continue from; replaces --preset and --tokenizer")
    option("--new-head", help="with --init a model directory: keep its encoder and tokenizer, "
                              "start a new head for this run's labels")
    option("--batch-size", help="examples per step")
    option("--epochs", help="passes over the training data")
    option("--num-groups", type=positive_int,
           help="distinct layer weight groups (default: the preset's 1, one shared layer); "
                "the preset's layer count unshares them all: same compute, more parameters; "
                "with --init a model directory, its shared layer is untied into this many "
                "groups, each starting as the layer it replaces")
    option("--num-layers", type=positive_int,
           help="layer calls (default: the preset's, or the --init model's); ALBERT shares "
                "weights across calls, so an --init model (or, with --task embedding, "
                "embedder) directory runs at any depth its groups divide: fewer calls, less "
                "compute, the same weights")
    option("--classifier-dropout", help="dropout before the classifier head")
    option("--patience", help="epochs without eval improvement before stopping")
    option("--class-weight", help="'balanced' or JSON like '{\"pos\": 2.0}'")
    option("--multi-label", help="labels are sets, separated by --label-separator")
    option("--label-separator", help="separator of multi-label labels")
    option("--pad-to-max-length", help="pad every batch to --max-length (default: to its "
                                       "longest sequence, length-bucketed)")
    option("--data-parallel", help="train on every local device (JAX DataParallel / TF "
                                   "MirroredStrategy); --batch-size is the global batch")
    if config_class is TrainConfig:  # distillation runs in one process
        option("--coordinator", metavar="HOST:PORT",
               help="with --data-parallel on several JAX processes (hosts, or processes on "
                    "one): process 0's address, the same for every process (default: "
                    "KERAS_DISTRIBUTION_JOB_ADDRESSES or JAX_COORDINATOR_ADDRESS; none: one "
                    "process)")
        option("--num-processes", type=positive_int,
               help="how many processes train (default: KERAS_DISTRIBUTION_NUM_PROCESSES or "
                    "JAX_NUM_PROCESSES)")
        option("--process-id", type=int,
               help="this process, 0..N-1; 0 writes the model directory (default: "
                    "KERAS_DISTRIBUTION_PROCESS_ID or JAX_PROCESS_ID)")
        option("--peer-timeout", type=positive_int,
               help="seconds to wait for every process to join, and for a silent one")
    option("--max-train-examples", type=positive_int,
           help="use only the first N rows (an error if they miss a label)")
    option("--label-names", help="names for the file's label values, e.g. "
                                 "'0=negative,1=positive' (the model and its exports use them)")
    option("--exit-heads", choices=list(EXIT_HEADS),
           help="early exit: a classifier after every layer call, trained together "
                "(PABEE's depth-weighted loss): one head per call, or one shared by all; "
                "the model's own output is unchanged (default: none, or the --init model's)")
    option("--exit-heads-only", help="train only the per-call exit heads, the --init model "
                                     "frozen (DeeBERT's second stage): its own answers stay "
                                     "exactly as they were")


def command_line():
    """The command as typed, for the metadata of what it writes."""
    return "albert-tf " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _utf8_or_bytes(line):
    """A line as str when it is valid UTF-8, else its bytes, which every command's
    text check refuses with a reason (an error record in its place, as the
    runtime, `evaluate` and the demo do), never classified as mojibake."""
    if isinstance(line, str):
        try:
            line.encode("utf-8")
            return line
        except UnicodeEncodeError:  # an argument with undecodable bytes (surrogateescape)
            return os.fsencode(line)
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return bytes(line)


PREDICTION_FIELDS = (
    "One JSON object per text, in input order, with the same fields from `classify` and "
    "`predict`: label, score, scores (highest first), truncated, num_tokens, unknown_share, "
    "abstained (or error; a multi-label model gives labels, those at or above --threshold, in "
    "place of label and score; a pair model's records carry text_pair). "
    "label is null, and abstained says why, for a text the model cannot read or whose best "
    "score is under --score-threshold.")


def add_prediction_options(parser):
    """`--top-k`, `--max-unknown`, `--score-threshold`: `classify` and `predict` alike."""
    from albert_tf.prediction import MAX_UNKNOWN

    parser.add_argument("--top-k", type=positive_int, help="keep the k most likely labels in "
                                                           "scores (default: all)")
    parser.add_argument("--max-unknown", type=unit_interval, default=MAX_UNKNOWN,
                        help="no label for a text more than this share of whose pieces are "
                             "unknown to the model (emoji, another script); 1 labels "
                             "everything")
    parser.add_argument("--score-threshold", type=unit_interval,
                        help="no label when the best probability is under this (default: "
                             "none; single-label models)")
    parser.add_argument("--threshold", type=unit_interval,
                        help="a multi-label model's labels are those at or above this "
                             "(default: the model's, 0.5)")


def exit_rule(value):
    """`--exit`'s type: a rule string of a known form (argparse's usage error, exit 2,
    otherwise); the model's own limits are checked when it is loaded."""
    from albert_tf.runtime.adaptive import parse_exit_rule

    try:
        parse_exit_rule(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


@contextlib.contextmanager
def options_fail_in_one_line():
    """Options the model refuses (`ValueError`: a threshold for the other kind of
    model, an exit rule past its calls) as the command's one-line error."""
    from albert_tf.errors import AlbertTfError

    try:
        yield
    except ValueError as error:
        raise AlbertTfError(str(error)) from None


def split_pair(text):
    """`TEXT<TAB>PAIR` as `(text, pair)`; with no TAB the pair is empty (an error
    record for that line, naming the pair)."""
    tab = b"\t" if isinstance(text, bytes) else "\t"
    first, _, second = text.partition(tab)
    return first, second


def text_chunks(args, size=1024, pair_column=None, pairs=False):
    """`(texts, rows)` chunks from the arguments, a file (`--input`: rows are its
    line numbers), else every stdin line (empty ones included: each gets its
    record), `size` texts at a time: a long input is answered as it streams, not
    read into memory first. Bytes that are not UTF-8 stay bytes (see
    `_utf8_or_bytes`). `rows` is None but for a file. With `pairs`, every text is a
    `(text, pair)` tuple: from the file's `pair_column`, else split at a TAB."""
    from albert_tf.errors import AlbertTfError
    from albert_tf.text.data import iter_rows

    if args.texts and getattr(args, "input", None):
        raise AlbertTfError("give texts as arguments or --input FILE, not both")
    if pairs and not getattr(args, "input", None):
        for texts, rows in text_chunks(args, size):
            yield [split_pair(text) for text in texts], rows
        return
    if args.texts:
        yield [_utf8_or_bytes(text) for text in args.texts], None
        return
    if getattr(args, "input", None):
        chunk, rows = [], []
        for number, text, _ in iter_rows(args.input, args.text_column, label_column=None,
                                         text_pair_column=pair_column if pairs else None):
            chunk.append(text)
            rows.append(number)
            if len(chunk) == size:
                yield chunk, rows
                chunk, rows = [], []
        if chunk:
            yield chunk, rows
        return
    if sys.stdin.isatty():
        print("reading texts from stdin, one per line (Ctrl-D to end)", file=sys.stderr)
    # The raw bytes: Python's text stdin would smuggle a bad byte through as a
    # surrogate, and it would reach the model and the JSON output.
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    chunk = []
    for line in stream:
        chunk.append(_utf8_or_bytes(line.rstrip(b"\r\n" if isinstance(line, bytes) else "\r\n")))
        if len(chunk) == size:
            yield chunk, None
            chunk = []
    if chunk:
        yield chunk, None


def answer_each(args, answer, pairs=False, pair_column=None):
    """One JSON line per text, in input order, from `answer(texts)` (a list of
    dicts); returns the exit status. With `pairs`, `answer` gets `(text, pair)`
    tuples and each record shows both (`text`, `text_pair`).

    The rule for every command that takes texts (predict, embed, classify),
    from arguments or stdin alike: a text the model cannot take (empty,
    whitespace only, no tokens) gets `{"text": ..., "error": ...}` in its
    place, the others are answered, and the command exits 1 if any text had
    an error or none was given.
    """
    from albert_tf.errors import AlbertTfError
    from albert_tf.prediction import text_records

    seen = failed = 0
    for texts, rows in text_chunks(args, pair_column=pair_column, pairs=pairs):
        records = text_records(answer, texts, pairs)
        failed += sum("error" in record for record in records)
        for i, record in enumerate(records):
            where = {} if rows is None else {"row": rows[i]}
            print(json.dumps({**where, **record}, ensure_ascii=False),
                  flush=getattr(args, "flush", False))
        seen += len(texts)
    if not seen:
        raise AlbertTfError("no texts given (as arguments or lines on stdin)")
    if failed:
        print(f"albert-tf {args.command}: {failed} of {seen} texts had errors (their records "
              "say why)", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK
