"""The SAGAN self-attention (non-local) block on a feature map."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.layers import normalized_layers


@keras.saving.register_keras_serializable("model_garden")
class SelfAttention2D(keras.layers.Layer):
  """x + sigma * conv1x1(softmax(theta phi^T) g), with sigma initialised to 0.

  "Self-Attention Generative Adversarial Networks" (Zhang et al. 2019), as used by BigGAN and
  compare_gan's `non_local_block`: theta, phi, g are bias-free 1x1 convolutions to C/8, C/8 and C/2
  channels; phi and g are 2x2 max-pooled (stride 2), so each of the h*w queries attends to h*w/4 keys;
  the attended values (C/2 channels) go through a bias-free 1x1 convolution back to C channels and are
  added to the input, scaled by a learned scalar sigma that starts at 0 (the block starts as identity).
  The softmax runs in float32 under mixed precision. The height and width must be even.

  Args:
    kernel_norm: "none", "spectral" or "weight" for the four convolutions.
    init: their kernel initialiser.

  Example:
    >>> attention = SelfAttention2D(kernel_norm="spectral")
    >>> attention(tf.zeros([2, 16, 16, 64])).shape
    TensorShape([2, 16, 16, 64])
  """

  def __init__(self, kernel_norm: str = "none", init: str = "normal", **kwargs):
    super().__init__(**kwargs)
    self.kernel_norm, self.init = kernel_norm, init

  def build(self, input_shape):
    _, height, width, channels = input_shape
    if channels < 8 or channels % 8:
      raise ValueError(f"{self.name}: self-attention needs a multiple of 8 channels (C/8 for theta and "
                       f"phi), got {channels}.")
    if height is not None and (height % 2 or width % 2):
      raise ValueError(f"{self.name}: self-attention max-pools keys by 2; the feature map must have even "
                       f"height and width, got {height}x{width}.")
    conv = lambda filters, name: normalized_layers.conv2d(  # noqa: E731
        filters, 1, name=name, kernel_norm=self.kernel_norm, init=self.init, use_bias=False)
    self.theta = conv(channels // 8, "theta")
    self.phi = conv(channels // 8, "phi")
    self.g = conv(channels // 2, "g")
    self.out = conv(channels, "attn_g")
    self.theta.build(input_shape)
    self.phi.build(input_shape)
    self.g.build(input_shape)
    self.out.build(tuple(input_shape[:3]) + (channels // 2,))
    self.sigma = self.add_weight(name="sigma", shape=(), initializer="zeros", autocast=False)
    self.built = True

  def call(self, x, training=False):
    _, height, width, channels = x.shape
    flat = lambda t: ops.reshape(t, (-1, t.shape[1] * t.shape[2], t.shape[3]))  # noqa: E731
    theta = flat(self.theta(x, training=training))
    phi = flat(ops.max_pool(self.phi(x, training=training), 2, 2, padding="valid"))
    g = flat(ops.max_pool(self.g(x, training=training), 2, 2, padding="valid"))
    logits = ops.matmul(ops.cast(theta, "float32"), ops.transpose(ops.cast(phi, "float32"), (0, 2, 1)))
    attention = ops.cast(ops.softmax(logits, axis=-1), g.dtype)
    attended = ops.reshape(ops.matmul(attention, g), (-1, height, width, channels // 2))
    return x + ops.cast(self.sigma, x.dtype) * self.out(attended, training=training)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    config = super().get_config()
    config.update({"kernel_norm": self.kernel_norm, "init": self.init})
    return config
