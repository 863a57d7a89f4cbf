"""Export (needs TensorFlow): SavedModel, TFLite recipes, MediaPipe metadata, parity.

```python
from albert_tf.export import export_model
rows = export_model(model_dir="runs/sst2", out="runs/sst2-export",
                    eval="../shared/data/sst2/dev.tsv", recipes=["float32", "int8"])
```

Names resolve on first use (PEP 562): `ExportOptions` (plain data) can be
read without TensorFlow; `export_model` imports it.
"""

from albert_tf.lazy import lazy_exports

_LAZY = {
    "ExportOptions": "options",
    "ParityError": "parity",
    "export_model": "pipeline",
    "DEFAULT_RECIPES": "recipes",
    "RECIPES": "recipes",
    "Recipe": "recipes",
    "resolve_recipes": "recipes",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
