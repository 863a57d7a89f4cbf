"""`albert-tf classify-files` (Apache Beam, DirectRunner) against `albert-tf classify`
on the same lines, one run: lines/s and peak RSS per process (issue 35).

Writes N lines (SST-2 training sentences in turn) to a .txt file, then times
`classify --input` (all cores, and one thread) and `classify-files` with 1 and 2
workers of one interpreter thread each. Peak RSS is sampled from /proc for every
process of the command's tree (the command and each Beam worker). Checks that
every run gives one record per line.

    python benchmarks/classify_files.py --lines 200000 --out runs/classify-files
"""

import glob
import os
import subprocess
import sys
import tempfile
import threading
import time

from reporting import benchmark_parser, emit, machine


def tree_rss(root_pid):
    """{pid: RSS bytes} of `root_pid` and its descendants, from /proc."""
    children = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
    pids, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    rss = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                rss[pid] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return rss


def timed(command):
    """Seconds, stdout, and the peak RSS (MB) of each process of the tree that
    held more than 50 MB (the interpreters, not Beam's helpers)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks, done = {}, threading.Event()

    def sample():
        while not done.is_set():
            for pid, rss in tree_rss(child.pid).items():
                peaks[pid] = max(peaks.get(pid, 0), rss)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = child.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-2000:]}")
    big = sorted((round(v / 2**20) for v in peaks.values() if v > 50 * 2**20), reverse=True)
    return seconds, stdout, big


def main():
    parser = benchmark_parser(__doc__)
    parser.add_argument("--export", default="sst2", help="export directory or bundled name")
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--sst2", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                       "shared", "data", "sst2", "train.tsv"))
    parser.add_argument("--out", help="folder for report.json")
    args = parser.parse_args()

    from albert_tf.text.data import load_examples

    sentences = [t for t in load_examples(args.sst2).texts if t.strip()]
    work = tempfile.mkdtemp(prefix="classify-files-")
    lines = os.path.join(work, "lines.txt")
    with open(lines, "w", encoding="utf-8") as f:
        for i in range(args.lines):
            f.write(sentences[i % len(sentences)].replace("\n", " ") + "\n")
    cli = [sys.executable, "-m", "albert_tf.apps.cli"]
    runs = {}
    for name, extra in (("classify (all cores)", []), ("classify --threads 1", ["--threads", "1"])):
        seconds, stdout, peaks = timed(cli + ["classify", args.export, "--input", lines] + extra)
        assert stdout.count("\n") == args.lines, name
        runs[name] = {"seconds": round(seconds, 1), "lines_per_s": round(args.lines / seconds),
                      "peak_rss_mb": peaks}
    for workers in (1, 2):
        prefix = os.path.join(work, f"w{workers}", "part")
        seconds, _, peaks = timed(cli + ["classify-files", args.export, "--input", lines,
                                         "--output", prefix, "--workers", str(workers),
                                         "--threads", "1"])
        records = sum(sum(1 for _ in open(p, encoding="utf-8"))
                      for p in glob.glob(prefix + "-*.jsonl"))
        assert records == args.lines, (workers, records)
        runs[f"classify-files --workers {workers}"] = {
            "seconds": round(seconds, 1), "lines_per_s": round(args.lines / seconds),
            "peak_rss_mb": peaks}
    one, two = (runs[f"classify-files --workers {w}"]["lines_per_s"] for w in (1, 2))
    emit({"command": " ".join(sys.argv), "machine": machine(), "export": args.export,
          "lines": args.lines, "runs": runs, "speedup_2_workers": round(two / one, 2)},
         args.out)


if __name__ == "__main__":
    main()
