"""BigGAN-deep (Brock et al. 2019, Appendix B): twice the blocks, bottlenecks, identity shortcuts."""

from __future__ import annotations

import keras

from model_garden.models.gan.resnet_gan_discriminator import ResNetGanDiscriminator
from model_garden.models.gan.resnet_gan_generator import ResNetGanGenerator
from model_garden.models.registry import register

# compare_gan's channel multipliers (resnet_biggan_deep.py, the paper's Tables 7-9).
G_MULTIPLIERS = {32: (4,) * 8, 64: (16,) * 4 + (8,) * 2 + (4, 4, 2), 128: (16,) * 4 + (8,) * 2 + (4, 4, 2, 2, 1),
                 256: (16,) * 4 + (8,) * 4 + (4, 4, 2, 2, 1), 512: (16,) * 4 + (8,) * 4 + (4, 4, 2, 2, 1, 1, 1)}
D_MULTIPLIERS = {32: (2,) * 8, 64: (2, 4, 4) + (8,) * 2 + (16,) * 4, 128: (1, 2, 2, 4, 4) + (8,) * 2 + (16,) * 4,
                 256: (1, 2, 2, 4, 4) + (8,) * 4 + (16,) * 4, 512: (1, 1, 1, 2, 2, 4, 4) + (8,) * 4 + (16,) * 4}


def _check_size(size, who):
  if size not in G_MULTIPLIERS:
    raise ValueError(f"{who} supports image_size {sorted(G_MULTIPLIERS)}, got {size}.")


@keras.saving.register_keras_serializable("model_garden")
class BigGanDeepGenerator(ResNetGanGenerator):
  """compare_gan's `resnet_biggan_deep.Generator`.

  z is not chunked: concat(z, embed(y)) (a 128-d bias-free class embedding) feeds the spectrally normalised
  seed layer (4x4 x 16 ch) and conditions every batch norm. `BigGanDeepBlock`s alternate between keeping
  and doubling the size (multipliers below, ch = 128); self-attention after the upsampling block whose
  output is 64x64; an unconditional final batch norm, ReLU, conv3x3, tanh.
  Multipliers: 32: 4 x8; 64: 16 x4, 8 x2, 4, 4, 2; 128: 16 x4, 8 x2, 4, 4, 2, 2, 1;
  256: 16 x4, 8 x4, 4, 4, 2, 2, 1; 512: 16 x4, 8 x4, 4, 4, 2, 2, 1, 1, 1.

  Parameters at 128 px, 1000 classes, ch 128, z_dim 128 (compare_gan's test): 50,244,484.

  Args:
    ch: channel multiplier (128). z_dim: 128. Others: see `BigGanGenerator`.

  Example:
    >>> g = model_garden.models.get("biggan_deep_generator(image_size=128, label_classes=1000)")
  """

  def __init__(self, z_dim: int = 128, image_size: int = 128, label_classes: int = 0, channels: int = 3,
               z_distribution: str = "normal", norm: str | None = None, spectral_norm: bool = True,
               init: str = "orthogonal", ch: int = 128, embed_y: bool = True, embed_y_dim: int = 128, **kwargs):
    _check_size(image_size, "biggan_deep_generator")
    norm = norm or ("conditional_batch_norm" if label_classes else "batch_norm")
    super().__init__(z_dim=z_dim, image_size=image_size, label_classes=label_classes, channels=channels,
                     z_distribution=z_distribution, norm=norm, spectral_norm=spectral_norm, init=init, **kwargs)
    self.ch, self.embed_y_arg, self.embed_y_dim = int(ch), bool(embed_y), int(embed_y_dim)
    multipliers = G_MULTIPLIERS[self.image_size]
    scales = ["none" if i % 2 == 0 else "up" for i in range(len(multipliers) - 1)]
    size, attention = 4, []
    for i, scale in enumerate(scales):
      size *= 2 if scale == "up" else 1
      if scale == "up" and size == 64:
        attention.append(i)
    self._setup(seed_size=4, widths=[self.ch * m for m in multipliers], scales=scales, block_type="biggan_deep",
                fc_sn=True, final_sn=True, output="tanh", embed_y_dim=self.embed_y_dim if self.embed_y_arg else 0,
                concat_zy=True, attention_after=attention, final_norm="batch_norm")

  def get_config(self):
    config = super().get_config()
    config.update({"ch": self.ch, "embed_y": self.embed_y_arg, "embed_y_dim": self.embed_y_dim})
    return config


@keras.saving.register_keras_serializable("model_garden")
class BigGanDeepDiscriminator(ResNetGanDiscriminator):
  """compare_gan's `resnet_biggan_deep.Discriminator`.

  conv3x3 to ch x (first multiplier); `BigGanDeepBlock`s alternating downsampling and size-keeping
  (multipliers below); self-attention after the size-keeping block at 64x64; ReLU; sum over positions
  (`pre_logits`; compare_gan's docstring says mean, its code sums); linear to one logit plus the projection.
  Multipliers: 32: 2 x8 (then x2); 64: 2, 4, 4, 8 x2, 16 x4; 128: 1, 2, 2, 4, 4, 8 x2, 16 x4;
  256: 1, 2, 2, 4, 4, 8 x4, 16 x4; 512: 1, 1, 1, 2, 2, 4, 4, 8 x4, 16 x4.

  Parameters at 128 px, 1000 classes, ch 128 (compare_gan's test): 34,590,210.

  Args:
    ch: channel multiplier (128). norm: "none" (BigGAN-deep) or "batch_norm". Others: see
    `ResNetGanDiscriminator`.

  Example:
    >>> d = model_garden.models.get("biggan_deep_discriminator(image_size=128, label_classes=1000)")
  """

  def __init__(self, image_size: int = 128, label_classes: int = 0, channels: int = 3, norm: str = "none",
               spectral_norm: bool = True, weight_norm: bool = False, init: str = "orthogonal", ch: int = 128,
               **kwargs):
    _check_size(image_size, "biggan_deep_discriminator")
    if norm == "layer_norm":
      raise ValueError("compare_gan's BigGAN-deep blocks support norm 'none' or 'batch_norm'.")
    super().__init__(image_size=image_size, label_classes=label_classes, channels=channels, norm=norm,
                     spectral_norm=spectral_norm, weight_norm=weight_norm, init=init, **kwargs)
    self.ch = int(ch)
    multipliers = D_MULTIPLIERS[self.image_size]
    scales = ["down" if i % 2 == 0 else "none" for i in range(len(multipliers) - 1)]
    size, attention = self.image_size, []
    for i, scale in enumerate(scales):
      size //= 2 if scale == "down" else 1
      if scale == "none" and size == 64:
        attention.append(i)
    self._setup(widths=[self.ch * m for m in multipliers[1:]], scales=scales, block_type="biggan_deep",
                pool="sum", attention_after=attention, initial_conv=self.ch * multipliers[0],
                projection_init="glorot_normal")

  def get_config(self):
    config = super().get_config()
    config["ch"] = self.ch
    return config


@register("biggan_deep_generator")
def biggan_deep_generator(*, image_size: int = 128, label_classes: int = 0, z_dim: int = 128, channels: int = 3,
                          z_distribution: str = "normal", norm: str | None = None, spectral_norm: bool = True,
                          initializer: str = "orthogonal", ch: int = 128, embed_y: bool = True,
                          embed_y_dim: int = 128) -> BigGanDeepGenerator:
  """Spec factory: `biggan_deep_generator(image_size=128, label_classes=1000)`."""
  return BigGanDeepGenerator(z_dim=z_dim, image_size=image_size, label_classes=label_classes, channels=channels,
                             z_distribution=z_distribution, norm=norm, spectral_norm=spectral_norm, init=initializer,
                             ch=ch, embed_y=embed_y, embed_y_dim=embed_y_dim)


@register("biggan_deep_discriminator")
def biggan_deep_discriminator(*, image_size: int = 128, label_classes: int = 0, channels: int = 3,
                              norm: str = "none", spectral_norm: bool = True, weight_norm: bool = False,
                              initializer: str = "orthogonal", ch: int = 128) -> BigGanDeepDiscriminator:
  """Spec factory: `biggan_deep_discriminator(image_size=128, label_classes=1000)`."""
  return BigGanDeepDiscriminator(image_size=image_size, label_classes=label_classes, channels=channels, norm=norm,
                                 spectral_norm=spectral_norm, weight_norm=weight_norm, init=initializer, ch=ch)
