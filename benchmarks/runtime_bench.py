"""Latency, throughput, cold start and memory of the TF-free runtime, as
ratios to the keras-hub path a user would otherwise build.

    python benchmarks/runtime_bench.py --export runs/base-export \\
        --sst2 ../shared/data/sst2/dev.tsv --out runs/bench-base

Writes bench.json, bench.md and bench.png into --out. Formats are measured
interleaved (round robin within each setting), because these machines are
noisy: compare ratios from one run, not figures across runs. With
--accuracy, every format is also scored on the whole labelled file.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from albert_tf.text.data import load_examples  # noqa: E402
from albert_tf.runtime import Classifier, ModelRunner, available_recipes, locate  # noqa: E402
from albert_tf.artifacts.manifest import read_manifest  # noqa: E402
from benchmarks.reporting import machine  # noqa: E402
from benchmarks.keras_hub_anchor import ANCHOR_LENGTH, anchor_feed, build_anchor_files  # noqa: E402

LENGTHS, THREADS = (16, 32, 64, 128), (1, 2)


def percentiles(seconds):
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
            "p99_ms": float(np.percentile(ms, 99))}


class Format:
    """One file to time: the kit's (dynamic length) or keras-hub's (static 128)."""

    def __init__(self, name, path, threads, anchor=False):
        self.name, self.path, self.anchor = name, path, anchor
        if anchor:
            from ai_edge_litert.interpreter import Interpreter

            self.runner = Interpreter(model_path=path, num_threads=threads) \
                .get_signature_runner()
        else:
            self.runner = ModelRunner(path, num_threads=threads)

    def call(self, packed):
        """One inference on packed sequences; keras-hub files pad to 128, batch 1."""
        if not self.anchor:
            return self.runner.run(packed, 512)
        for tokens, _ in packed:
            ids = np.zeros((1, ANCHOR_LENGTH), "int32")
            ids[0, :len(tokens)] = tokens[:ANCHOR_LENGTH]
            self.runner(**anchor_feed(self.runner, ids))


def fake_sequence(length, rng, vocab_size):
    tokens = [2] + rng.integers(5, vocab_size, length - 2).tolist() + [3]
    return tokens, [0] * length


def time_interleaved(formats, make_batch, repeats):
    """{format name: [seconds per call]}, formats taking turns."""
    times = {f.name: [] for f in formats}
    batch = make_batch()
    for f in formats:
        f.call(batch)  # warm-up: allocation, XNNPACK weight packing
    for _ in range(repeats):
        for f in formats:
            started = time.perf_counter()
            f.call(batch)
            times[f.name].append(time.perf_counter() - started)
    return times


def latency_matrix(files, anchors, repeats, vocab_size, max_length):
    rng = np.random.default_rng(0)
    rows = []
    for threads in THREADS:
        formats = [Format(n, p, threads) for n, p in files.items()]
        anchor_formats = [Format(n, p, threads, anchor=True) for n, p in anchors.items()]
        for length in LENGTHS:
            # The kit's files up to their max length; keras-hub's at its fixed 128.
            measured = (formats if length <= max_length else []) + \
                (anchor_formats if length == ANCHOR_LENGTH else [])
            if not measured:
                continue
            times = time_interleaved(measured, lambda: [fake_sequence(length, rng, vocab_size)],
                                     repeats)
            for name, seconds in times.items():
                rows.append({"format": name, "length": length, "threads": threads,
                             **percentiles(seconds)})
            print(f"  threads={threads} L={length}: " + ", ".join(
                f"{r['format']} {r['p50_ms']:.1f} ms" for r in rows[-len(times):]),
                file=sys.stderr)
    return rows


def throughput(files, anchors, vocab_size, batch=32, length=64, repeats=5):
    rng = np.random.default_rng(1)
    formats = [Format(n, p, 1) for n, p in files.items()] + \
        [Format(n, p, 1, anchor=True) for n, p in anchors.items()]
    times = time_interleaved(formats, lambda: [fake_sequence(length, rng, vocab_size)
                                               for _ in range(batch)], repeats)
    return {name: batch / float(np.median(s)) for name, s in times.items()}


def real_sentences(export, recipes, anchors, texts, sample):
    """Batch-1 latency on real sentences, tokenization included (1 thread)."""
    rng = np.random.default_rng(2)
    chosen = [texts[i] for i in rng.choice(len(texts), min(sample, len(texts)), replace=False)]
    results = {}
    classifiers = {r: Classifier.load(export, recipe=r, num_threads=1) for r in recipes}
    tokenizer = next(iter(classifiers.values())).tokenizer
    packed, _ = tokenizer.encode_unpadded(chosen, max_length=ANCHOR_LENGTH)
    for classifier in classifiers.values():
        classifier.classify(chosen[0])
    anchor_formats = [Format(n, p, 1, anchor=True) for n, p in anchors.items()]
    seconds = {name: [] for name in list(classifiers) + list(anchors)}
    for i, text in enumerate(chosen):
        for name, classifier in classifiers.items():
            started = time.perf_counter()
            classifier.classify(text)
            seconds[name].append(time.perf_counter() - started)
        if i < 40:  # static 128: every sentence costs the same
            for f in anchor_formats:
                started = time.perf_counter()
                tokenizer.encode_unpadded([text], max_length=ANCHOR_LENGTH)
                f.call([packed[i]])
                seconds[f.name].append(time.perf_counter() - started)
    for name, values in seconds.items():
        results[name] = {**percentiles(values), "sentences": len(values)}
    results["_mean_tokens"] = float(np.mean([len(t) for t, _ in packed]))
    return results


def accuracy(export, recipes, examples):
    out = {}
    for recipe in recipes:
        classifier = Classifier.load(export, recipe=recipe)
        started = time.perf_counter()
        labels = [p.label for p in classifier.classify(examples.texts)]
        out[recipe] = {"accuracy": float(np.mean([a == b for a, b in
                                                  zip(labels, examples.labels)])),
                       "batch_seconds": time.perf_counter() - started}
    return out


COLD_START = """
import json, sys, time
started = time.perf_counter()
{body}
first = time.perf_counter() - started
# VmHWM, not ru_maxrss: the latter survives exec and reports the parent's peak.
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({{"cold_start_s": first, "peak_rss_mb": peak / 1024}}))
"""
OURS = ("from albert_tf.runtime import Classifier\n"
        "Classifier.load({export!r}, recipe={recipe!r}, num_threads=1).classify('a fine film')")
THEIRS = ("import numpy as np\nfrom ai_edge_litert.interpreter import Interpreter\n"
          "from benchmarks.keras_hub_anchor import anchor_feed\n"
          "r = Interpreter(model_path={path!r}, num_threads=1).get_signature_runner()\n"
          "r(**anchor_feed(r, np.ones((1, 128), 'int32')))")


def cold_starts(export, recipes, anchors, runs=3):
    """Median of fresh processes: import + load (+ hash check) + first call."""
    bodies = {r: OURS.format(export=export, recipe=r) for r in recipes}
    bodies.update({n: THEIRS.format(path=p) for n, p in anchors.items()})
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results = {}
    for name, body in bodies.items():
        samples = []
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", COLD_START.format(body=body)],
                                 capture_output=True, text=True, check=True, cwd=root,
                                 env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
        results[name] = {k: float(np.median([s[k] for s in samples])) for k in samples[0]}
    return results


def install_size(root):
    """MB that `pip install albert-tf[runtime]` adds to a fresh venv."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "venv", tmp], check=True)
        python = os.path.join(tmp, "bin", "python")

        def size():
            out = subprocess.run(["du", "-sk", os.path.join(tmp, "lib")], capture_output=True,
                                 text=True, check=True)
            return int(out.stdout.split()[0]) / 1024

        before = size()
        subprocess.run([python, "-m", "pip", "install", "-q", f"{root}[runtime]"], check=True)
        freeze = subprocess.run([python, "-m", "pip", "freeze"], capture_output=True,
                                text=True, check=True).stdout.split()
        return {"installed_mb": size() - before, "packages": freeze}


def write_report(report, out):
    with open(os.path.join(out, "bench.json"), "w") as f:
        json.dump(report, f, indent=2)
    anchor = {(r["threads"]): r["p50_ms"] for r in report["latency"]
              if r["format"] == "keras_hub_float32"}
    lines = ["# Runtime benchmark", "", f"Machine: {report['machine']}", "",
             "## Latency, batch 1 (p50 / p90 / p99 ms; ratio = p50 / keras-hub float32 at "
             "its fixed 128)", "", "| format | L | threads | p50 | p90 | p99 | ratio |",
             "|---|---|---|---|---|---|---|"]
    for r in report["latency"]:
        ratio = r["p50_ms"] / anchor[r["threads"]] if r["threads"] in anchor else float("nan")
        lines.append(f"| {r['format']} | {r['length']} | {r['threads']} | {r['p50_ms']:.1f} | "
                     f"{r['p90_ms']:.1f} | {r['p99_ms']:.1f} | {ratio:.2f} |")
    sst2 = report["sst2"]
    base = sst2.get("keras_hub_float32", {}).get("p50_ms")
    lines += ["", f"## Real SST-2 dev sentences, batch 1, 1 thread, tokenization included "
                  f"(mean {sst2['_mean_tokens']:.1f} tokens)", "",
              "| format | p50 ms | p90 ms | p99 ms | sentences | ratio |", "|---|---|---|---|---|---|"]
    for name, r in sst2.items():
        if not name.startswith("_"):
            ratio = r["p50_ms"] / base if base else float("nan")
            lines.append(f"| {name} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | "
                         f"{r['p99_ms']:.1f} | {r['sentences']} | {ratio:.2f} |")
    lines += ["", "## Files, throughput (batch 32 x L=64 or max length, 1 thread), cold start, "
              "memory", "",
              "| format | MB | sequences/s | cold start s | peak RSS MB | accuracy |",
              "|---|---|---|---|---|---|"]
    for name, size in report["sizes_mb"].items():
        cold = report["cold_start"].get(name, {})
        acc = report.get("accuracy", {}).get(name, {}).get("accuracy")
        lines.append(f"| {name} | {size:.2f} | {report['throughput'].get(name, 0):.1f} | "
                     f"{cold.get('cold_start_s', float('nan')):.2f} | "
                     f"{cold.get('peak_rss_mb', float('nan')):.0f} | "
                     f"{'–' if acc is None else f'{acc:.4f}'} |")
    if "install" in report:
        lines += ["", f"`pip install albert-tf[runtime]` adds "
                      f"{report['install']['installed_mb']:.0f} MB: "
                      + ", ".join(report["install"]["packages"])]
    with open(os.path.join(out, "bench.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    plot(report, os.path.join(out, "bench.png"))


def plot(report, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    for name in dict.fromkeys(r["format"] for r in report["latency"]):
        rows = [r for r in report["latency"] if r["format"] == name and r["threads"] == 1]
        if len(rows) == 1:  # keras-hub: one static length
            left.axhline(rows[0]["p50_ms"], linestyle="--", label=f"{name} (fixed 128)",
                         color="gray" if "float32" in name else "silver")
        else:
            left.plot([r["length"] for r in rows], [r["p50_ms"] for r in rows], "o-",
                      label=name)
    left.set(xlabel="sequence length", ylabel="p50 latency, 1 thread (ms)", xscale="log")
    left.minorticks_off()
    left.set_xticks(LENGTHS, [str(v) for v in LENGTHS])
    left.legend(fontsize=8)
    sst2 = {k: v for k, v in report["sst2"].items() if not k.startswith("_")}
    bars = right.barh(list(sst2), [v["p50_ms"] for v in sst2.values()], color="#48a")
    right.bar_label(bars, fmt="%.1f ms", fontsize=8)
    right.set_title("real SST-2 dev sentences, p50, batch 1")
    right.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", required=True, help="export directory to measure")
    parser.add_argument("--sst2", default="../shared/data/sst2/dev.tsv")
    parser.add_argument("--out", required=True)
    parser.add_argument("--recipes", help="default: every recipe of the export")
    parser.add_argument("--no-anchor", action="store_true", help="skip the keras-hub path")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--sample", type=int, default=200, help="SST-2 sentences timed")
    parser.add_argument("--accuracy", action="store_true", help="score every format on --sst2")
    parser.add_argument("--install-size", action="store_true",
                        help="measure `pip install .[runtime]` in a fresh venv (network)")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    manifest = read_manifest(args.export)
    recipes = args.recipes.split(",") if args.recipes else available_recipes(manifest)
    files = {r: locate(args.export, r).model_path for r in recipes}
    anchors = {}
    if not args.no_anchor:
        print("building the keras-hub files (cached in --out)", file=sys.stderr)
        anchors = {f"keras_hub_{k}": v for k, v in build_anchor_files(
            args.out, manifest["vocab_size"], num_classes=len(manifest["labels"]),
            **_shape(args.export)).items()}
    examples = load_examples(args.sst2)
    report = {"machine": machine(), "export": args.export,
              "sizes_mb": {n: os.path.getsize(p) / 1e6 for n, p in {**files, **anchors}.items()}}
    print("latency matrix", file=sys.stderr)
    vocab_size, max_length = manifest["vocab_size"], manifest["contract"]["max_length"]
    report["latency"] = latency_matrix(files, anchors, args.repeats, vocab_size, max_length)
    print("throughput, real sentences, cold start", file=sys.stderr)
    report["throughput"] = throughput(files, anchors, vocab_size,
                                      length=min(64, max_length))
    report["sst2"] = real_sentences(args.export, recipes, anchors, examples.texts, args.sample)
    report["cold_start"] = cold_starts(args.export, recipes, anchors)
    if args.accuracy:
        report["accuracy"] = accuracy(args.export, recipes, examples)
    if args.install_size:
        report["install"] = install_size(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
    write_report(report, args.out)
    print(open(os.path.join(args.out, "bench.md")).read())


def _shape(export):
    """The backbone shape of the model an export came from (for the anchor)."""
    manifest = read_manifest(export)
    config_path = os.path.join(manifest["source"]["model_dir"], "config.json")
    with open(config_path) as f:
        backbone = json.load(f)["model"]["backbone"]["config"]
    return {k: backbone[k] for k in ("num_layers", "hidden_dim", "embedding_dim",
                                     "num_heads", "intermediate_dim")}


if __name__ == "__main__":
    main()
