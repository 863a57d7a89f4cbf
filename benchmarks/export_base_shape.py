"""Export sizes and parity of the ALBERT-base shape (random weights).

Proves the shared layer is stored once (float32 ≈ 47 MB for 11.7M
parameters, int8 ≈ 12 MB) and reports agreement per recipe. A random model's
probabilities sit near 0.5, so agreement here is a stress test of
quantization noise, not of a trained model's margins.

    python benchmarks/export_base_shape.py --data ../shared/data --out runs/base-export
"""

import argparse
import itertools
import json
import os
import sys
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="the shared data folder")
    parser.add_argument("--out", default="runs/base-export")
    parser.add_argument("--recipes", default="float32,float16,dynamic_int8,int8")
    parser.add_argument("--eval-size", type=int, default=200)
    parser.add_argument("--tokenizer-texts", type=int, default=50000)
    # Random weights: agreement measures noise around ties, and latency does not
    # depend on the calibration size, so a short calibration is enough here.
    parser.add_argument("--calibration-size", type=int, default=200)
    args = parser.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")

    from albert_tf.contract import DEFAULT_MAX_LENGTH
    from albert_tf.text.data import LabelVocab, iter_text_lines
    from albert_tf.export import export_model
    from albert_tf.artifacts.model_dir import save_model_dir
    from albert_tf.models import build_classifier
    from albert_tf.text.tokenizer import AlbertTokenizer

    started = time.time()
    corpus = os.path.join(args.data, "imdb", "unsup.jsonl.gz")
    tokenizer = AlbertTokenizer.train(
        itertools.islice(iter_text_lines(corpus), args.tokenizer_texts), vocab_size=30000)
    print(f"tokenizer: {tokenizer.vocab_size} pieces in {time.time() - started:.0f}s",
          file=sys.stderr)
    model = build_classifier("base", num_classes=2, vocabulary_size=tokenizer.vocab_size)
    model_dir = args.out + "-model"
    sst2 = os.path.join(args.data, "sst2")
    save_model_dir(model_dir, model, tokenizer, LabelVocab(["0", "1"]),
                   {"max_length": DEFAULT_MAX_LENGTH, "train": os.path.join(sst2, "train.tsv")},
                   overwrite=True)
    rows = export_model(model_dir=model_dir, out=args.out, recipes=args.recipes,
                        eval=os.path.join(sst2, "dev.tsv"), eval_size=args.eval_size,
                        calibration_size=args.calibration_size,
                        mediapipe_recipes=(), min_agreement=0.5, overwrite=True)
    summary = {"num_parameters": int(model.count_params()), "formats": [
        {k: r[k] for k in ("file", "size_bytes", "bytes_per_parameter", "agreement",
                           "max_abs_prob_diff", "convert_s")} for r in rows]}
    json.dump(summary, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
