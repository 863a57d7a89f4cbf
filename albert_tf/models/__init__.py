"""Keras 3 ALBERT: layers, backbone, presets and task models."""

from albert_tf.models.backbone import AlbertBackbone
from albert_tf.models.layers import (
    AlbertEmbedding,
    AlbertTransformerLayer,
    AttentionMask,
    ClsPooler,
    MaskedMeanPooling,
)
from albert_tf.models.presets import PRESETS, count_parameters, preset_config
from albert_tf.models.tasks import (
    AlbertClassifier,
    AlbertPretrainer,
    MaskedLMHead,
    build_classifier,
)
