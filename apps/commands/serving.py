"""`albert-tf classify` and `demo`: an export on the TF-free runtime."""

import json
import sys

from albert_tf.apps.cli_common import (PREDICTION_FIELDS, add_prediction_options, add_texts,
                                       answer_each, check_pair_options, exit_rule,
                                       options_fail_in_one_line, port_number, positive_int)
from albert_tf.native_stderr import RUNTIME_NOISE, native_stderr_filtered
from albert_tf.contract import RECIPE_PREFERENCE

BATCH_SIZE = 32  # texts per interpreter call


def cmd_classify(args):
    from albert_tf.runtime import Classifier

    # LiteRT announces its XNNPACK delegate on stderr at the first call: make that
    # call here, quietly, so stderr carries only what the user needs.
    with native_stderr_filtered(RUNTIME_NOISE), options_fail_in_one_line():
        classifier = Classifier.load(args.export, recipe=args.recipe, num_threads=args.threads,
                                     max_batch_size=args.batch_size,
                                     max_unknown=args.max_unknown,
                                     score_threshold=args.score_threshold,
                                     threshold=args.threshold, exit=args.exit)
        pairs = classifier.takes_pairs
        classifier.warm_up()
    contract = classifier.bundle.manifest.get("contract", {})
    column = check_pair_options(args, pairs, (contract.get("text_column"),
                                              contract.get("text_pair_column")))
    if args.verbose:
        print(f"albert-tf classify: {json.dumps(classifier.describe())}", file=sys.stderr)

    def answer(texts):
        first, second = zip(*texts) if pairs else (texts, None)
        return [p.to_dict() for p in classifier.classify(
            list(first), top_k=args.top_k, long_texts=args.long_texts,
            pairs=None if second is None else list(second))]

    return answer_each(args, answer, pairs, column)


def add_classify(commands):
    from albert_tf.runtime.adaptive import RULE_FORMS
    from albert_tf.runtime.classifier import LONG_TEXT_MODES

    p = commands.add_parser(
        "classify", help="classify with an exported .tflite (TF-free runtime, JSON lines out)",
        description="Classify texts with the TF-free runtime (ai-edge-litert + sentencepiece "
                    "+ numpy): an export directory, one of its .tflite files, or a MediaPipe "
                    ".tflite. " + PREDICTION_FIELDS)
    p.add_argument("export", help="export directory or .tflite file")
    add_texts(p, pairs=True)
    p.add_argument("--recipe", help="which .tflite of the export (default: the first that "
                                    "passed its parity gate of "
                                    f"{', '.join(RECIPE_PREFERENCE)})")
    p.add_argument("--long-texts", choices=LONG_TEXT_MODES, default=LONG_TEXT_MODES[0],
                   help="a text longer than the model's max length: cut it, or read it "
                        "sentence by sentence (a sentence model, e.g. SST-2's), or in chunks "
                        "of whole sentences that fit (a document model), and combine their "
                        "votes")
    add_prediction_options(p)
    p.add_argument("--exit", metavar="RULE", type=exit_rule,
                   help="early exit on the export's adaptive file (a model trained with exit "
                        f"heads): {', '.join(RULE_FORMS)}; each record says how many layer "
                        "calls it took (default: the whole-model file)")
    p.add_argument("--threads", type=positive_int, help="interpreter threads (default: all cores)")
    p.add_argument("--batch-size", type=positive_int, default=BATCH_SIZE,
                   help="texts per interpreter call")
    p.add_argument("--flush", action="store_true", help="flush after every line (for pipes)")
    p.add_argument("--verbose", action="store_true",
                   help="print what was loaded (file, recipe, backend, threads) to stderr")
    p.set_defaults(func=cmd_classify)


def cmd_demo(args):
    from albert_tf.apps.demo import launch

    app = launch(args.export, host=args.host, port=args.port, num_threads=args.threads,
                 prevent_thread_lock=True, quiet=True, embedder=args.embedder)
    # The URL Gradio actually bound (with --port 0, the port it was given).
    print(f"albert-tf demo: serving on {app.local_url} (Ctrl-C to stop)", file=sys.stderr)
    app.block_thread()


def add_demo(commands):
    p = commands.add_parser(
        "demo", help="the Gradio web demo (TF-free runtime; bundled model by default)",
        description="Serve the Gradio demo on the TF-free runtime: classify, batch files, "
                    "recipe comparison, word attributions, similarity and search. Binds 127.0.0.1 (--host "
                    "changes that), never creates a public share link and sends no usage "
                    "analytics.")
    p.add_argument("export", nargs="?", help="export directory (default: the bundled SST-2 "
                                             "sentiment model)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=port_number, default=7860, help="port to serve on; 0 takes any "
                                                         "free one")
    p.add_argument("--threads", type=positive_int, help="interpreter threads (default: all cores)")
    p.add_argument("--embedder", help="sentence embedder of the Similarity and Search tabs: an "
                                      "embedder export (default: the bundled one; 'none': the "
                                      "classifier's own features and no Search tab)")
    p.set_defaults(func=cmd_demo)


COMMANDS = (add_classify, add_demo)
