"""DCGAN generator and discriminator ("Unsupervised Representation Learning with DCGANs", Radford et al. 2016)."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.layers import normalized_layers as nl
from model_garden.models.gan.discriminator import GanDiscriminator, kernel_norm_of
from model_garden.models.gan.gan_norm import GENERATOR_NORMS, GanNorm, check_norm
from model_garden.models.gan.generator import GanGenerator
from model_garden.models.gan.ops import lrelu
from model_garden.models.registry import register


def _check_size(size: int, multiple: int, who: str):
  if size < multiple or size % multiple:
    raise ValueError(f"{who}: image_size must be a positive multiple of {multiple} (each of its stride-2 "
                     f"layers halves it exactly), got {size}.")


@keras.saving.register_keras_serializable("model_garden")
class DcganGenerator(GanGenerator):
  """compare_gan's DCGAN generator (`architectures/dcgan.py`).

  linear(z) to (s/16, s/16, 8 ch), then norm-ReLU and 5x5 stride-2 transposed convolutions to 4 ch,
  2 ch, ch and the image channels, tanh. All layers have biases and N(0, 0.02) kernels. compare_gan never
  spectrally normalises this generator's layers; `spectral_norm` applies to the conditional norms'
  projections only, as there. compare_gan computes odd sizes with ceil(); here image_size must be a
  multiple of 16.

  Args:
    ch: width multiplier (compare_gan's gf_dim, 64).
    norm: "batch_norm" (compare_gan configs), "conditional_batch_norm", "self_modulated_batch_norm", "none".
    spectral_norm: spectrally normalise the norms' projections.
    init: kernel initialiser ("normal", "truncated", "orthogonal").
    Others: see `GanGenerator`.

  Example:
    >>> g = model_garden.models.get("dcgan_generator(image_size=64)")
  """

  def __init__(self, z_dim: int = 128, image_size: int = 64, label_classes: int = 0, channels: int = 3,
               z_distribution: str = "uniform", ch: int = 64, norm: str = "batch_norm",
               spectral_norm: bool = False, init: str = "normal", **kwargs):
    super().__init__(z_dim=z_dim, image_size=image_size, label_classes=label_classes, channels=channels,
                     z_distribution=z_distribution, **kwargs)
    _check_size(self.image_size, 16, "dcgan_generator")
    self.ch, self.norm = int(ch), check_norm(norm, GENERATOR_NORMS, "dcgan_generator")
    self.spectral_norm, self.init = bool(spectral_norm), init
    kn = "spectral" if spectral_norm else "none"
    self.s16 = self.image_size // 16
    self.fc = nl.dense(self.ch * 8 * self.s16 * self.s16, name="g_fc1", init=init)
    self.norms = [GanNorm(norm, kernel_norm=kn, init=init, name=f"g_bn{i + 1}") for i in range(4)]
    self.deconvs = [nl.conv2d_transpose(f, 5, 2, name=f"g_dc{i + 1}", init=init)
                    for i, f in enumerate((self.ch * 4, self.ch * 2, self.ch, self.channels))]

  def generate(self, z, y, training=False):
    x = ops.reshape(self.fc(z), (-1, self.s16, self.s16, self.ch * 8))
    for norm, deconv in zip(self.norms, self.deconvs):
      x = deconv(ops.relu(norm(x, z=z, y=y, training=training)))
    return ops.tanh(x)

  def get_config(self):
    config = super().get_config()
    config.update({"ch": self.ch, "norm": self.norm, "spectral_norm": self.spectral_norm, "init": self.init})
    return config


@keras.saving.register_keras_serializable("model_garden")
class DcganDiscriminator(GanDiscriminator):
  """compare_gan's DCGAN discriminator: four 5x5 stride-2 convolutions (ch, 2, 4, 8 ch), leaky ReLU 0.2.

  The second to fourth convolutions are followed by the discriminator norm (the study's "BN" option, or
  none), then leaky ReLU; the flattened features (`pre_logits`) go through a linear layer to one logit.

  Args:
    ch: width multiplier (df_dim, 64).
    norm: "none" or "batch_norm".
    spectral_norm / weight_norm: reparameterise every kernel.
    init: kernel initialiser.

  Example:
    >>> d = model_garden.models.get("dcgan_discriminator(image_size=64, spectral_norm=True)")
  """

  def __init__(self, image_size: int = 64, label_classes: int = 0, channels: int = 3, ch: int = 64,
               norm: str = "none", spectral_norm: bool = False, weight_norm: bool = False,
               init: str = "normal", **kwargs):
    super().__init__(image_size=image_size, label_classes=label_classes, channels=channels, **kwargs)
    if self.label_classes:
      raise ValueError("compare_gan's DCGAN discriminator has no class projection; use label_classes=0.")
    _check_size(self.image_size, 16, "dcgan_discriminator")
    self.ch, self.norm, self.init = int(ch), check_norm(norm, ("none", "batch_norm"), "dcgan_discriminator"), init
    self.spectral_norm, self.weight_norm = bool(spectral_norm), bool(weight_norm)
    kn = kernel_norm_of(spectral_norm, weight_norm, "dcgan_discriminator")
    self.convs = [nl.conv2d(f, 5, 2, name=f"d_conv{i + 1}", kernel_norm=kn, init=init)
                  for i, f in enumerate((self.ch, self.ch * 2, self.ch * 4, self.ch * 8))]
    self.norms = [GanNorm(norm, name=f"d_bn{i + 1}") for i in range(3)]
    self.fc = nl.dense(1, name="d_fc4", kernel_norm=kn, init=init)

  def forward(self, images, training=False, labels=None):
    x = lrelu(self.convs[0](images, training=training))
    for conv, norm in zip(self.convs[1:], self.norms):
      x = lrelu(norm(conv(x, training=training), training=training))
    h = ops.reshape(x, (-1, x.shape[1] * x.shape[2] * x.shape[3]))
    logits = self.fc(h, training=training)
    return logits, {"features": x, "pre_logits": h, "logits": logits}

  def get_config(self):
    config = super().get_config()
    config.update({"ch": self.ch, "norm": self.norm, "spectral_norm": self.spectral_norm,
                   "weight_norm": self.weight_norm, "init": self.init})
    return config


@register("dcgan_generator")
def dcgan_generator(*, z_dim: int = 128, image_size: int = 64, label_classes: int = 0, channels: int = 3,
                    z_distribution: str = "uniform", ch: int = 64, norm: str = "batch_norm",
                    spectral_norm: bool = False, initializer: str = "normal") -> DcganGenerator:
  """Spec factory: `dcgan_generator(image_size=64)`."""
  return DcganGenerator(z_dim=z_dim, image_size=image_size, label_classes=label_classes, channels=channels,
                        z_distribution=z_distribution, ch=ch, norm=norm, spectral_norm=spectral_norm, init=initializer)


@register("dcgan_discriminator")
def dcgan_discriminator(*, image_size: int = 64, channels: int = 3, ch: int = 64, norm: str = "none",
                        spectral_norm: bool = False, weight_norm: bool = False,
                        initializer: str = "normal") -> DcganDiscriminator:
  """Spec factory: `dcgan_discriminator(image_size=64, norm='batch_norm')`."""
  return DcganDiscriminator(image_size=image_size, channels=channels, ch=ch, norm=norm,
                            spectral_norm=spectral_norm, weight_norm=weight_norm, init=initializer)
