"""Multi-head dot-product attention with the parameter layout of Flax's MultiHeadDotProductAttention."""

from __future__ import annotations

import math

import keras
from keras import ops

from model_garden import backends


@keras.saving.register_keras_serializable("model_garden")
class MultiHeadDotProductAttention(keras.layers.Layer):
  """Scaled dot-product attention over `num_heads` heads ("Attention Is All You Need", Vaswani et al. 2017).

  The weights are stored exactly as `flax.linen.MultiHeadDotProductAttention` stores them, so a Flax
  checkpoint loads by renaming alone:

  - `query_kernel`, `key_kernel`, `value_kernel`: (width, heads, head_dim); biases (heads, head_dim);
  - `out_kernel`: (heads, head_dim, width); `out_bias`: (width,).

  (`keras.layers.MultiHeadAttention` uses the same shapes; this layer exists so the initialisation
  matches Flax too: Flax's `DenseGeneral` initialises each kernel as its flattened 2-D matrix, e.g.
  (width, heads * head_dim), which gives xavier_uniform a different fan than Keras computes for a 3-D
  shape.) The query is scaled by 1/sqrt(head_dim) before the dot product and the softmax runs in float32.
  There is no attention-probability dropout: big_vision's ViT has none.

  Args:
    num_heads: number of heads; must divide the query width.
    kernel_initializer: initialiser of the four kernels, applied to their flattened 2-D view.
    bias_initializer: initialiser of the four biases.

  Example:
    >>> attn = MultiHeadDotProductAttention(num_heads=12)
    >>> tokens = tf.zeros([2, 197, 768])
    >>> attn(tokens).shape                       # self-attention
    TensorShape([2, 197, 768])
    >>> attn(tf.zeros([2, 1, 768]), tokens).shape  # a probe attending to the tokens
    TensorShape([2, 1, 768])
  """

  def __init__(self, num_heads: int, kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
    super().__init__(**kwargs)
    self.num_heads = int(num_heads)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)

  def _kernel(self, name, shape, flat_shape):
    init = self.kernel_initializer
    # Initialise the 2-D matrix Flax would and reshape it, so fan-in/fan-out are those of DenseGeneral.
    return self.add_weight(name=name, shape=shape,
                           initializer=lambda _, dtype=None: ops.reshape(init(flat_shape, dtype), shape))

  def _bias(self, name, shape):
    return self.add_weight(name=name, shape=shape, initializer=self.bias_initializer)

  def build(self, query_shape, key_value_shape=None):
    width = int(query_shape[-1])
    kv_width = int((key_value_shape or query_shape)[-1])
    if width % self.num_heads:
      raise ValueError(f"{self.name}: width {width} is not divisible by num_heads={self.num_heads}.")
    heads, head_dim = self.num_heads, width // self.num_heads
    self.query_kernel = self._kernel("query_kernel", (width, heads, head_dim), (width, width))
    self.key_kernel = self._kernel("key_kernel", (kv_width, heads, head_dim), (kv_width, width))
    self.value_kernel = self._kernel("value_kernel", (kv_width, heads, head_dim), (kv_width, width))
    self.out_kernel = self._kernel("out_kernel", (heads, head_dim, width), (width, width))
    self.query_bias = self._bias("query_bias", (heads, head_dim))
    self.key_bias = self._bias("key_bias", (heads, head_dim))
    self.value_bias = self._bias("value_bias", (heads, head_dim))
    self.out_bias = self._bias("out_bias", (width,))
    self.built = True

  def call(self, query, key_value=None, training=False):
    del training  # No attention dropout (as big_vision).
    kv = query if key_value is None else key_value
    if not backends.is_tensorflow():
      return self._attend(query, kv)
    tf = backends.tensorflow()
    heads, head_dim = self.num_heads, self.query_kernel.shape[-1]
    # Each projection is one 2-D MatMul + BiasAdd on (batch * tokens, width): on CPU, oneDNN fuses that
    # pair, which the 3-D einsum form (a broadcast BatchMatMul + Add) never gets; the result is the same.
    q = self._project_tf(query, self.query_kernel, self.query_bias) * ops.cast(1.0 / math.sqrt(head_dim),
                                                                                 query.dtype)
    k = self._project_tf(kv, self.key_kernel, self.key_bias)
    v = self._project_tf(kv, self.value_kernel, self.value_bias)
    logits = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2)))  # (batch, heads, q, k)
    weights = ops.cast(ops.softmax(ops.cast(logits, "float32"), axis=-1), v.dtype)
    y = ops.transpose(ops.matmul(weights, v), (0, 2, 1, 3))  # (batch, q, heads, head_dim)
    batch, length = tf.shape(query)[0], tf.shape(query)[1]
    out = tf.matmul(tf.reshape(y, (-1, heads * head_dim)),
                    tf.reshape(ops.cast(self.out_kernel, y.dtype), (heads * head_dim, -1)))
    out = tf.nn.bias_add(out, ops.cast(self.out_bias, out.dtype))
    return tf.reshape(out, (batch, length, out.shape[-1]))

  def _project_tf(self, x, kernel, bias):
    """x (batch, tokens, width) -> (batch, heads, tokens, head_dim) through the (width, heads, head_dim) kernel."""
    tf = backends.tensorflow()
    width, heads, head_dim = kernel.shape
    batch, length = tf.shape(x)[0], tf.shape(x)[1]
    y = tf.matmul(tf.reshape(x, (-1, width)), tf.reshape(ops.cast(kernel, x.dtype), (width, heads * head_dim)))
    y = tf.nn.bias_add(y, tf.reshape(ops.cast(bias, y.dtype), (heads * head_dim,)))
    return tf.transpose(tf.reshape(y, (batch, length, heads, head_dim)), (0, 2, 1, 3))

  def _attend(self, query, kv):
    """The same attention in `keras.ops` (JAX, PyTorch), through `ops.dot_product_attention`.

    Its (batch, tokens, heads, head_dim) layout needs no transposes, and JAX and PyTorch run it as their
    fused attention, with the softmax in float32 as above; the query is scaled first, as Flax does.
    """
    heads, head_dim = self.num_heads, self.query_kernel.shape[-1]

    def project(x, kernel, bias):
      y = ops.einsum("btd,dnh->btnh", x, ops.cast(kernel, x.dtype))
      return y + ops.cast(bias, y.dtype)

    q = project(query, self.query_kernel, self.query_bias) * ops.cast(1.0 / math.sqrt(head_dim), query.dtype)
    k = project(kv, self.key_kernel, self.key_bias)
    v = project(kv, self.value_kernel, self.value_bias)
    y = ops.dot_product_attention(q, k, v, scale=1.0)  # (batch, q, heads, head_dim)
    out = ops.einsum("btnh,nhd->btd", y, ops.cast(self.out_kernel, y.dtype))
    return out + ops.cast(self.out_bias, out.dtype)

  def compute_output_shape(self, query_shape, key_value_shape=None):
    return tuple(query_shape)

  def get_config(self):
    config = super().get_config()
    config.update({
        "num_heads": self.num_heads,
        "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        "bias_initializer": keras.initializers.serialize(self.bias_initializer),
    })
    return config
