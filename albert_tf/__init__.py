"""albert_tf: ALBERT text classifiers from Keras 3 training to the edge.

Importing this package imports nothing heavy: names below resolve on first
use (PEP 562), so `import albert_tf` needs neither TensorFlow nor Keras and
the TF-free runtime can live in the same namespace. Pick the Keras backend
as usual, with `KERAS_BACKEND=tensorflow|jax|torch` before first use.

Example:
```python
import albert_tf

model = albert_tf.train(train="train.tsv", eval="dev.tsv", out="runs/sst2",
                        preset="small", epochs=3)
model.predict(["a gripping, funny film"])
```
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    # name: module that defines it
    "AlbertTokenizer": "albert_tf.tokenizer",
    "AlbertBackbone": "albert_tf.models",
    "AlbertClassifier": "albert_tf.models",
    "AlbertPretrainer": "albert_tf.models",
    "AlbertTransformerLayer": "albert_tf.models",
    "build_classifier": "albert_tf.models",
    "PRESETS": "albert_tf.models",
    "load_examples": "albert_tf.data",
    "LabelVocab": "albert_tf.data",
    "ClassificationBatches": "albert_tf.batching",
    "TrainConfig": "albert_tf.training",
    "train": "albert_tf.training",
    "load": "albert_tf.model_dir",
    "load_pretrained": "albert_tf.pretrained",
    "PretrainedAlbert": "albert_tf.pretrained",
    "import_checkpoint": "albert_tf.checkpoints",
    "export_checkpoint": "albert_tf.checkpoints",
    "pretrain": "albert_tf.pretraining.trainer",
    "distill": "albert_tf.distillation.distill",
    "DistillConfig": "albert_tf.distillation.distill",
    "TrainedClassifier": "albert_tf.model_dir",
    "embed": "albert_tf.embedding",
    "cosine_similarity": "albert_tf.embedding",
    "classification_report": "albert_tf.metrics",
    "AlbertTfError": "albert_tf.errors",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'albert_tf' has no attribute {name!r}")
    try:
        module = importlib.import_module(_LAZY[name])
    except ModuleNotFoundError as error:
        if error.name not in ("keras", "h5py"):
            raise
        raise ImportError(
            f"albert_tf.{name} needs Keras: pip install 'albert-tf[tensorflow]' (or "
            "'[jax]'). Only serving needs nothing more: see albert_tf.runtime") from error
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
