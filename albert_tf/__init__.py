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

from albert_tf.lazy import lazy_exports
from albert_tf.models.presets import register_preset_loader as _register_preset_loader

__version__ = "0.1.0"

_LAZY = {
    # name: module that defines it
    "AlbertTokenizer": "text.tokenizer",
    "AlbertBackbone": "models",
    "AlbertClassifier": "models",
    "AlbertPretrainer": "models",
    "AlbertTransformerLayer": "models",
    "build_classifier": "models",
    "PRESETS": "models",
    "load_examples": "text.data",
    "LabelVocab": "text.data",
    "ClassificationBatches": "training.batching",
    "TrainConfig": "training.config",
    "train": "training.finetune",
    "load": "artifacts.model_dir",
    "load_pretrained": "artifacts.pretrained",
    "PretrainedAlbert": "artifacts.pretrained",
    "import_checkpoint": "checkpoints",
    "export_checkpoint": "checkpoints",
    "pretrain": "training.pretraining.trainer",
    "PretrainConfig": "training.config",
    "distill": "training.distillation.distill",
    "label_teacher": "training.distillation.distill",
    "DistillConfig": "training.distillation.config",
    "distill_embeddings": "training.distillation.sentence_distill",
    "label_sentences": "training.distillation.sentence_distill",
    "EmbeddingDistillConfig": "training.distillation.config",
    "load_embedder": "artifacts.embedder_dir",
    "TrainedEmbedder": "inference.sentence_embedder",
    "TrainedClassifier": "inference.trained",
    "embed": "inference.embedding",
    "cosine_similarity": "similarity",
    "classification_report": "inference.metrics",
    "AlbertTfError": "errors",
    "average_model_dirs": "artifacts.averaging",
}

__all__ = sorted(_LAZY) + ["__version__"]


def _needs_keras(name, error):
    if error.name in ("keras", "h5py"):
        raise ImportError(
            f"albert_tf.{name} needs Keras: pip install 'albert-tf[tensorflow]' (or "
            "'[jax]'). Only serving needs nothing more: see albert_tf.runtime") from error


_resolve, _ = lazy_exports(__name__, _LAZY, on_missing=_needs_keras)


def __getattr__(name):
    from albert_tf.native_stderr import quiet_backend_start

    with quiet_backend_start():  # Keras' first import starts TensorFlow: quietly
        return _resolve(name)


def _load_backbone_preset(preset, dtype="float32"):
    """`AlbertBackbone.from_preset`'s loader: the artifacts layer, imported on use."""
    from albert_tf.artifacts.presets import load_backbone

    return load_backbone(preset, dtype=dtype)


# The package root is above both layers: it wires the loader in, so the models
# layer needs no import of artifacts (which imports models): no cycle.
_register_preset_loader(_load_backbone_preset)


def __dir__():
    return __all__
