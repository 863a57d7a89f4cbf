"""Find a TFLite interpreter: ai-edge-litert, else tflite-runtime, else tf.lite.

ai-edge-litert is the maintained runtime (about 59 MB installed). The
legacy `tflite-runtime` 2.14 wheels crash on construction under numpy 2
(see ../shared/NOTES.md), so they are only tried under numpy<2. TensorFlow
works too but weighs about 1.9 GB: it is the last resort, for hosts that
have it anyway.
"""

import importlib

import numpy as np

from albert_tf.errors import RuntimeUnavailableError

# (name, module that holds `Interpreter`, how to install it)
INTERPRETERS = (
    ("ai-edge-litert", "ai_edge_litert.interpreter", "pip install ai-edge-litert"),
    ("tflite-runtime", "tflite_runtime.interpreter",
     "pip install tflite-runtime 'numpy<2' (legacy)"),
    ("tensorflow", "tensorflow", "pip install tensorflow (about 1.9 GB)"),
)
NAMES = tuple(name for name, _, _ in INTERPRETERS)


def _interpreter_class(name, module_name):
    if name == "tflite-runtime" and int(np.__version__.split(".")[0]) >= 2:
        raise ImportError(f"tflite-runtime needs numpy<2 (found numpy {np.__version__})")
    module = importlib.import_module(module_name)
    return module.lite.Interpreter if name == "tensorflow" else module.Interpreter


def find_interpreter(backend=None):
    """`(backend name, Interpreter class)` of the first backend that imports.

    `backend` forces one of `NAMES`. Raises `RuntimeUnavailableError`
    listing why each candidate was skipped when none works.
    """
    if backend is not None and backend not in NAMES:
        raise ValueError(f"backend must be one of {NAMES}, got {backend!r}")
    reasons = []
    for name, module_name, install in INTERPRETERS:
        if backend is not None and name != backend:
            continue
        try:
            return name, _interpreter_class(name, module_name)
        except ImportError as error:
            reasons.append(f"  {name}: {error} ({install})")
    raise RuntimeUnavailableError(
        "no TFLite interpreter is available:\n" + "\n".join(reasons)
        + "\nInstall the runtime with: pip install -e \".[runtime]\" (from the albert-tf "
          "checkout)")
