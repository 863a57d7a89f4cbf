"""Task models on top of `AlbertBackbone`: classification, sentence vectors and pretraining."""

import keras
from keras import ops

from albert_tf.contract import EXIT_HEADS
from albert_tf.models.backbone import AlbertBackbone, set_model_dtype_policy
from albert_tf.models.common import (FunctionalModel, albert_initializer, check_positive_int,
                                     check_rate, gelu_new)
from albert_tf.models.layers import MaskedMeanPooling


def _backbone_config(backbone):
    return keras.saving.serialize_keras_object(backbone)


def _deserialize_backbone(config):
    config = dict(config)
    if isinstance(config.get("backbone"), dict):
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
    return config


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertClassifier(FunctionalModel):
    """Text classifier: pooled `[CLS]` output -> dropout -> dense logits.

    A plain functional `keras.Model` with the backbone's three int32
    inputs, so users can `compile` and `fit` it on what
    `albert_tf.training.batching.ClassificationBatches` yields. Logits are float32
    under every dtype policy (the output layer computes in float32), which
    keeps losses and softmax exact under mixed precision.

    Args:
        backbone: an `AlbertBackbone`.
        num_classes: int, number of labels.
        multi_label: bool, independent sigmoid per label instead of softmax
            (only changes `activation` when that is "auto" and the loss the
            trainer picks).
        dropout: float, dropout on the pooled output.
        activation: None (logits, default), "softmax", "sigmoid" or "auto"
            (softmax, or sigmoid when `multi_label`); for exported models.
        exit_heads: None (default), "per_call" or "shared": early-exit
            classifiers after every call of the shared layer (PABEE, Zhou et
            al. 2020): the pooler is shared, and each call has its own small
            head (`per_call`) or all use the final one (`shared`). The model's
            output is unchanged (the last exit is the ordinary classifier);
            `exit_model()` outputs every exit's logits, `(batch, num_layers,
            num_classes)`, for training and adaptive export.

    Example:
    ```python
    backbone = AlbertBackbone.from_shape("tiny", vocabulary_size=1000)
    classifier = AlbertClassifier(backbone, num_classes=2)
    classifier.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    ```
    """

    def __init__(self, backbone, num_classes, multi_label=False, dropout=0.1,
                 activation=None, exit_heads=None, **kwargs):
        check_positive_int(num_classes=num_classes)
        check_rate(dropout=dropout)
        if activation not in (None, "softmax", "sigmoid", "auto"):
            raise ValueError(
                "`activation` must be None, 'softmax', 'sigmoid' or 'auto'. "
                f"Received: activation={activation!r}")
        if exit_heads not in (None, *EXIT_HEADS):
            raise ValueError(f"`exit_heads` must be None or one of {EXIT_HEADS}. "
                             f"Received: exit_heads={exit_heads!r}")
        if exit_heads and multi_label:
            raise ValueError("`exit_heads` are for single-label classifiers. Received: "
                             f"exit_heads={exit_heads!r}, multi_label=True")
        policy = backbone.dtype_policy

        # === Layers ===
        self.backbone = backbone
        self.output_dropout = keras.layers.Dropout(dropout, dtype=policy, name="output_dropout")
        resolved = activation
        if activation == "auto":
            resolved = "sigmoid" if multi_label else "softmax"
        self.output_dense = keras.layers.Dense(
            num_classes, activation=resolved, kernel_initializer=albert_initializer(),
            dtype="float32", name="logits")
        # One head per call but the last, which is `output_dense` itself. Not in
        # the functional graph below (the model's output stays the last exit),
        # but tracked as attributes, so they are saved and loaded with it.
        self.exit_denses = [
            keras.layers.Dense(num_classes, activation=resolved,
                               kernel_initializer=albert_initializer(), dtype="float32",
                               name=f"exit_{i}_logits")
            for i in range(backbone.num_layers - 1 if exit_heads == "per_call" else 0)]

        # === Functional model ===
        inputs = backbone.input
        pooled = backbone(inputs)["pooled_output"]
        outputs = self.output_dense(self.output_dropout(pooled))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        set_model_dtype_policy(self, policy)

        # === Config ===
        self.num_classes = num_classes
        self.multi_label = multi_label
        self.dropout = dropout
        self.activation = activation
        self.exit_heads = exit_heads
        self.finish_init()
        if keras.config.backend() == "torch":
            # Set plainly before the model existed (see FunctionalModel): track them now.
            self.exit_denses = list(self.exit_denses)
        if exit_heads:
            for head in self.exit_denses:  # built now: load_weights expects their variables
                head.build((None, backbone.hidden_dim))
            # Outside Keras' attribute tracking: it holds the same layers again.
            object.__setattr__(self, "_exit_model", self._build_exit_model())

    def _build_exit_model(self):
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
                  for name in self.backbone.input}
        heads = self.exit_denses + [self.output_dense]
        if self.exit_heads == "shared":
            heads = [self.output_dense] * self.backbone.num_layers
        exits = [head(self.output_dropout(self.backbone.pooler(x)))
                 for x, head in zip(self.backbone.call_outputs(inputs), heads)]
        model = keras.Model(inputs, ops.stack(exits, axis=1), name=f"{self.name}_exits")
        set_model_dtype_policy(model, self.backbone.dtype_policy)
        return model

    @property
    def num_exits(self):
        """Exits this classifier has: one per layer call, or 0 without exit heads."""
        return self.backbone.num_layers if self.exit_heads else 0

    def exit_model(self):
        """A functional model on the same layers whose output is every exit's
        logits, `(batch, num_layers, num_classes)`; the last equals this model's."""
        if not self.exit_heads:
            raise ValueError(f"{self.name} has no exit heads (exit_heads=None)")
        return self._exit_model

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": _backbone_config(self.backbone),
            "num_classes": self.num_classes,
            "multi_label": self.multi_label,
            "dropout": self.dropout,
            "activation": self.activation,
            "exit_heads": self.exit_heads,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**_deserialize_backbone(config))


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertSentenceEncoder(FunctionalModel):
    """Sentence vectors: the mean of the final token states, projected.

    The student of embedding distillation (Reimers & Gurevych 2020): its
    output is regressed on a teacher's sentence vectors, so `projection_dim`
    is the teacher's width. Mean pooling over real tokens, because a
    sentence's meaning is spread over its words and `[CLS]` of a backbone
    trained for sentiment knows mostly sentiment. The output is the raw
    projection, float32; cosine similarity (what the vectors are for)
    ignores its length, and the kit's embedders normalise it.

    Args:
        backbone: an `AlbertBackbone`.
        projection_dim: int, the output width (the teacher's).

    Example:
    ```python
    backbone = AlbertBackbone.from_shape("tiny", vocabulary_size=1000)
    encoder = AlbertSentenceEncoder(backbone, projection_dim=384)
    encoder.compile(optimizer="adam", loss="mse")
    ```
    """

    def __init__(self, backbone, projection_dim, **kwargs):
        check_positive_int(projection_dim=projection_dim)
        policy = backbone.dtype_policy

        # === Layers ===
        self.backbone = backbone
        # The [CLS] pooler is not on this model's path: frozen, so the optimizer
        # is not handed variables that never get a gradient.
        backbone.pooler.trainable = False
        self.mean_pooling = MaskedMeanPooling(dtype=policy, name="mean_pooling")
        self.projection = keras.layers.Dense(
            projection_dim, kernel_initializer=albert_initializer(), dtype="float32",
            name="projection")

        # === Functional model ===
        inputs = backbone.input
        sequence = backbone(inputs)["sequence_output"]
        outputs = self.projection(self.mean_pooling(sequence, inputs["padding_mask"]))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        set_model_dtype_policy(self, policy)

        # === Config ===
        self.projection_dim = projection_dim
        self.finish_init()

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "backbone": _backbone_config(self.backbone),
                "projection_dim": self.projection_dim}

    @classmethod
    def from_config(cls, config):
        return cls(**_deserialize_backbone(config))


@keras.saving.register_keras_serializable(package="albert_tf")
class MaskedLMHead(keras.layers.Layer):
    """ALBERT's MLM head: gather masked positions, dense+GELU, LN, tied decoder.

    The decoder multiplies by the transposed token embedding (shared with
    the backbone, as in ALBERT) and adds a per-piece bias. Logits are
    float32.
    """

    def __init__(self, vocabulary_size, embedding_dim, layer_norm_epsilon=1e-12,
                 token_embedding=None, **kwargs):
        super().__init__(**kwargs)
        check_positive_int(vocabulary_size=vocabulary_size, embedding_dim=embedding_dim)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.layer_norm_epsilon = layer_norm_epsilon
        self.token_embedding = token_embedding
        self.dense = keras.layers.Dense(
            embedding_dim, activation=gelu_new, kernel_initializer=albert_initializer(),
            dtype=self.dtype_policy, name="dense")
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm")

    def build(self, sequence_output_shape, mask_positions_shape=None):
        self.dense.build((None, None, sequence_output_shape[-1]))
        self.layer_norm.build((None, None, self.embedding_dim))
        self.bias = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros",
                                    name="bias")

    def call(self, sequence_output, mask_positions):
        x = ops.take_along_axis(
            sequence_output, ops.expand_dims(ops.cast(mask_positions, "int32"), -1), axis=1)
        x = self.layer_norm(self.dense(x))
        table = ops.cast(self.token_embedding.embeddings, "float32")
        return ops.matmul(ops.cast(x, "float32"), ops.transpose(table)) + self.bias

    def compute_output_shape(self, sequence_output_shape, mask_positions_shape):
        return (mask_positions_shape[0], mask_positions_shape[1], self.vocabulary_size)

    def get_config(self):
        config = super().get_config()
        config.update({"vocabulary_size": self.vocabulary_size,
                       "embedding_dim": self.embedding_dim,
                       "layer_norm_epsilon": self.layer_norm_epsilon})
        return config


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertPretrainer(FunctionalModel):
    """Backbone + MLM head + sentence-order-prediction (SOP) head.

    Inputs: the backbone's three inputs plus `mask_positions` (int32
    `(batch, num_masked)`). Outputs: `mlm_logits` `(batch, num_masked,
    vocabulary_size)` and `sop_logits` `(batch, 2)`, both float32.

    Example:
    ```python
    backbone = AlbertBackbone.from_shape("tiny", vocabulary_size=1000)
    pretrainer = AlbertPretrainer(backbone)
    ```
    """

    def __init__(self, backbone, **kwargs):
        policy = backbone.dtype_policy
        self.backbone = backbone
        self.mlm_head = MaskedLMHead(
            backbone.vocabulary_size, backbone.embedding_dim,
            token_embedding=backbone.token_embedding, dtype=policy, name="mlm_head")
        self.sop_head = keras.layers.Dense(
            2, kernel_initializer=albert_initializer(), dtype="float32", name="sop_head")

        inputs = dict(backbone.input)
        inputs["mask_positions"] = keras.Input(shape=(None,), dtype="int32",
                                               name="mask_positions")
        outputs = backbone({k: inputs[k] for k in backbone.input})
        super().__init__(
            inputs=inputs,
            outputs={
                "mlm_logits": self.mlm_head(outputs["sequence_output"],
                                            inputs["mask_positions"]),
                "sop_logits": self.sop_head(outputs["pooled_output"]),
            },
            **kwargs)
        set_model_dtype_policy(self, policy)
        self.finish_init()

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "backbone": _backbone_config(self.backbone)}

    @classmethod
    def from_config(cls, config):
        return cls(**_deserialize_backbone(config))


def build_classifier(preset="small", num_classes=2, multi_label=False,
                     classifier_dropout=0.1, exit_heads=None, **backbone_overrides):
    """A randomly initialised classifier of a preset shape."""
    backbone = AlbertBackbone.from_shape(preset, **backbone_overrides)
    return AlbertClassifier(backbone, num_classes, multi_label=multi_label,
                            dropout=classifier_dropout, exit_heads=exit_heads)
