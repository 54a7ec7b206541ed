"""ResNet-STL (SNGAN, Miyato et al. 2018, Table 5): 48 px."""

from __future__ import annotations

import keras

from model_garden.models.gan.resnet_gan_discriminator import ResNetGanDiscriminator
from model_garden.models.gan.resnet_gan_generator import ResNetGanGenerator
from model_garden.models.registry import register


def _check_48(size, who):
  if size != 48:
    raise ValueError(f"{who} works on 48x48 images only (6x6 seed, 3 upsampling blocks); got "
                     f"image_size={size}.")


@keras.saving.register_keras_serializable("model_garden")
class ResNetStlGenerator(ResNetGanGenerator):
  """compare_gan's `resnet_stl.Generator`: 6x6x8ch seed, blocks to 4ch, 2ch, ch (upsampling), 48x48 output.

  The seed linear layer and the final conv3x3 are never spectrally normalised (as in compare_gan), the
  blocks are when `spectral_norm`; final generator norm, ReLU, conv, 2 * sigmoid - 1.

  Args:
    ch: width multiplier (64). Others: see `ResNetGanGenerator`, `GanGenerator`.

  Example:
    >>> g = model_garden.models.get("resnet_stl_generator()")
  """

  def __init__(self, z_dim: int = 128, image_size: int = 48, label_classes: int = 0, channels: int = 3,
               z_distribution: str = "uniform", norm: str = "batch_norm", spectral_norm: bool = False,
               init: str = "normal", ch: int = 64, **kwargs):
    super().__init__(z_dim=z_dim, image_size=image_size, label_classes=label_classes, channels=channels,
                     z_distribution=z_distribution, norm=norm, spectral_norm=spectral_norm, init=init, **kwargs)
    _check_48(self.image_size, "resnet_stl_generator")
    self.ch = int(ch)
    self._setup(seed_size=6, widths=[self.ch * m for m in (8, 4, 2, 1)], scales=["up"] * 3,
                block_type="resnet", fc_sn=False, final_sn=False, output="sigmoid")

  def get_config(self):
    config = super().get_config()
    config["ch"] = self.ch
    return config


@keras.saving.register_keras_serializable("model_garden")
class ResNetStlDiscriminator(ResNetGanDiscriminator):
  """compare_gan's `resnet_stl.Discriminator`: blocks to ch, 2, 4, 8 (downsampling) and 16 ch, mean pooling.

  48 -> 24 -> 12 -> 6 -> 3 (B1..B4 downsample, B5 does not); 3x3 convolutional shortcuts; ReLU, mean
  pooling (`pre_logits`), linear to one logit.

  Args:
    ch: width multiplier (64). norm: "none", "batch_norm" or "layer_norm". Others: see
    `ResNetGanDiscriminator`.

  Example:
    >>> d = model_garden.models.get("resnet_stl_discriminator(spectral_norm=True)")
  """

  def __init__(self, image_size: int = 48, label_classes: int = 0, channels: int = 3, norm: str = "none",
               spectral_norm: bool = False, weight_norm: bool = False, init: str = "normal", ch: int = 64,
               **kwargs):
    super().__init__(image_size=image_size, label_classes=label_classes, channels=channels, norm=norm,
                     spectral_norm=spectral_norm, weight_norm=weight_norm, init=init, **kwargs)
    if self.label_classes:
      raise ValueError("compare_gan's ResNet-STL discriminator has no class projection; use label_classes=0.")
    _check_48(self.image_size, "resnet_stl_discriminator")
    self.ch = int(ch)
    self._setup(widths=[self.ch * m for m in (1, 2, 4, 8, 16)], scales=["down"] * 4 + ["none"],
                block_type="resnet", pool="mean")

  def get_config(self):
    config = super().get_config()
    config["ch"] = self.ch
    return config


@register("resnet_stl_generator")
def resnet_stl_generator(*, z_dim: int = 128, label_classes: int = 0, channels: int = 3,
                         z_distribution: str = "uniform", norm: str = "batch_norm", spectral_norm: bool = False,
                         initializer: str = "normal", ch: int = 64, image_size: int = 48) -> ResNetStlGenerator:
  """Spec factory: `resnet_stl_generator()` (48 px)."""
  return ResNetStlGenerator(z_dim=z_dim, image_size=image_size, label_classes=label_classes, channels=channels,
                            z_distribution=z_distribution, norm=norm, spectral_norm=spectral_norm, init=initializer,
                            ch=ch)


@register("resnet_stl_discriminator")
def resnet_stl_discriminator(*, channels: int = 3, norm: str = "none", spectral_norm: bool = False,
                             weight_norm: bool = False, initializer: str = "normal", ch: int = 64,
                             image_size: int = 48) -> ResNetStlDiscriminator:
  """Spec factory: `resnet_stl_discriminator(spectral_norm=True)` (48 px)."""
  return ResNetStlDiscriminator(image_size=image_size, channels=channels, norm=norm, spectral_norm=spectral_norm,
                                weight_norm=weight_norm, init=initializer, ch=ch)
