"""The transformer text encoder of big_vision's image-text models (LiT, SigLIP), named as its checkpoints."""

from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import keras
from keras import ops

from model_garden.layers.encoder_block import LAYER_NORM_EPSILON, EncoderBlock
from model_garden.layers.map_head import MAPHead
from model_garden.layers.remat import block_call, check_remat
from model_garden.models.registry import register
from model_garden.models.text_model import TextModel
from model_garden.models.vit import decode_variant
from model_garden.registry import suggestion

POOLS = ("last", "first", "gap", "mean", "max", "gmp", "map")
# jax.nn.initializers.variance_scaling(..., "normal") draws a truncated normal with this correction so the
# result has the requested variance; Keras' TruncatedNormal does not correct, so the stddev is divided here.
_TRUNCATED_NORMAL_CORRECTION = 0.87962566103423978


@keras.saving.register_keras_serializable("model_garden")
class TextTransformer(TextModel):
  """A transformer encoder of token ids, as big_vision's `proj/image_text/text_transformer.py`.

  The text tower LiT trains from scratch ("LiT: Zero-Shot Transfer with Locked-image text Tuning", Zhai et
  al. 2022) and SigLIP uses; it is CLIP's text encoder without the causal mask: a token embedding
  (`Embed_0`), a learned position embedding (`pos_embedding`, normal(1/sqrt(width))), the ViT's
  pre-LayerNorm encoder blocks (`EncoderBlock`, big_vision's `Encoder_0/encoderblock_i`), a final
  `encoder_norm`, pooling and an optional linear `head` (Flax Dense defaults: lecun_normal, zero bias).
  Pooling "last" reads the last position, which holds EOS with "sticky" EOS tokenization
  (`SentencePieceTokenizer(eos='sticky')`, padding with EOS); "first", "gap"/"mean", "max"/"gmp" and
  "map" (a `MAPHead`) are the other options. There is no attention mask: padding is EOS tokens, attended
  to like any other (as in big_vision).

  Named intermediates (`intermediates(tokens)`): `embedded`, `encoder/block00`..., `transformed` (after
  `encoder_norm`), `pre_logits` (pooled) and `logits` (after the head; the pre-logits without one).

  Args:
    num_classes: head size (LiT: the shared embedding size); 0 for no head.
    variant: a ViT size name ("Ti", "S", "B", "L", ...) giving width, depth, mlp_dim and num_heads.
    width, depth, mlp_dim, num_heads: override the variant (or give them all without one).
    vocab_size: rows of the token embedding (the tokenizer's vocabulary size).
    max_len: tokens per text; the position embedding has this many rows (shorter inputs use the first).
    pool: "last", "first", "gap" ("mean"), "max" ("gmp") or "map".
    dropout: dropout of the encoder blocks.
    head_zeroinit: zero-initialise the head kernel (default False: a zero embedding has no direction).

  Example:
    >>> txt = model_garden.models.get("text_transformer(variant='S', vocab_size=32000, max_len=16, "
    ...                               "num_classes=384)")
    >>> txt(tokens).shape          # tokens: int32 (batch, 16)
    TensorShape([batch, 384])
  """

  # Rematerialise every block in training (`layers/remat.py`); set by the trainer from config.remat.
  remat = False

  def __init__(self, num_classes: int = 0, variant: Optional[str] = None, width: Optional[int] = None,
               depth: Optional[int] = None, mlp_dim: Optional[int] = None, num_heads: Optional[int] = None,
               vocab_size: int = 32_000, max_len: int = 16, pool: str = "last", dropout: float = 0.0,
               head_zeroinit: bool = False, **kwargs):
    super().__init__(**kwargs)
    sizes = decode_variant(variant) if variant else {"width": 512, "depth": 12, "mlp_dim": 2048, "num_heads": 8}
    sizes.pop("patch_size", None)
    overrides = {"width": width, "depth": depth, "mlp_dim": mlp_dim, "num_heads": num_heads}
    sizes.update({k: int(v) for k, v in overrides.items() if v is not None})
    self.num_classes = int(num_classes)
    self.variant = variant
    self.width, self.depth = sizes["width"], sizes["depth"]
    self.mlp_dim, self.num_heads = sizes["mlp_dim"], sizes["num_heads"]
    self.vocab_size, self.max_len = int(vocab_size), int(max_len)
    self.pool = str(pool)
    self.dropout = float(dropout)
    self.head_zeroinit = bool(head_zeroinit)
    if self.pool not in POOLS:
      raise ValueError(f"Unknown text pool {pool!r}; expected one of {', '.join(POOLS)}. "
                       f"{suggestion(self.pool, POOLS)}")
    if self.width % self.num_heads:
      raise ValueError(f"width {self.width} is not divisible by num_heads {self.num_heads}.")
    if self.vocab_size < 1 or self.max_len < 1:
      raise ValueError(f"vocab_size and max_len must be positive, got {vocab_size} and {max_len}.")
    # flax nn.Embed's default: variance_scaling(1, "fan_in", "normal", out_axis=0) -> stddev 1/sqrt(width).
    embed_init = keras.initializers.TruncatedNormal(
        stddev=1.0 / math.sqrt(self.width) / _TRUNCATED_NORMAL_CORRECTION)
    self.embedding = keras.layers.Embedding(self.vocab_size, self.width, embeddings_initializer=embed_init,
                                            name="Embed_0")
    self.blocks = [EncoderBlock(self.num_heads, self.mlp_dim, self.dropout, name=f"encoderblock_{i}")
                   for i in range(self.depth)]
    self.encoder_norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="encoder_norm")
    self.map_head = MAPHead(self.num_heads, self.mlp_dim, name="MAPHead_0") if self.pool == "map" else None
    self.head = None
    if self.num_classes:
      self.head = keras.layers.Dense(self.num_classes,
                                     kernel_initializer="zeros" if self.head_zeroinit else "lecun_normal",
                                     name="head")

  def build(self, input_shape=None):
    # `models.get` builds every network with an image shape; a text tower is always (batch, max_len).
    if self.built:
      return
    shape = (None, self.max_len, self.width)
    self.embedding.build((None, self.max_len))
    self.pos_embedding = self.add_weight(
        name="pos_embedding", shape=(1, self.max_len, self.width),
        initializer=keras.initializers.RandomNormal(stddev=1.0 / math.sqrt(self.width)))
    for block in self.blocks:
      block.build(shape)
    self.encoder_norm.build(shape)
    if self.map_head is not None:
      self.map_head.build(shape)
    if self.head is not None:
      self.head.build((None, self.width))
    self.built = True

  def forward(self, tokens, training: bool = False) -> Tuple[keras.KerasTensor, Dict[str, keras.KerasTensor]]:
    out = {}
    length = tokens.shape[1] if tokens.shape[1] is not None else ops.shape(tokens)[1]
    x = out["embedded"] = self.embedding(tokens)
    x = x + ops.cast(self.pos_embedding[:, :length], x.dtype)
    check_remat(self, self.dropout)
    for i, block in enumerate(self.blocks):
      x = out[f"encoder/block{i:02d}"] = block_call(block, self.remat, training)(x)
    x = out["transformed"] = self.encoder_norm(x)
    if self.pool == "last":
      x = x[:, -1]
    elif self.pool == "first":
      x = x[:, 0]
    elif self.pool in ("gap", "mean"):
      x = ops.mean(x, axis=1)
    elif self.pool in ("max", "gmp"):
      x = ops.max(x, axis=1)
    else:
      x = self.map_head(x, training=training)
    out["pre_logits"] = x
    if self.head is not None:
      x = self.head(x)
    out["logits"] = x
    return x, out

  def get_config(self):
    config = super().get_config()
    config.update({
        "num_classes": self.num_classes, "variant": self.variant, "width": self.width, "depth": self.depth,
        "mlp_dim": self.mlp_dim, "num_heads": self.num_heads, "vocab_size": self.vocab_size,
        "max_len": self.max_len, "pool": self.pool, "dropout": self.dropout,
        "head_zeroinit": self.head_zeroinit,
    })
    return config


@register("text_transformer")
def text_transformer(*, num_classes: int = 0, variant: Optional[str] = None, width: Optional[int] = None,
                     depth: Optional[int] = None, mlp_dim: Optional[int] = None,
                     num_heads: Optional[int] = None, vocab_size: int = 32_000, max_len: int = 16,
                     pool: str = "last", dropout: float = 0.0, head_zeroinit: bool = False) -> TextTransformer:
  """Spec factory: `text_transformer(variant='B', vocab_size=32000, max_len=16, num_classes=768)`."""
  return TextTransformer(num_classes=num_classes, variant=variant, width=width, depth=depth, mlp_dim=mlp_dim,
                         num_heads=num_heads, vocab_size=vocab_size, max_len=max_len, pool=pool,
                         dropout=dropout, head_zeroinit=head_zeroinit)
