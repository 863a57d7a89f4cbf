"""The kit's directory formats: which files each kind holds, and how to tell them apart.

The one owner of these rules: `model_dir` (classifiers) and `pretrained`
(encoders) write and load through it, and option checks ask it what a path
is. Keras-free; the file names come from `albert_tf.contract`.
"""

import json
import os

from albert_tf import __version__
from albert_tf.artifacts.manifest import (EMBEDDER_FORMAT, MODEL_FORMAT, PRETRAINED_FORMAT,
                                          package_versions, verify_manifest)
from albert_tf.contract import CONFIG_FILE, LABELS_FILE, TOKENIZER_MODEL, WEIGHTS_FILE
from albert_tf.errors import ModelDirError

# Files each kind must hold before anything is deserialized.
MODEL_REQUIRED = (CONFIG_FILE, WEIGHTS_FILE, LABELS_FILE, TOKENIZER_MODEL)
PRETRAINED_REQUIRED = (CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_MODEL)
EMBEDDER_REQUIRED = PRETRAINED_REQUIRED  # an encoder and its projection; no labels


def has_config_format(path, expected):
    """Whether `path/config.json` declares the format `expected` (no hashing)."""
    try:
        with open(os.path.join(path, CONFIG_FILE), encoding="utf-8") as f:
            return json.load(f).get("format") == expected
    except (OSError, ValueError, AttributeError):
        return False


def is_model_dir(path):
    """Whether `path` holds a classifier model directory."""
    return has_config_format(path, MODEL_FORMAT)


def is_embedder_dir(path):
    """Whether `path` holds a sentence-embedder directory."""
    return has_config_format(path, EMBEDDER_FORMAT)


def is_pretrained_dir(path):
    """Whether `path` holds a pretrained-encoder directory."""
    return has_config_format(path, PRETRAINED_FORMAT)


def read_config(path, required, expected_format, verify=True, hint=""):
    """`(manifest, config.json)` of a directory, once its files match the manifest."""
    metadata = verify_manifest(path, required, expected_format=expected_format) if verify else {}
    with open(os.path.join(path, CONFIG_FILE), encoding="utf-8") as f:
        config = json.load(f)
    if config.get("format") != expected_format:
        raise ModelDirError(f"{path}: {CONFIG_FILE} has format {config.get('format')!r}, "
                            f"expected {expected_format!r}{hint}")
    return metadata, config


def load_weights_checked(path, model, tokenizer, weights=WEIGHTS_FILE):
    """Load `path/weights` into `model` once the tokenizer fits its embedding."""
    if tokenizer.vocab_size != model.backbone.vocabulary_size:
        raise ModelDirError(f"{path}: tokenizer has {tokenizer.vocab_size} pieces but the "
                            f"model embeds {model.backbone.vocabulary_size}")
    try:
        model.load_weights(os.path.join(path, weights))
    except (ValueError, OSError) as error:
        raise ModelDirError(f"{path}: weights do not fit the config: {error}") from None


def writer_versions():
    """What a Keras-written directory records of the software that wrote it."""
    import keras

    return {"albert_tf": __version__, "keras_backend": keras.backend.backend(),
            **package_versions("keras", "tensorflow", "jax", "torch", "sentencepiece", "numpy")}
