"""Calibration choices for the int8 recipe, on one trained model (issue 17, item 3).

Each variant converts the export's `token_ids` SavedModel to a full-integer
file and is measured against the Keras float model on a labelled file:
argmax agreement, max |Δp|, accuracy, size, and p50 latency on real
sentences (batch 1, one thread, variants interleaved per sentence so that
machine noise hits them alike). Variants:

- `int8 before, N texts`: the recipe before its layer norms were kept float
  (attention core and renormalization only), N random training texts padded
  to the longest (the calibrator prepares one input shape for all samples);
- `int8 before, N texts + K flagged tensors in float`: the quantization
  debugger's per-tensor error (RMSE / quantization step, TFLite's documented
  heuristic) on the same texts, and the K worst tensors kept in float (they
  were the layer norms' ADDs and MULs);
- `int8 as shipped, N texts`: every op of every layer norm in float too;
- `dynamic_int8`: the float-activation reference point.

    python benchmarks/int8_calibration.py --model runs/sst2-distilled-2 \
        --export runs/sst2-distilled-2-export --calibration ../shared/data/sst2/train.tsv \
        --eval ../shared/data/sst2/dev.tsv --out runs/int8-calibration
"""

import dataclasses
import os
import random
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from reporting import benchmark_parser, emit, machine  # noqa: E402


def representative(tokenizer, texts, max_length):
    from albert_tf.runtime.runner import INPUTS
    from albert_tf.text.tokenizer import pad_sequences

    packed, _ = tokenizer.encode_unpadded(texts, None, max_length)
    length = pad_sequences(packed, max_length)[INPUTS[0]].shape[1]

    def dataset():
        for sequence in packed:
            yield dict(pad_sequences([sequence], length, length))

    return dataset


def flagged_tensors(saved_model, recipe, dataset, count):
    """The `count` tensors with the largest RMSE / quantization step."""
    import tensorflow as tf

    from albert_tf.export import tflite

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model,
                                                         signature_keys=["token_ids"])
    plain = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=["token_ids"])
    order = tflite.input_names_in_tensor_order(plain.convert())
    positional = lambda: ([sample[name] for name in order] for sample in dataset())  # noqa: E731
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = positional
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                           tf.lite.OpsSet.TFLITE_BUILTINS]
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=positional,
        debug_options=tf.lite.experimental.QuantizationDebugOptions(
            denylisted_ops=list(recipe.float_ops)))
    debugger.run()
    with tempfile.NamedTemporaryFile("w+", suffix=".csv") as f:
        debugger.layer_statistics_dump(f)
        f.seek(0)
        import csv

        rows = list(csv.DictReader(f))
    scored = []
    for row in rows:
        scale = float(row["scale"] or 0)
        if scale > 0:
            scored.append((np.sqrt(float(row["mean_squared_error"])) / scale,
                           row["tensor_name"]))
    scored.sort(reverse=True)
    return [(name, round(float(score), 3)) for score, name in scored[:count]]


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--model", required=True, help="kit model directory (the reference)")
    parser.add_argument("--export", required=True, help="its export (for the SavedModel)")
    parser.add_argument("--calibration", required=True, help="training file")
    parser.add_argument("--eval", required=True, help="labelled file")
    parser.add_argument("--sizes", default="200,1000", help="calibration text counts")
    parser.add_argument("--flagged", type=int, default=8, help="worst tensors kept in float")
    parser.add_argument("--latency-texts", type=int, default=200)
    parser.add_argument("--out", help="directory for report.json and the files")
    args = parser.parse_args(argv)

    import tensorflow_text  # noqa: F401  (the SavedModel's SentencePiece op)

    from albert_tf.text.data import load_examples
    from albert_tf.export import RECIPES, tflite
    from albert_tf.export.parity import compare, tflite_probabilities
    from albert_tf.artifacts.model_dir import load
    from albert_tf.models.attention import RENORMALIZATION_SCOPE
    from albert_tf.runtime import ModelRunner

    trained = load(args.model)
    saved_model = os.path.join(args.export, "saved_model")
    evaluation = load_examples(args.eval)
    y_true = trained.labels.encode(evaluation)
    packed, _ = trained.tokenizer.encode_unpadded(evaluation.texts, evaluation.pairs,
                                                  trained.max_length)
    reference = trained.predict_proba(evaluation.texts, evaluation.pairs)
    pool = load_examples(args.calibration, require_labels=False).texts
    out = args.out or tempfile.mkdtemp()
    os.makedirs(out, exist_ok=True)

    shipped = RECIPES["int8"]
    # The recipe before its layer norms were kept float: only the attention core
    # and its renormalization were.
    before = dataclasses.replace(shipped, float_scopes=(RENORMALIZATION_SCOPE,))
    variants = {"dynamic_int8": (RECIPES["dynamic_int8"], None, ())}
    sizes = [int(s) for s in args.sizes.split(",")]
    samples = {size: random.Random(0).sample(pool, min(size, len(pool))) for size in sizes}
    for size in sizes:
        variants[f"int8 before, {size} texts"] = (before, samples[size], ())
    flagged = flagged_tensors(saved_model, before, representative(
        trained.tokenizer, samples[sizes[-1]], trained.max_length), args.flagged)
    print(f"flagged: {flagged}", file=sys.stderr)
    variants[f"int8 before, {sizes[-1]} texts + {args.flagged} flagged tensors in float"] = (
        before, samples[sizes[-1]], tuple(name for name, _ in flagged))
    for size in sizes:
        variants[f"int8 as shipped (layer norms float), {size} texts"] = (
            shipped, samples[size], ())

    rows, paths = {}, {}
    for name, (recipe, texts, float_nodes) in variants.items():
        dataset = representative(trained.tokenizer, texts, trained.max_length) if texts else None
        started = time.perf_counter()
        try:
            blob, _ = tflite.convert(saved_model, recipe, dataset, signature_key="token_ids",
                                     float_nodes=float_nodes)
        except Exception as error:  # report a variant that does not convert, go on
            rows[name] = {"error": str(error)[:300]}
            continue
        path = os.path.join(out, name.replace(" ", "_").replace(",", "") + ".tflite")
        with open(path, "wb") as f:
            f.write(blob)
        paths[name] = path
        rows[name] = {"size_mb": round(len(blob) / 1e6, 3),
                      "convert_s": round(time.perf_counter() - started, 1),
                      **{k: v for k, v in compare(reference, tflite_probabilities(
                          path, packed, trained.max_length), y_true).items() if k != "finite"}}
        print(f"{name}: {rows[name]}", file=sys.stderr, flush=True)

    runners = {name: ModelRunner(path, num_threads=1) for name, path in paths.items()}
    order = random.Random(1).sample(range(len(packed)), min(args.latency_texts, len(packed)))
    times = {name: [] for name in runners}
    for i in order:
        for name, runner in runners.items():
            started = time.perf_counter()
            runner.run([packed[i]], trained.max_length)
            times[name].append(time.perf_counter() - started)
    for name, t in times.items():
        rows[name]["p50_ms_real_sentences"] = round(1e3 * float(np.median(t[5:])), 3)
    emit({"machine": machine(), "model": args.model, "eval": args.eval,
          "texts": len(packed), "flagged": flagged, "variants": rows}, args.out)


if __name__ == "__main__":
    main()
