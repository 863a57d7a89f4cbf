"""What every `albert-tf` command shares: JSON on stdout, option groups, configs from args.

Kept apart from `cli.py` so that command modules (`cli_pretrained.py`,
`cli_distill.py`) import it without importing the main parser back.
"""

import argparse
import contextlib
import json
import os
import sys
import tempfile

from albert_tf.data import TEXT_COLUMN_CANDIDATES

TEXT_COLUMN_HELP = ("column with the text (default: the first of "
                    f"{', '.join(TEXT_COLUMN_CANDIDATES)} that the file has)")


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


def add_texts(parser):
    parser.add_argument("texts", nargs="*", metavar="TEXT", help=TEXTS_HELP)


# The extra that brings each optional module (pyproject.toml's extras), for a
# one-line hint instead of a ModuleNotFoundError traceback.
MODULE_EXTRAS = {
    "keras": "tensorflow", "h5py": "tensorflow", "tensorflow": "tensorflow",
    "tensorflow_text": "export", "mediapipe": "export", "jax": "jax", "gradio": "demo",
    "ai_edge_litert": "runtime", "torch": "teacher", "transformers": "teacher",
    "accelerate": "teacher", "safetensors": "checkpoints", "keras_hub": "checkpoints",
    "matplotlib": "plot",
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
NATIVE_NOISE = ("absl::InitializeLog", "oneDNN custom operations", "cudart_stub",
                "cuInit", "cuda drivers", "TensorFlow binary is optimized",
                "rebuild TensorFlow with the appropriate compiler flags",
                "Unable to register cu", "computation placer already registered")


@contextlib.contextmanager
def native_stderr_filtered(noise=NATIVE_NOISE):
    """Hold back what native code writes to stderr (fd 2) inside the block,
    then pass on every line but the known start-up noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines():
                if line.strip() and not any(n in line for n in noise):
                    print(line, file=sys.stderr)


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


def add_training_options(parser):
    parser.add_argument("--out", required=True, help="model directory to write")
    parser.add_argument("--preset", default="small",
                        choices=["tiny", "small", "base", "large"], help="model shape")
    parser.add_argument("--init", help="pretrained directory to start from (from `albert-tf "
                                       "import` or `albert-tf pretrain`), or a model directory "
                                       "with the same labels to continue from; replaces "
                                       "--preset and --tokenizer")
    parser.add_argument("--tokenizer", help="spiece.model or tokenizer dir (default: train one)")
    parser.add_argument("--vocab-size", type=int, default=8000,
                        help="pieces of a newly trained tokenizer")
    parser.add_argument("--max-length", type=int, default=128, help="tokens per example")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per step")
    parser.add_argument("--epochs", type=int, default=3, help="passes over the training data")
    parser.add_argument("--learning-rate", type=float, default=1e-4, help="AdamW peak (warm-up, then linear decay)")
    parser.add_argument("--warmup-ratio", type=float, default=0.1, help="share of steps spent warming up")
    parser.add_argument("--weight-decay", type=float, default=0.01, help="AdamW decoupled weight decay")
    parser.add_argument("--clipnorm", type=float, default=1.0, help="global gradient norm clip")
    parser.add_argument("--dropout", type=float, help="backbone dropout (default: preset's)")
    parser.add_argument("--num-groups", type=int,
                        help="distinct layer weight groups (default: the preset's 1, one "
                             "shared layer); the preset's layer count unshares them all: "
                             "same compute, more parameters")
    parser.add_argument("--classifier-dropout", type=float, default=0.1, help="dropout before the classifier head")
    parser.add_argument("--patience", type=int, default=2,
                        help="epochs without eval improvement before stopping")
    parser.add_argument("--class-weight",
                        help="'balanced' or JSON like '{\"pos\": 2.0}'")
    parser.add_argument("--multi-label", action="store_true",
                        help="labels are sets, separated by --label-separator")
    parser.add_argument("--label-separator", default="|", help="separator of multi-label labels")
    parser.add_argument("--precision", default="float32",
                        choices=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--pad-to-max-length", action="store_true",
                        help="pad every batch to --max-length (default: to its longest "
                             "sequence, length-bucketed)")
    parser.add_argument("--data-parallel", action="store_true",
                        help="train on every local device (JAX DataParallel / TF "
                             "MirroredStrategy); --batch-size is the global batch")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, tokenizer and batch order")
    parser.add_argument("--max-train-examples", type=int, help="use only the first N rows")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from its last finished epoch")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"],
                        help="Keras backend (default: $KERAS_BACKEND or tensorflow)")
