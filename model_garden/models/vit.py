"""Vision Transformer (ViT), following big_vision's `models/vit.py` so its checkpoints load by renaming."""

from __future__ import annotations

from typing import Dict, Optional, Union

import keras
from keras import ops

from model_garden.layers.class_token import ClassToken
from model_garden.layers.encoder_block import LAYER_NORM_EPSILON, EncoderBlock
from model_garden.layers.map_head import MAPHead
from model_garden.layers.position_embedding import PositionEmbedding, posemb_sincos_2d, resample_posemb
from model_garden.models.image_model import ImageModel
from model_garden.models.registry import register
from model_garden.registry import suggestion

__all__ = ["VARIANTS", "VisionTransformer", "decode_variant", "posemb_sincos_2d", "resample_posemb", "vit",
           "vit_param_count"]

# The single source of truth for ViT sizes: name -> (width, depth, mlp_dim, num_heads).
# Table 2 of "Scaling Vision Transformers" (arXiv 2106.04560) as in big_vision's decode_variant; "mu" is
# big_vision's one-block test size, "So400m" the shape-optimised SigLIP size (arXiv 2305.13035).
VARIANTS: Dict[str, tuple] = {
    "mu": (32, 1, 128, 2),
    "Ti": (192, 12, 768, 3),
    "S": (384, 12, 1536, 6),
    "M": (512, 12, 2048, 8),
    "B": (768, 12, 3072, 12),
    "L": (1024, 24, 4096, 16),
    "So400m": (1152, 27, 4304, 16),
    "H": (1280, 32, 5120, 16),
    "g": (1408, 40, 6144, 16),
    "G": (1664, 48, 8192, 16),
    "e": (1792, 56, 15360, 16),
}

POOLS = ("gap", "tok", "map", "0", "none")


def decode_variant(variant: str) -> Dict[str, int]:
  """Decodes "B/16" into `{width, depth, mlp_dim, num_heads, patch_size}` ("B" alone: no patch_size).

  Raises:
    ValueError: for an unknown size (naming the close matches) or a patch size that is not an integer.
  """
  if not isinstance(variant, str) or not variant:
    raise ValueError(f"A ViT variant is a string like 'B/16', got {variant!r}.")
  name, _, patch = variant.partition("/")
  if name not in VARIANTS:
    same_letters = [v for v in VARIANTS if v.lower() == name.lower()]
    hint = f"Did you mean {same_letters[0]!r}?" if same_letters else suggestion(name, VARIANTS)
    raise ValueError(f"Unknown ViT variant {variant!r}: size {name!r} is not one of "
                     f"{', '.join(VARIANTS)}. {hint} Write size/patch, e.g. 'B/16' or 'g/14'.")
  width, depth, mlp_dim, num_heads = VARIANTS[name]
  config = {"width": width, "depth": depth, "mlp_dim": mlp_dim, "num_heads": num_heads}
  if patch:
    if not patch.isdigit() or int(patch) < 1:
      raise ValueError(f"ViT variant {variant!r}: the patch size after '/' must be a positive integer.")
    config["patch_size"] = int(patch)
  return config


def _check_divisible(size: int, patch: int, what: str) -> None:
  if size % patch:
    lower, upper = (size // patch) * patch, (size // patch + 1) * patch
    nearest = f"{lower} or {upper}" if lower else f"{upper}"
    raise ValueError(f"{what} {size} is not divisible by the patch size {patch}: the patch embedding would "
                     f"drop the last {size % patch} pixels. Use a multiple of {patch}, e.g. {nearest}.")


def _rep_width(rep_size, width: int) -> int:
  if rep_size is True:
    return width
  return int(rep_size or 0)


@keras.saving.register_keras_serializable("model_garden")
class VisionTransformer(ImageModel):
  """The Vision Transformer of "An Image is Worth 16x16 Words" (Dosovitskiy et al. 2021).

  Written after big_vision's refactored ViT (also used by "How to train your ViT?", "Scaling Vision
  Transformers" and LiT): a patch-embedding convolution, a position embedding added *before* an optional
  [class] token, pre-LayerNorm encoder blocks (LayerNorm epsilon 1e-6, tanh-GELU), a final
  `encoder_norm`, pooling, an optional `pre_logits` Dense + tanh and a zero-initialised head. Initialisers
  follow big_vision (xavier-uniform attention/MLP kernels, normal(1e-6) MLP biases, zero attention
  biases, lecun-normal patch conv), so training from scratch behaves as there; `model_garden.convert`
  loads the official `.npz` checkpoints of big_vision and vision_transformer.

  Named intermediates (`intermediates()`): `stem` (batch, h, w, width), `with_posemb` (batch, h*w, width),
  `encoder/block00` ... `encoder/block{depth-1:02d}` (the output of each block, numbered from 0 and
  zero-padded as big_vision's `out["encoder"]["blockNN"]`), `encoded` (after `encoder_norm`, [cls]
  included), `head_input` (pooled, except for pool "none"), `pre_logits`, `pre_logits_2d` (the patch
  tokens as a (batch, h, w, .) map), `logits` and `logits_2d` (with a head).

  Args:
    num_classes: head size; 0 for no head (the logits are then the pre-logits).
    variant: size and patch, e.g. "B/16", "S/32", "g/14" (see `VARIANTS`).
    width, depth, mlp_dim, num_heads, patch_size: override the variant's numbers (e.g. tiny test models).
    pool: "gap" (mean of tokens), "tok" (learned [cls] token), "map" (`MAPHead`), "0" (token 0, no
      [cls] added) or "none" (no pooling: per-token logits).
    posemb: "learn" or "sincos2d".
    rep_size: width of a `pre_logits` Dense + tanh before the head; None/False for none, True for width.
    dropout: one dropout rate for the embeddings, residual branches and MLPs.
    head_bias_init: constant initial head bias (big_vision uses -10 for sigmoid pre-training on 21k).
    head_zeroinit: zero-initialise the head kernel (big_vision's default).
    image_size: the square resolution the (learned) position embedding is built for.

  Example:
    >>> import model_garden
    >>> vit = model_garden.models.get("vit(variant='B/16', num_classes=1000, pool='tok', image_size=224)")
    >>> logits = vit(images)                              # images (batch, 224, 224, 3) in [-1, 1]
    >>> tokens = vit.intermediates(images)["encoded"]     # (batch, 197, 768)
  """

  def __init__(self, num_classes: int = 0, variant: Optional[str] = "B/16", width: Optional[int] = None,
               depth: Optional[int] = None, mlp_dim: Optional[int] = None, num_heads: Optional[int] = None,
               patch_size: Optional[int] = None, pool: str = "gap", posemb: str = "learn",
               rep_size: Union[int, bool, None] = None, dropout: float = 0.0, head_bias_init: float = 0.0,
               head_zeroinit: bool = True, image_size: Optional[int] = 224, **kwargs):
    super().__init__(num_classes=num_classes, image_size=image_size, **kwargs)
    sizes = decode_variant(variant) if variant else {}
    overrides = {"width": width, "depth": depth, "mlp_dim": mlp_dim, "num_heads": num_heads,
                 "patch_size": patch_size}
    sizes.update({k: int(v) for k, v in overrides.items() if v is not None})
    missing = [k for k in overrides if k not in sizes]
    if missing:
      raise ValueError(f"ViT variant {variant!r} leaves {', '.join(missing)} unset: give a patch size as "
                       "in 'B/16', or pass the missing arguments.")
    self.variant = variant
    self.width, self.depth = sizes["width"], sizes["depth"]
    self.mlp_dim, self.num_heads, self.patch_size = sizes["mlp_dim"], sizes["num_heads"], sizes["patch_size"]
    self.pool = str(pool)
    if self.pool not in POOLS:
      raise ValueError(f"Unknown pool {pool!r}; expected one of {', '.join(POOLS)}. "
                       f"{suggestion(self.pool, POOLS)}")
    if posemb not in PositionEmbedding.KINDS:
      raise ValueError(f"Unknown posemb {posemb!r}; expected one of {', '.join(PositionEmbedding.KINDS)}.")
    if self.width % self.num_heads:
      raise ValueError(f"width {self.width} is not divisible by num_heads {self.num_heads}.")
    if image_size is not None:
      _check_divisible(int(image_size), self.patch_size, "image_size")
    self.posemb_kind = posemb
    self.rep_size = rep_size if isinstance(rep_size, bool) else (int(rep_size) if rep_size else None)
    self.dropout = float(dropout)
    self.head_bias_init = float(head_bias_init)
    self.head_zeroinit = bool(head_zeroinit)

    self.embedding = keras.layers.Conv2D(self.width, self.patch_size, strides=self.patch_size,
                                         padding="valid", kernel_initializer="lecun_normal", name="embedding")
    self.posemb = PositionEmbedding(posemb, name="pos_embedding")
    self.cls_token = ClassToken(name="cls") if self.pool == "tok" else None
    self.drop = keras.layers.Dropout(self.dropout)
    self.blocks = [EncoderBlock(self.num_heads, self.mlp_dim, self.dropout, name=f"encoderblock_{i}")
                   for i in range(self.depth)]
    self.encoder_norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="encoder_norm")
    self.map_head = MAPHead(self.num_heads, self.mlp_dim, name="MAPHead_0") if self.pool == "map" else None
    rep = _rep_width(self.rep_size, self.width)
    self.pre_logits = (keras.layers.Dense(rep, kernel_initializer="lecun_normal", name="pre_logits")
                       if rep else None)
    self.head = None
    if self.num_classes:
      self.head = keras.layers.Dense(
          self.num_classes, kernel_initializer="zeros" if self.head_zeroinit else "lecun_normal",
          bias_initializer=keras.initializers.Constant(self.head_bias_init), name="head")

  def forward(self, images, training=False):
    for axis, what in ((1, "image height"), (2, "image width")):
      if images.shape[axis] is not None:
        _check_divisible(int(images.shape[axis]), self.patch_size, what)
    out = {}
    x = out["stem"] = self.embedding(images)
    grid_h, grid_w = ops.shape(x)[1], ops.shape(x)[2]
    x = out["with_posemb"] = self.posemb(x)
    if self.cls_token is not None:
      x = self.cls_token(x)
    x = self.drop(x, training=training)
    for i, block in enumerate(self.blocks):
      x = out[f"encoder/block{i:02d}"] = block(x, training=training)
    x = encoded = out["encoded"] = self.encoder_norm(x)

    if self.pool == "map":
      x = out["head_input"] = self.map_head(x, training=training)
    elif self.pool == "gap":
      x = out["head_input"] = ops.mean(x, axis=1)
    elif self.pool in ("0", "tok"):
      x = out["head_input"] = x[:, 0]
      if self.pool == "tok":
        encoded = encoded[:, 1:]  # The 2-D map holds the patch tokens only.
    x_2d = ops.reshape(encoded, (ops.shape(encoded)[0], grid_h, grid_w, self.width))

    if self.pre_logits is not None:
      # tanh as big_vision and vision_transformer (a comment there notes early models lacked it).
      x_2d = ops.tanh(self.pre_logits(x_2d))
      x = ops.tanh(self.pre_logits(x))
    out["pre_logits_2d"], out["pre_logits"] = x_2d, x
    if self.head is not None:
      out["logits_2d"] = self.head(x_2d)
      x = out["logits"] = self.head(x)
    return x, out

  def get_config(self):
    config = super().get_config()
    config.update({
        "variant": self.variant, "width": self.width, "depth": self.depth, "mlp_dim": self.mlp_dim,
        "num_heads": self.num_heads, "patch_size": self.patch_size, "pool": self.pool,
        "posemb": self.posemb_kind, "rep_size": self.rep_size, "dropout": self.dropout,
        "head_bias_init": self.head_bias_init, "head_zeroinit": self.head_zeroinit,
    })
    return config


def vit_param_count(variant: str = "B/16", *, num_classes: int = 0, image_size: int = 224, pool: str = "gap",
                    posemb: str = "learn", rep_size: Union[int, bool, None] = None,
                    cls_posemb_row: bool = False, **overrides) -> int:
  """The number of parameters of `vit(...)` with these arguments, computed without building it.

  Args:
    variant, num_classes, image_size, pool, posemb, rep_size, **overrides: as `vit(...)`.
    cls_posemb_row: count the vision_transformer checkpoint layout, whose position embedding has an
      extra row for the [cls] token (pool "tok"). big_vision, and this model, fold that row into the
      class token, so the model holds `width` parameters fewer than the official ViT-B/16 file's
      86,567,656.
  """
  sizes = decode_variant(variant)
  sizes.update({k: int(v) for k, v in overrides.items() if v is not None})
  width, depth, mlp, patch = sizes["width"], sizes["depth"], sizes["mlp_dim"], sizes["patch_size"]
  _check_divisible(image_size, patch, "image_size")
  tokens = (image_size // patch) ** 2
  layer_norm = 2 * width
  attention = 4 * (width * width + width)  # query, key, value, out: kernels and biases.
  mlp_block = (width * mlp + mlp) + (mlp * width + width)
  count = patch * patch * 3 * width + width  # Patch embedding.
  if posemb == "learn":
    count += (tokens + (1 if cls_posemb_row and pool == "tok" else 0)) * width
  count += width if pool == "tok" else 0
  count += depth * (2 * layer_norm + attention + mlp_block) + layer_norm  # Blocks and encoder_norm.
  if pool == "map":
    count += width + attention + layer_norm + mlp_block  # Probe, attention, LayerNorm, MLP.
  features = width
  rep = _rep_width(rep_size, width)
  if rep:
    count += width * rep + rep
    features = rep
  if num_classes:
    count += features * num_classes + num_classes
  return count


@register("vit")
def vit(*, variant: str = "B/16", num_classes: int = 0, pool: str = "gap", posemb: str = "learn",
        rep_size: Union[int, bool, None] = None, dropout: float = 0.0, head_bias_init: float = 0.0,
        head_zeroinit: bool = True, image_size: int = 224, width: Optional[int] = None,
        depth: Optional[int] = None, mlp_dim: Optional[int] = None, num_heads: Optional[int] = None,
        patch_size: Optional[int] = None) -> VisionTransformer:
  """Spec factory: `vit(variant='B/16', num_classes=1000, pool='tok', image_size=224)`.

  `width`, `depth`, `mlp_dim`, `num_heads` and `patch_size` override the variant's sizes, e.g.
  `vit(variant='Ti/16', depth=2, image_size=32)` for a quick test model.
  """
  return VisionTransformer(num_classes=num_classes, variant=variant, width=width, depth=depth,
                           mlp_dim=mlp_dim, num_heads=num_heads, patch_size=patch_size, pool=pool,
                           posemb=posemb, rep_size=rep_size, dropout=dropout, head_bias_init=head_bias_init,
                           head_zeroinit=head_zeroinit, image_size=image_size)
