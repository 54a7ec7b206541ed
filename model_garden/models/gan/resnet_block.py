"""compare_gan's residual block (`resnet_ops.ResNetBlock`, `resnet_biggan.BigGanResNetBlock`)."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.layers import normalized_layers
from model_garden.models.gan.gan_norm import GanNorm
from model_garden.models.gan.ops import downsample, unpool

SCALES = ("up", "down", "none")


@keras.saving.register_keras_serializable("model_garden")
class ResNetBlock(keras.layers.Layer):
  """norm-ReLU-conv3x3-norm-ReLU-conv3x3 plus a convolutional shortcut from the block's input.

  After the SNGAN ResNets ("Spectral Normalization for GANs", Miyato et al. 2018, Tables 4-6) as
  compare_gan writes them. Generator blocks upsample before the first convolution (`unpool`: zero
  insertion), discriminator blocks average-pool after the second. The shortcut is a convolution of the
  raw input, resampled like the main path: 3x3 in compare_gan's `resnet_ops` (ResNet-CIFAR, -STL, ResNet19),
  1x1 in BigGAN (`shortcut_kernel=1`). BigGAN's discriminator blocks whose input and output widths are
  equal have no shortcut at all (`add_shortcut=False`; compare_gan adds no identity either).

  Args:
    out_channels: output width.
    scale: "up", "down" or "none".
    is_gen_block: generator block (resample in conv1) or discriminator block (resample after conv2).
    norm: `GanNorm` kind of both normalisation layers.
    kernel_norm: "none", "spectral" or "weight" for every convolution (and the norm's projections).
    init: kernel initialiser.
    shortcut_kernel: 3 (compare_gan `resnet_ops`) or 1 (BigGAN).
    add_shortcut: add the shortcut branch.
    momentum, epsilon: of the batch norms.

  Call: `block(x, z=None, y=None, training=False)`; z and y reach the normalisers.

  Example:
    >>> block = ResNetBlock(256, "up", is_gen_block=True, norm="batch_norm")
    >>> block(tf.zeros([2, 4, 4, 256]), training=True).shape
    TensorShape([2, 8, 8, 256])
  """

  def __init__(self, out_channels: int, scale: str, is_gen_block: bool, norm: str = "none",
               kernel_norm: str = "none", init: str = "normal", shortcut_kernel: int = 3,
               add_shortcut: bool = True, momentum: float = 0.9, epsilon: float = 1e-5, **kwargs):
    super().__init__(**kwargs)
    if scale not in SCALES:
      raise ValueError(f"scale must be one of {SCALES}, got {scale!r}.")
    self.out_channels, self.scale, self.is_gen_block = int(out_channels), scale, bool(is_gen_block)
    self.norm, self.kernel_norm, self.init = norm, kernel_norm, init
    self.shortcut_kernel, self.add_shortcut = int(shortcut_kernel), bool(add_shortcut)
    self.momentum, self.epsilon = float(momentum), float(epsilon)
    norm_args = dict(kernel_norm=kernel_norm, init=init, momentum=momentum, epsilon=epsilon)
    self.bn1 = GanNorm(norm, name="bn1", **norm_args)
    self.bn2 = GanNorm(norm, name="bn2", **norm_args)
    conv = lambda kernel, name: normalized_layers.conv2d(  # noqa: E731
        self.out_channels, kernel, name=name, kernel_norm=kernel_norm, init=init)
    self.conv1 = conv(3, "conv1")
    self.conv2 = conv(3, "conv2")
    self.shortcut = conv(self.shortcut_kernel, "shortcut") if self.add_shortcut else None

  def _resampled_conv(self, conv, x, scale, training):
    if scale == "up":
      x = unpool(x)
    x = conv(x, training=training)
    return downsample(x) if scale == "down" else x

  def call(self, x, z=None, y=None, training=False):
    scale1 = self.scale if self.is_gen_block else "none"
    scale2 = "none" if self.is_gen_block else self.scale
    h = ops.relu(self.bn1(x, z=z, y=y, training=training))
    h = self._resampled_conv(self.conv1, h, scale1, training)
    h = ops.relu(self.bn2(h, z=z, y=y, training=training))
    h = self._resampled_conv(self.conv2, h, scale2, training)
    if self.shortcut is not None:
      h = h + self._resampled_conv(self.shortcut, x, self.scale, training)
    return h

  def get_config(self):
    config = super().get_config()
    config.update({"out_channels": self.out_channels, "scale": self.scale, "is_gen_block": self.is_gen_block,
                   "norm": self.norm, "kernel_norm": self.kernel_norm, "init": self.init,
                   "shortcut_kernel": self.shortcut_kernel, "add_shortcut": self.add_shortcut,
                   "momentum": self.momentum, "epsilon": self.epsilon})
    return config
