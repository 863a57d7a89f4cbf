"""Pretrained-encoder directories: what import and pretraining write, fine-tuning reads.

```
PRETRAINED_DIR/
  config.json           {"format", "backbone": AlbertBackbone config, "heads"}
  model.weights.h5      AlbertPretrainer weights: backbone + MLM and SOP heads
  tokenizer/            spiece.model + tokenizer.json (normalization rules)
  pretraining_curves.png, history.json   (pretraining only)
  metadata.json         versions, source or corpus hashes, MLM/SOP accuracy, sha256s
```

The heads travel with the backbone so that pretraining can continue from
an imported checkpoint; `heads` says whether they are "trained",
"imported" or "random" (a source that had none).
"""

import json
import os

from albert_tf.artifacts.formats import (PRETRAINED_REQUIRED, load_weights_checked, read_config,
                                         writer_versions)
from albert_tf.artifacts.manifest import PRETRAINED_FORMAT, AtomicDirectory, write_manifest
from albert_tf.contract import CONFIG_FILE, HISTORY_FILE, TOKENIZER_DIR, WEIGHTS_FILE
from albert_tf.errors import ModelDirError
from albert_tf.models.backbone import AlbertBackbone
from albert_tf.models.tasks import AlbertPretrainer
from albert_tf.text.tokenizer import AlbertTokenizer

FORMAT = PRETRAINED_FORMAT
HEAD_STATES = ("trained", "imported", "random")


class PretrainedAlbert:
    """A loaded pretrained directory: the pretrainer (backbone + heads) and tokenizer.

    Example:
    ```python
    pretrained = albert_tf.load_pretrained("runs/pretrained-small")
    pretrained.backbone  # an AlbertBackbone with the pretrained weights
    ```
    """

    def __init__(self, pretrainer, tokenizer, config, metadata=None, path=None):
        self.pretrainer = pretrainer
        self.tokenizer = tokenizer
        self.config = config
        self.metadata = metadata or {}
        self.path = path

    @property
    def backbone(self):
        return self.pretrainer.backbone

    @property
    def heads(self):
        return self.config.get("heads", "random")


def backbone_config(backbone):
    """A backbone's config without its dtype: stored weights are float32 whatever trained them."""
    config = backbone.get_config()
    for key in ("name", "trainable", "dtype"):
        config.pop(key, None)
    return config


def save_pretrained(path, pretrainer, tokenizer, heads, overwrite=False, history=None,
                    plot=None, **metadata):
    """Write a complete, hashed pretrained directory atomically; returns
    `(config.json, manifest)` as written.

    `plot(history, png_path)` draws the curves when `history` is given.
    """
    if heads not in HEAD_STATES:
        raise ValueError(f"`heads` must be one of {HEAD_STATES}. Received: heads={heads!r}")
    backbone = pretrainer.backbone
    if tokenizer.vocab_size != backbone.vocabulary_size:
        raise ModelDirError(f"tokenizer has {tokenizer.vocab_size} pieces but the model "
                            f"embeds {backbone.vocabulary_size}")
    config = {"format": FORMAT, "backbone": backbone_config(backbone), "heads": heads}
    with AtomicDirectory(path, overwrite=overwrite) as tmp:
        with open(os.path.join(tmp, CONFIG_FILE), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
        pretrainer.save_weights(os.path.join(tmp, WEIGHTS_FILE))
        tokenizer.save(os.path.join(tmp, TOKENIZER_DIR))
        if history:
            with open(os.path.join(tmp, HISTORY_FILE), "w", encoding="utf-8") as f:
                json.dump(history, f, indent=2)
            if plot is not None:
                plot(history, os.path.join(tmp, "pretraining_curves.png"))
        manifest = write_manifest(
            tmp, format=FORMAT,
            versions=writer_versions(),
            num_parameters=int(backbone.count_params()),
            **metadata)
    return config, manifest


def pretrainer_with_dtype(stored_backbone_config, dtype, dropout=None):
    """An `AlbertPretrainer` from a stored backbone config, computing in `dtype`
    (with `dropout` replacing the stored rate, if given; weights are not copied)."""
    kwargs = dict(stored_backbone_config, dtype=dtype)
    if dropout is not None:
        kwargs["dropout"] = dropout
    return AlbertPretrainer(AlbertBackbone(**kwargs))


def load_pretrained(path, dtype="float32", dropout=None, verify=True, max_length=None):
    """Load a pretrained directory after checking its manifest.

    `dtype` is the compute policy (e.g. "mixed_bfloat16"); `dropout`
    replaces the stored rate (imported checkpoints often carry 0.0);
    `max_length`, the sequence length a run will use, must fit the
    position table.
    """
    path = os.fspath(path)
    metadata, config = read_config(path, PRETRAINED_REQUIRED, FORMAT, verify,
                                   hint=" (a directory written by `albert-tf import` or "
                                        "`albert-tf pretrain`)")
    positions = config["backbone"]["max_sequence_length"]
    if max_length is not None and max_length > positions:
        raise ModelDirError(f"max_length={max_length} exceeds the {path} position table "
                            f"({positions})")
    pretrainer = pretrainer_with_dtype(config["backbone"], dtype, dropout)
    tokenizer = AlbertTokenizer.load(os.path.join(path, TOKENIZER_DIR))
    load_weights_checked(path, pretrainer, tokenizer)
    return PretrainedAlbert(pretrainer, tokenizer, config, metadata, path)
