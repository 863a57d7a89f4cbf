"""ALBERT's building blocks as Keras 3 layers (`keras.ops` only).

Written for export as much as for training: the attention mask is shaped
once per forward pass (not once per layer), and the query, key and value
projections are one fused matrix, so a converted graph holds one matmul
where an einsum-based layer holds three plus reshaping.

Padding is masked by multiplying the softmax by the 0/1 mask and
renormalizing, not by adding a large negative bias to the scores. The two
are the same function, but an additive -10000 sets the int8 range of the
attention scores, leaving ~40 per quantization step: full-integer TFLite
models then attend uniformly and drop to chance accuracy.

The renormalization runs under one name, `RENORMALIZATION_SCOPE`, because
the int8 recipe (`export/recipes.py`) keeps those ops in float: the more a
batch is padded, the less softmax mass the real keys keep, and quantizing
those small probabilities to 8 bits made a text's answer depend on how far
its batch was padded (p = 0.84 at length 16, 0.30 at 64).

The layer norms' names, `LAYER_NORM_NAMES`, are kept float by that recipe too:
in int8 the variance + epsilon and the gain carried the largest quantization
error of the whole graph (RMSE 3-8 quantization steps, TFLite's quantization
debugger), and keeping them float raised agreement with the float model.
Their names are also weight paths (`checkpoints/layout.py`): do not rename.
"""

import math

import keras
from keras import ops


RENORMALIZATION_SCOPE = "attention_renormalization"
# The embedding's, then the transformer layer's two, in order of use.
LAYER_NORM_NAMES = ("layer_norm", "attention_layer_norm", "output_layer_norm")


def albert_initializer(stddev=0.02):
    return keras.initializers.TruncatedNormal(stddev=stddev)


def gelu_new(x):
    """ALBERT's `gelu_new`: the tanh approximation of GELU."""
    return ops.gelu(x, approximate=True)


def gelu_exact(x):
    """The erf form of GELU (Hugging Face's `hidden_act="gelu"`, ALBERT v1 ports)."""
    return ops.gelu(x, approximate=False)


def _check_positive(**values):
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def _check_rate(**values):
    for name, value in values.items():
        if not 0.0 <= value < 1.0:
            raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={value!r}")


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
        _check_positive(vocabulary_size=vocabulary_size, embedding_dim=embedding_dim,
                        hidden_dim=hidden_dim, max_sequence_length=max_sequence_length,
                        num_segments=num_segments)
        _check_rate(dropout=dropout)
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
    Query, key and value come from one `(H, 3H)` kernel (`qkv`), laid out
    `[q | k | v]` along the output axis; checkpoint import concatenates the
    three reference matrices in that order.

    Example:
    ```python
    layer = AlbertTransformerLayer(num_heads=2, intermediate_dim=32)
    mask = AttentionMask()(np.array([[1, 1, 0]]))
    y = layer(np.random.rand(1, 3, 16).astype("float32"), mask)  # (1, 3, 16)
    ```
    """

    def __init__(self, num_heads, intermediate_dim, dropout=0.0,
                 attention_dropout=None, layer_norm_epsilon=1e-12, gelu_approximate=True,
                 **kwargs):
        super().__init__(**kwargs)
        _check_positive(num_heads=num_heads, intermediate_dim=intermediate_dim)
        attention_dropout = dropout if attention_dropout is None else attention_dropout
        _check_rate(dropout=dropout, attention_dropout=attention_dropout)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.gelu_approximate = bool(gelu_approximate)
        self.supports_masking = False

    def build(self, x_shape, attention_mask_shape=None):
        hidden_dim = x_shape[-1]
        if hidden_dim % self.num_heads:
            raise ValueError(
                f"hidden size {hidden_dim} is not divisible by num_heads={self.num_heads}")
        self.hidden_dim = hidden_dim
        self.head_dim = hidden_dim // self.num_heads
        policy = self.dtype_policy

        def dense(units, name, activation=None):
            layer = keras.layers.Dense(units, activation=activation,
                                       kernel_initializer=albert_initializer(),
                                       dtype=policy, name=name)
            return layer

        def layer_norm(name):
            return keras.layers.LayerNormalization(
                epsilon=self.layer_norm_epsilon, dtype=policy, name=name)

        self.qkv = dense(3 * hidden_dim, "qkv")
        self.attention_output = dense(hidden_dim, "attention_output")
        self.attention_layer_norm = layer_norm(LAYER_NORM_NAMES[1])
        self.ffn = dense(self.intermediate_dim, "ffn",
                         activation=gelu_new if self.gelu_approximate else gelu_exact)
        self.ffn_output = dense(hidden_dim, "ffn_output")
        self.output_layer_norm = layer_norm(LAYER_NORM_NAMES[2])
        self.probs_dropout = keras.layers.Dropout(
            self.attention_dropout, dtype=policy, name="probs_dropout")
        self.attention_dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=policy, name="attention_dropout")
        self.ffn_dropout = keras.layers.Dropout(self.dropout, dtype=policy, name="ffn_dropout")
        sequence_shape = (None, None, hidden_dim)
        self.qkv.build(sequence_shape)
        self.attention_output.build(sequence_shape)
        self.attention_layer_norm.build(sequence_shape)
        self.ffn.build(sequence_shape)
        self.ffn_output.build((None, None, self.intermediate_dim))
        self.output_layer_norm.build(sequence_shape)
        self.built = True

    def _split_heads(self, x, batch, length, order):
        """(batch, length, H) -> 4-D per-head layout (`order` of batch, length, heads, dim)."""
        x = ops.reshape(x, (batch, length, self.num_heads, self.head_dim))
        return ops.transpose(x, order)

    def _attention(self, x, attention_mask, training):
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        h = self.hidden_dim
        qkv = self.qkv(x)  # (batch, length, 3H) laid out [q | k | v]
        # Slices and 4-D transposes only: a 5-D head split transposes all of
        # q, k and v at once, which XNNPACK cannot run. The key comes out
        # already transposed, and the query is scaled before the matmul
        # (L x d products instead of L x L).
        scale = ops.cast(1.0 / math.sqrt(self.head_dim), qkv.dtype)
        query = self._split_heads(qkv[:, :, :h] * scale, batch, length, (0, 2, 1, 3))
        key = self._split_heads(qkv[:, :, h:2 * h], batch, length, (0, 2, 3, 1))
        value = self._split_heads(qkv[:, :, 2 * h:], batch, length, (0, 2, 1, 3))
        scores = ops.matmul(query, key)  # (batch, heads, length, length)
        # Softmax in float32: half-precision exp/sum loses the small probabilities.
        # Masking after it (see the module doc) equals a masked softmax:
        # p_i / sum over real keys of p_j.
        # Keras autocasts float inputs to the compute dtype; the mask is 0/1.
        with keras.name_scope(RENORMALIZATION_SCOPE):  # kept float in int8 files
            attention_mask = ops.cast(attention_mask, "float32")
            probs = ops.softmax(ops.cast(scores, "float32"), axis=-1) * attention_mask
            # Rows of padding *queries* may keep almost no mass on real keys;
            # their output is never used, so they divide by 1 (a denominator
            # that is zero would put NaN into every later layer). Real rows
            # are exact.
            query_mask = ops.transpose(attention_mask, (0, 1, 3, 2))
            total = ops.sum(probs, axis=-1, keepdims=True)
            probs = probs / (total * query_mask + (1.0 - query_mask))
        probs = ops.cast(probs, self.compute_dtype)
        probs = self.probs_dropout(probs, training=training)
        context = ops.matmul(probs, value)  # (batch, heads, length, head_dim)
        context = ops.reshape(ops.transpose(context, (0, 2, 1, 3)),
                              (batch, length, self.hidden_dim))
        return self.attention_output(context)

    def call(self, x, attention_mask, training=False):
        attended = self._attention(x, attention_mask, training)
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
        _check_positive(hidden_dim=hidden_dim)
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
