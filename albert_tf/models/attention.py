"""ALBERT's multi-head self-attention as its own Keras layer (`keras.ops` only).

Written for export as much as for training: query, key and value are one
fused `(H, 3H)` projection (`qkv`, laid out `[q | k | v]` on the output axis),
so a converted graph holds one matmul where an einsum-based layer holds three
plus reshaping, and every head split is a 4-D transpose XNNPACK can run.

Padding is masked by multiplying the softmax by the 0/1 mask and
renormalizing, not by adding a large negative bias to the scores. The two are
the same function, but an additive -10000 sets the int8 range of the attention
scores, leaving ~40 per quantization step: full-integer TFLite models then
attend uniformly and drop to chance accuracy.

The renormalization runs under one name, `RENORMALIZATION_SCOPE`, because the
int8 recipe keeps those ops in float: the more a batch is padded, the less
softmax mass the real keys keep, and quantizing those small probabilities to
8 bits made a text's answer depend on how far its batch was padded (p = 0.84
at length 16, 0.30 at 64).

What depends on this layer, so change them together:
- `albert_tf/checkpoints/layout.py` splits and fuses `qkv` as `[q | k | v]`
  when it translates Hugging Face / TF1 / keras-hub checkpoints;
- `export/recipes.py`: the int8 recipe keeps this layer's BATCH_MATMUL,
  SOFTMAX and DIV, and every op under `RENORMALIZATION_SCOPE`, in float;
- `export/graphs.py` and the parity tests assume one fused matmul per layer.
"""

import math

import keras
from keras import ops

from albert_tf.models.common import albert_initializer, check_positive_int, check_rate

RENORMALIZATION_SCOPE = "attention_renormalization"


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertAttention(keras.layers.Layer):
    """Multi-head self-attention with a fused q|k|v projection and mask renormalization.

    Args:
        num_heads: int, attention heads; must divide the hidden size.
        dropout: float in [0, 1), dropout on the attention probabilities.

    Call arguments: `x` `(batch, length, H)` and `attention_mask`
    `(batch, 1, 1, length)` of 0/1 from `AttentionMask`; returns `(batch, length, H)`
    after the output projection.

    Example:
    ```python
    attention = AlbertAttention(num_heads=2)
    mask = AttentionMask()(np.array([[1, 1, 0]]))
    y = attention(np.random.rand(1, 3, 16).astype("float32"), mask)  # (1, 3, 16)
    ```
    """

    def __init__(self, num_heads, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        check_positive_int(num_heads=num_heads)
        check_rate(dropout=dropout)
        self.num_heads = num_heads
        self.dropout = dropout

    def build(self, x_shape, attention_mask_shape=None):
        hidden_dim = x_shape[-1]
        if hidden_dim % self.num_heads:
            raise ValueError(f"hidden size {hidden_dim} is not divisible by "
                             f"num_heads={self.num_heads}")
        self.hidden_dim = hidden_dim
        self.head_dim = hidden_dim // self.num_heads
        policy = self.dtype_policy
        self.qkv = keras.layers.Dense(3 * hidden_dim, kernel_initializer=albert_initializer(),
                                      dtype=policy, name="qkv")
        self.output_dense = keras.layers.Dense(hidden_dim,
                                               kernel_initializer=albert_initializer(),
                                               dtype=policy, name="attention_output")
        self.probs_dropout = keras.layers.Dropout(self.dropout, dtype=policy,
                                                  name="probs_dropout")
        self.qkv.build((None, None, hidden_dim))
        self.output_dense.build((None, None, hidden_dim))
        self.built = True

    def split_heads(self, x, batch, length, order):
        """(batch, length, H) -> 4-D per-head layout (`order` of batch, length, heads, dim)."""
        x = ops.reshape(x, (batch, length, self.num_heads, self.head_dim))
        return ops.transpose(x, order)

    def call(self, x, attention_mask, training=False):
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        h = self.hidden_dim
        qkv = self.qkv(x)  # (batch, length, 3H) laid out [q | k | v]
        # Slices and 4-D transposes only: a 5-D head split transposes all of
        # q, k and v at once, which XNNPACK cannot run. The key comes out
        # already transposed, and the query is scaled before the matmul
        # (L x d products instead of L x L).
        scale = ops.cast(1.0 / math.sqrt(self.head_dim), qkv.dtype)
        query = self.split_heads(qkv[:, :, :h] * scale, batch, length, (0, 2, 1, 3))
        key = self.split_heads(qkv[:, :, h:2 * h], batch, length, (0, 2, 3, 1))
        value = self.split_heads(qkv[:, :, 2 * h:], batch, length, (0, 2, 1, 3))
        scores = ops.matmul(query, key)  # (batch, heads, length, length)
        probs = self.masked_softmax(scores, attention_mask)
        probs = self.probs_dropout(ops.cast(probs, self.compute_dtype), training=training)
        context = ops.matmul(probs, value)  # (batch, heads, length, head_dim)
        context = ops.reshape(ops.transpose(context, (0, 2, 1, 3)), (batch, length, h))
        return self.output_dense(context)

    @staticmethod
    def masked_softmax(scores, attention_mask):
        """Softmax over real keys: softmax, times the 0/1 mask, renormalized (float32)."""
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
            return probs / (total * query_mask + (1.0 - query_mask))

    def compute_output_shape(self, x_shape, attention_mask_shape=None):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config.update({"num_heads": self.num_heads, "dropout": self.dropout})
        return config
