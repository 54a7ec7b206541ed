"""ResNet19: the large-scale GAN study's 128 px ResNet (compare_gan `resnet5`, after WGAN-GP's 64 px ResNet)."""

from __future__ import annotations

import math

import keras

from model_garden.models.gan.ops import check_power_of_two
from model_garden.models.gan.resnet_gan_discriminator import ResNetGanDiscriminator
from model_garden.models.gan.resnet_gan_generator import ResNetGanGenerator
from model_garden.models.registry import register

G_MULTIPLIERS = (8, 8, 4, 4, 2, 1)
D_MULTIPLIERS = (1, 2, 4, 4, 8, 8)


@keras.saving.register_keras_serializable("model_garden")
class ResNet19Generator(ResNetGanGenerator):
  """compare_gan's `resnet5.Generator` ("ResNet19" in "A Large-Scale Study on Regularization and
  Normalization in GANs", Kurach et al. 2019): 4x4x8ch seed and five blocks (ch x 8, 8, 4, 4, 2, 1).

  The first log2(image_size / 4) blocks upsample, the rest keep the size, so 4 to 128 px work (128: all
  five upsample). The seed linear layer and the final conv3x3 are never spectrally normalised; final norm,
  ReLU, conv, 2 * sigmoid - 1.

  Args:
    ch: width multiplier (64). Others: see `ResNetGanGenerator`, `GanGenerator`.

  Example:
    >>> g = model_garden.models.get("resnet19_generator(image_size=128)")
  """

  def __init__(self, z_dim: int = 128, image_size: int = 128, label_classes: int = 0, channels: int = 3,
               z_distribution: str = "uniform", norm: str = "batch_norm", spectral_norm: bool = False,
               init: str = "normal", ch: int = 64, **kwargs):
    super().__init__(z_dim=z_dim, image_size=image_size, label_classes=label_classes, channels=channels,
                     z_distribution=z_distribution, norm=norm, spectral_norm=spectral_norm, init=init, **kwargs)
    check_power_of_two(self.image_size, "resnet19_generator", minimum=4, maximum=128)
    self.ch = int(ch)
    ups = int(math.log2(self.image_size // 4))
    self._setup(seed_size=4, widths=[self.ch * m for m in G_MULTIPLIERS],
                scales=["up" if i < ups else "none" for i in range(5)], block_type="resnet", fc_sn=False,
                final_sn=False, output="sigmoid")

  def get_config(self):
    config = super().get_config()
    config["ch"] = self.ch
    return config


@keras.saving.register_keras_serializable("model_garden")
class ResNet19Discriminator(ResNetGanDiscriminator):
  """compare_gan's `resnet5.Discriminator`: six downsampling blocks (ch x 1, 1, 2, 4, 4, 8, 8), mean pooling.

  B1 maps the image to ch channels; B2..B6 follow `D_MULTIPLIERS`; every block average-pools ("SAME"
  padding, so sizes below 64 keep a 1x1 map) and has a 3x3 convolutional shortcut; ReLU, mean pooling
  (`pre_logits`, 8 ch), linear to one logit. 128 px gives 2x2 before pooling.

  Args:
    ch: width multiplier (64). norm: "none", "batch_norm" or "layer_norm". Others: see
    `ResNetGanDiscriminator`.

  Example:
    >>> d = model_garden.models.get("resnet19_discriminator(image_size=128, spectral_norm=True)")
  """

  def __init__(self, image_size: int = 128, label_classes: int = 0, channels: int = 3, norm: str = "none",
               spectral_norm: bool = False, weight_norm: bool = False, init: str = "normal", ch: int = 64,
               **kwargs):
    super().__init__(image_size=image_size, label_classes=label_classes, channels=channels, norm=norm,
                     spectral_norm=spectral_norm, weight_norm=weight_norm, init=init, **kwargs)
    if self.label_classes:
      raise ValueError("compare_gan's ResNet19 discriminator has no class projection; use label_classes=0.")
    check_power_of_two(self.image_size, "resnet19_discriminator", minimum=4)
    self.ch = int(ch)
    self._setup(widths=[self.ch] + [self.ch * m for m in D_MULTIPLIERS[1:]], scales=["down"] * 6,
                block_type="resnet", pool="mean")

  def get_config(self):
    config = super().get_config()
    config["ch"] = self.ch
    return config


@register("resnet19_generator")
def resnet19_generator(*, z_dim: int = 128, image_size: int = 128, label_classes: int = 0, channels: int = 3,
                       z_distribution: str = "uniform", norm: str = "batch_norm", spectral_norm: bool = False,
                       initializer: str = "normal", ch: int = 64) -> ResNet19Generator:
  """Spec factory: `resnet19_generator(image_size=128)`."""
  return ResNet19Generator(z_dim=z_dim, image_size=image_size, label_classes=label_classes, channels=channels,
                           z_distribution=z_distribution, norm=norm, spectral_norm=spectral_norm, init=initializer, ch=ch)


@register("resnet19_discriminator")
def resnet19_discriminator(*, image_size: int = 128, channels: int = 3, norm: str = "none",
                           spectral_norm: bool = False, weight_norm: bool = False, initializer: str = "normal",
                           ch: int = 64) -> ResNet19Discriminator:
  """Spec factory: `resnet19_discriminator(image_size=128, norm='layer_norm')`."""
  return ResNet19Discriminator(image_size=image_size, channels=channels, norm=norm, spectral_norm=spectral_norm,
                               weight_norm=weight_norm, init=initializer, ch=ch)
