"""`Classifier` from many threads (issue 14, item 3).

T threads each make N `classify` calls (one text each, SST-2 sentences in
turn) on one shared `Classifier`, with `num_interpreters` 1 and 4. Reports
calls/s and p50/p99 latency, and checks every answer equals the
single-threaded answer for the same text (bit for bit).

    python benchmarks/load_threads.py --threads 8 --calls 1000 --out runs/threads
"""

import threading
import time

import numpy as np
from reporting import benchmark_parser, emit, machine


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--export", default="albert_tf/bundled/sst2_sentiment")
    parser.add_argument("--data", default="../shared/data/sst2/dev.tsv")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--calls", type=int, default=1000, help="calls per thread")
    parser.add_argument("--interpreters", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--interpreter-threads", type=int, default=1,
                        help="threads inside each interpreter")
    parser.add_argument("--out", help="directory for report.json")
    args = parser.parse_args(argv)
    from albert_tf.text.data import load_examples
    from albert_tf.runtime import Classifier

    texts = load_examples(args.data).texts[:200]
    reference = Classifier.load(args.export, num_threads=args.interpreter_threads)
    expected = {t: reference.predict_proba(t) for t in texts}
    runs = []
    for pool in args.interpreters:
        classifier = Classifier.load(args.export, num_threads=args.interpreter_threads,
                                     num_interpreters=pool)
        latencies = [[] for _ in range(args.threads)]
        mismatches = [0] * args.threads

        def work(k):
            for n in range(args.calls):
                text = texts[(k * 7919 + n) % len(texts)]
                started = time.perf_counter()
                probabilities = classifier.predict_proba(text)
                latencies[k].append(time.perf_counter() - started)
                mismatches[k] += not np.array_equal(probabilities, expected[text])

        workers = [threading.Thread(target=work, args=(k,)) for k in range(args.threads)]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        seconds = time.perf_counter() - started
        flat = np.concatenate([np.asarray(x) for x in latencies]) * 1e3
        runs.append({"num_interpreters": pool, "threads": args.threads,
                     "calls": args.threads * args.calls, "seconds": round(seconds, 2),
                     "calls_per_second": round(args.threads * args.calls / seconds, 1),
                     "p50_ms": round(float(np.percentile(flat, 50)), 3),
                     "p99_ms": round(float(np.percentile(flat, 99)), 3),
                     "answers_differing_from_single_threaded": int(sum(mismatches))})
    report = {"machine": machine(), "export": args.export,
              "interpreter_threads": args.interpreter_threads, "runs": runs}
    emit(report, args.out)


if __name__ == "__main__":
    main()
