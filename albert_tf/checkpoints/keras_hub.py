"""keras-hub `AlbertBackbone` presets, in and out.

keras-hub keeps per-head kernels (`EinsumDense` of shape `(H, heads, d)`)
where we keep one fused `(H, 3H)` matrix; the two layouts are reshapes of
each other, done here. Needs `keras-hub` (imported only when called).
"""

import os
import warnings

import numpy as np

from albert_tf.checkpoints.layout import (
    EMBEDDINGS, POOLER, PROJECTION, QKV, Checkpoint, layer_prefix)
from albert_tf.errors import CheckpointError
from albert_tf.artifacts.manifest import sha256_file
from albert_tf.text.tokenizer import AlbertTokenizer

CONFIG_KEYS = ("vocabulary_size", "num_layers", "num_heads", "embedding_dim", "hidden_dim",
               "intermediate_dim", "num_groups", "num_inner_repetitions", "dropout",
               "max_sequence_length", "num_segments")


def _keras_hub():
    try:
        import keras_hub
    except ImportError:
        raise CheckpointError("keras-hub checkpoints need `pip install keras-hub`") from None
    return keras_hub


def _variables(backbone):
    """Reference name -> (keras-hub variable, its shape in our (in, out) layout)."""
    pairs = {
        EMBEDDINGS + "word_embeddings.weight": backbone.token_embedding.embeddings,
        EMBEDDINGS + "position_embeddings.weight":
            backbone.position_embedding.position_embeddings,
        EMBEDDINGS + "token_type_embeddings.weight": backbone.segment_embedding.embeddings,
        EMBEDDINGS + "LayerNorm.weight": backbone.embeddings_layer_norm.gamma,
        EMBEDDINGS + "LayerNorm.bias": backbone.embeddings_layer_norm.beta,
        PROJECTION + "weight": backbone.embeddings_projection.kernel,
        PROJECTION + "bias": backbone.embeddings_projection.bias,
        POOLER + "weight": backbone.pooled_dense.kernel,
        POOLER + "bias": backbone.pooled_dense.bias,
    }
    h = backbone.hidden_dim
    shapes = {}
    for g in range(backbone.num_groups):
        for i in range(backbone.num_inner_repetitions):
            layer, p = backbone.get_layer(f"group_{g}_inner_layer_{i}"), layer_prefix(g, i)
            attention = layer._self_attention_layer
            for part, dense in zip(QKV, (attention.query_dense, attention.key_dense,
                                         attention.value_dense)):
                pairs[p + f"attention.{part}.weight"] = dense.kernel
                pairs[p + f"attention.{part}.bias"] = dense.bias
                shapes[p + f"attention.{part}.weight"] = (h, h)
                shapes[p + f"attention.{part}.bias"] = (h,)
            pairs[p + "attention.dense.weight"] = attention.output_dense.kernel
            shapes[p + "attention.dense.weight"] = (h, h)
            for name, sub in (("attention.dense.bias", attention.output_dense.bias),
                              ("attention.LayerNorm.weight", layer._self_attention_layer_norm.gamma),
                              ("attention.LayerNorm.bias", layer._self_attention_layer_norm.beta),
                              ("ffn.weight", layer._feedforward_intermediate_dense.kernel),
                              ("ffn.bias", layer._feedforward_intermediate_dense.bias),
                              ("ffn_output.weight", layer._feedforward_output_dense.kernel),
                              ("ffn_output.bias", layer._feedforward_output_dense.bias),
                              ("full_layer_layer_norm.weight", layer._feedforward_layer_norm.gamma),
                              ("full_layer_layer_norm.bias", layer._feedforward_layer_norm.beta)):
                pairs[p + name] = sub
    return {name: (variable, shapes.get(name, tuple(variable.shape)))
            for name, variable in pairs.items()}


def backbone_to_reference(backbone):
    """A keras-hub `AlbertBackbone`'s weights in the reference layout."""
    return {name: np.reshape(np.asarray(variable.numpy(), "float32"), shape)
            for name, (variable, shape) in _variables(backbone).items()}


HF_SCHEME = "hf://"


def read_keras_hub(source, tokenizer=None):
    """A keras-hub preset (directory or handle) or an in-memory `AlbertBackbone`.

    An in-memory backbone has no tokenizer attached: pass `tokenizer`
    (an `albert_tf.AlbertTokenizer` or keras-hub `AlbertTokenizer`).
    """
    keras_hub = _keras_hub()
    files = {}
    if isinstance(source, (str, os.PathLike)):
        source = os.fspath(source)
        preset = source
        if source.startswith(HF_SCHEME):
            # Through our resolver: the same cache, offline rule and one-line
            # errors as `import hf ID` (keras-hub would say "no config.json").
            from albert_tf.checkpoints.hub import download

            preset = download(source[len(HF_SCHEME):], patterns=None)
        try:
            backbone = keras_hub.models.AlbertBackbone.from_preset(preset)
            if tokenizer is None:
                tokenizer = keras_hub.models.AlbertTokenizer.from_preset(preset)
        except FileNotFoundError as error:
            raise CheckpointError(f"{source}: not a keras-hub ALBERT preset: {error}") from None
        except OSError as error:  # kagglehub: a connection error, before any cache lookup
            raise CheckpointError(f"{source}: cannot download it (no network?): "
                                  f"{str(error).splitlines()[0][:200]}") from None
        except ValueError as error:
            raise CheckpointError(f"{source}: not a keras-hub ALBERT preset: {error}") from None
        if os.path.isdir(preset):
            files = {name: sha256_file(os.path.join(preset, name))
                     for name in sorted(os.listdir(preset))
                     if os.path.isfile(os.path.join(preset, name))}
    else:
        backbone = source
        if not isinstance(backbone, keras_hub.models.AlbertBackbone):
            raise CheckpointError(f"expected a keras-hub AlbertBackbone, got "
                                  f"{type(backbone).__name__}")
        if tokenizer is None:
            raise CheckpointError("an in-memory backbone needs `tokenizer=`")
    if not isinstance(tokenizer, AlbertTokenizer):
        proto = tokenizer.proto
        # keras-hub feeds raw text to SentencePiece: no Python-side rules.
        tokenizer = AlbertTokenizer(proto if isinstance(proto, bytes) else bytes(proto),
                                    lowercase=False)
    config = {key: backbone.get_config()[key] for key in CONFIG_KEYS}
    return Checkpoint(config=config, weights=backbone_to_reference(backbone),
                      tokenizer=tokenizer,
                      source={"format": "keras-hub",
                              "path": source if isinstance(source, str) else "<in memory>",
                              "files": files})


def write_keras_hub_preset(directory, backbone_config, weights, tokenizer):
    """Write a preset `keras_hub.models.AlbertBackbone.from_preset` loads."""
    keras_hub = _keras_hub()
    if not backbone_config.get("gelu_approximate", True):
        raise CheckpointError("keras-hub's AlbertBackbone has no erf-GELU option; this "
                              "model uses it (gelu_approximate=False)")
    if tokenizer.lowercase or tokenizer.strip_accents or tokenizer.replace_quotes:
        warnings.warn("this tokenizer lower-cases or strips accents in Python, which "
                      "keras-hub's AlbertTokenizer does not do: lower-case and normalize "
                      "text before keras-hub's tokenizer to get the same ids", stacklevel=2)
    backbone = keras_hub.models.AlbertBackbone(
        **{key: backbone_config[key] for key in CONFIG_KEYS})
    for name, (variable, shape) in _variables(backbone).items():
        if name not in weights:
            raise CheckpointError(f"missing tensor {name!r}")
        variable.assign(np.reshape(weights[name], variable.shape))
    backbone.save_to_preset(directory)
    keras_hub.models.AlbertTokenizer(proto=tokenizer.model_proto).save_to_preset(directory)
    return directory
