"""Hostile model files (issue 14, item 6): mutate a `.tflite`, load and run
each mutant in its own subprocess, count what happened.

Mutations: bit flips, truncations, and oversized shapes (a little-endian
int32 that equals one of the model's tensor dimensions replaced by 2**30,
which is how an oversized tensor shape looks in the flatbuffer). Outcomes:
`ran` (the interpreter loaded and answered; weights damage is invisible to
it, which is why the runtime checks sha256s), `refused` (a `ModelFileError`
or `ModelOutputError`: the kit's typed errors), `other_error` (any other
exception: a bug), `crashed` (the process died on a signal, or hung).

    python benchmarks/fuzz_model_files.py --model albert_tf/bundled/sst2_sentiment/int8.tflite \\
        --mutants 200 --out runs/fuzz
"""

import collections
import os
import random
import struct
import subprocess
import sys
import tempfile
import time

from reporting import benchmark_parser, emit, machine

# Loads and runs one file through the runtime's own loader; prints the outcome.
CHILD = """
import sys
from albert_tf.errors import ModelFileError, ModelOutputError
from albert_tf.runtime.runner import ModelRunner
try:
    runner = ModelRunner(sys.argv[1], num_threads=1)
    out = runner.run([([2, 50, 60, 3], [0, 0, 0, 0])], 64)
    print("ran")
except (ModelFileError, ModelOutputError) as error:
    print("refused")
except Exception as error:
    print("other_error", type(error).__name__, str(error)[:200].replace(chr(10), " "))
"""


def dimensions(data, limit=64):
    """Offsets of int32 values that equal common tensor dimensions in the file."""
    sizes = {2, 3, 4, 8, 16, 32, 64, 128, 256, 384, 512, 768, 1024, 3072}
    found = [i for i in range(0, len(data) - 4, 4)
             if struct.unpack_from("<i", data, i)[0] in sizes]
    return found[:limit * 50]


def mutate(data, kind, rng, dimension_offsets):
    data = bytearray(data)
    if kind == "bitflip":
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        data = data[:rng.randrange(0, len(data))]
    elif kind == "oversized_shape":
        for _ in range(rng.randint(1, 4)):
            struct.pack_into("<i", data, rng.choice(dimension_offsets), 1 << 30)
    return bytes(data)


def run_one(path, timeout):
    try:
        result = subprocess.run([sys.executable, "-c", CHILD, path], capture_output=True,
                                text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "crashed", "timeout"
    if result.returncode < 0:
        return "crashed", f"signal {-result.returncode}"
    if result.returncode != 0:
        return "crashed", f"exit {result.returncode}: {result.stderr.strip()[-200:]}"
    line = (result.stdout.strip().splitlines() or ["crashed no output"])[-1]
    outcome, _, detail = line.partition(" ")
    return outcome, detail


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--model", default="albert_tf/bundled/sst2_sentiment/int8.tflite")
    parser.add_argument("--mutants", type=int, default=200, help="mutated files in all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60, help="seconds per mutant")
    parser.add_argument("--out", help="directory for report.json (default: print only)")
    args = parser.parse_args(argv)
    with open(args.model, "rb") as f:
        original = f.read()
    rng = random.Random(args.seed)
    offsets = dimensions(original)
    kinds = ("bitflip", "truncate", "oversized_shape")
    counts = {kind: collections.Counter() for kind in kinds}
    examples = collections.defaultdict(list)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.mutants):
            kind = kinds[n % len(kinds)]
            path = os.path.join(tmp, f"mutant-{n}.tflite")
            with open(path, "wb") as f:
                f.write(mutate(original, kind, rng, offsets))
            outcome, detail = run_one(path, args.timeout)
            counts[kind][outcome] += 1
            if outcome in ("other_error", "crashed") and len(examples[outcome]) < 5:
                examples[outcome].append(f"{kind}: {detail}")
            os.remove(path)
            print(f"\r{n + 1}/{args.mutants} mutants", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    report = {"machine": machine(), "model": args.model, "mutants": args.mutants, "seed": args.seed,
              "seconds": round(time.time() - started, 1),
              "by_mutation": {k: dict(v) for k, v in counts.items()},
              "total": dict(sum(counts.values(), collections.Counter())),
              "examples": dict(examples)}
    emit(report, args.out)


if __name__ == "__main__":
    main()
