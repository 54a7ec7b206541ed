"""BigGAN ("Large Scale GAN Training for High Fidelity Natural Image Synthesis", Brock et al. 2019)."""

from __future__ import annotations

import keras

from model_garden.models.gan.resnet_gan_discriminator import ResNetGanDiscriminator
from model_garden.models.gan.resnet_gan_generator import ResNetGanGenerator
from model_garden.models.registry import register

# compare_gan's channel multipliers per resolution (resnet_biggan.py).
G_MULTIPLIERS = {32: (4, 4, 4, 4), 64: (16, 16, 8, 4, 2), 128: (16, 16, 8, 4, 2, 1),
                 256: (16, 16, 8, 8, 4, 2, 1), 512: (16, 16, 8, 8, 4, 2, 1, 1)}
D_MULTIPLIERS = {32: (2, 2, 2, 2), 64: (2, 4, 8, 16, 16), 128: (1, 2, 4, 8, 16, 16),
                 256: (1, 2, 4, 8, 8, 16, 16), 512: (1, 1, 2, 4, 8, 8, 16, 16)}
# Self-attention after these blocks (1-based): compare_gan's gin settings at 128/256/512 and its defaults
# B4 (G) and B1 (D) elsewhere; at 32 px the generator has no B4, so none.
G_ATTENTION = {32: "", 64: "B4", 128: "B4", 256: "B5", 512: "B4"}
D_ATTENTION = {32: "B1", 64: "B1", 128: "B1", 256: "B2", 512: "B3"}
Z_DIMS = {32: 120, 64: 120, 128: 120, 256: 140, 512: 160}


def _check_size(size, who):
  if size not in G_MULTIPLIERS:
    raise ValueError(f"{who} supports image_size {sorted(G_MULTIPLIERS)}, got {size}.")


def _blocks(spec: str, count: int, who: str):
  """'B4' or 'B1,B3' -> zero-based block indices (compare_gan's `blocks_with_attention`)."""
  indices = []
  for name in filter(None, (s.strip() for s in spec.split(","))):
    if not name.startswith("B") or not name[1:].isdigit() or not 1 <= int(name[1:]) <= count:
      raise ValueError(f"{who}: attention block {name!r} is not one of B1..B{count}.")
    indices.append(int(name[1:]) - 1)
  return indices


@keras.saving.register_keras_serializable("model_garden")
class BigGanGenerator(ResNetGanGenerator):
  """compare_gan's `resnet_biggan.Generator`: hierarchical z, shared class embedding, cBN, self-attention.

  z (z_dim = 120/140/160 at 128/256/512 px) is split into blocks + 1 chunks; the first goes through the
  spectrally normalised linear layer to a 4x4 x (16 ch) seed; chunk i concatenated with the 128-d shared
  class embedding (a bias-free linear map of the one-hot label, not spectrally normalised) conditions the
  batch norms of block i (`ConditionalBatchNorm`: gamma and beta linear in it). Blocks are
  `ResNetBlock`s with 1x1 shortcuts, each doubling the size; `SelfAttention2D` after `attention`; an
  unconditional final batch norm, ReLU, conv3x3, tanh. Channel multipliers (ch = 96):
  32: 4,4,4,4; 64: 16,16,8,4,2; 128: 16,16,8,4,2,1; 256: 16,16,8,8,4,2,1; 512: 16,16,8,8,4,2,1,1.

  Parameters at 128 px, 1000 classes, ch 96, z_dim 120 (compare_gan's test): 70,433,988.

  Notable differences to BigGAN's own code, kept from compare_gan: zero-insertion upsampling instead of
  nearest-neighbour; conditional gains without a "+1"; no orthogonal regularisation.

  Args:
    ch: channel multiplier (96).
    z_dim: default per resolution (None).
    norm: "conditional_batch_norm" when conditional, else "batch_norm" (None picks that).
    spectral_norm: on every layer but the class embedding (True, BigGAN).
    init: "orthogonal" (compare_gan's BigGAN config), "normal" or "truncated".
    attention: comma list of blocks followed by self-attention (None: compare_gan's setting).
    hierarchical_z, embed_y: the BigGAN conditioning (True).
    embed_y_dim: width of the shared class embedding (128).

  Example:
    >>> g = model_garden.models.get("biggan_generator(image_size=128, label_classes=1000)")
  """

  def __init__(self, z_dim: int | None = None, image_size: int = 128, label_classes: int = 0, channels: int = 3,
               z_distribution: str = "normal", norm: str | None = None, spectral_norm: bool = True,
               init: str = "orthogonal", ch: int = 96, attention: str | None = None, hierarchical_z: bool = True,
               embed_y: bool = True, embed_y_dim: int = 128, **kwargs):
    _check_size(image_size, "biggan_generator")
    norm = norm or ("conditional_batch_norm" if label_classes else "batch_norm")
    super().__init__(z_dim=z_dim or Z_DIMS[image_size], image_size=image_size, label_classes=label_classes,
                     channels=channels, z_distribution=z_distribution, norm=norm, spectral_norm=spectral_norm,
                     init=init, **kwargs)
    self.ch, self.attention_spec = int(ch), attention if attention is not None else G_ATTENTION[image_size]
    self.hierarchical_z_arg, self.embed_y_arg, self.embed_y_dim = bool(hierarchical_z), bool(embed_y), \
        int(embed_y_dim)
    multipliers = G_MULTIPLIERS[self.image_size]
    self._setup(seed_size=4, widths=[self.ch * m for m in multipliers], scales=["up"] * (len(multipliers) - 1),
                block_type="biggan", fc_sn=True, final_sn=True, output="tanh",
                hierarchical_z=self.hierarchical_z_arg, embed_y_dim=self.embed_y_dim if self.embed_y_arg else 0,
                attention_after=_blocks(self.attention_spec, len(multipliers) - 1, "biggan_generator"),
                final_norm="batch_norm")

  def get_config(self):
    config = super().get_config()
    config.update({"ch": self.ch, "attention": self.attention_spec, "hierarchical_z": self.hierarchical_z_arg,
                   "embed_y": self.embed_y_arg, "embed_y_dim": self.embed_y_dim})
    return config


@keras.saving.register_keras_serializable("model_garden")
class BigGanDiscriminator(ResNetGanDiscriminator):
  """compare_gan's `resnet_biggan.Discriminator`: ResNet blocks, self-attention, sum pooling, projection.

  Blocks (`ResNetBlock`, pre-activation, downsampling after the second conv, 1x1 shortcut only where the
  width changes; compare_gan adds no identity where it does not) to ch x 32: 2,2,2,2; 64: 2,4,8,16,16;
  128: 1,2,4,8,16,16; 256: 1,2,4,8,8,16,16; 512: 1,1,2,4,8,8,16,16. All but the last downsample.
  Self-attention after `attention`; ReLU; sum over positions (`pre_logits`); spectrally normalised linear
  to one logit; with `label_classes` the projection sum(embed(y) * h) (glorot-normal embedding, SN).

  Parameters at 128 px, 1000 classes, ch 96 (compare_gan's test): 87,982,370.

  Notable difference to BigGAN's code, kept from compare_gan: the first block pre-activates (ReLU) the
  image.

  Args:
    ch: channel multiplier (96). attention: comma list of blocks followed by self-attention.
    norm: "none" (BigGAN), "batch_norm" or "layer_norm". Others: see `ResNetGanDiscriminator`.

  Example:
    >>> d = model_garden.models.get("biggan_discriminator(image_size=128, label_classes=1000)")
  """

  def __init__(self, image_size: int = 128, label_classes: int = 0, channels: int = 3, norm: str = "none",
               spectral_norm: bool = True, weight_norm: bool = False, init: str = "orthogonal", ch: int = 96,
               attention: str | None = None, **kwargs):
    _check_size(image_size, "biggan_discriminator")
    super().__init__(image_size=image_size, label_classes=label_classes, channels=channels, norm=norm,
                     spectral_norm=spectral_norm, weight_norm=weight_norm, init=init, **kwargs)
    self.ch, self.attention_spec = int(ch), attention if attention is not None else D_ATTENTION[image_size]
    multipliers = D_MULTIPLIERS[self.image_size]
    self._setup(widths=[self.ch * m for m in multipliers],
                scales=["down"] * (len(multipliers) - 1) + ["none"], block_type="biggan", pool="sum",
                attention_after=_blocks(self.attention_spec, len(multipliers), "biggan_discriminator"),
                projection_init="glorot_normal")

  def get_config(self):
    config = super().get_config()
    config.update({"ch": self.ch, "attention": self.attention_spec})
    return config


@register("biggan_generator")
def biggan_generator(*, image_size: int = 128, label_classes: int = 0, z_dim: int | None = None,
                     channels: int = 3, z_distribution: str = "normal", norm: str | None = None,
                     spectral_norm: bool = True, initializer: str = "orthogonal", ch: int = 96,
                     attention: str | None = None, hierarchical_z: bool = True, embed_y: bool = True,
                     embed_y_dim: int = 128) -> BigGanGenerator:
  """Spec factory: `biggan_generator(image_size=128, label_classes=1000)`."""
  return BigGanGenerator(z_dim=z_dim, image_size=image_size, label_classes=label_classes, channels=channels,
                         z_distribution=z_distribution, norm=norm, spectral_norm=spectral_norm, init=initializer, ch=ch,
                         attention=attention, hierarchical_z=hierarchical_z, embed_y=embed_y,
                         embed_y_dim=embed_y_dim)


@register("biggan_discriminator")
def biggan_discriminator(*, image_size: int = 128, label_classes: int = 0, channels: int = 3, norm: str = "none",
                         spectral_norm: bool = True, weight_norm: bool = False, initializer: str = "orthogonal",
                         ch: int = 96, attention: str | None = None) -> BigGanDiscriminator:
  """Spec factory: `biggan_discriminator(image_size=128, label_classes=1000)`."""
  return BigGanDiscriminator(image_size=image_size, label_classes=label_classes, channels=channels, norm=norm,
                             spectral_norm=spectral_norm, weight_norm=weight_norm, init=initializer, ch=ch,
                             attention=attention)
