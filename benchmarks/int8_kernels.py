"""What bounds int8 latency on this CPU: one block's pieces, float32 vs int8.

Each case is a tiny TFLite model on a [1, L, H] float input, converted
twice (float32, and full-integer with a representative dataset) and timed
with ai-edge-litert on one thread. The FFN case is where ALBERT-base spends
~2/3 of its MACs; if int8 is not much faster there, no recipe can make the
whole model much faster.

    python benchmarks/int8_kernels.py [--length 128] [--hidden 768]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def convert(fn, shape, int8):
    import numpy as np
    import tensorflow as tf

    concrete = tf.function(fn).get_concrete_function(tf.TensorSpec(shape, tf.float32))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], fn)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        rng = np.random.default_rng(0)
        converter.representative_dataset = lambda: (
            [rng.standard_normal(shape).astype("float32")] for _ in range(10))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                               tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def latency_ms(blob, shape, repeats=30):
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=blob, num_threads=1)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    interpreter.set_tensor(index, np.random.default_rng(1).standard_normal(shape)
                           .astype("float32"))
    interpreter.invoke()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--intermediate", type=int, default=3072)
    args = parser.parse_args(argv)
    import keras

    from albert_tf.models.layers import gelu_new

    length, hidden = args.length, args.hidden
    shape = (1, length, hidden)
    norm = keras.layers.LayerNormalization(epsilon=1e-12)
    up = keras.layers.Dense(args.intermediate)
    down = keras.layers.Dense(hidden)
    norm.build(shape)
    up.build(shape)
    down.build((1, length, args.intermediate))
    macs = 2 * length * hidden * args.intermediate
    cases = {
        "FFN: dense-gelu-dense": lambda x: down(gelu_new(up(x))),
        "4 layer norms": lambda x: norm(norm(norm(norm(x)))),
        "8 adds/muls": lambda x: x + x * 2 + x * 3 + x * 4 + x * 5 + x * 6 + x * 7 + x * 8,
    }
    print(f"| case (L={length}, H={hidden}) | float32 ms | int8 ms | int8 speed-up |")
    print("|---|---|---|---|")
    for name, fn in cases.items():
        f32, i8 = (latency_ms(convert(fn, shape, q), shape) for q in (False, True))
        extra = f" ({macs / f32 / 1e6:.0f} / {macs / i8 / 1e6:.0f} GMAC/s)" if "FFN" in name else ""
        print(f"| {name} | {f32:.2f} | {i8:.2f} | {f32 / i8:.2f}x{extra} |", flush=True)
    print(file=sys.stderr)


if __name__ == "__main__":
    main()
