"""Early exit on one export: accuracy, mean layer calls and p50 latency per exit rule,
against the same weights' whole-model file, in one run.

For each rule the adaptive file (`adaptive_{recipe}.tflite`) classifies every
text of `--data` (accuracy, mean calls; the runtime's batches, exited rows
dropped), then a seeded sample is timed at batch 1 on `--threads` threads:
the whole-model file and every rule take the same block of `--block` texts
back to back, round after round, so machine noise hits them alike. Timed is
the model work (packed ids in, probabilities out), not tokenizing. The CPU
model, family and flags are printed with the figures: compare ratios from
one run, never absolute times across machines. `--out` also writes the
accuracy-latency curve as `early_exit.png`.

```bash
python benchmarks/early_exit.py --export runs/bundled-exits-export \
    --data ../shared/data/sst2/dev.tsv --out runs/bench-early-exit
# issue 33's peer: OpenVINO int8 (NNCF) of the same weights, in the same rounds
python benchmarks/early_exit.py --export runs/base-exits-export --data ../shared/data/sst2/dev.tsv \
    --openvino --calibration ../shared/data/sst2/train.tsv --out runs/bench-early-exit-base
```
"""

import time

import numpy as np

from albert_tf.runtime.adaptive import AdaptiveRunner, parse_exit_rule
from albert_tf.runtime.bundle import adaptive_file, locate
from albert_tf.runtime.runner import ModelRunner
from albert_tf.text.bucketing import plan_batches
from albert_tf.text.data import load_examples
from albert_tf.text.tokenizer import pad_sequences
from reporting import benchmark_parser, emit, machine

RULES = ("none", "calls:1", "calls:2", "calls:3", "patience:1", "patience:2",
         "confidence:0.8", "confidence:0.9", "confidence:0.95", "confidence:0.99")


def accuracy_and_calls(runner, packed, max_length, rule, gold):
    """Accuracy over every text and the mean calls, in length-sorted batches of 32."""
    predicted = np.zeros(len(packed), int)
    calls = np.zeros(len(packed), int)
    for rows in plan_batches([len(t) for t, _ in packed], 32):
        probabilities, used = runner.run([packed[i] for i in rows], max_length, rule)
        predicted[rows], calls[rows] = probabilities.argmax(-1), used
    return float((predicted == gold).mean()), float(calls.mean())


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--export", required=True, help="export directory with adaptive files")
    parser.add_argument("--data", required=True, help="labelled file of real texts")
    parser.add_argument("--recipe", default="dynamic_int8", help="recipe of both files")
    parser.add_argument("--rules", default=",".join(RULES), help="comma-separated exit rules")
    parser.add_argument("--threads", type=int, default=1, help="interpreter threads")
    parser.add_argument("--sample", type=int, default=400, help="texts timed")
    parser.add_argument("--block", type=int, default=50, help="texts per model per round")
    parser.add_argument("--warmup", type=int, default=20, help="untimed texts first")
    parser.add_argument("--seed", type=int, default=0, help="seed of the text sample")
    parser.add_argument("--openvino", action="store_true",
                        help="also OpenVINO int8 (NNCF) of the export's SavedModel, timed in "
                             "the same rounds (pip install openvino nncf; TensorFlow)")
    parser.add_argument("--calibration", help="labelled file whose texts calibrate OpenVINO "
                                              "(the training file, not --data)")
    parser.add_argument("--calibration-size", type=int, default=300,
                        help="texts NNCF calibrates on")
    parser.add_argument("--out", help="directory for report.json and early_exit.png")
    args = parser.parse_args(argv)
    if args.openvino and not args.calibration:
        parser.error("--openvino needs --calibration (texts that are not --data)")

    bundle = locate(args.export, args.recipe)
    whole = ModelRunner(bundle.model_path, num_threads=args.threads)
    adaptive = AdaptiveRunner(adaptive_file(bundle), num_threads=args.threads)
    rules = [parse_exit_rule(rule, adaptive.num_calls) for rule in args.rules.split(",")]
    examples = load_examples(args.data)
    names = list(bundle.labels)
    gold = np.array([names.index(label) if label in names else
                     (bundle.manifest.get("original_labels") or names).index(label)
                     for label in examples.labels])
    packed, _ = bundle.tokenizer.encode_unpadded(examples.texts, None, bundle.max_length)

    whole_predicted = whole.run_all(packed, bundle.max_length, 32)[
        whole.probability_output].argmax(-1)
    rows = {"whole model": {"accuracy": float((whole_predicted == gold).mean()),
                            "mean_calls": float(adaptive.num_calls)}}
    for rule in rules:
        accuracy, calls = accuracy_and_calls(adaptive, packed, bundle.max_length, rule, gold)
        rows[str(rule)] = {"accuracy": accuracy, "mean_calls": calls}

    # Timing: the same sample, block by block, every model in turn.
    order = np.random.default_rng(args.seed).permutation(len(packed))
    sample = [packed[i] for i in order[:args.sample + args.warmup]]
    runs = {"whole model": lambda p: whole.run([p], bundle.max_length)}
    for rule in rules:
        runs[str(rule)] = (lambda r: lambda p: adaptive.run([p], bundle.max_length, r))(rule)
    openvino_seconds = None
    if args.openvino:
        from openvino_int8 import compile_int8

        texts = load_examples(args.calibration).texts
        picked = np.random.default_rng(args.seed).permutation(len(texts))[:args.calibration_size]
        calibration, _ = bundle.tokenizer.encode_unpadded([texts[i] for i in picked], None,
                                                          bundle.max_length)
        openvino, openvino_seconds = compile_int8(args.export, calibration, bundle.max_length,
                                                  args.threads)
        # Batch 1 padded as the runtime pads it, so both see the same tensors.
        runs["openvino int8"] = lambda p: openvino(pad_sequences([p], bundle.max_length))
        predicted = np.array([runs["openvino int8"](p).argmax(-1)[0] for p in packed])
        rows["openvino int8"] = {"accuracy": float((predicted == gold).mean()),
                                 "mean_calls": float(adaptive.num_calls)}
    times = {name: [] for name in runs}
    for start in range(0, len(sample), args.block):
        block = sample[start:start + args.block]
        for name, run in runs.items():
            for index, sequence in enumerate(block, start=start):
                began = time.perf_counter()
                run(sequence)
                if index >= args.warmup:
                    times[name].append(time.perf_counter() - began)
    whole_p50 = float(np.median(times["whole model"])) * 1000
    for name, row in rows.items():
        row["p50_ms"] = round(float(np.median(times[name])) * 1000, 4)
        row["speedup"] = round(whole_p50 / row["p50_ms"], 3)
        row["accuracy_change_pt"] = round((row["accuracy"] - rows["whole model"]["accuracy"])
                                          * 100, 2)
    report = {"export": args.export, "recipe": bundle.recipe, "calls": adaptive.num_calls,
              "texts": len(packed), "timed": len(times["whole model"]),
              "threads": args.threads, "machine": machine(), "rules": rows,
              **({"openvino_quantize_s": round(openvino_seconds, 1)} if args.openvino else {})}
    emit(report, args.out)
    if args.out:
        plot(rows, f"{args.out}/early_exit.png",
             f"{args.export} ({bundle.recipe}, {adaptive.num_calls} calls), "
             f"{report['machine']['model']} family {report['machine']['family']}")


def plot(rows, path, title):
    """Accuracy against p50, one line per rule family (confidence, patience, calls)
    and the whole model as a red square; labels alternate above and below so
    neighbours do not cover each other."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    families = {}
    for name, row in rows.items():
        families.setdefault(name.split(":")[0], []).append(row)
    for family, members in families.items():
        members = sorted(members, key=lambda r: r["p50_ms"])
        style = dict(color="#c44", marker="s") if family == "whole model" else dict(marker="o")
        ax.plot([r["p50_ms"] for r in members], [r["accuracy"] * 100 for r in members],
                linestyle="-" if len(members) > 1 else "", label=family, **style)
    ordered = sorted(rows.items(), key=lambda item: item[1]["p50_ms"])
    for rank, (name, row) in enumerate(ordered):
        offset = (-75, 8) if name == "whole model" else (4, 6 if rank % 2 else -11)
        ax.annotate(f"{name} ({row['mean_calls']:.2f})", (row["p50_ms"], row["accuracy"] * 100),
                    fontsize=7, xytext=offset, textcoords="offset points")
    ax.set_xlabel("p50 latency, batch 1 (ms); in brackets: mean layer calls")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
