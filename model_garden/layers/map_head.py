"""Multihead attention pooling: a learned probe attends to all tokens."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.layers.encoder_block import LAYER_NORM_EPSILON
from model_garden.layers.mlp_block import MlpBlock
from model_garden.layers.multi_head_dot_product_attention import MultiHeadDotProductAttention


@keras.saving.register_keras_serializable("model_garden")
class MAPHead(keras.layers.Layer):
  """Multihead attention pooling (MAP), big_vision's `pool_type="map"`.

  From "Scaling Vision Transformers" (Zhai et al. 2022), after Set Transformer's pooling by multihead
  attention (Lee et al. 2019). A learned `probe` of shape (1, 1, width), xavier-uniform initialised,
  attends to all tokens; the result `x` is refined by `x + MLP(LN(x))` and `x[:, 0]` is returned.
  There is no LayerNorm before the attention: the encoder's final norm already precedes it.

  Sub-layers carry the checkpoint names `MultiHeadDotProductAttention_0`, `LayerNorm_0`, `MlpBlock_0`.

  Args:
    num_heads: attention heads.
    mlp_dim: hidden width of the MLP; None for 4x the width.

  Example:
    >>> head = MAPHead(num_heads=12, mlp_dim=3072)
    >>> head(tf.zeros([2, 196, 768])).shape
    TensorShape([2, 768])
  """

  def __init__(self, num_heads: int, mlp_dim=None, **kwargs):
    super().__init__(**kwargs)
    self.num_heads = int(num_heads)
    self.mlp_dim = None if mlp_dim is None else int(mlp_dim)
    self.attention = MultiHeadDotProductAttention(self.num_heads, name="MultiHeadDotProductAttention_0")
    self.norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="LayerNorm_0")
    self.mlp = MlpBlock(self.mlp_dim, name="MlpBlock_0")

  def build(self, input_shape):
    width = int(input_shape[-1])
    self.probe = self.add_weight(name="probe", shape=(1, 1, width), initializer="glorot_uniform")
    probe_shape = (input_shape[0], 1, width)
    self.attention.build(probe_shape, input_shape)
    self.norm.build(probe_shape)
    self.mlp.build(probe_shape)
    self.built = True

  def call(self, x, training=False):
    batch = ops.shape(x)[0]
    probe = ops.broadcast_to(ops.cast(self.probe, x.dtype), (batch, 1, x.shape[-1]))
    y = self.attention(probe, x, training=training)
    y = y + self.mlp(self.norm(y), training=training)
    return y[:, 0]

  def compute_output_shape(self, input_shape):
    return (input_shape[0], input_shape[-1])

  def get_config(self):
    config = super().get_config()
    config.update({"num_heads": self.num_heads, "mlp_dim": self.mlp_dim})
    return config
