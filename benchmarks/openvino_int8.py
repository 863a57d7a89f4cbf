"""OpenVINO int8 of an export's SavedModel: the peer issue 33 measures early exit
against (`pip install -e ".[openvino]"`: openvino and nncf, benchmark-only; TensorFlow
to read the SavedModel).

The `token_ids` signature of `EXPORT/saved_model` (ids, segments, padding mask ->
probabilities: the weights of the export's `.tflite` files) goes through
`openvino.convert_model`, then NNCF's post-training quantization with the
transformer preset (`nncf.ModelType.TRANSFORMER`: int8 matmuls, softmax and
layer norms kept in float, SmoothQuant where it helps) on padded calibration
texts, and is compiled for the CPU with `--threads` inference threads and the
latency hint. `benchmarks/early_exit.py --openvino` times it beside the LiteRT
files.
"""

import os

import numpy as np

from albert_tf.contract import INPUTS, PROBABILITIES
from albert_tf.text.tokenizer import pad_sequences

SIGNATURE = "token_ids"  # export/graphs.py: ids in, probabilities out


def compile_int8(export_dir, calibration_packed, max_length, threads=1):
    """A callable `batch dict -> probabilities` running OpenVINO's int8 model, and
    the seconds its quantization took."""
    import time

    import nncf
    import openvino as ov
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the SavedModel's tokenizer ops)

    loaded = tf.saved_model.load(os.path.join(export_dir, "saved_model"))
    function = loaded.signatures[SIGNATURE]
    model = ov.convert_model(function)
    names = [port.get_any_name() for port in model.inputs]

    def feed(batch):
        # Input ports keep the signature's argument names.
        return {name: batch[next(k for k in INPUTS if k in name)] for name in names}

    samples = [feed(pad_sequences([p], max_length)) for p in calibration_packed]
    started = time.perf_counter()
    quantized = nncf.quantize(model, nncf.Dataset(samples), model_type=nncf.ModelType.TRANSFORMER,
                              subset_size=len(samples))
    seconds = time.perf_counter() - started
    compiled = ov.Core().compile_model(quantized, "CPU", {
        "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
        # float32 for everything not quantized, as LiteRT's recipes keep it (a bf16
        # CPU would otherwise switch those ops to bf16 by default).
        "INFERENCE_PRECISION_HINT": "f32"})
    output = next(o for o in compiled.outputs if PROBABILITIES in o.get_names())
    request = compiled.create_infer_request()

    def run(batch):
        return np.asarray(request.infer(feed(batch))[output])

    return run, seconds
