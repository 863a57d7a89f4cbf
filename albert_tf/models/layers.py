"""ALBERT's building blocks as Keras 3 layers (`keras.ops` only): embeddings,
the attention mask, the encoder block, and the poolers. Attention itself is
`models/attention.py`.

The attention mask is shaped once per forward pass (not once per layer) and
shared by every block.

The layer norms' names, `LAYER_NORM_NAMES`, are kept float by the int8 recipe
(`export/recipes.py`): in int8 the variance + epsilon and the gain carried the
largest quantization error of the whole graph (RMSE 3-8 quantization steps,
TFLite's quantization debugger), and keeping them float raised agreement with
the float model. Their names are also weight paths (`checkpoints/layout.py`):
do not rename.
"""

import keras
from keras import ops

from albert_tf.models.attention import AlbertAttention
from albert_tf.models.common import (albert_initializer, check_positive_int, check_rate,
                                     gelu_exact, gelu_new)

# The embedding's, then the transformer layer's two, in order of use.
LAYER_NORM_NAMES = ("layer_norm", "attention_layer_norm", "output_layer_norm")


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertEmbedding(keras.layers.Layer):
    """Token + position + segment embeddings, normalized, projected to H.

    The factorized embedding of ALBERT: tokens live in a small space of
    size `embedding_dim` (E) and one dense layer maps them up to
    `hidden_dim` (H), so the vocabulary costs V*E rather than V*H weights.

    Example:
    ```python
    layer = AlbertEmbedding(vocabulary_size=100, embedding_dim=8, hidden_dim=16,
                            max_sequence_length=32)
    x = layer(np.ones((2, 5), "int32"), np.zeros((2, 5), "int32"))  # (2, 5, 16)
    ```
    """

    def __init__(self, vocabulary_size, embedding_dim, hidden_dim,
                 max_sequence_length=512, num_segments=2, dropout=0.0,
                 layer_norm_epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        check_positive_int(vocabulary_size=vocabulary_size, embedding_dim=embedding_dim,
                        hidden_dim=hidden_dim, max_sequence_length=max_sequence_length,
                        num_segments=num_segments)
        check_rate(dropout=dropout)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        policy = self.dtype_policy
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, embeddings_initializer=albert_initializer(),
            dtype=policy, name="token_embedding")
        self.position_embedding = keras.layers.Embedding(
            max_sequence_length, embedding_dim, embeddings_initializer=albert_initializer(),
            dtype=policy, name="position_embedding")
        self.segment_embedding = keras.layers.Embedding(
            num_segments, embedding_dim, embeddings_initializer=albert_initializer(),
            dtype=policy, name="segment_embedding")
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=policy, name=LAYER_NORM_NAMES[0])
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=policy, name="dropout")
        self.projection = keras.layers.Dense(
            hidden_dim, kernel_initializer=albert_initializer(), dtype=policy,
            name="projection")

    def build(self, token_ids_shape, segment_ids_shape=None):
        self.token_embedding.build(token_ids_shape)
        self.position_embedding.build((None,))
        self.segment_embedding.build(token_ids_shape)
        self.layer_norm.build((None, None, self.embedding_dim))
        self.projection.build((None, None, self.embedding_dim))

    def call(self, token_ids, segment_ids, training=False):
        length = ops.shape(token_ids)[1]
        # A slice, not a gather of arange(length): its gradient is dense, where
        # a gather's is IndexedSlices that tf.distribute aggregates differently.
        positions = ops.cast(self.position_embedding.embeddings[:length], self.compute_dtype)
        x = self.token_embedding(token_ids) + self.segment_embedding(segment_ids)
        x = x + ops.expand_dims(positions, 0)
        x = self.layer_norm(x)
        x = self.dropout_layer(x, training=training)
        return self.projection(x)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return tuple(token_ids_shape) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "hidden_dim": self.hidden_dim,
            "max_sequence_length": self.max_sequence_length,
            "num_segments": self.num_segments,
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        })
        return config


@keras.saving.register_keras_serializable(package="albert_tf")
class AttentionMask(keras.layers.Layer):
    """Padding mask `(batch, length)` of 1/0 -> float32 `(batch, 1, 1, length)`.

    Computed once per forward pass and shared by every transformer layer.
    """

    def call(self, padding_mask):
        mask = ops.cast(padding_mask, "float32")
        return ops.expand_dims(ops.expand_dims(mask, 1), 1)

    def compute_output_shape(self, padding_mask_shape):
        return (padding_mask_shape[0], 1, 1, padding_mask_shape[1])


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertTransformerLayer(keras.layers.Layer):
    """One post-layer-norm encoder block: self-attention then a GELU FFN.

    `x = LN(x + attention(x)); x = LN(x + ffn(x))`, as in BERT and ALBERT.
    The attention is an `AlbertAttention` sublayer (`self_attention`); its
    fused `qkv` and output projections are also reachable here as `qkv` and
    `attention_output`.

    Example:
    ```python
    layer = AlbertTransformerLayer(num_heads=2, intermediate_dim=32)
    mask = AttentionMask()(np.array([[1, 1, 0]]))
    y = layer(np.random.rand(1, 3, 16).astype("float32"), mask)  # (1, 3, 16)
    ```
    """

    # A subclass may swap in another attention with the same constructor and
    # call signature (`tests/test_models.py` swaps in an additive-mask one).
    attention_class = AlbertAttention

    def __init__(self, num_heads, intermediate_dim, dropout=0.0,
                 attention_dropout=None, layer_norm_epsilon=1e-12, gelu_approximate=True,
                 **kwargs):
        super().__init__(**kwargs)
        check_positive_int(num_heads=num_heads, intermediate_dim=intermediate_dim)
        attention_dropout = dropout if attention_dropout is None else attention_dropout
        check_rate(dropout=dropout, attention_dropout=attention_dropout)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.gelu_approximate = bool(gelu_approximate)
        self.supports_masking = False

    def build(self, x_shape, attention_mask_shape=None):
        hidden_dim = x_shape[-1]
        policy = self.dtype_policy

        def dense(units, name, activation=None):
            return keras.layers.Dense(units, activation=activation,
                                      kernel_initializer=albert_initializer(),
                                      dtype=policy, name=name)

        def layer_norm(name):
            return keras.layers.LayerNormalization(
                epsilon=self.layer_norm_epsilon, dtype=policy, name=name)

        # `self_attention`, not `attention`: Keras saves weights by attribute
        # path in sorted order, the first path that reaches a layer winning, and
        # `qkv` / `attention_output` (properties below) must come first so that
        # model directories written before attention was its own layer still load.
        self.self_attention = self.attention_class(
            self.num_heads, dropout=self.attention_dropout, dtype=policy, name="attention")
        self.attention_layer_norm = layer_norm(LAYER_NORM_NAMES[1])
        self.ffn = dense(self.intermediate_dim, "ffn",
                         activation=gelu_new if self.gelu_approximate else gelu_exact)
        self.ffn_output = dense(hidden_dim, "ffn_output")
        self.output_layer_norm = layer_norm(LAYER_NORM_NAMES[2])
        self.attention_dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=policy, name="attention_dropout")
        self.ffn_dropout = keras.layers.Dropout(self.dropout, dtype=policy, name="ffn_dropout")
        sequence_shape = (None, None, hidden_dim)
        self.self_attention.build(sequence_shape)
        self.attention_layer_norm.build(sequence_shape)
        self.ffn.build(sequence_shape)
        self.ffn_output.build((None, None, self.intermediate_dim))
        self.output_layer_norm.build(sequence_shape)
        self.built = True

    @property
    def qkv(self):
        """The fused `[q | k | v]` projection (`checkpoints/layout.py` reads it here)."""
        return self.self_attention.qkv

    @property
    def attention_output(self):
        """The attention's output projection."""
        return self.self_attention.output_dense

    def call(self, x, attention_mask, training=False):
        attended = self.self_attention(x, attention_mask, training=training)
        x = self.attention_layer_norm(
            x + self.attention_dropout_layer(attended, training=training))
        hidden = self.ffn_output(self.ffn(x))
        return self.output_layer_norm(x + self.ffn_dropout(hidden, training=training))

    def compute_output_shape(self, x_shape, attention_mask_shape=None):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "gelu_approximate": self.gelu_approximate,
        })
        return config


@keras.saving.register_keras_serializable(package="albert_tf")
class ClsPooler(keras.layers.Layer):
    """Dense + tanh on the first (`[CLS]`) position: ALBERT's pooled output."""

    def __init__(self, hidden_dim, **kwargs):
        super().__init__(**kwargs)
        check_positive_int(hidden_dim=hidden_dim)
        self.hidden_dim = hidden_dim
        self.dense = keras.layers.Dense(
            hidden_dim, activation="tanh", kernel_initializer=albert_initializer(),
            dtype=self.dtype_policy, name="dense")

    def build(self, input_shape):
        self.dense.build((None, input_shape[-1]))

    def call(self, sequence_output):
        return self.dense(sequence_output[:, 0, :])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim})
        return config


@keras.saving.register_keras_serializable(package="albert_tf")
class MaskedMeanPooling(keras.layers.Layer):
    """Mean of the sequence output over real (unpadded) tokens."""

    def call(self, sequence_output, padding_mask):
        mask = ops.expand_dims(ops.cast(padding_mask, "float32"), -1)
        total = ops.sum(ops.cast(sequence_output, "float32") * mask, axis=1)
        return total / ops.maximum(ops.sum(mask, axis=1), 1.0)

    def compute_output_shape(self, sequence_output_shape, padding_mask_shape=None):
        return (sequence_output_shape[0], sequence_output_shape[-1])
