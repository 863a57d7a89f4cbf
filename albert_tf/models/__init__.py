"""Keras 3 ALBERT: layers, backbone, presets and task models.

Names resolve on first use (PEP 562): `albert_tf.models.presets` is plain
data, and reading it (the command line's `--preset` choices, option checks)
must not import Keras.
"""

from albert_tf.lazy import lazy_exports

_LAZY = {
    "AlbertBackbone": "backbone",
    "AlbertAttention": "attention",
    "AlbertEmbedding": "layers",
    "AlbertTransformerLayer": "layers",
    "AttentionMask": "layers",
    "ClsPooler": "layers",
    "MaskedMeanPooling": "layers",
    "PRESETS": "presets",
    "count_parameters": "presets",
    "preset_config": "presets",
    "AlbertClassifier": "tasks",
    "AlbertPretrainer": "tasks",
    "AlbertSentenceEncoder": "tasks",
    "MaskedLMHead": "tasks",
    "build_classifier": "tasks",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
