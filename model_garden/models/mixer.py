"""MLP-Mixer, following vision_transformer's `vit_jax/models_mixer.py` so its checkpoints load by renaming."""

from __future__ import annotations

from typing import Dict, Optional

import keras
from keras import ops

from model_garden.layers.encoder_block import LAYER_NORM_EPSILON
from model_garden.layers.mixer_block import MixerBlock
from model_garden.layers.remat import block_call
from model_garden.models.image_model import ImageModel
from model_garden.models.registry import register
from model_garden.registry import suggestion

__all__ = ["MIXER_VARIANTS", "MlpMixer", "decode_mixer_variant", "mixer", "mixer_param_count"]

# name -> (hidden_dim, num_blocks, tokens_mlp_dim, channels_mlp_dim): Table 1 of "MLP-Mixer" (arXiv
# 2105.01601) and vision_transformer's configs/models.py. "Ti" is NOT a paper size: a small model for
# tests and demos, shaped like the others (tokens_mlp = hidden / 2, channels_mlp = 4 x hidden).
MIXER_VARIANTS: Dict[str, tuple] = {
    "Ti": (128, 4, 64, 512),
    "S": (512, 8, 256, 2048),
    "B": (768, 12, 384, 3072),
    "L": (1024, 24, 512, 4096),
    "H": (1280, 32, 640, 5120),
}


def decode_mixer_variant(variant: str) -> Dict[str, int]:
  """Decodes "B/16" into `{hidden_dim, num_blocks, tokens_mlp_dim, channels_mlp_dim, patch_size}`."""
  if not isinstance(variant, str) or not variant:
    raise ValueError(f"A Mixer variant is a string like 'B/16', got {variant!r}.")
  name, _, patch = variant.partition("/")
  if name not in MIXER_VARIANTS:
    same_letters = [v for v in MIXER_VARIANTS if v.lower() == name.lower()]
    hint = f"Did you mean {same_letters[0]!r}?" if same_letters else suggestion(name, MIXER_VARIANTS)
    raise ValueError(f"Unknown Mixer variant {variant!r}: size {name!r} is not one of "
                     f"{', '.join(MIXER_VARIANTS)}. {hint} Write size/patch, e.g. 'B/16' or 'L/16'.")
  hidden, blocks, tokens_mlp, channels_mlp = MIXER_VARIANTS[name]
  config = {"hidden_dim": hidden, "num_blocks": blocks, "tokens_mlp_dim": tokens_mlp,
            "channels_mlp_dim": channels_mlp}
  if patch:
    if not patch.isdigit() or int(patch) < 1:
      raise ValueError(f"Mixer variant {variant!r}: the patch size after '/' must be a positive integer.")
    config["patch_size"] = int(patch)
  return config


def _tokens(image_size: int, patch: int) -> int:
  if image_size % patch:
    raise ValueError(f"image_size {image_size} is not divisible by the patch size {patch}. Use a multiple of "
                     f"{patch}, e.g. {max(patch, image_size // patch * patch)}.")
  return (image_size // patch) ** 2


@keras.saving.register_keras_serializable("model_garden")
class MlpMixer(ImageModel):
  """MLP-Mixer of "MLP-Mixer: An all-MLP Architecture for Vision" (Tolstikhin et al. 2021).

  A patch-embedding convolution (`stem`), `num_blocks` `MixerBlock`s (pre-LayerNorm token-mixing and
  channel-mixing MLPs with tanh-GELU, LayerNorm epsilon 1e-6), `pre_head_layer_norm`, global average
  pooling and a zero-initialised head, as the official Flax code, whose `.npz` checkpoints
  `model_garden.convert` loads. The token-mixing MLPs fix the number of patches, so the model runs at
  the `image_size` it is built for.

  Named intermediates: `stem` (batch, h, w, hidden), `encoder/block00` ... (each block's output, numbered
  from 0 as the ViT's), `encoded` (after `pre_head_layer_norm`), `pre_logits` (pooled) and `logits`.

  Args:
    num_classes: head size; 0 for no head (the logits are then the pre-logits).
    variant: size and patch, e.g. "B/16", "L/16", "S/32" (see `MIXER_VARIANTS`).
    hidden_dim, num_blocks, tokens_mlp_dim, channels_mlp_dim, patch_size: override the variant's numbers.
    image_size: the square resolution the model is built for.
    head_bias_init: constant initial head bias.

  Example:
    >>> import model_garden
    >>> mixer = model_garden.models.get("mixer(variant='B/16', num_classes=1000)")
    >>> logits = mixer(images)                    # images (batch, 224, 224, 3) in [-1, 1]
  """

  # Rematerialise every block in training (`layers/remat.py`); set by the trainer from config.remat.
  remat = False

  def __init__(self, num_classes: int = 0, variant: Optional[str] = "B/16", hidden_dim: Optional[int] = None,
               num_blocks: Optional[int] = None, tokens_mlp_dim: Optional[int] = None,
               channels_mlp_dim: Optional[int] = None, patch_size: Optional[int] = None,
               image_size: Optional[int] = 224, head_bias_init: float = 0.0, **kwargs):
    super().__init__(num_classes=num_classes, image_size=image_size, **kwargs)
    sizes = decode_mixer_variant(variant) if variant else {}
    overrides = {"hidden_dim": hidden_dim, "num_blocks": num_blocks, "tokens_mlp_dim": tokens_mlp_dim,
                 "channels_mlp_dim": channels_mlp_dim, "patch_size": patch_size}
    sizes.update({k: int(v) for k, v in overrides.items() if v is not None})
    missing = [k for k in overrides if k not in sizes]
    if missing:
      raise ValueError(f"Mixer variant {variant!r} leaves {', '.join(missing)} unset: give a patch size as "
                       "in 'B/16', or pass the missing arguments.")
    self.variant = variant
    self.hidden_dim, self.num_blocks = sizes["hidden_dim"], sizes["num_blocks"]
    self.tokens_mlp_dim, self.channels_mlp_dim = sizes["tokens_mlp_dim"], sizes["channels_mlp_dim"]
    self.patch_size = sizes["patch_size"]
    if image_size is not None:
      _tokens(int(image_size), self.patch_size)
    self.head_bias_init = float(head_bias_init)
    self.stem = keras.layers.Conv2D(self.hidden_dim, self.patch_size, strides=self.patch_size,
                                    padding="valid", kernel_initializer="lecun_normal", name="stem")
    self.blocks = [MixerBlock(self.tokens_mlp_dim, self.channels_mlp_dim, name=f"MixerBlock_{i}")
                   for i in range(self.num_blocks)]
    self.pre_head_layer_norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON,
                                                               name="pre_head_layer_norm")
    self.head = None
    if self.num_classes:
      self.head = keras.layers.Dense(self.num_classes, kernel_initializer="zeros",
                                     bias_initializer=keras.initializers.Constant(self.head_bias_init),
                                     name="head")

  def forward(self, images, training=False):
    for axis in (1, 2):
      if images.shape[axis] is not None:
        _tokens(int(images.shape[axis]), self.patch_size)
    if self.blocks and self.blocks[0].built and None not in images.shape[1:3]:
      expected = self.blocks[0].token_mixing.dense_0.kernel.shape[0]
      got = (images.shape[1] // self.patch_size) * (images.shape[2] // self.patch_size)
      if got != expected:
        raise ValueError(f"{self.name} is built for {expected} patches (image_size={self.image_size}) but "
                         f"the images {tuple(images.shape[1:3])} give {got}: the token-mixing MLPs fix the "
                         "token count. Resize the images or build a model for this image_size.")
    out = {}
    x = out["stem"] = self.stem(images)
    x = ops.reshape(x, (ops.shape(x)[0], -1, self.hidden_dim))
    for i, block in enumerate(self.blocks):
      x = out[f"encoder/block{i:02d}"] = block_call(block, self.remat, training)(x)
    x = out["encoded"] = self.pre_head_layer_norm(x)
    x = out["pre_logits"] = ops.mean(x, axis=1)
    if self.head is not None:
      x = out["logits"] = self.head(x)
    return x, out

  def get_config(self):
    config = super().get_config()
    config.update({
        "variant": self.variant, "hidden_dim": self.hidden_dim, "num_blocks": self.num_blocks,
        "tokens_mlp_dim": self.tokens_mlp_dim, "channels_mlp_dim": self.channels_mlp_dim,
        "patch_size": self.patch_size, "head_bias_init": self.head_bias_init,
    })
    return config


def mixer_param_count(variant: str = "B/16", *, num_classes: int = 0, image_size: int = 224,
                      **overrides) -> int:
  """The number of parameters of `mixer(...)` with these arguments, computed without building it."""
  sizes = decode_mixer_variant(variant)
  sizes.update({k: int(v) for k, v in overrides.items() if v is not None})
  hidden, patch = sizes["hidden_dim"], sizes["patch_size"]
  tokens = _tokens(image_size, patch)
  tokens_mlp, channels_mlp = sizes["tokens_mlp_dim"], sizes["channels_mlp_dim"]
  block = 2 * (2 * hidden)  # Two LayerNorms.
  block += (tokens * tokens_mlp + tokens_mlp) + (tokens_mlp * tokens + tokens)
  block += (hidden * channels_mlp + channels_mlp) + (channels_mlp * hidden + hidden)
  count = patch * patch * 3 * hidden + hidden + sizes["num_blocks"] * block + 2 * hidden
  if num_classes:
    count += hidden * num_classes + num_classes
  return count


@register("mixer")
def mixer(*, variant: str = "B/16", num_classes: int = 0, image_size: int = 224, head_bias_init: float = 0.0,
          hidden_dim: Optional[int] = None, num_blocks: Optional[int] = None,
          tokens_mlp_dim: Optional[int] = None, channels_mlp_dim: Optional[int] = None,
          patch_size: Optional[int] = None) -> MlpMixer:
  """Spec factory: `mixer(variant='B/16', num_classes=1000, image_size=224)`."""
  return MlpMixer(num_classes=num_classes, variant=variant, hidden_dim=hidden_dim, num_blocks=num_blocks,
                  tokens_mlp_dim=tokens_mlp_dim, channels_mlp_dim=channels_mlp_dim, patch_size=patch_size,
                  image_size=image_size, head_bias_init=head_bias_init)
