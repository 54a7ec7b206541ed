"""compare_gan's BigGAN-deep residual block: a bottleneck with an identity-preserving shortcut."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.layers import normalized_layers
from model_garden.models.gan.gan_norm import GanNorm
from model_garden.models.gan.ops import downsample, unpool


@keras.saving.register_keras_serializable("model_garden")
class BigGanDeepBlock(keras.layers.Layer):
  """norm-ReLU-1x1 (to C/4), norm-ReLU-[up]-3x3, norm-ReLU-3x3, norm-ReLU-[down]-1x1 (to C_out), plus shortcut.

  "Large Scale GAN Training for High Fidelity Natural Image Synthesis" (Brock et al. 2019, BigGAN-deep,
  Figure 16), as compare_gan's `resnet_biggan_deep.BigGanDeepResNetBlock`. The bottleneck has
  max(C_in, C_out) // 4 channels. The shortcut keeps the identity: a generator block drops the surplus
  channels, then upsamples (zero insertion, compare_gan's `unpool`); a discriminator block average-pools,
  then concatenates a 1x1 convolution's extra channels. All convolutions have biases.

  Args:
    out_channels: output width.
    scale: "up", "down" or "none".
    norm: `GanNorm` kind of the four normalisation layers.
    kernel_norm: "none", "spectral" or "weight" for every convolution (and the norm's projections).
    init: kernel initialiser.
    momentum, epsilon: of the batch norms.

  Call: `block(x, z=None, y=None, training=False)`.

  Example:
    >>> block = BigGanDeepBlock(256, "up", norm="conditional_batch_norm", kernel_norm="spectral")
    >>> block(x, y=condition, training=True)
  """

  def __init__(self, out_channels: int, scale: str, norm: str = "none", kernel_norm: str = "none",
               init: str = "normal", momentum: float = 0.9, epsilon: float = 1e-5, **kwargs):
    super().__init__(**kwargs)
    if scale not in ("up", "down", "none"):
      raise ValueError(f"scale must be 'up', 'down' or 'none', got {scale!r}.")
    self.out_channels, self.scale = int(out_channels), scale
    self.norm, self.kernel_norm, self.init = norm, kernel_norm, init
    self.momentum, self.epsilon = float(momentum), float(epsilon)

  def build(self, input_shape):
    in_channels = int(input_shape[-1])
    if in_channels > self.out_channels and self.scale != "up":
      raise ValueError(f"{self.name}: only upsampling blocks may reduce the width ({in_channels} -> "
                       f"{self.out_channels}).")
    if in_channels < self.out_channels and self.scale != "down":
      raise ValueError(f"{self.name}: only downsampling blocks may widen ({in_channels} -> "
                       f"{self.out_channels}).")
    bottleneck = max(in_channels, self.out_channels) // 4
    norm_args = dict(kernel_norm=self.kernel_norm, init=self.init, momentum=self.momentum,
                     epsilon=self.epsilon)
    self.norms = [GanNorm(self.norm, name=f"conv{i + 1}_bn", **norm_args) for i in range(4)]
    conv = lambda filters, kernel, name: normalized_layers.conv2d(  # noqa: E731
        filters, kernel, name=name, kernel_norm=self.kernel_norm, init=self.init)
    self.convs = [conv(bottleneck, 1, "conv1_1x1"), conv(bottleneck, 3, "conv2_3x3"),
                  conv(bottleneck, 3, "conv3_3x3"), conv(self.out_channels, 1, "conv4_1x1")]
    self.add_channels = (conv(self.out_channels - in_channels, 1, "shortcut_add_channels")
                         if in_channels < self.out_channels else None)
    self.in_channels = in_channels
    self.built = True

  def call(self, x, z=None, y=None, training=False):
    h = x
    for i, (norm, conv) in enumerate(zip(self.norms, self.convs)):
      h = ops.relu(norm(h, z=z, y=y, training=training))
      if i == 1 and self.scale == "up":
        h = unpool(h)
      if i == 3 and self.scale == "down":
        h = downsample(h)
      h = conv(h, training=training)
    shortcut = x
    if self.in_channels > self.out_channels:
      shortcut = shortcut[..., :self.out_channels]
    if self.scale == "up":
      shortcut = unpool(shortcut)
    elif self.scale == "down":
      shortcut = downsample(shortcut)
    if self.add_channels is not None:
      shortcut = ops.concatenate([shortcut, self.add_channels(shortcut, training=training)], axis=-1)
    return h + shortcut

  def get_config(self):
    config = super().get_config()
    config.update({"out_channels": self.out_channels, "scale": self.scale, "norm": self.norm,
                   "kernel_norm": self.kernel_norm, "init": self.init, "momentum": self.momentum,
                   "epsilon": self.epsilon})
    return config
