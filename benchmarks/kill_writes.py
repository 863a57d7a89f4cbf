"""SIGKILL at random moments (issue 14, item 4): a killed `train`, `export`,
`pretrain` or `distill` leaves at its final path either nothing or a complete,
hash-valid directory, and `--resume` finishes the job (train, pretrain, distill).

Each command first runs once uninterrupted to time it (T); then each trial
starts it again and sends SIGKILL after a uniformly random delay in (0, T):
during start-up, an epoch, the final save or a conversion. After the kill the
final path is checked (absent, or it loads with every sha256 verified); for
`train` and `pretrain`, a `--resume` run must then finish and load.

    python benchmarks/kill_writes.py --trials 6 --out runs/kill
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from reporting import benchmark_parser, emit, machine


# Commands with --resume; after a kill that left nothing, a resumed run must finish.
RESUMABLE = ("train", "pretrain", "distill")


def commands(train, dev, work):
    tiny = ["--preset", "tiny", "--vocab-size", "300", "--max-length", "32",
            "--batch-size", "32", "--epochs", "3", "--max-train-examples", "512"]
    # A backup after every batch: many kills then land inside a backup's write,
    # which the backup's atomic state file must survive, and --resume starts
    # inside an epoch.
    every_batch = ["--backup-minutes", "0"]
    model = os.path.join(work, "reference-model")
    return {
        "train": (lambda out: ["train", "--train", train, "--eval", dev, "--out", out, *tiny,
                               *every_batch],
                  "albert_tf.artifacts.model_dir", "load"),
        "export": (lambda out: ["export", model, "--out", out, "--recipes", "float32,int8",
                                "--eval", dev, "--calibration", train,
                                "--mediapipe-recipes"],
                   "albert_tf.runtime", "Classifier.load"),
        "pretrain": (lambda out: ["pretrain", "--corpus", train, "--out", out, "--preset",
                                  "tiny", "--vocab-size", "300", "--max-length", "32",
                                  "--steps", "60", "--eval-every", "20",
                                  "--token-budget", "1024"],
                     "albert_tf.artifacts.pretrained", "load_pretrained"),
        # The teacher is the reference model itself (a kit model directory), so
        # the run needs neither torch nor a download.
        "distill": (lambda out: ["distill", "--teacher", model, "--train", train,
                                 "--eval", dev, "--out", out, *tiny, *every_batch],
                    "albert_tf.artifacts.model_dir", "load"),
    }, model


def run(args, timeout=None):
    return subprocess.Popen([sys.executable, "-m", "albert_tf.apps.cli", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def loads(module, loader, path):
    """'absent', 'valid' or 'INVALID: why' for the final path."""
    if not os.path.exists(path):
        return "absent"
    code = (f"import {module} as m; obj = m\nfor part in {loader!r}.split('.'): "
            f"obj = getattr(obj, part)\nobj({path!r})")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return "valid" if result.returncode == 0 else "INVALID: " + result.stderr.strip()[-200:]


def inside_an_epoch(out):
    """Whether the run's last backup (train/distill: `OUT.training/backup`) was
    taken inside an epoch, so that --resume starts mid-epoch."""
    path = os.path.join(out + ".training", "backup", "state.json")
    if not os.path.exists(path):
        return False
    with open(path, encoding="utf-8") as f:
        return json.load(f)["batch"] > 0


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--trials", type=int, default=6, help="kill points per command")
    parser.add_argument("--commands", default="train,export,pretrain,distill",
                        help="comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="directory for report.json")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    report = {"machine": machine(), "trials_per_command": args.trials, "seed": args.seed,
              "commands": {}}
    with tempfile.TemporaryDirectory() as work:
        # The kit's bundled synthetic reviews: small, labelled, always there.
        from albert_tf.bundled import MOVIE_REVIEWS_DEV as dev, MOVIE_REVIEWS_TRAIN as train

        table, model = commands(train, dev, work)
        reference = run(table["train"][0](model))
        if reference.wait() != 0:
            raise SystemExit(reference.stderr.read())
        for name in args.commands.split(","):
            build, module, loader = table[name]
            started = time.perf_counter()
            first = run(build(os.path.join(work, f"{name}-timing")))
            if first.wait() != 0:
                raise SystemExit(f"{name}: {first.stderr.read()[-500:]}")
            total = time.perf_counter() - started
            outcomes = {"absent": 0, "valid": 0, "invalid": 0, "resumed": 0,
                        "resume_failed": 0, "finished_before_kill": 0,
                        "resumed_inside_an_epoch": 0}
            failures = []
            for trial in range(args.trials):
                out = os.path.join(work, f"{name}-{trial}")
                delay = rng.uniform(0.05, 1.0) * total
                process = run(build(out))
                try:
                    process.wait(timeout=delay)
                    outcomes["finished_before_kill"] += 1
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                state = loads(module, loader, out)
                key = state if state in ("absent", "valid") else "invalid"
                outcomes[key] += 1
                if key == "invalid":
                    failures.append(f"{name} killed at {delay:.1f}s: {state}")
                if name in RESUMABLE and state == "absent":
                    outcomes["resumed_inside_an_epoch"] += inside_an_epoch(out)
                    resumed = run(build(out) + ["--resume"])
                    ok = resumed.wait() == 0 and loads(module, loader, out) == "valid"
                    outcomes["resumed" if ok else "resume_failed"] += 1
                    if not ok:
                        failures.append(f"{name} resume after {delay:.1f}s: "
                                        f"{resumed.stderr.read()[-300:]}")
                for suffix in ("", ".training", ".teacher-cache"):
                    shutil.rmtree(out + suffix, ignore_errors=True)
                print(f"\r{name}: {trial + 1}/{args.trials}", end="", file=sys.stderr, flush=True)
            print(file=sys.stderr)
            report["commands"][name] = {"uninterrupted_seconds": round(total, 1), **outcomes,
                                        "failures": failures}
    emit(report, args.out)


if __name__ == "__main__":
    main()
