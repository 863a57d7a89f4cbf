"""Checkpoint import and export: keras-hub, Hugging Face and Google TF1 ALBERT weights.

Every format goes through one reference layout (`layout.py`); the result of
an import is a pretrained directory (`albert_tf.artifacts.pretrained`) that
`albert-tf train --init DIR` fine-tunes and `albert-tf pretrain --init DIR`
keeps pretraining.

Example:
```python
from albert_tf.checkpoints import import_checkpoint, export_checkpoint

pretrained = import_checkpoint("hf", "downloads/albert-base-v2", out="runs/albert-base")
export_checkpoint("runs/albert-base", "keras-hub", out="presets/albert-base")
```
"""

import os

from albert_tf.checkpoints import layout
from albert_tf.errors import CheckpointError

SOURCES = ("keras-hub", "hf", "tf1")
TARGETS = ("keras-hub", "hf")


def read_checkpoint(source, path, tokenizer=None, revision=None):
    """A `layout.Checkpoint` from one of `SOURCES` (nothing written).

    For "hf", `path` may be a hub id (`albert/albert-base-v2`), resolved
    through the Hugging Face cache at `revision` (see `hub.py`).
    """
    if revision is not None and source != "hf":
        raise CheckpointError(f"a revision pins Hugging Face hub ids (hf), not {source!r}")
    if source == "hf":
        from albert_tf.checkpoints import hub
        from albert_tf.checkpoints.hf import read_hf

        if isinstance(path, (str, os.PathLike)) and hub.is_hub_id(path):
            checkpoint = read_hf(hub.download_hf_checkpoint(os.fspath(path), revision))
            # The snapshot folder is named by the commit it holds.
            checkpoint.source["hub"] = {"repo_id": os.fspath(path), "revision": revision,
                                        "commit": os.path.basename(checkpoint.source["path"])}
            return checkpoint
        return read_hf(path)
    if source == "tf1":
        from albert_tf.checkpoints.tf1 import read_tf1

        return read_tf1(path)
    if source == "keras-hub":
        from albert_tf.checkpoints.keras_hub import read_keras_hub

        return read_keras_hub(path, tokenizer=tokenizer)
    raise CheckpointError(f"unknown checkpoint format {source!r}; choose one of "
                          f"{', '.join(SOURCES)}")


def build_pretrainer(checkpoint):
    """An `AlbertPretrainer` holding the checkpoint's weights (heads random if it had none)."""
    from albert_tf.models.backbone import AlbertBackbone
    from albert_tf.models.tasks import AlbertPretrainer

    label = checkpoint.source.get("path", "checkpoint")
    layout.check_vocabulary(checkpoint.weights, checkpoint.tokenizer.vocab_size, label)
    try:
        pretrainer = AlbertPretrainer(AlbertBackbone(**checkpoint.config))
    except ValueError as error:
        raise CheckpointError(f"{label}: config does not describe an ALBERT: {error}") from None
    layout.write_backbone(pretrainer.backbone, checkpoint.weights, label)
    heads = layout.has_heads(checkpoint.weights)
    if heads:
        layout.write_heads(pretrainer, checkpoint.weights, label)
    return pretrainer, ("imported" if heads else "random")


def import_checkpoint(source, path, out, overwrite=False, tokenizer=None, revision=None):
    """Convert a checkpoint into a pretrained directory at `out`; returns it loaded."""
    from albert_tf.artifacts.pretrained import load_pretrained, save_pretrained

    checkpoint = read_checkpoint(source, path, tokenizer, revision)  # rejects unknown formats
    pretrainer, heads = build_pretrainer(checkpoint)
    save_pretrained(out, pretrainer, checkpoint.tokenizer, heads=heads, overwrite=overwrite,
                    source=checkpoint.source)
    return load_pretrained(out)


def _load_any(path):
    """(backbone config, reference weights, tokenizer) of a pretrained or classifier directory."""
    from albert_tf.artifacts.formats import is_pretrained_dir
    from albert_tf.artifacts.pretrained import backbone_config, load_pretrained

    if is_pretrained_dir(path):
        loaded = load_pretrained(path)
        weights = layout.read_backbone(loaded.backbone)
        if loaded.heads != "random":
            weights.update(layout.read_heads(loaded.pretrainer))
        return backbone_config(loaded.backbone), weights, loaded.tokenizer
    from albert_tf.artifacts.model_dir import load

    trained = load(path)
    return (backbone_config(trained.backbone), layout.read_backbone(trained.backbone),
            trained.tokenizer)


def export_checkpoint(path, target, out):
    """Write a kit directory (pretrained or fine-tuned) as a keras-hub preset or HF directory.

    A fine-tuned classifier exports its encoder; its classification head
    stays behind (neither format has a slot for our head).
    """
    if target not in TARGETS:
        raise CheckpointError(f"unknown export format {target!r}; choose one of "
                              f"{', '.join(TARGETS)}")
    if os.path.exists(out) and os.listdir(out):
        raise CheckpointError(f"{out} exists and is not empty")
    config, weights, tokenizer = _load_any(os.fspath(path))
    if target == "hf":
        from albert_tf.checkpoints.hf import write_hf

        return write_hf(out, config, weights, tokenizer)
    from albert_tf.checkpoints.keras_hub import write_keras_hub_preset

    return write_keras_hub_preset(out, config, weights, tokenizer)
