"""Package names that resolve on first use (PEP 562), so importing a package stays cheap.

`import albert_tf` must not import Keras or TensorFlow, `albert_tf.models.presets`
must be readable without Keras, and `albert_tf.export.ExportOptions` without
TensorFlow: each of those packages lists its public names here instead of
importing the modules that define them.
"""

import importlib
import sys


def lazy_exports(package, names, on_missing=None):
    """`(__getattr__, __dir__)` for `package`, whose `names` map to the submodule
    (relative to `package`) that defines each. `on_missing(name, error)` may turn
    a `ModuleNotFoundError` into a friendlier error; otherwise it propagates."""

    def __getattr__(name):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        try:
            module = importlib.import_module(f"{package}.{names[name]}")
        except ModuleNotFoundError as error:
            if on_missing is not None:
                on_missing(name, error)
            raise
        value = getattr(module, name)
        setattr(sys.modules[package], name, value)  # resolved once
        return value

    def __dir__():
        return sorted(names)

    return __getattr__, __dir__
