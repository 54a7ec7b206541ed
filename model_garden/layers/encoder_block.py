"""One pre-LayerNorm transformer encoder block, named as in the ViT checkpoints."""

from __future__ import annotations

import keras

from model_garden.layers.mlp_block import MlpBlock
from model_garden.layers.multi_head_dot_product_attention import MultiHeadDotProductAttention

# Flax's LayerNorm default; Keras defaults to 1e-3, which visibly changes converted models' logits.
LAYER_NORM_EPSILON = 1e-6


@keras.saving.register_keras_serializable("model_garden")
class EncoderBlock(keras.layers.Layer):
  """`x + Drop(MHA(LN(x)))`, then `x + Drop(MLP(LN(x)))`: the ViT encoder block.

  From "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale" (Dosovitskiy et al.
  2021), as refactored in big_vision's `Encoder1DBlock`. Sub-layers carry big_vision's names
  (`LayerNorm_0`, `MultiHeadDotProductAttention_0`, `LayerNorm_1`, `MlpBlock_0`); the older
  vision_transformer checkpoints number them 0, 1, 2, 3 instead, which the converter maps.

  Args:
    num_heads: attention heads.
    mlp_dim: hidden width of the MLP; None for 4x the width.
    dropout: one rate for the residual branches and inside the MLP (big_vision has no attention dropout).

  Example:
    >>> block = EncoderBlock(num_heads=12, mlp_dim=3072)
    >>> block(tf.zeros([2, 197, 768])).shape
    TensorShape([2, 197, 768])
  """

  def __init__(self, num_heads: int, mlp_dim=None, dropout: float = 0.0, **kwargs):
    super().__init__(**kwargs)
    self.num_heads = int(num_heads)
    self.mlp_dim = None if mlp_dim is None else int(mlp_dim)
    self.dropout = float(dropout)
    self.norm_0 = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="LayerNorm_0")
    self.attention = MultiHeadDotProductAttention(self.num_heads, name="MultiHeadDotProductAttention_0")
    self.norm_1 = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="LayerNorm_1")
    self.mlp = MlpBlock(self.mlp_dim, dropout=self.dropout, name="MlpBlock_0")
    self.drop = keras.layers.Dropout(self.dropout)

  def build(self, input_shape):
    for layer in (self.norm_0, self.attention, self.norm_1, self.mlp):
      layer.build(input_shape)
    self.built = True

  def call(self, x, training=False):
    y = self.attention(self.norm_0(x), training=training)
    x = x + self.drop(y, training=training)
    y = self.mlp(self.norm_1(x), training=training)
    return x + self.drop(y, training=training)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape)

  def get_config(self):
    config = super().get_config()
    config.update({"num_heads": self.num_heads, "mlp_dim": self.mlp_dim, "dropout": self.dropout})
    return config
