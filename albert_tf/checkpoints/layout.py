"""One weight layout that every checkpoint format is translated through.

The *reference layout* is a flat `{name: numpy array}` dict named as in
Hugging Face's `AlbertForPreTraining` state dict (minus the `albert.`
prefix), with every dense kernel stored Keras-style as `(in, out)`. Each
format converts to and from it once (`hf.py`, `tf1.py`, `keras_hub.py`), and
only this module knows our own variables, so N formats cost N converters,
not N x N.

Every transfer checks names and shapes first and names the offending tensor:
a checkpoint that does not fit fails before any weight is assigned.
"""

import dataclasses

import numpy as np

from albert_tf.errors import CheckpointError

EMBEDDINGS = "embeddings."
PROJECTION = "encoder.embedding_hidden_mapping_in."
POOLER = "pooler."
MLM = "predictions."
SOP = "sop_classifier.classifier."
QKV = ("query", "key", "value")


@dataclasses.dataclass
class Checkpoint:
    """What every reader returns: backbone kwargs, reference-layout weights, tokenizer."""

    config: dict
    weights: dict
    tokenizer: object  # albert_tf.AlbertTokenizer
    source: dict  # format, path, files read and their sha256


def layer_prefix(group, inner):
    return f"encoder.albert_layer_groups.{group}.albert_layers.{inner}."


def _dense(prefix, layer):
    return {prefix + "weight": layer.kernel, prefix + "bias": layer.bias}


def _norm(prefix, layer):
    return {prefix + "weight": layer.gamma, prefix + "bias": layer.beta}


def _backbone_variables(backbone):
    """Reference name -> Keras variable, except the fused q/k/v (see below)."""
    emb = backbone.embedding
    variables = {
        EMBEDDINGS + "word_embeddings.weight": emb.token_embedding.embeddings,
        EMBEDDINGS + "position_embeddings.weight": emb.position_embedding.embeddings,
        EMBEDDINGS + "token_type_embeddings.weight": emb.segment_embedding.embeddings,
        **_norm(EMBEDDINGS + "LayerNorm.", emb.layer_norm),
        **_dense(PROJECTION, emb.projection),
        **_dense(POOLER, backbone.pooler.dense),
    }
    for g, group in enumerate(backbone.transformer_groups):
        for i, layer in enumerate(group):
            p = layer_prefix(g, i)
            variables.update({
                **_dense(p + "attention.dense.", layer.self_attention.output_dense),
                **_norm(p + "attention.LayerNorm.", layer.attention_layer_norm),
                **_dense(p + "ffn.", layer.ffn),
                **_dense(p + "ffn_output.", layer.ffn_output),
                **_norm(p + "full_layer_layer_norm.", layer.output_layer_norm),
            })
    return variables


def _head_variables(pretrainer):
    mlm = pretrainer.mlm_head
    return {
        **_dense(MLM + "dense.", mlm.dense),
        **_norm(MLM + "LayerNorm.", mlm.layer_norm),
        MLM + "bias": mlm.bias,
        **_dense(SOP, pretrainer.sop_head),
    }


def _qkv_layers(backbone):
    """`(prefix, AlbertAttention)` per layer. Its `qkv` kernel is `[q | k | v]`
    on the output axis (albert_tf/models/attention.py): reference checkpoints
    keep three matrices, which are split from and fused into it in that order."""
    for g, group in enumerate(backbone.transformer_groups):
        for i, layer in enumerate(group):
            yield layer_prefix(g, i) + "attention.", layer.self_attention


HEAD_NAMES = frozenset({MLM + "dense.weight", MLM + "dense.bias", MLM + "LayerNorm.weight",
                        MLM + "LayerNorm.bias", MLM + "bias", SOP + "weight", SOP + "bias"})


def read_backbone(backbone):
    """The backbone's weights in the reference layout (float32 numpy)."""
    weights = {name: np.asarray(v.numpy() if hasattr(v, "numpy") else v, "float32")
               for name, v in _backbone_variables(backbone).items()}
    for p, layer in _qkv_layers(backbone):
        kernel = np.asarray(layer.qkv.kernel.numpy(), "float32")
        bias = np.asarray(layer.qkv.bias.numpy(), "float32")
        h = layer.hidden_dim
        for index, part in enumerate(QKV):
            weights[p + f"{part}.weight"] = kernel[:, index * h:(index + 1) * h]
            weights[p + f"{part}.bias"] = bias[index * h:(index + 1) * h]
    return weights


def read_heads(pretrainer):
    return {name: np.asarray(v.numpy(), "float32")
            for name, v in _head_variables(pretrainer).items()}


def _check(name, expected, weights, source):
    if name not in weights:
        raise CheckpointError(f"{source}: missing tensor {name!r}")
    found = tuple(np.shape(weights[name]))
    if found != tuple(expected):
        raise CheckpointError(
            f"{source}: tensor {name!r} has shape {found}, the model expects {tuple(expected)}")


def _assign(targets, weights, source):
    """Check every name and shape first, then assign: all or nothing."""
    for name, variable in targets.items():
        _check(name, variable.shape, weights, source)
    for name, variable in targets.items():
        variable.assign(np.asarray(weights[name], "float32"))


def write_backbone(backbone, weights, source="checkpoint"):
    """Assign reference-layout `weights` to `backbone`, fusing q, k, v into `qkv`."""
    targets, merged = _backbone_variables(backbone), dict(weights)
    for p, layer in _qkv_layers(backbone):
        h = layer.hidden_dim
        for kind, shape, variable in (("weight", (h, h), layer.qkv.kernel),
                                      ("bias", (h,), layer.qkv.bias)):
            parts = [p + f"{part}.{kind}" for part in QKV]
            for name in parts:
                _check(name, shape, weights, source)
            # Our layout: one (H, 3H) kernel, [q | k | v] along the output axis.
            merged[p + f"qkv.{kind}"] = np.concatenate([weights[n] for n in parts], -1)
            targets[p + f"qkv.{kind}"] = variable
    _assign(targets, merged, source)


def write_heads(pretrainer, weights, source="checkpoint"):
    _assign(_head_variables(pretrainer), weights, source)


def has_heads(weights):
    """Whether a checkpoint carries the MLM and SOP heads (pretraining can go on)."""
    return HEAD_NAMES <= set(weights)


def check_vocabulary(weights, vocabulary_size, source):
    """The embedding table must have one row per tokenizer piece."""
    table = weights.get(EMBEDDINGS + "word_embeddings.weight")
    if table is not None and table.shape[0] != vocabulary_size:
        raise CheckpointError(
            f"{source}: tensor {EMBEDDINGS + 'word_embeddings.weight'!r} has "
            f"{table.shape[0]} rows but the tokenizer has {vocabulary_size} pieces")
