"""Export (needs TensorFlow): SavedModel, TFLite recipes, MediaPipe metadata, parity.

```python
from albert_tf.export import export_model
rows = export_model(model_dir="runs/sst2", out="runs/sst2-export",
                    eval="../shared/data/sst2/dev.tsv", recipes=["float32", "int8"])
```
"""

from .pipeline import ExportOptions, ParityError, export_model
from .recipes import DEFAULT_RECIPES, RECIPES, Recipe, resolve_recipes
