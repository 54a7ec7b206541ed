"""Vision Transformer (ViT), following big_vision's `models/vit.py` so its checkpoints load by renaming."""

from __future__ import annotations

from typing import Dict, Optional, Union

import keras
from keras import ops

from model_garden.layers.class_token import ClassToken
from model_garden.layers.encoder_block import LAYER_NORM_EPSILON, EncoderBlock
from model_garden.layers.map_head import MAPHead
from model_garden.layers.position_embedding import PositionEmbedding, posemb_sincos_2d, resample_posemb
from model_garden.layers.remat import block_call, check_remat
from model_garden.models.image_model import ImageModel
from model_garden.models.registry import register
from model_garden.registry import suggestion

__all__ = ["VARIANTS", "VisionTransformer", "decode_variant", "posemb_sincos_2d", "resample_posemb",
           "resolve_posemb_cls_row", "vit", "vit_param_count"]

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
# vision_transformer's position-embedding initialiser (AddPositionEmbs: normal(stddev=0.02)).
VT_POSEMB_STDDEV = 0.02


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


def resolve_posemb_cls_row(posemb_cls_row: Optional[bool], pool: str, posemb: str = "learn") -> bool:
  """The `posemb_cls_row` a ViT gets: None means True for pool "tok" with a learned embedding, else False.

  Raises:
    ValueError: for True without a [cls] token (pool other than "tok") or without a learned embedding.
  """
  if posemb_cls_row is None:
    return pool == "tok" and posemb == "learn"
  if posemb_cls_row and pool != "tok":
    raise ValueError(f"posemb_cls_row=True needs pool='tok' (a [cls] token to give the row to), got "
                     f"pool={pool!r}.")
  if posemb_cls_row and posemb != "learn":
    raise ValueError(f"posemb_cls_row=True needs posemb='learn', got {posemb!r} (a fixed embedding has no "
                     "[cls] row).")
  return bool(posemb_cls_row)


def _rep_width(rep_size, width: int) -> int:
  if rep_size is True:
    return width
  return int(rep_size or 0)


@keras.saving.register_keras_serializable("model_garden")
class VisionTransformer(ImageModel):
  """The Vision Transformer of "An Image is Worth 16x16 Words" (Dosovitskiy et al. 2021).

  Written after big_vision's refactored ViT (also used by "How to train your ViT?", "Scaling Vision
  Transformers" and LiT): a patch-embedding convolution, a position embedding, an optional [class] token,
  pre-LayerNorm encoder blocks (LayerNorm epsilon 1e-6, tanh-GELU), a final `encoder_norm`, pooling, an
  optional `pre_logits` Dense + tanh and a zero-initialised head. Initialisers follow big_vision
  (xavier-uniform attention/MLP kernels, normal(1e-6) MLP biases, zero attention biases, lecun-normal
  patch conv), so training from scratch behaves as there; `model_garden.convert` loads the official
  `.npz` checkpoints of big_vision and vision_transformer.

  The [class] token and the position embedding (`posemb_cls_row`): with pool "tok" the model follows the
  original vision_transformer by default: the [cls] token is prepended first and a learned embedding of
  1 + h*w rows (row 0 for [cls]; initialised normal(0.02) as there) is added to the whole sequence, so the
  parameter counts are the official ones (ViT-B/16 with 1000 classes: 86,567,656). `posemb_cls_row=False`
  is big_vision's layout: an h*w-row embedding (normal(1/sqrt(width))) is added before the token is
  prepended, `width` parameters fewer. The two compute the same functions (the row folds into the token:
  `cls + posemb[:, :1]`); the converter loads either checkpoint layout into either model.

  Named intermediates (`intermediates()`): `stem` (batch, h, w, width); `with_posemb`, the tokens with
  the position embedding added: (batch, h*w, width), or with a [cls] row (batch, 1 + h*w, width) since
  [cls] is prepended first; `encoder/block00` ... `encoder/block{depth-1:02d}` (the output of each block,
  numbered from 0 and zero-padded as big_vision's `out["encoder"]["blockNN"]`), `encoded` (after
  `encoder_norm`, [cls] included), `head_input` (pooled, except for pool "none"), `pre_logits`,
  `pre_logits_2d` (the patch tokens as a (batch, h, w, .) map), `logits` and `logits_2d` (with a head).

  Args:
    num_classes: head size; 0 for no head (the logits are then the pre-logits).
    variant: size and patch, e.g. "B/16", "S/32", "g/14" (see `VARIANTS`).
    width, depth, mlp_dim, num_heads, patch_size: override the variant's numbers (e.g. tiny test models).
    pool: "gap" (mean of tokens), "tok" (learned [cls] token), "map" (`MAPHead`), "0" (token 0, no
      [cls] added) or "none" (no pooling: per-token logits).
    posemb: "learn" or "sincos2d".
    posemb_cls_row: give the learned position embedding a [cls] row (vision_transformer's layout, the
      official parameter counts); None (default) means True for pool "tok" with posemb "learn" and False
      otherwise; False with pool "tok" is big_vision's layout. True needs pool "tok" and posemb "learn".
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

  # Rematerialise every block in training (`layers/remat.py`); set by the trainer from config.remat.
  remat = False

  def __init__(self, num_classes: int = 0, variant: Optional[str] = "B/16", width: Optional[int] = None,
               depth: Optional[int] = None, mlp_dim: Optional[int] = None, num_heads: Optional[int] = None,
               patch_size: Optional[int] = None, pool: str = "gap", posemb: str = "learn",
               posemb_cls_row: Optional[bool] = None, rep_size: Union[int, bool, None] = None,
               dropout: float = 0.0, head_bias_init: float = 0.0, head_zeroinit: bool = True,
               image_size: Optional[int] = 224, **kwargs):
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
    self.posemb_cls_row = resolve_posemb_cls_row(posemb_cls_row, self.pool, posemb)
    self.rep_size = rep_size if isinstance(rep_size, bool) else (int(rep_size) if rep_size else None)
    self.dropout = float(dropout)
    self.head_bias_init = float(head_bias_init)
    self.head_zeroinit = bool(head_zeroinit)

    self.embedding = keras.layers.Conv2D(self.width, self.patch_size, strides=self.patch_size,
                                         padding="valid", kernel_initializer="lecun_normal", name="embedding")
    self.posemb = PositionEmbedding(posemb, cls_row=self.posemb_cls_row,
                                    stddev=VT_POSEMB_STDDEV if self.posemb_cls_row else None,
                                    name="pos_embedding")
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
    if self.posemb_cls_row:
      # vision_transformer: concat([cls, tokens]) + posemb, computed as posemb's grid rows added to the
      # tokens and its row 0 to the prepended [cls] (the same sums).
      x = out["with_posemb"] = self.posemb.add_cls_row(self.cls_token(self.posemb(x)))
    else:
      x = out["with_posemb"] = self.posemb(x)
      if self.cls_token is not None:
        x = self.cls_token(x)
    x = self.drop(x, training=training)
    check_remat(self, self.dropout)
    for i, block in enumerate(self.blocks):
      x = out[f"encoder/block{i:02d}"] = block_call(block, self.remat, training)(x)
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
        "posemb": self.posemb_kind, "posemb_cls_row": self.posemb_cls_row, "rep_size": self.rep_size,
        "dropout": self.dropout, "head_bias_init": self.head_bias_init, "head_zeroinit": self.head_zeroinit,
    })
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    # Models saved before `posemb_cls_row` existed had big_vision's layout (no [cls] row) whatever the pool.
    config.setdefault("posemb_cls_row", False)
    return super().from_config(config)


def vit_param_count(variant: str = "B/16", *, num_classes: int = 0, image_size: int = 224, pool: str = "gap",
                    posemb: str = "learn", posemb_cls_row: Optional[bool] = None,
                    rep_size: Union[int, bool, None] = None, width: Optional[int] = None,
                    depth: Optional[int] = None, mlp_dim: Optional[int] = None,
                    num_heads: Optional[int] = None, patch_size: Optional[int] = None, dropout: float = 0.0,
                    head_bias_init: float = 0.0, head_zeroinit: bool = True) -> int:
  """The number of parameters of `vit(...)` with these arguments, computed without building it.

  Takes `vit(...)`'s keywords, so a spec's can be passed as they are:
  `vit_param_count(**registry.parse_spec(spec)[2])`.

  Args:
    variant, num_classes, image_size, pool, posemb, rep_size, width, depth, mlp_dim, num_heads,
      patch_size: as `vit(...)`.
    posemb_cls_row: as `vit(...)`: None counts the [cls] position-embedding row for pool "tok" (the
      official vision_transformer counts, e.g. ViT-B/16 with 1000 classes 86,567,656); False gives
      big_vision's layout, `width` parameters fewer.
    dropout, head_bias_init, head_zeroinit: accepted and ignored (they change no count).
  """
  del dropout, head_bias_init, head_zeroinit
  sizes = decode_variant(variant)
  overrides = {"width": width, "depth": depth, "mlp_dim": mlp_dim, "num_heads": num_heads,
               "patch_size": patch_size}
  sizes.update({k: int(v) for k, v in overrides.items() if v is not None})
  if "patch_size" not in sizes:
    raise ValueError(f"ViT variant {variant!r} has no patch size: write e.g. '{variant}/16' or pass "
                     "patch_size.")
  width, depth, mlp, patch = sizes["width"], sizes["depth"], sizes["mlp_dim"], sizes["patch_size"]
  _check_divisible(image_size, patch, "image_size")
  cls_row = resolve_posemb_cls_row(posemb_cls_row, pool, posemb)
  tokens = (image_size // patch) ** 2
  layer_norm = 2 * width
  attention = 4 * (width * width + width)  # query, key, value, out: kernels and biases.
  mlp_block = (width * mlp + mlp) + (mlp * width + width)
  count = patch * patch * 3 * width + width  # Patch embedding.
  if posemb == "learn":
    count += (tokens + int(cls_row)) * width
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
        posemb_cls_row: Optional[bool] = None, rep_size: Union[int, bool, None] = None, dropout: float = 0.0,
        head_bias_init: float = 0.0, head_zeroinit: bool = True, image_size: int = 224,
        width: Optional[int] = None,
        depth: Optional[int] = None, mlp_dim: Optional[int] = None, num_heads: Optional[int] = None,
        patch_size: Optional[int] = None) -> VisionTransformer:
  """Spec factory: `vit(variant='B/16', num_classes=1000, pool='tok', image_size=224)`.

  With pool 'tok' the position embedding has a [cls] row (the official counts; `posemb_cls_row=False`
  for big_vision's layout); see `VisionTransformer`.

  `width`, `depth`, `mlp_dim`, `num_heads` and `patch_size` override the variant's sizes, e.g.
  `vit(variant='Ti/16', depth=2, image_size=32)` for a quick test model.
  """
  return VisionTransformer(num_classes=num_classes, variant=variant, width=width, depth=depth,
                           mlp_dim=mlp_dim, num_heads=num_heads, patch_size=patch_size, pool=pool,
                           posemb=posemb, posemb_cls_row=posemb_cls_row, rep_size=rep_size, dropout=dropout,
                           head_bias_init=head_bias_init, head_zeroinit=head_zeroinit, image_size=image_size)
