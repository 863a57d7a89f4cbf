"""`albert-tf train --data-parallel` on two JAX processes against one process with the
same global batch, one run: wall time, dev accuracy and the largest weight
difference (issue 35).

Both runs start from the same tokenizer and seed and see the same global batches;
the two processes talk over 127.0.0.1 (gloo on CPU). On one machine the two
processes share its cores, so this measures the overhead of the collectives and
the equality of the result, not a speed-up (that needs a second host).

    python benchmarks/train_processes.py --train $DATA/sst2/train.tsv \\
        --eval $DATA/sst2/dev.tsv --examples 6400 --out runs/train-processes
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

from reporting import benchmark_parser, emit, machine


def free_address():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def main():
    parser = benchmark_parser(__doc__)
    parser.add_argument("--train", required=True)
    parser.add_argument("--eval", required=True)
    parser.add_argument("--tokenizer", default=os.path.join(
        os.path.dirname(__file__), "..", "albert_tf", "bundled", "sst2_sentiment", "tokenizer"))
    parser.add_argument("--preset", default="small")
    parser.add_argument("--examples", type=int, default=6400, help="training rows (1 epoch)")
    parser.add_argument("--batch-size", type=int, default=32, help="the global batch")
    parser.add_argument("--out", help="folder for report.json")
    args = parser.parse_args()

    import albert_tf

    work = tempfile.mkdtemp(prefix="train-processes-")
    common = [sys.executable, "-m", "albert_tf.apps.cli", "train", "--train", args.train,
              "--eval", args.eval, "--tokenizer", args.tokenizer, "--preset", args.preset,
              "--max-train-examples", str(args.examples), "--epochs", "1",
              "--batch-size", str(args.batch_size), "--max-length", "64",
              "--learning-rate", "2e-4", "--data-parallel"]
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs = {}
    one = os.path.join(work, "one")
    started = time.perf_counter()
    subprocess.run(common + ["--out", one], env=env, check=True, capture_output=True)
    runs["1 process"] = {"seconds": round(time.perf_counter() - started, 1)}
    two, address = os.path.join(work, "two"), free_address()
    started = time.perf_counter()
    processes = [subprocess.Popen(common + ["--out", two, "--coordinator", address,
                                            "--num-processes", "2", "--process-id", str(i)],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for i in range(2)]
    for process in processes:
        _, stderr = process.communicate()
        if process.returncode:
            raise SystemExit(stderr.decode()[-2000:])
    runs["2 processes"] = {"seconds": round(time.perf_counter() - started, 1)}
    models = {name: albert_tf.load(path) for name, path in
              (("1 process", one), ("2 processes", two))}
    for name, model in models.items():
        runs[name]["dev_accuracy"] = model.metadata["eval_metrics"]["accuracy"]
        runs[name]["fit_seconds"] = model.config["training"]["fit_seconds"]
    worst = max(float(np.abs(a - b).max()) for a, b in zip(
        models["1 process"].model.get_weights(), models["2 processes"].model.get_weights()))
    emit({"command": " ".join(sys.argv), "machine": machine(), "examples": args.examples,
          "global_batch": args.batch_size, "runs": runs, "max_abs_weight_difference": worst},
         args.out)


if __name__ == "__main__":
    main()
