"""`albert-tf classify` streaming many lines from stdin (issue 14, item 2).

Feeds N lines (SST-2 sentences in turn, with an empty line every 997th and
a line of invisible characters every 1,009th) into `albert-tf classify` and
reads its output as it comes. Checks that output lines = input lines, in the
same order, with an error record exactly where each bad line was; reports
lines/s and the child's peak RSS at two sizes (bounded memory: the same
peak whatever the input size).

    python benchmarks/stream_classify.py --lines 100000 1000000 --out runs/stream
"""

import json
import resource
import subprocess
import sys
import threading
import time

from reporting import benchmark_parser, emit, machine

EMPTY_EVERY, INVISIBLE_EVERY = 997, 1009


def line_at(i, sentences):
    if i % EMPTY_EVERY == EMPTY_EVERY - 1:
        return ""
    if i % INVISIBLE_EVERY == INVISIBLE_EVERY - 1:
        return "\u200b\u200b"
    return sentences[i % len(sentences)]


def stream(export, n, sentences, batch_size, threads):
    command = [sys.executable, "-m", "albert_tf.apps.cli", "classify", export,
               "--batch-size", str(batch_size)] + (["--threads", str(threads)] if threads else [])
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, encoding="utf-8")

    def feed():
        for i in range(n):
            child.stdin.write(line_at(i, sentences) + "\n")
        child.stdin.close()

    started = time.perf_counter()
    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    count = out_of_order = errors = misplaced_errors = 0
    for i, line in enumerate(child.stdout):
        record = json.loads(line)
        expected = line_at(i, sentences)
        out_of_order += record["text"] != expected
        bad = expected in ("", "\u200b\u200b")
        errors += "error" in record
        misplaced_errors += ("error" in record) != bad
        count += 1
    stderr = child.stderr.read()
    child.wait()
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # max over children so far
    return {"lines_in": n, "lines_out": count, "out_of_order": out_of_order,
            "error_records": errors, "expected_error_records": sum(
                line_at(i, sentences) in ("", "\u200b\u200b") for i in range(n)),
            "misplaced_error_records": misplaced_errors, "exit_status": child.returncode,
            "seconds": round(seconds, 1), "lines_per_second": round(n / seconds),
            "peak_rss_mb_so_far": round(peak_kb / 1024, 1),
            "stderr_tail": stderr.strip().splitlines()[-1:]}


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--export", default="albert_tf/bundled/sst2_sentiment")
    parser.add_argument("--data", default="../shared/data/sst2/dev.tsv")
    parser.add_argument("--lines", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="input sizes, smallest first (peak RSS is cumulative)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, help="interpreter threads (default: all cores)")
    parser.add_argument("--out", help="directory for report.json")
    args = parser.parse_args(argv)
    from albert_tf.text.data import load_examples

    sentences = [t for t in load_examples(args.data).texts if "\n" not in t]
    report = {"machine": machine(), "export": args.export, "runs": [
        stream(args.export, n, sentences, args.batch_size, args.threads)
        for n in sorted(args.lines)]}
    emit(report, args.out)


if __name__ == "__main__":
    main()
