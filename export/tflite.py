"""SavedModel signature -> TFLite bytes, by recipe, builtin ops only.

Keras' `model.export(format="litert")` turns on `SELECT_TF_OPS`, so a graph
that picks up a TensorFlow op converts fine and then fails on
`ai-edge-litert`. Here only builtins are allowed and a conversion that
needs anything else fails with the op's name.
"""

import re
import time
import warnings

import tensorflow as tf

from albert_tf.errors import AlbertTfError
from albert_tf.native_stderr import CONVERTER_NOISE, NATIVE_NOISE, native_stderr_filtered

_TF_OP = re.compile(r"'?tf\.(\w+)'?")


def _configure(converter, recipe, representative_dataset):
    builtins = tf.lite.OpsSet.TFLITE_BUILTINS
    converter.target_spec.supported_ops = [builtins]
    if recipe.optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if recipe.float16_weights:
        converter.target_spec.supported_types = [tf.float16]
    if recipe.calibrated:
        if representative_dataset is None:
            raise AlbertTfError(f"recipe {recipe.name!r} needs a calibration set")
        converter.representative_dataset = representative_dataset
        # Float builtins stay allowed for the few ops without integer kernels;
        # inputs (int32 ids) and outputs (float32 probabilities) keep their types.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, builtins]


def input_names_in_tensor_order(tflite_bytes):
    """Signature input names sorted by tensor index: the order the calibrator
    pairs sample values with inputs (neither alphabetical nor as declared)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite_bytes)
    key = next(iter(interpreter.get_signature_list()))
    details = interpreter.get_signature_runner(key).get_input_details()
    return sorted(details, key=lambda name: details[name]["index"])


def tensor_names_under(tflite_bytes, scopes):
    """Output tensor names of the ops under any of `scopes`: a name scope as
    `keras.name_scope` writes it, or a layer's name, which TensorFlow may suffix
    with `_1`, `_2`... when it traces the layer again. The quantization
    debugger's `denylisted_nodes` take these names."""
    from ai_edge_litert.interpreter import Interpreter

    pattern = re.compile("|".join(rf"{re.escape(scope)}(_\d+)?" for scope in scopes))
    interpreter = Interpreter(model_content=tflite_bytes)
    outputs = {index for op in interpreter._get_ops_details() for index in op["outputs"]}
    return sorted(detail["name"] for detail in interpreter.get_tensor_details()
                  if detail["index"] in outputs
                  and any(pattern.fullmatch(segment)
                          for segment in detail["name"].split("/")[:-1]))


def _positional(named_dataset, order):
    """Turn a dataset of {input name: array} into lists in tensor order."""
    def dataset():
        for sample in named_dataset():
            missing = set(order) - set(sample)
            if missing:
                raise AlbertTfError(f"calibration sample lacks inputs {sorted(missing)}")
            yield [sample[name] for name in order]

    return dataset


def _converter(saved_model_dir, signature_key):
    """`signature_key`: one key, a list of keys (one file, several signatures), or None."""
    keys = [signature_key] if isinstance(signature_key, str) else signature_key
    return tf.lite.TFLiteConverter.from_saved_model(saved_model_dir,
                                                    signature_keys=keys or None)


def _plain(saved_model_dir, signature_key):
    """The float32 conversion of one signature: its op and tensor names."""
    plain = _converter(saved_model_dir, signature_key)
    plain.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return plain.convert()


def convert(saved_model_dir, recipe, representative_dataset=None, signature_key=None,
            float_nodes=()):
    """Convert one signature; returns `(tflite_bytes, seconds)`.

    `representative_dataset` yields dicts keyed by input name; values are
    handed to the calibrator in the model's tensor order, looked up by name.
    With several signatures (`signature_key` a list) it yields
    `(signature_key, {input name: array})` pairs instead.
    `float_nodes`: tensor names kept in float besides the recipe's own (what
    the quantization debugger flags; see benchmarks/int8_calibration.py).
    """
    # The converter echoes its settings from native code, and the quantization
    # debugger builds a tf.lite.Interpreter, which warns that it is deprecated:
    # neither concerns the user of `albert-tf export`.
    with native_stderr_filtered(NATIVE_NOISE + CONVERTER_NOISE), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
        started = time.perf_counter()
        float_nodes = list(float_nodes)
        if recipe.calibrated and representative_dataset is not None:
            several = not isinstance(signature_key, (str, type(None)))
            # The interpreter lists the ops of one subgraph: with several signatures
            # (the adaptive file), each is converted alone to find its op names,
            # and the samples come as (signature, {name: array}), which the
            # calibrator matches by name itself.
            plain_files = [_plain(saved_model_dir, key)
                           for key in (signature_key if several else [signature_key])]
            if not several:
                order = input_names_in_tensor_order(plain_files[0])
                representative_dataset = _positional(representative_dataset, order)
            if recipe.float_scopes:
                scoped = [name for blob in plain_files
                          for name in tensor_names_under(blob, recipe.float_scopes)]
                float_nodes += scoped
                if not scoped:
                    raise AlbertTfError(f"recipe {recipe.name!r}: no op under "
                                        f"{', '.join(recipe.float_scopes)} (renamed in the model?)")
        converter = _converter(saved_model_dir, signature_key)
        _configure(converter, recipe, representative_dataset)
        try:
            if recipe.float_ops or float_nodes:
                # TFLite's documented route to selective quantization.
                debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter, debug_dataset=representative_dataset,
                    debug_options=tf.lite.experimental.QuantizationDebugOptions(
                        denylisted_ops=list(recipe.float_ops),
                        denylisted_nodes=float_nodes or None))
                blob = debugger.get_nondebug_quantized_model()
            else:
                blob = converter.convert()
        except Exception as error:  # ConverterError and friends carry MLIR text
            message = str(error)
            ops = sorted(set(_TF_OP.findall(message)))
            if ops:
                raise AlbertTfError(
                    f"recipe {recipe.name!r}: the graph needs TensorFlow ops outside the TFLite "
                    f"builtins ({', '.join(ops)}); they would need the Flex delegate, which "
                    "ai-edge-litert does not ship") from None
            raise AlbertTfError(f"recipe {recipe.name!r}: conversion failed: {message[:2000]}") \
                from None
    return blob, time.perf_counter() - started
