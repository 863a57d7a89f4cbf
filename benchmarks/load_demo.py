"""The Gradio demo under concurrent users (issue 14, item 1).

Starts `albert-tf demo EXPORT --port 0` (loopback only) and sends C
`gradio_client` clients at it for D seconds: short texts, 5,000-character
texts and batch-file uploads, mixed. Reports requests sent, answered,
rejected (Gradio's queue-full answer; it must be a clean message) and lost
(anything else), p50/p99 latency per kind, and the server's RSS at the start,
every --rss-every seconds and at the end (bounded means it levels off).

    python benchmarks/load_demo.py --clients 32 --seconds 60 --out runs/load-demo
"""

import collections
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
from reporting import benchmark_parser, emit, machine

KINDS = (("short", 0.7), ("long", 0.2), ("file", 0.1))


def rss_mb(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


# What loading costs, in a fresh process, each model called once: the default
# recipe (what the demo loads at start), then every other recipe (what the
# Compare tab loads).
LOAD_COST = """
import json, sys, time
from albert_tf.apps.demo import DemoModels
from albert_tf.bundled import resolve
def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) / 1024
base, started = rss(), time.perf_counter()
models = DemoModels(resolve(sys.argv[1] or None), num_threads=1)
models.default.classify("warm up")  # XNNPACK packs the weights on the first call
default = {"seconds": time.perf_counter() - started, "rss_mb": rss() - base,
           "recipes": models.classifiers.loaded()}
started = time.perf_counter()
for classifier in models.classifiers.values():
    classifier.classify("warm up")
every = {"seconds": time.perf_counter() - started, "rss_mb": rss() - base,
         "recipes": models.classifiers.loaded()}
print(json.dumps({"default_recipe": default, "then_every_recipe": every}))
"""


def load_cost(export):
    out = subprocess.run([sys.executable, "-c", LOAD_COST, export or ""], check=True,
                         capture_output=True, text=True).stdout
    cost = json.loads(out.strip().splitlines()[-1])
    return {k: {**v, "seconds": round(v["seconds"], 2), "rss_mb": round(v["rss_mb"], 1)}
            for k, v in cost.items()}


def start_server(export):
    command = [sys.executable, "-m", "albert_tf.apps.cli", "demo", "--port", "0"]
    command += [export] if export else []
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    for line in server.stderr:
        match = re.search(r"serving on (http://\S+)", line)
        if match:
            threading.Thread(target=lambda: server.stderr.read(), daemon=True).start()
            return server, match.group(1)
    raise SystemExit(f"the demo did not start (exit {server.wait()})")


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--export", help="export directory (default: the bundled model)")
    parser.add_argument("--data", default="../shared/data/sst2/dev.tsv")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--all-recipes", action="store_true",
                        help="each classify request names a random recipe of the export, "
                             "not the demo's default one")
    parser.add_argument("--rss-every", type=float, default=10,
                        help="seconds between samples of the server's RSS")
    parser.add_argument("--out", help="directory for report.json")
    args = parser.parse_args(argv)
    from gradio_client import Client, handle_file

    from albert_tf.text.data import load_examples

    sentences = load_examples(args.data).texts
    recipes = [None]
    if args.all_recipes:
        from albert_tf.bundled import resolve
        from albert_tf.artifacts.manifest import read_manifest
        from albert_tf.runtime import available_recipes

        recipes = available_recipes(read_manifest(resolve(args.export)))
    long_text = (" ".join(sentences) * 3)[:5000]
    upload = os.path.join(tempfile.mkdtemp(), "batch.tsv")
    with open(upload, "w", encoding="utf-8") as f:
        f.write("sentence\tlabel\n" + "".join(f"{s}\t0\n" for s in sentences[:50]))
    cost = load_cost(args.export)
    started_loading = time.perf_counter()
    server, url = start_server(args.export)
    load_seconds = time.perf_counter() - started_loading
    rss_start = rss_mb(server.pid)
    results = collections.defaultdict(list)  # kind -> [(outcome, seconds)]
    lost_examples, lock = [], threading.Lock()
    deadline = time.perf_counter() + args.seconds

    def user(k):
        rng = random.Random(args.seed * 1000 + k)
        client = Client(url, verbose=False)
        while time.perf_counter() < deadline:
            kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
            started = time.perf_counter()
            try:
                if kind == "file":
                    client.predict(handle_file(upload), api_name="/classify_file")
                else:
                    text = long_text if kind == "long" else rng.choice(sentences)
                    client.predict(text, rng.choice(recipes), api_name="/classify")
                outcome = "answered"
            except Exception as error:  # gradio_client raises AppError and friends
                message = str(error)
                outcome = "rejected" if "queue is full" in message.lower() else "lost"
                if outcome == "lost":
                    with lock:
                        lost_examples.append(f"{kind}: {type(error).__name__}: {message[:200]}")
            with lock:
                results[kind].append((outcome, time.perf_counter() - started))

    rss_samples, done = [], threading.Event()

    def sample_rss():
        while not done.wait(args.rss_every):
            rss_samples.append(round(rss_mb(server.pid), 1))

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    users = [threading.Thread(target=user, args=(k,)) for k in range(args.clients)]
    for u in users:
        u.start()
    for u in users:
        u.join()
    done.set()
    rss_end = rss_mb(server.pid)
    server.terminate()
    server.wait()
    by_kind = {}
    for kind, rows in results.items():
        answered = [s for o, s in rows if o == "answered"]
        by_kind[kind] = {
            "sent": len(rows), **collections.Counter(o for o, _ in rows),
            "p50_ms": round(float(np.percentile(answered, 50)) * 1e3, 1) if answered else None,
            "p99_ms": round(float(np.percentile(answered, 99)) * 1e3, 1) if answered else None}
    outcomes = collections.Counter(o for rows in results.values() for o, _ in rows)
    report = {"machine": machine(), "export": args.export or "bundled",
              "clients": args.clients, "seconds": args.seconds, "recipes": recipes,
              "server_start_seconds": round(load_seconds, 1), "load_cost": cost,
              "sent": sum(outcomes.values()), **outcomes,
              "server_rss_mb": {"start": round(rss_start, 1), "end": round(rss_end, 1),
                                f"every_{args.rss_every:g}_s": rss_samples},
              "by_kind": by_kind, "lost_examples": lost_examples[:5]}
    emit(report, args.out)


if __name__ == "__main__":
    main()
