"""`albert-tf export`: a model directory to SavedModel, TFLite recipes and MediaPipe files."""

import os
import sys

from albert_tf.apps.cli_common import positive_int, print_json, unit_interval
from albert_tf.native_stderr import CONVERTER_NOISE, RUNTIME_NOISE, native_stderr_filtered
from albert_tf.contract import RECIPES


def cmd_export(args):
    from albert_tf.export import ExportOptions, ParityError, export_model

    # Options left unset keep ExportOptions' defaults (one place to change them).
    given = {field: getattr(args, field) for field in ExportOptions.__dataclass_fields__
             if getattr(args, field, None) is not None}
    if args.mediapipe_recipes is not None:
        given["mediapipe_recipes"] = tuple(args.mediapipe_recipes)
    options = ExportOptions(model_dir=args.model, **given)
    try:
        # Native code's notices (LiteRT's XNNPACK line at each parity check) held back.
        with native_stderr_filtered(RUNTIME_NOISE + CONVERTER_NOISE):
            rows, failure = export_model(options), None
    except ParityError as error:
        rows, failure = error.rows, error
        with open(os.path.join(args.out, "parity.md"), encoding="utf-8") as f:
            print(f.read(), file=sys.stderr)
    # stdout stays JSON either way; a miss also exits 1 with its one-line error.
    # A classifier's rows carry accuracy and agreement, an embedder's cosines.
    fields = (("mean_cosine", "min_cosine") if rows and "mean_cosine" in rows[0]
              else ("accuracy", "agreement", "max_abs_prob_diff"))
    print_json({"out": args.out, "passed": failure is None, "formats": [
        {k: r.get(k) for k in ("file", "size_bytes", *fields, "failures")} for r in rows]})
    if failure is not None:
        raise failure


def add_export(commands):
    from albert_tf.export.options import ExportOptions

    defaults = ExportOptions(model_dir=None, out=None)
    p = commands.add_parser(
        "export", help="SavedModel + quantized TFLite + parity report (needs TensorFlow)",
        description="Export a model directory: a SavedModel with a raw-string signature, "
                    f"TFLite files by named recipe ({', '.join(RECIPES)}), "
                    "MediaPipe TextClassifier variants, and a parity report. Exits 1 if a "
                    "format misses its parity target (files are kept for inspection).")
    p.add_argument("model", help="model directory")
    p.add_argument("--out", required=True, help="export directory to write")
    p.add_argument("--recipes", help=f"comma-separated recipes (default: {','.join(RECIPES)})")
    p.add_argument("--calibration", help="file of texts for int8 calibration "
                                         "(default: the model's training file)")
    p.add_argument("--calibration-size", type=positive_int, help="texts to calibrate on (default: "
                                                          f"{defaults.calibration_size})")
    p.add_argument("--eval", help="labelled file for the parity report")
    p.add_argument("--eval-size", type=positive_int, help="use a seeded sample of N eval rows")
    p.add_argument("--mediapipe-recipes", nargs="*",
                   help="recipes to also write as MediaPipe TextClassifier files (default: "
                        f"{' '.join(defaults.mediapipe_recipes)}; none: pass the flag alone)")
    p.add_argument("--mediapipe-length", type=positive_int,
                   help="MediaPipe's fixed input length (default: the model's max length)")
    p.add_argument("--no-adaptive", dest="adaptive", action="store_false", default=None,
                   help="a model with exit heads: skip its adaptive_{recipe}.tflite files (early "
                        "exit; written by default for every recipe but int8)")
    p.add_argument("--min-agreement", type=unit_interval,
                   help="argmax agreement with the Keras float model every format must reach "
                        f"(default: {defaults.min_agreement})")
    p.add_argument("--text-column", help="text column of the calibration/eval files")
    p.add_argument("--label-names",
                   help="new names for the model's labels, e.g. '0=negative,1=positive': "
                        "labels.txt, MediaPipe's label file and the SavedModel say them (the "
                        "eval file may keep the old values)")
    p.add_argument("--overwrite", action="store_true", default=None,
                   help="replace an existing --out")
    p.set_defaults(func=cmd_export, backend="tensorflow")


COMMANDS = (add_export,)
