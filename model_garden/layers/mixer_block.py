"""The MLP-Mixer block: a token-mixing MLP across patches, then a channel-mixing MLP."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.layers.encoder_block import LAYER_NORM_EPSILON
from model_garden.layers.mlp_block import MlpBlock


@keras.saving.register_keras_serializable("model_garden")
class MixerBlock(keras.layers.Layer):
  """One block of "MLP-Mixer: An all-MLP Architecture for Vision" (Tolstikhin et al. 2021).

  `x + T(MLP_tokens(T(LN(x))))` mixes information across patches (T swaps the token and channel axes),
  then `x + MLP_channels(LN(x))` mixes it across channels. The MLPs use Flax's default initialisers
  (lecun_normal kernels, zero biases) and the tanh-approximate GELU of `flax.linen.gelu`, as the original
  code. Sub-layers are named `LayerNorm_0`, `token_mixing`, `LayerNorm_1`, `channel_mixing` as in the
  official checkpoints. The token-mixing MLP's first kernel is (tokens, tokens_mlp_dim), so a block fits
  one token count (one image size).

  Args:
    tokens_mlp_dim: hidden width of the token-mixing MLP.
    channels_mlp_dim: hidden width of the channel-mixing MLP.

  Example:
    >>> block = MixerBlock(tokens_mlp_dim=384, channels_mlp_dim=3072)
    >>> block(tf.zeros([2, 196, 768])).shape
    TensorShape([2, 196, 768])
  """

  def __init__(self, tokens_mlp_dim: int, channels_mlp_dim: int, **kwargs):
    super().__init__(**kwargs)
    self.tokens_mlp_dim = int(tokens_mlp_dim)
    self.channels_mlp_dim = int(channels_mlp_dim)
    flax_dense = dict(kernel_initializer="lecun_normal", bias_initializer="zeros")
    self.norm_0 = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="LayerNorm_0")
    self.token_mixing = MlpBlock(self.tokens_mlp_dim, name="token_mixing", **flax_dense)
    self.norm_1 = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="LayerNorm_1")
    self.channel_mixing = MlpBlock(self.channels_mlp_dim, name="channel_mixing", **flax_dense)

  def build(self, input_shape):
    batch, tokens, channels = input_shape
    self.norm_0.build(input_shape)
    self.token_mixing.build((batch, channels, tokens))
    self.norm_1.build(input_shape)
    self.channel_mixing.build(input_shape)
    self.built = True

  def call(self, x, training=False):
    y = ops.transpose(self.norm_0(x), (0, 2, 1))
    y = self.token_mixing(y, training=training)
    x = x + ops.transpose(y, (0, 2, 1))
    return x + self.channel_mixing(self.norm_1(x), training=training)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape)

  def get_config(self):
    config = super().get_config()
    config.update({"tokens_mlp_dim": self.tokens_mlp_dim, "channels_mlp_dim": self.channels_mlp_dim})
    return config
