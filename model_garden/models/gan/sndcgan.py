"""SNDCGAN: the DCGAN-like networks of "Spectral Normalization for GANs" (Miyato et al. 2018, Table 3)."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.layers import normalized_layers as nl
from model_garden.models.gan.dcgan import _check_size
from model_garden.models.gan.discriminator import GanDiscriminator, kernel_norm_of
from model_garden.models.gan.gan_norm import GENERATOR_NORMS, GanNorm, check_norm
from model_garden.models.gan.generator import GanGenerator
from model_garden.models.gan.ops import lrelu
from model_garden.models.registry import register


@keras.saving.register_keras_serializable("model_garden")
class SndcganGenerator(GanGenerator):
  """compare_gan's SNDCGAN generator (`architectures/sndcgan.py`), one of the study's three architectures.

  linear(z) to s/8 * s/8 * 8 ch features, norm (per feature, on the flat vector), ReLU, reshape; then
  4x4 stride-2 transposed convolutions to 4 ch, 2 ch and ch, each followed by norm and ReLU; a 3x3
  stride-1 transposed convolution to the image channels; tanh. compare_gan applies spectral norm to none
  of these layers (only to conditional norms' projections).

  Args:
    ch: width multiplier (64: widths 512, 256, 128, 64).
    norm, spectral_norm, init: see `DcganGenerator`. Others: see `GanGenerator`.

  Example:
    >>> g = model_garden.models.get("sndcgan_generator(image_size=32)")
  """

  def __init__(self, z_dim: int = 128, image_size: int = 32, label_classes: int = 0, channels: int = 3,
               z_distribution: str = "uniform", ch: int = 64, norm: str = "batch_norm",
               spectral_norm: bool = False, init: str = "normal", **kwargs):
    super().__init__(z_dim=z_dim, image_size=image_size, label_classes=label_classes, channels=channels,
                     z_distribution=z_distribution, **kwargs)
    _check_size(self.image_size, 8, "sndcgan_generator")
    self.ch, self.norm = int(ch), check_norm(norm, GENERATOR_NORMS, "sndcgan_generator")
    self.spectral_norm, self.init = bool(spectral_norm), init
    kn = "spectral" if spectral_norm else "none"
    self.s8 = self.image_size // 8
    self.fc = nl.dense(self.s8 * self.s8 * self.ch * 8, name="g_fc1", init=init)
    self.norms = [GanNorm(norm, kernel_norm=kn, init=init, name=f"g_bn{i + 1}") for i in range(4)]
    self.deconvs = [nl.conv2d_transpose(f, 4, 2, name=f"g_dc{i + 2}", init=init)
                    for i, f in enumerate((self.ch * 4, self.ch * 2, self.ch))]
    self.final = nl.conv2d_transpose(self.channels, 3, 1, name="g_dc5", init=init)

  def generate(self, z, y, training=False):
    x = ops.relu(self.norms[0](self.fc(z), z=z, y=y, training=training))
    x = ops.reshape(x, (-1, self.s8, self.s8, self.ch * 8))
    for deconv, norm in zip(self.deconvs, self.norms[1:]):
      x = ops.relu(norm(deconv(x), z=z, y=y, training=training))
    return ops.tanh(self.final(x))

  def get_config(self):
    config = super().get_config()
    config.update({"ch": self.ch, "norm": self.norm, "spectral_norm": self.spectral_norm, "init": self.init})
    return config


@keras.saving.register_keras_serializable("model_garden")
class SndcganDiscriminator(GanDiscriminator):
  """compare_gan's SNDCGAN discriminator: seven convolutions, leaky ReLU 0.1, a linear layer.

  3x3/1 ch, 4x4/2 2ch, 3x3/1 2ch, 4x4/2 4ch, 3x3/1 4ch, 4x4/2 8ch, 3x3/1 8ch, flatten (`pre_logits`),
  linear to one logit. No normalisation layers (compare_gan's SNDCGAN ignores `D.batch_norm_fn`); the
  study's only switch here is spectral norm. compare_gan maps its [0, 1] images to [-1, 1] before the
  first layer; model_garden's images already are.

  Args:
    ch: width multiplier (64).
    spectral_norm / weight_norm: reparameterise every kernel.
    init: kernel initialiser.

  Example:
    >>> d = model_garden.models.get("sndcgan_discriminator(image_size=32, spectral_norm=True)")
  """

  def __init__(self, image_size: int = 32, label_classes: int = 0, channels: int = 3, ch: int = 64,
               spectral_norm: bool = False, weight_norm: bool = False, init: str = "normal", **kwargs):
    super().__init__(image_size=image_size, label_classes=label_classes, channels=channels, **kwargs)
    if self.label_classes:
      raise ValueError("compare_gan's SNDCGAN discriminator has no class projection; use label_classes=0.")
    _check_size(self.image_size, 8, "sndcgan_discriminator")
    self.ch, self.init = int(ch), init
    self.spectral_norm, self.weight_norm = bool(spectral_norm), bool(weight_norm)
    kn = kernel_norm_of(spectral_norm, weight_norm, "sndcgan_discriminator")
    spec = [(1, 3, 1), (2, 4, 2), (2, 3, 1), (4, 4, 2), (4, 3, 1), (8, 4, 2), (8, 3, 1)]
    self.convs = [nl.conv2d(self.ch * m, k, s, name=f"d_conv{i + 1}", kernel_norm=kn, init=init)
                  for i, (m, k, s) in enumerate(spec)]
    self.fc = nl.dense(1, name="d_fc1", kernel_norm=kn, init=init)

  def forward(self, images, training=False, labels=None):
    x = images
    for conv in self.convs:
      x = lrelu(conv(x, training=training), 0.1)
    h = ops.reshape(x, (-1, x.shape[1] * x.shape[2] * x.shape[3]))
    logits = self.fc(h, training=training)
    return logits, {"features": x, "pre_logits": h, "logits": logits}

  def get_config(self):
    config = super().get_config()
    config.update({"ch": self.ch, "spectral_norm": self.spectral_norm, "weight_norm": self.weight_norm,
                   "init": self.init})
    return config


@register("sndcgan_generator")
def sndcgan_generator(*, z_dim: int = 128, image_size: int = 32, label_classes: int = 0, channels: int = 3,
                      z_distribution: str = "uniform", ch: int = 64, norm: str = "batch_norm",
                      spectral_norm: bool = False, initializer: str = "normal") -> SndcganGenerator:
  """Spec factory: `sndcgan_generator(image_size=32)`."""
  return SndcganGenerator(z_dim=z_dim, image_size=image_size, label_classes=label_classes, channels=channels,
                          z_distribution=z_distribution, ch=ch, norm=norm, spectral_norm=spectral_norm,
                          init=initializer)


@register("sndcgan_discriminator")
def sndcgan_discriminator(*, image_size: int = 32, channels: int = 3, ch: int = 64, spectral_norm: bool = False,
                          weight_norm: bool = False, initializer: str = "normal") -> SndcganDiscriminator:
  """Spec factory: `sndcgan_discriminator(image_size=32, spectral_norm=True)`."""
  return SndcganDiscriminator(image_size=image_size, channels=channels, ch=ch, spectral_norm=spectral_norm,
                              weight_norm=weight_norm, init=initializer)
