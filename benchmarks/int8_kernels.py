"""Where int8 wins or loses time on this CPU: one block's pieces, per recipe.

LiteRT's Python interpreter has no op profiler (the `benchmark_model` binary
with `--enable_op_profiling` is not on the package index), so the block is cut
into pieces instead. Each piece is a tiny TFLite model on a [1, L, H] float
input, converted three ways (float32; dynamic_int8: int8 weights, activations
quantized on the fly; int8: full-integer with a representative dataset and
float fallback) and timed with ai-edge-litert on one thread, the recipes
interleaved. The FFN is where ALBERT spends ~2/3 of its MACs; the
QUANTIZE -> ADD -> DEQUANTIZE piece shows what each float island of the int8
recipe costs at its two edges.

With `--export DIR`, it also counts the ops of each .tflite file in an export
(how many QUANTIZE/DEQUANTIZE edges the int8 graph has, and which ops run in
float), so a piece's cost can be multiplied out to the whole model.

    python benchmarks/int8_kernels.py --lengths 32 128 --export runs/base-export
"""

import collections
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from reporting import benchmark_parser, emit, machine  # noqa: E402

RECIPES = ("float32", "dynamic_int8", "int8")


def convert(fn, shape, recipe):
    import numpy as np
    import tensorflow as tf

    concrete = tf.function(fn).get_concrete_function(tf.TensorSpec(shape, tf.float32))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], fn)
    if recipe != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if recipe == "int8":
        rng = np.random.default_rng(0)
        converter.representative_dataset = lambda: (
            [rng.standard_normal(shape).astype("float32")] for _ in range(10))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                               tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def interpreter(blob, shape):
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=blob, num_threads=1)
    runner.allocate_tensors()
    runner.set_tensor(runner.get_input_details()[0]["index"],
                      np.random.default_rng(1).standard_normal(shape).astype("float32"))
    runner.invoke()  # XNNPACK packs weights on the first call
    return runner


def interleaved_ms(runners, repeats):
    """Median ms per runner, one call of each in turn, `repeats` rounds."""
    import numpy as np

    times = {name: [] for name in runners}
    for _ in range(repeats):
        for name, runner in runners.items():
            started = time.perf_counter()
            runner.invoke()
            times[name].append(time.perf_counter() - started)
    return {name: round(1000 * float(np.median(t)), 3) for name, t in times.items()}


def pieces(length, hidden, intermediate):
    import keras

    from albert_tf.models.common import gelu_new

    shape = (1, length, hidden)
    norm = keras.layers.LayerNormalization(epsilon=1e-12)
    up = keras.layers.Dense(intermediate)
    down = keras.layers.Dense(hidden)
    qkv = keras.layers.Dense(3 * hidden)
    norm.build(shape)
    up.build(shape)
    down.build((1, length, intermediate))
    qkv.build(shape)
    return shape, {
        "FFN: dense-gelu-dense": lambda x: down(gelu_new(up(x))),
        "q|k|v projection (one dense, 3H)": lambda x: qkv(x),
        "4 layer norms": lambda x: norm(norm(norm(norm(x)))),
        "8 adds/muls (residuals, scales)": lambda x: x + x * 2 + x * 3 + x * 4 + x * 5
        + x * 6 + x * 7 + x * 8,
        # In the int8 file: QUANTIZE -> ADD -> DEQUANTIZE, what each edge of a
        # float island costs (the float32 file runs the ADD alone).
        "one add between float edges": lambda x: x + 1.0,
    }


def census(export):
    """Op counts per .tflite file of an export, and the float ops of int8."""
    from ai_edge_litert.interpreter import Interpreter

    rows = {}
    for name in sorted(os.listdir(export)):
        if not name.endswith(".tflite") or name.startswith("mediapipe_"):
            continue
        runner = Interpreter(model_path=os.path.join(export, name))
        tensors = {d["index"]: d for d in runner.get_tensor_details()}
        ops = runner._get_ops_details()  # the only op listing the Python API offers
        counts = collections.Counter(op["op_name"] for op in ops)
        float_ops = collections.Counter(
            op["op_name"] for op in ops
            if op["outputs"] and tensors[op["outputs"][0]]["dtype"].__name__ == "float32")
        rows[name] = {"ops": len(ops), "QUANTIZE": counts.get("QUANTIZE", 0),
                      "DEQUANTIZE": counts.get("DEQUANTIZE", 0),
                      "FULLY_CONNECTED": counts.get("FULLY_CONNECTED", 0),
                      "ops_with_float_output": dict(float_ops.most_common(8))}
    return rows


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--lengths", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--intermediate", type=int, default=3072)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--export", help="an export directory whose files' ops to count")
    parser.add_argument("--out", help="directory for report.json")
    args = parser.parse_args(argv)

    results = []
    for length in args.lengths:
        shape, cases = pieces(length, args.hidden, args.intermediate)
        print(f"| piece (L={length}, H={args.hidden}) | " + " | ".join(
            f"{r} ms" for r in RECIPES) + " | int8 / dynamic_int8 |", file=sys.stderr)
        for name, fn in cases.items():
            runners = {r: interpreter(convert(fn, shape, r), shape) for r in RECIPES}
            ms = interleaved_ms(runners, args.repeats)
            results.append({"length": length, "piece": name, **ms,
                            "int8_over_dynamic_int8": round(ms["int8"] / ms["dynamic_int8"], 2)})
            print(f"| {name} | " + " | ".join(f"{ms[r]:.3f}" for r in RECIPES)
                  + f" | {ms['int8'] / ms['dynamic_int8']:.2f} |", file=sys.stderr, flush=True)
    emit({"machine": machine(), "hidden": args.hidden, "intermediate": args.intermediate,
          "pieces": results, "census": census(args.export) if args.export else None},
         args.out)


if __name__ == "__main__":
    main()
