"""Issue 33's second design, measured: the exit rule inside the graph (a TFLite
`WHILE` over the shared layer) against the signatures file the kit ships.

Builds, from a model directory with exit heads, one dynamic_int8 `.tflite` whose
`serving_default` runs the embedding, then calls the shared layer in a
`tf.while_loop` until the current exit's best probability reaches `threshold`
(an input) or the calls run out; it returns `probabilities` and `calls`. Then,
on `--data`, batch 1, one thread, blocks round-robin in one run: accuracy, mean
calls and p50 of that file, of the export's adaptive file under
`confidence:THRESHOLD` and of its whole-model file. Needs TensorFlow (the
build), like `export`.

```bash
python benchmarks/early_exit_while.py --model runs/bundled-exits --export sst2 \
    --data ../shared/data/sst2/dev.tsv --threshold 0.95
```
"""

import os
import tempfile
import time

import numpy as np

from reporting import benchmark_parser, emit, machine


def build_while_file(model_dir, path):
    """The `WHILE` design for a confidence rule, dynamic_int8; returns its size."""
    import keras
    import tensorflow as tf

    import albert_tf
    from albert_tf.export.adaptive import exit_heads_in_order
    from albert_tf.export.graphs import probability_model

    model = probability_model(albert_tf.load(model_dir))
    backbone, heads = model.backbone, exit_heads_in_order(model)
    group = backbone.transformer_groups[0]
    # The heads as one stacked constant, gathered by call: variables read inside
    # the loop's branches would not freeze into a TFLite file.
    kernels = tf.stack([tf.convert_to_tensor(head.kernel) for head in heads])
    biases = tf.stack([tf.convert_to_tensor(head.bias) for head in heads])

    def run(token_ids, segment_ids, padding_mask, threshold):
        hidden = backbone.embedding(token_ids, segment_ids, training=False)
        mask = backbone.attention_mask(padding_mask)

        def keep_going(call, hidden, probabilities):
            return tf.logical_and(call < len(heads), tf.reduce_max(probabilities) < threshold)

        def one_call(call, hidden, probabilities):
            for inner in group:
                hidden = inner(hidden, mask, training=False)
            logits = tf.matmul(backbone.pooler(hidden), tf.gather(kernels, call))
            return call + 1, hidden, tf.nn.softmax(logits + tf.gather(biases, call))

        start = (tf.constant(0), hidden, tf.zeros([1, model.num_classes]))
        calls, _, probabilities = tf.while_loop(
            keep_going, one_call, start,
            shape_invariants=(tf.TensorShape([]), tf.TensorShape([1, None, backbone.hidden_dim]),
                              tf.TensorShape([1, model.num_classes])))
        return {"probabilities": probabilities, "calls": calls}

    specs = [tf.TensorSpec([1, None], tf.int32, name=name)
             for name in ("token_ids", "segment_ids", "padding_mask")]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", run, input_signature=specs + [
        tf.TensorSpec([], tf.float32, name="threshold")])
    with tempfile.TemporaryDirectory() as saved:
        archive.write_out(saved, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        blob = converter.convert()
    with open(path, "wb") as f:
        f.write(blob)
    return len(blob)


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--model", required=True, help="model directory with exit heads")
    parser.add_argument("--export", required=True, help="export (or bundled name) of its weights")
    parser.add_argument("--data", required=True, help="labelled file of real texts")
    parser.add_argument("--threshold", type=float, default=0.95, help="confidence rule")
    parser.add_argument("--sample", type=int, default=400, help="texts timed")
    parser.add_argument("--block", type=int, default=50, help="texts per model per round")
    parser.add_argument("--warmup", type=int, default=20, help="untimed texts first")
    parser.add_argument("--out", help="directory for report.json")
    args = parser.parse_args(argv)

    from ai_edge_litert.interpreter import Interpreter

    from albert_tf.runtime.adaptive import AdaptiveRunner, parse_exit_rule
    from albert_tf.runtime.bundle import adaptive_file, locate
    from albert_tf.runtime.runner import ModelRunner
    from albert_tf.text.data import load_examples
    from albert_tf.text.tokenizer import pad_sequences

    bundle = locate(args.export, "dynamic_int8")
    path = os.path.join(tempfile.mkdtemp(), "while_dynamic_int8.tflite")
    size = build_while_file(args.model, path)
    looped = Interpreter(model_path=path, num_threads=1).get_signature_runner()
    threshold = np.array(args.threshold, "float32")

    def run_while(sequence):
        batch = pad_sequences([sequence], bundle.max_length)
        out = looped(threshold=threshold, **batch)
        return out["probabilities"][0], int(out["calls"])

    adaptive = AdaptiveRunner(adaptive_file(bundle), num_threads=1)
    whole = ModelRunner(bundle.model_path, num_threads=1)
    rule = parse_exit_rule(f"confidence:{args.threshold}")
    def run_whole(sequence):
        out = whole.run([sequence], bundle.max_length)[whole.probability_output]
        return out[0], adaptive.num_calls

    def run_signatures(sequence):
        probabilities, calls = adaptive.run([sequence], bundle.max_length, rule)
        return probabilities[0], int(calls[0])

    runs = {"whole model": run_whole, "signatures (shipped)": run_signatures,
            "while loop": run_while}
    examples = load_examples(args.data)
    names = list(bundle.labels)
    originals = bundle.manifest.get("original_labels") or names
    gold = np.array([names.index(x) if x in names else originals.index(x)
                     for x in examples.labels])
    packed, _ = bundle.tokenizer.encode_unpadded(examples.texts, None, bundle.max_length)
    rows = {}
    for name, run in runs.items():
        answers = [run(sequence) for sequence in packed]
        rows[name] = {"accuracy": float((np.array([a[0] for a in answers]).argmax(-1)
                                         == gold).mean()),
                      "mean_calls": float(np.mean([a[1] for a in answers]))}
    order = np.random.default_rng(0).permutation(len(packed))[:args.sample + args.warmup]
    times = {name: [] for name in runs}
    for start in range(0, len(order), args.block):
        block = [packed[i] for i in order[start:start + args.block]]
        for name, run in runs.items():
            for index, sequence in enumerate(block, start=start):
                began = time.perf_counter()
                run(sequence)
                if index >= args.warmup:
                    times[name].append(time.perf_counter() - began)
    for name, row in rows.items():
        row["p50_ms"] = round(float(np.median(times[name])) * 1000, 4)
    emit({"model": args.model, "export": args.export, "threshold": args.threshold,
          "while_file_bytes": size, "adaptive_file_bytes": os.path.getsize(adaptive_file(bundle)),
          "machine": machine(), "designs": rows}, args.out)


if __name__ == "__main__":
    main()
