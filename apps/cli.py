"""`albert-tf`: the command line.

Conventions: `--help` on every command, results on stdout (JSON or JSON
lines), progress and errors on stderr, exit status 0 on success, 1 when
the input or options are wrong (message, no traceback), 2 for usage errors.
Heavy imports (Keras, a backend) happen inside the commands so that
`--help` is instant.

Each command lives in `apps/commands/` beside its own arguments; this module
only assembles the parser, picks the backend and turns errors into exit codes.
"""

import argparse
import os
import re
import sys

from albert_tf.apps.cli_common import (EXIT_ERROR, EXIT_OK, CommandParser, install_hint,
                                       start_tensorflow_quietly)

# Commands that always run TensorFlow, and those that run Keras on its backend.
TENSORFLOW_COMMANDS = ("export",)
KERAS_COMMANDS = ("train", "quickstart", "evaluate", "predict", "embed", "similarity", "search",
                  "pretrain", "import",
                  "export-checkpoint", "distill", "label", "average")


def for_the_command_line(error):
    """The library's messages name both spellings of an option ("overwrite=True /
    --overwrite"); on the command line only the flag means anything."""
    return re.sub(r"\b[a-z_]+=\S+ / (--[a-z-]+)", r"\1", str(error))


def _set_backend(args):
    if getattr(args, "backend", None):
        if "keras" in sys.modules and os.environ.get("KERAS_BACKEND") != args.backend:
            raise SystemExit("--backend must be chosen before Keras is imported")
        os.environ["KERAS_BACKEND"] = args.backend


def build_parser():
    from albert_tf import __version__
    from albert_tf.apps.commands import MODULES

    parser = argparse.ArgumentParser(
        prog="albert-tf",
        description="Train, evaluate and use ALBERT text classifiers.")
    parser.add_argument("--version", action="version", version=f"albert-tf {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=CommandParser)
    for module in MODULES:
        for add_command in module.COMMANDS:
            add_command(commands)
    parser.command_parsers = commands.choices
    return parser


def main(argv=None):
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras and getattr(args, "passes_extra_options", False) and all(
            extra.startswith("--") and "=" in extra for extra in extras):
        args.pipeline_args = extras  # classify-files: Beam's own --option=value
    elif extras:  # the command's own usage, not the top-level one
        parser.command_parsers[args.command].error(
            f"unrecognized arguments: {' '.join(extras)}")
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
        print(f"albert-tf {args.command}: error: {for_the_command_line(error)}",
              file=sys.stderr)
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
