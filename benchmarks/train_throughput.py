"""Fine-tuning and `predict` throughput: our ALBERT against keras-hub's, same run.

For one shape, batch, length, precision and Keras backend, times
`model.fit` steps (AdamW, sparse cross-entropy, a dense head on the pooled
output) and `model.predict`, for `albert_tf`'s classifier and for keras-hub's
`AlbertBackbone` with the same head, and prints sequences/s, model FLOPs
utilisation (analytic FLOPs / `--peak-tflops`) and the ratio between them.

    KERAS_BACKEND=jax python benchmarks/train_throughput.py --preset base \\
        --batch 128 --length 128 --precision mixed_bfloat16 --peak-tflops 989
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from albert_tf.models import AlbertBackbone, AlbertClassifier, preset_config  # noqa: E402


def training_flops_per_sequence(config, length):
    """Forward + backward (3x forward) matmul FLOPs of one sequence, embeddings excluded."""
    h, f, e = config["hidden_dim"], config["intermediate_dim"], config["embedding_dim"]
    per_token_layer = 2 * (4 * h * h + 2 * h * f) + 2 * 2 * length * h  # weights + attention
    forward = length * (config["num_layers"] * per_token_layer + 2 * e * h)
    return 3 * forward


def ours(config, num_classes):
    return AlbertClassifier(AlbertBackbone(**config), num_classes, dropout=0.1)


def keras_hub_classifier(config, num_classes):
    import keras_hub

    kwargs = {k: config[k] for k in ("vocabulary_size", "num_layers", "num_heads",
                                     "embedding_dim", "hidden_dim", "intermediate_dim",
                                     "num_groups", "num_inner_repetitions", "dropout",
                                     "max_sequence_length", "num_segments", "dtype")}
    backbone = keras_hub.models.AlbertBackbone(**kwargs)
    pooled = backbone(backbone.input)["pooled_output"]
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(
        keras.layers.Dropout(0.1)(pooled))
    model = keras.Model(backbone.input, logits)
    model.dtype_policy = keras.dtype_policies.get(config["dtype"])
    return model


class StepTimes(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def measure(build, config, args):
    rng = np.random.default_rng(0)
    n = args.batch * (args.steps + args.warmup)
    inputs = {"token_ids": rng.integers(5, config["vocabulary_size"], (n, args.length)),
              "segment_ids": np.zeros((n, args.length)),
              "padding_mask": np.ones((n, args.length))}
    inputs = {k: v.astype("int32") for k, v in inputs.items()}
    labels = rng.integers(0, 2, n).astype("int32")
    model = build(config, 2)
    model.compile(optimizer=keras.optimizers.AdamW(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=True)
    timer = StepTimes()
    model.fit(inputs, labels, batch_size=args.batch, epochs=1, shuffle=False, verbose=0,
              callbacks=[timer])
    step = float(np.median(np.diff(timer.ends[args.warmup:])))
    train_rate = args.batch / step
    flops = training_flops_per_sequence(config, args.length) * train_rate
    predict_inputs = {k: v[:args.predict_batch * 8] for k, v in inputs.items()}
    model.predict(predict_inputs, batch_size=args.predict_batch, verbose=0)  # compile
    started = time.perf_counter()
    model.predict(predict_inputs, batch_size=args.predict_batch, verbose=0)
    predict_rate = len(predict_inputs["token_ids"]) / (time.perf_counter() - started)
    return {"train_sequences_per_s": round(train_rate, 1),
            "train_step_ms": round(step * 1e3, 2),
            "mfu": round(flops / (args.peak_tflops * 1e12), 4) if args.peak_tflops else None,
            "predict_sequences_per_s": round(predict_rate, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="base")
    parser.add_argument("--vocabulary-size", type=int, default=30000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--predict-batch", type=int, default=512)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--peak-tflops", type=float,
                        help="accelerator peak for MFU (H100 SXM dense bf16: 989)")
    parser.add_argument("--impl", default="ours,keras-hub")
    parser.add_argument("--out", help="write results.json here")
    args = parser.parse_args()

    config = preset_config(args.preset, vocabulary_size=args.vocabulary_size,
                           dtype=args.precision)
    builders = {"ours": ours, "keras-hub": keras_hub_classifier}
    results = {"backend": keras.backend.backend(), "preset": args.preset,
               "batch": args.batch, "length": args.length, "precision": args.precision}
    for name in args.impl.split(","):
        results[name] = measure(builders[name], config, args)
        print(name, json.dumps(results[name]), flush=True)
    if "ours" in results and "keras-hub" in results:
        for key in ("train_sequences_per_s", "predict_sequences_per_s"):
            ratio = results["ours"][key] / results["keras-hub"][key]
            results[f"ratio_{key}"] = round(ratio, 3)
            print(f"ours / keras-hub, {key}: {ratio:.2f}x")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
