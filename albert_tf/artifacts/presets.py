"""Pretrained weights by name, as keras-hub's `from_preset` means it.

`AlbertBackbone.from_preset` delegates here: a kit pretrained directory
(`albert-tf import` / `pretrain`), a kit model directory (its fine-tuned
encoder), or a keras-hub preset (directory, `kaggle://...` or `hf://...`).
This is the artifacts layer's job (it reads directories and checkpoints);
the model class only offers the keras-hub-shaped entry point.
"""

import os

from albert_tf.artifacts.formats import is_model_dir, is_pretrained_dir
from albert_tf.artifacts.model_dir import load
from albert_tf.artifacts.pretrained import load_pretrained
from albert_tf.models.backbone import AlbertBackbone
from albert_tf.models.presets import PRESETS


def load_backbone(preset, dtype="float32"):
    """An `AlbertBackbone` with the pretrained weights `preset` names, computing in `dtype`."""
    preset = str(preset)
    if preset in PRESETS and not os.path.exists(preset):
        raise ValueError(f"{preset!r} names a shape, not pretrained weights; "
                         f"AlbertBackbone.from_shape({preset!r}, vocabulary_size=...) "
                         "builds one with random weights")
    if is_pretrained_dir(preset):
        return load_pretrained(preset, dtype=dtype).backbone
    if is_model_dir(preset):
        return load(preset, dtype=dtype).backbone
    from albert_tf.checkpoints import build_pretrainer, read_checkpoint

    backbone = build_pretrainer(read_checkpoint("keras-hub", preset))[0].backbone
    if dtype == "float32":
        return backbone
    copy = AlbertBackbone(**{**backbone.get_config(), "dtype": dtype})
    copy.set_weights(backbone.get_weights())
    return copy
