"""The ALBERT encoder as a functional `keras.Model`."""

import keras

from albert_tf.contract import INPUTS
from albert_tf.models.common import FunctionalModel, check_positive_int, check_rate
from albert_tf.models.layers import (AlbertEmbedding, AlbertTransformerLayer, AttentionMask,
                                     ClsPooler)


def _serialize_dtype(policy):
    return keras.dtype_policies.serialize(policy) if policy is not None else None


def set_model_dtype_policy(model, dtype):
    """Give a functional model the policy its layers use.

    `keras.Model(inputs, outputs, dtype=...)` ignores `dtype`, yet `compile`
    reads the model's policy to decide on loss scaling for mixed_float16.
    """
    if dtype is not None:
        model.dtype_policy = keras.dtype_policies.get(dtype)


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertBackbone(FunctionalModel):
    """ALBERT encoder: factorized embeddings and shared transformer layers.

    `num_layers` is the number of layer *calls*. The calls are split evenly
    between `num_groups` groups of weights; group `g` serves calls
    `g * num_layers / num_groups` onwards, and each call runs the group's
    `num_inner_repetitions` distinct transformer layers in order. This is
    keras-hub's `AlbertBackbone` and Hugging Face's `num_hidden_groups` /
    `inner_group_num`, so weights map one to one. ALBERT's default,
    `num_groups=1`, stores one transformer layer and calls it `num_layers`
    times.

    Inputs are a dict of int32 `(batch, length)` tensors `token_ids`,
    `segment_ids` and `padding_mask` (1 = real token); outputs are a dict of
    `sequence_output` `(batch, length, hidden_dim)` and `pooled_output`
    `(batch, hidden_dim)` (dense + tanh on `[CLS]`).

    Args:
        vocabulary_size: int, number of SentencePiece pieces.
        num_layers: int, transformer layer calls; divisible by `num_groups`.
        num_heads: int, attention heads; must divide `hidden_dim`.
        embedding_dim: int, E, size of the token embeddings.
        hidden_dim: int, H, size of the transformer activations.
        intermediate_dim: int, inner size of each feed-forward network.
        num_groups: int, number of distinct groups of transformer weights.
        num_inner_repetitions: int, distinct transformer layers per group.
        dropout: float, dropout rate of embeddings, attention and FFN.
        max_sequence_length: int, size of the position embedding table.
        num_segments: int, number of segment (token type) ids.
        gelu_approximate: bool, the FFN's GELU is the tanh approximation
            (ALBERT's `gelu_new`, Google's TF code) or, if False, the erf form
            (Hugging Face `hidden_act="gelu"`).
        dtype: None, a dtype or a `keras.DTypePolicy` name such as
            `"mixed_bfloat16"`; variables stay float32 under mixed policies.

    Example:
    ```python
    backbone = AlbertBackbone.from_shape("tiny", vocabulary_size=1000)  # random weights
    outputs = backbone({
        "token_ids": np.array([[2, 15, 27, 3]], "int32"),
        "segment_ids": np.zeros((1, 4), "int32"),
        "padding_mask": np.ones((1, 4), "int32"),
    })
    outputs["pooled_output"].shape  # (1, 128)
    ```
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, embedding_dim,
                 hidden_dim, intermediate_dim, num_groups=1, num_inner_repetitions=1,
                 dropout=0.0, max_sequence_length=512, num_segments=2,
                 gelu_approximate=True, dtype=None, **kwargs):
        check_positive_int(num_layers=num_layers, num_groups=num_groups,
                        num_inner_repetitions=num_inner_repetitions, num_heads=num_heads,
                        hidden_dim=hidden_dim)
        check_rate(dropout=dropout)
        if num_layers % num_groups:
            raise ValueError(
                "`num_layers` must be divisible by `num_groups`. Received: "
                f"num_layers={num_layers}, num_groups={num_groups}")
        if hidden_dim % num_heads:
            raise ValueError(
                "`hidden_dim` must be divisible by `num_heads`. Received: "
                f"hidden_dim={hidden_dim}, num_heads={num_heads}")

        # === Layers ===
        self.embedding = AlbertEmbedding(
            vocabulary_size, embedding_dim, hidden_dim,
            max_sequence_length=max_sequence_length, num_segments=num_segments,
            dropout=dropout, dtype=dtype, name="embedding")
        self.attention_mask = AttentionMask(dtype=dtype, name="attention_mask")
        self.transformer_groups = [
            [AlbertTransformerLayer(num_heads, intermediate_dim, dropout=dropout,
                                    gelu_approximate=gelu_approximate, dtype=dtype,
                                    name=f"group_{g}_inner_layer_{i}")
             for i in range(num_inner_repetitions)]
            for g in range(num_groups)
        ]
        self.pooler = ClsPooler(hidden_dim, dtype=dtype, name="pooler")

        # === Functional model ===
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in INPUTS
        }
        x = self._calls(inputs, num_layers // num_groups)[-1]
        outputs = {"sequence_output": x, "pooled_output": self.pooler(x)}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        set_model_dtype_policy(self, dtype)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.num_groups = num_groups
        self.num_inner_repetitions = num_inner_repetitions
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.gelu_approximate = bool(gelu_approximate)
        self.finish_init()

    def _calls(self, inputs, calls_per_group):
        token_ids, segment_ids, padding_mask = (inputs[name] for name in INPUTS)
        x = self.embedding(token_ids, segment_ids)
        mask = self.attention_mask(padding_mask)
        outputs = []
        for group in self.transformer_groups:
            for _ in range(calls_per_group):
                for layer in group:
                    x = layer(x, mask)
                outputs.append(x)
        return outputs

    def call_outputs(self, inputs):
        """The sequence output after each of the `num_layers` layer calls, in order
        (the last is `sequence_output`): what early-exit heads read. Runs this
        backbone's own layers, so a functional model built on it shares them.
        """
        return self._calls(inputs, self.num_layers // self.num_groups)

    def untied(self, num_groups):
        """A copy of this backbone whose layer calls are shared among `num_groups`
        groups of weights instead, each group starting as the group that served
        its calls here: the same function at step 0, with more weights to train.

        This is how a shared-layer student gains capacity without losing what it
        learnt (an untied copy answers exactly as the tied one until trained):
        compute per token is unchanged, parameters grow with the groups.

        ```python
        backbone = AlbertBackbone.from_shape("tiny", vocabulary_size=1000, num_layers=4)
        untied = backbone.untied(4)  # 4 layers of weights, one per call
        ```
        """
        check_positive_int(num_groups=num_groups)
        if num_groups % self.num_groups or self.num_layers % num_groups:
            raise ValueError(
                f"`num_groups` must be a multiple of the backbone's {self.num_groups} "
                f"and divide its num_layers={self.num_layers}. Received: "
                f"num_groups={num_groups}")
        config = self.get_config()
        config["num_groups"] = num_groups
        config["name"] = self.name
        untied = AlbertBackbone.from_config(config)
        sources = {layer.name: layer for layer in self.layers}
        for layer in untied.layers:
            source = layer.name
            if layer.name.startswith("group_"):
                group, inner = layer.name[len("group_"):].split("_inner_layer_")
                # Group g serves calls g * L / G onwards: the old group of those calls.
                source = f"group_{int(group) * self.num_groups // num_groups}_inner_layer_{inner}"
            layer.set_weights(sources[source].get_weights())
        return untied

    @property
    def token_embedding(self):
        """The `(vocabulary_size, embedding_dim)` embedding, tied to the MLM head."""
        return self.embedding.token_embedding

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": _serialize_dtype(self.dtype_policy),
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "embedding_dim": self.embedding_dim,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "num_groups": self.num_groups,
            "num_inner_repetitions": self.num_inner_repetitions,
            "dropout": self.dropout,
            "max_sequence_length": self.max_sequence_length,
            "num_segments": self.num_segments,
            "gelu_approximate": self.gelu_approximate,
        }

    @classmethod
    def from_config(cls, config):
        # Functional models would rebuild a plain keras.Model; we want ours.
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)

    @classmethod
    def from_shape(cls, shape, **overrides):
        """A backbone of a named shape ("tiny", "small", "base", "large";
        see `presets.py`) with **random weights**, for training from scratch.
        `overrides` replace the shape's values (`vocabulary_size`, `dtype`, ...).
        """
        from albert_tf.models.presets import preset_config

        return cls(**preset_config(shape, **overrides))

    @classmethod
    def from_preset(cls, preset, dtype="float32"):
        """A backbone with **pretrained weights**, as keras-hub's `from_preset`
        means it: a kit pretrained directory (`albert-tf import` / `pretrain`),
        a kit model directory (its fine-tuned encoder), or a keras-hub preset
        (directory, `kaggle://...` or `hf://...` handle). For a random
        backbone of a named shape, use `from_shape`.

        ```python
        backbone = AlbertBackbone.from_preset("runs/albert-base")  # after `albert-tf import`
        ```
        """
        # Loading is the artifacts layer's job (above this one): it is found
        # through the registry, not imported (see `presets.register_preset_loader`).
        from albert_tf.models.presets import preset_loader

        return preset_loader()(preset, dtype=dtype)
