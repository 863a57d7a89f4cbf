"""A MediaPipe file run by MediaPipe itself, against the export's float32 file.

MediaPipe's `TextClassifier` tokenizes with the SentencePiece model embedded
in the file's metadata and pads every text to the file's static length; the
kit's float32 file (Keras parity <= 1e-4) run by the TF-free runtime is the
reference. Reports argmax agreement, max |Δp| and accuracy on a labelled file.

    python benchmarks/mediapipe_parity.py --export runs/mp-int8-export \
        --file mediapipe_int8.tflite --eval ../shared/data/sst2/dev.tsv
"""

import os
import sys

import numpy as np
from reporting import benchmark_parser, emit, machine


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--export", required=True, help="export directory")
    parser.add_argument("--file", default="mediapipe_int8.tflite", help="MediaPipe file in it")
    parser.add_argument("--eval", required=True, help="labelled file")
    parser.add_argument("--out", help="directory for report.json")
    args = parser.parse_args(argv)
    from mediapipe.tasks.python import text
    from mediapipe.tasks.python.core.base_options import BaseOptions

    from albert_tf.text.data import load_examples
    from albert_tf.runtime import Classifier

    examples = load_examples(args.eval)
    reference = Classifier.load(args.export, recipe="float32")
    expected = reference.predict_proba(examples.texts)
    labels = reference.labels
    options = text.TextClassifierOptions(base_options=BaseOptions(
        model_asset_path=os.path.join(args.export, args.file)))
    classifier = text.TextClassifier.create_from_options(options)
    got = np.zeros_like(expected)
    try:
        for row, sentence in enumerate(examples.texts):
            categories = classifier.classify(sentence).classifications[0].categories
            scores = {c.category_name: c.score for c in categories}
            got[row] = [scores[name] for name in labels]
            if row % 100 == 0:
                print(f"\r{row}/{len(examples)}", end="", file=sys.stderr, flush=True)
    finally:
        classifier.close()
    print(file=sys.stderr)
    gold = np.array([labels.index(str(label)) if str(label) in labels else -1
                     for label in examples.labels])
    emit({"machine": machine(), "export": args.export, "file": args.file, "texts": len(got),
          "agreement_with_float32": float((got.argmax(1) == expected.argmax(1)).mean()),
          "max_abs_prob_diff": float(np.abs(got - expected).max()),
          "accuracy": float((got.argmax(1) == gold).mean()) if (gold >= 0).all() else None,
          "float32_accuracy": float((expected.argmax(1) == gold).mean())
          if (gold >= 0).all() else None}, args.out)


if __name__ == "__main__":
    main()
