"""ResNet-CIFAR (SNGAN, Miyato et al. 2018, Table 4): the study's 32 px ResNet."""

from __future__ import annotations

import keras

from model_garden.models.gan.resnet_gan_discriminator import ResNetGanDiscriminator
from model_garden.models.gan.resnet_gan_generator import ResNetGanGenerator
from model_garden.models.registry import register


def _check_32(size, who):
  if size != 32:
    raise ValueError(f"{who} generates/reads 32x32 images only (4x4 seed, 3 upsampling blocks); got "
                     f"image_size={size}. Use resnet19 or biggan for other sizes.")


@keras.saving.register_keras_serializable("model_garden")
class ResNetCifarGenerator(ResNetGanGenerator):
  """compare_gan's `resnet_cifar.Generator`: 4x4x256 seed, three 256-wide upsampling blocks, 32x32 output.

  linear(z) (spectrally normalised when `spectral_norm`) to 4x4xch; three `ResNetBlock`s (3x3 shortcut,
  zero-insertion upsampling); the generator norm (with the full z and y), ReLU, conv3x3 to RGB (SN too),
  sigmoid (here 2 * sigmoid - 1). Options of the original: `hierarchical_z` (z split in 4 chunks, each
  concatenated to y for block i), `embed_z`, `embed_y` (learned embeddings of width z_dim; spectrally
  normalised with the generator). A conditional generator uses `norm="conditional_batch_norm"`.

  Args:
    ch: width (256).
    hierarchical_z, embed_z, embed_y: see above. Others: see `ResNetGanGenerator`, `GanGenerator`.

  Example:
    >>> g = model_garden.models.get("resnet_cifar_generator()")
  """

  def __init__(self, z_dim: int = 128, image_size: int = 32, label_classes: int = 0, channels: int = 3,
               z_distribution: str = "uniform", norm: str = "batch_norm", spectral_norm: bool = False,
               init: str = "normal", ch: int = 256, hierarchical_z: bool = False, embed_z: bool = False,
               embed_y: bool = False, **kwargs):
    super().__init__(z_dim=z_dim, image_size=image_size, label_classes=label_classes, channels=channels,
                     z_distribution=z_distribution, norm=norm, spectral_norm=spectral_norm, init=init, **kwargs)
    _check_32(self.image_size, "resnet_cifar_generator")
    self.ch, self.hierarchical_z_arg, self.embed_z_arg, self.embed_y_arg = int(ch), bool(hierarchical_z), \
        bool(embed_z), bool(embed_y)
    self._setup(seed_size=4, widths=[self.ch] * 4, scales=["up"] * 3, block_type="resnet", fc_sn=True,
                final_sn=True, output="sigmoid", hierarchical_z=self.hierarchical_z_arg,
                embed_y_dim=self.z_dim if self.embed_y_arg else 0, embed_z=self.embed_z_arg)

  def get_config(self):
    config = super().get_config()
    config.update({"ch": self.ch, "hierarchical_z": self.hierarchical_z_arg, "embed_z": self.embed_z_arg,
                   "embed_y": self.embed_y_arg})
    return config


@keras.saving.register_keras_serializable("model_garden")
class ResNetCifarDiscriminator(ResNetGanDiscriminator):
  """compare_gan's `resnet_cifar.Discriminator`: four 128-wide blocks (two downsampling), mean pooling.

  Blocks B1, B2 downsample (average pooling after the second conv), B3, B4 keep 8x8; every block has a
  3x3 convolutional shortcut; ReLU, global mean pooling (`pre_logits`, 128), linear to one logit; with
  `label_classes` the projection adds sum(linear(y) * h) (N(0, 0.02) embedding, no bias).

  Args:
    ch: width (128).
    norm: "none", "batch_norm" or "layer_norm" (the study's D normalisers; SN/WN via the flags).
    Others: see `ResNetGanDiscriminator`, `GanDiscriminator`.

  Example:
    >>> d = model_garden.models.get("resnet_cifar_discriminator(spectral_norm=True)")
  """

  def __init__(self, image_size: int = 32, label_classes: int = 0, channels: int = 3, norm: str = "none",
               spectral_norm: bool = False, weight_norm: bool = False, init: str = "normal", ch: int = 128,
               **kwargs):
    super().__init__(image_size=image_size, label_classes=label_classes, channels=channels, norm=norm,
                     spectral_norm=spectral_norm, weight_norm=weight_norm, init=init, **kwargs)
    _check_32(self.image_size, "resnet_cifar_discriminator")
    self.ch = int(ch)
    self._setup(widths=[self.ch] * 4, scales=["down", "down", "none", "none"], block_type="resnet", pool="mean")

  def get_config(self):
    config = super().get_config()
    config["ch"] = self.ch
    return config


@register("resnet_cifar_generator")
def resnet_cifar_generator(*, z_dim: int = 128, label_classes: int = 0, channels: int = 3,
                           z_distribution: str = "uniform", norm: str = "batch_norm", spectral_norm: bool = False,
                           initializer: str = "normal", ch: int = 256, hierarchical_z: bool = False,
                           embed_z: bool = False, embed_y: bool = False,
                           image_size: int = 32) -> ResNetCifarGenerator:
  """Spec factory: `resnet_cifar_generator()` (32 px)."""
  return ResNetCifarGenerator(z_dim=z_dim, image_size=image_size, label_classes=label_classes, channels=channels,
                              z_distribution=z_distribution, norm=norm, spectral_norm=spectral_norm, init=initializer,
                              ch=ch, hierarchical_z=hierarchical_z, embed_z=embed_z, embed_y=embed_y)


@register("resnet_cifar_discriminator")
def resnet_cifar_discriminator(*, label_classes: int = 0, channels: int = 3, norm: str = "none",
                               spectral_norm: bool = False, weight_norm: bool = False, initializer: str = "normal",
                               ch: int = 128, image_size: int = 32) -> ResNetCifarDiscriminator:
  """Spec factory: `resnet_cifar_discriminator(spectral_norm=True)` (32 px)."""
  return ResNetCifarDiscriminator(image_size=image_size, label_classes=label_classes, channels=channels,
                                  norm=norm, spectral_norm=spectral_norm, weight_norm=weight_norm, init=initializer,
                                  ch=ch)
