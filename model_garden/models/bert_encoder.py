"""A BERT encoder (post-LayerNorm, padding mask, [CLS] pooling), laid out as flaxformer's `BertEncoder`."""

from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import keras
from keras import ops

from model_garden.layers.remat import block_call, check_remat
from model_garden.models.registry import register
from model_garden.models.text_model import TextModel

# flaxformer's BERT defaults (`architectures/bert/bert.py`): LayerNorm epsilon 1e-12, truncated normal(0.02).
BERT_LAYER_NORM_EPSILON = 1e-12
BERT_INIT_STDDEV = 0.02
# name -> (width, depth, mlp_dim, num_heads), flaxformer's BertBaseConfig / BertLargeConfig.
VARIANTS = {"base": (768, 12, 3072, 12), "large": (1024, 24, 4096, 16)}
# A large negative attention logit for masked positions (flaxformer uses the dtype's min; this is safe in
# float16 too).
_MASK_VALUE = -1e9


def _init():
  return keras.initializers.TruncatedNormal(stddev=BERT_INIT_STDDEV)


@keras.saving.register_keras_serializable("model_garden")
class BertEncoder(TextModel):
  """The BERT encoder ("BERT: Pre-training of Deep Bidirectional Transformers", Devlin et al. 2019) used as
  LiT's pretrained text tower.

  Follows big_vision's `proj/flaxformer/bert.py` around flaxformer's `BertEncoder`, so LiT checkpoints
  (`txt/BertEncoder_0/...`) load by renaming: token, position and segment embeddings summed
  (`embedders_token_ids`, `embedders_position_ids`, `embedders_segment_ids`; segments are all 0),
  `layer_norm` (epsilon 1e-12) and dropout, then post-LayerNorm layers `x = LN(x + Drop(Attn(x)))`,
  `x = LN(x + Drop(MLP(x)))` with GELU (tanh approximation, `flax.linen.gelu`'s default) and an attention
  mask from the padding (`tokens != 0`, masking keys and queries as flaxformer's `make_attention_mask`).
  The output at position 0 ([CLS], prepended by `WordPieceTokenizer`) is `pre_logits`; an optional linear
  `head` maps it to the shared embedding. Initialisers are flaxformer's: truncated normal(0.02), zero biases.

  Named intermediates: `embedded` (after the embedding LayerNorm), `encoder/block00`..., `transformed`,
  `pre_logits`, `logits`.

  Args:
    num_classes: head size; 0 for no head.
    variant: "base" or "large" (flaxformer's configs); or give width, depth, mlp_dim and num_heads.
    vocab_size: token embedding rows (BERT uncased: 30522).
    max_len: tokens per text this tower is built for (at most `max_positions`).
    max_positions: rows of the position embedding (BERT: 512).
    num_segments: rows of the segment embedding (BERT: 2).
    dropout: one rate for embeddings, attention probabilities and residual branches.
    head_zeroinit: zero-initialise the head kernel (big_vision's default is True, LiT configs set False).

  Example:
    >>> bert = model_garden.models.get("bert_encoder(variant='base', num_classes=768, max_len=16)")
    >>> bert(tokens).shape        # tokens: int32 (batch, 16), [CLS] first, zero padded
    TensorShape([batch, 768])
  """

  # Rematerialise every block in training (`layers/remat.py`); set by the trainer from config.remat.
  remat = False

  def __init__(self, num_classes: int = 0, variant: Optional[str] = None, width: Optional[int] = None,
               depth: Optional[int] = None, mlp_dim: Optional[int] = None, num_heads: Optional[int] = None,
               vocab_size: int = 30_522, max_len: int = 16, max_positions: int = 512, num_segments: int = 2,
               dropout: float = 0.0, head_zeroinit: bool = False, **kwargs):
    super().__init__(**kwargs)
    if variant is not None and variant not in VARIANTS:
      raise ValueError(f"Unknown BERT variant {variant!r}; expected one of {', '.join(VARIANTS)} or None.")
    sizes = dict(zip(("width", "depth", "mlp_dim", "num_heads"), VARIANTS[variant or "base"]))
    overrides = {"width": width, "depth": depth, "mlp_dim": mlp_dim, "num_heads": num_heads}
    sizes.update({k: int(v) for k, v in overrides.items() if v is not None})
    self.num_classes = int(num_classes)
    self.variant = variant
    self.width, self.depth = sizes["width"], sizes["depth"]
    self.mlp_dim, self.num_heads = sizes["mlp_dim"], sizes["num_heads"]
    self.vocab_size, self.max_len = int(vocab_size), int(max_len)
    self.max_positions, self.num_segments = int(max_positions), int(num_segments)
    self.dropout = float(dropout)
    self.head_zeroinit = bool(head_zeroinit)
    if self.width % self.num_heads:
      raise ValueError(f"width {self.width} is not divisible by num_heads {self.num_heads}.")
    if self.max_len > self.max_positions:
      raise ValueError(f"max_len {self.max_len} exceeds max_positions {self.max_positions}.")
    self.token_embedding = keras.layers.Embedding(self.vocab_size, self.width, embeddings_initializer=_init(),
                                                  name="embedders_token_ids")
    self.position_embedding = keras.layers.Embedding(self.max_positions, self.width,
                                                     embeddings_initializer=_init(),
                                                     name="embedders_position_ids")
    self.segment_embedding = keras.layers.Embedding(self.num_segments, self.width,
                                                    embeddings_initializer=_init(),
                                                    name="embedders_segment_ids")
    self.layer_norm = keras.layers.LayerNormalization(epsilon=BERT_LAYER_NORM_EPSILON, name="layer_norm")
    self.drop = keras.layers.Dropout(self.dropout)
    self.encoder_layers = [_BertLayer(self.num_heads, self.mlp_dim, self.dropout, name=f"layers_{i}")
                    for i in range(self.depth)]
    self.head = None
    if self.num_classes:
      self.head = keras.layers.Dense(self.num_classes,
                                     kernel_initializer="zeros" if self.head_zeroinit else "lecun_normal",
                                     name="head")

  def build(self, input_shape=None):
    # Like TextTransformer: built for (batch, max_len) whatever shape `models.get` passes.
    if self.built:
      return
    for embedding in (self.token_embedding, self.position_embedding, self.segment_embedding):
      embedding.build((None, self.max_len))
    shape = (None, self.max_len, self.width)
    self.layer_norm.build(shape)
    for layer in self.encoder_layers:
      layer.build(shape)
    if self.head is not None:
      self.head.build((None, self.width))
    self.built = True

  def forward(self, tokens, training: bool = False) -> Tuple[keras.KerasTensor, Dict[str, keras.KerasTensor]]:
    out = {}
    length = tokens.shape[1] if tokens.shape[1] is not None else ops.shape(tokens)[1]
    positions = ops.arange(length, dtype="int32")[None, :]
    x = self.token_embedding(tokens) + self.position_embedding(positions)
    x = x + self.segment_embedding(ops.zeros_like(tokens))
    x = out["embedded"] = self.drop(self.layer_norm(x), training=training)
    valid = ops.not_equal(tokens, 0)
    mask = ops.logical_and(valid[:, None, :, None], valid[:, None, None, :])  # (batch, 1, query, key)
    check_remat(self, self.dropout)
    for i, layer in enumerate(self.encoder_layers):
      x = out[f"encoder/block{i:02d}"] = block_call(layer, self.remat, training, mask)(x)
    out["transformed"] = x
    x = out["pre_logits"] = x[:, 0]  # [CLS]
    if self.head is not None:
      x = self.head(x)
    out["logits"] = x
    return x, out

  def get_config(self):
    config = super().get_config()
    config.update({
        "num_classes": self.num_classes, "variant": self.variant, "width": self.width, "depth": self.depth,
        "mlp_dim": self.mlp_dim, "num_heads": self.num_heads, "vocab_size": self.vocab_size,
        "max_len": self.max_len, "max_positions": self.max_positions, "num_segments": self.num_segments,
        "dropout": self.dropout, "head_zeroinit": self.head_zeroinit,
    })
    return config


@keras.saving.register_keras_serializable("model_garden")
class _BertLayer(keras.layers.Layer):
  """flaxformer's `EncoderLayer`: post-LN attention block and MLP block, sub-layers named as there."""

  def __init__(self, num_heads: int, mlp_dim: int, dropout: float = 0.0, **kwargs):
    super().__init__(**kwargs)
    self.num_heads, self.mlp_dim, self.dropout = int(num_heads), int(mlp_dim), float(dropout)
    self.drop = keras.layers.Dropout(self.dropout)

  def build(self, input_shape):
    width = int(input_shape[-1])
    dense = lambda units, name: keras.layers.Dense(units, kernel_initializer=_init(), name=name)
    # Kernels are (width, width) as flaxformer stores them (heads flattened), so they load unchanged.
    self.query, self.key, self.value = dense(width, "query"), dense(width, "key"), dense(width, "value")
    self.attention_out = dense(width, "attention_dense_layer")
    self.attention_norm = keras.layers.LayerNormalization(epsilon=BERT_LAYER_NORM_EPSILON,
                                                          name="attention_layer_norm")
    self.mlp_in = dense(self.mlp_dim, "mlp_dense_layer")
    self.mlp_out = dense(width, "mlp_block_dense_layer")
    self.mlp_norm = keras.layers.LayerNormalization(epsilon=BERT_LAYER_NORM_EPSILON, name="mlp_layer_norm")
    for layer in (self.query, self.key, self.value, self.attention_out, self.attention_norm, self.mlp_in):
      layer.build(input_shape)
    self.mlp_out.build(tuple(input_shape[:-1]) + (self.mlp_dim,))
    self.mlp_norm.build(input_shape)
    self.built = True

  def call(self, x, mask, training=False):
    batch, length = ops.shape(x)[0], ops.shape(x)[1]
    width = x.shape[-1]
    head_dim = width // self.num_heads

    def heads(t):
      return ops.reshape(t, (batch, length, self.num_heads, head_dim))

    q = heads(self.query(x)) * ops.cast(1.0 / math.sqrt(head_dim), x.dtype)
    k, v = heads(self.key(x)), heads(self.value(x))
    logits = ops.cast(ops.einsum("bqhc,bkhc->bhqk", q, k), "float32")
    logits = ops.where(mask, logits, _MASK_VALUE)
    weights = ops.cast(ops.softmax(logits, axis=-1), x.dtype)
    weights = self.drop(weights, training=training)
    y = ops.reshape(ops.einsum("bhqk,bkhc->bqhc", weights, v), (batch, length, width))
    x = self.attention_norm(x + self.drop(self.attention_out(y), training=training))
    y = self.mlp_out(ops.gelu(self.mlp_in(x), approximate=True))
    return self.mlp_norm(x + self.drop(y, training=training))

  def compute_output_shape(self, input_shape, mask_shape=None):
    return tuple(input_shape)

  def get_config(self):
    config = super().get_config()
    config.update({"num_heads": self.num_heads, "mlp_dim": self.mlp_dim, "dropout": self.dropout})
    return config


@register("bert_encoder")
def bert_encoder(*, num_classes: int = 0, variant: Optional[str] = None, width: Optional[int] = None,
                 depth: Optional[int] = None, mlp_dim: Optional[int] = None, num_heads: Optional[int] = None,
                 vocab_size: int = 30_522, max_len: int = 16, max_positions: int = 512, num_segments: int = 2,
                 dropout: float = 0.0, head_zeroinit: bool = False) -> BertEncoder:
  """Spec factory: `bert_encoder(variant='base', num_classes=768, max_len=16)`."""
  return BertEncoder(num_classes=num_classes, variant=variant, width=width, depth=depth, mlp_dim=mlp_dim,
                     num_heads=num_heads, vocab_size=vocab_size, max_len=max_len, max_positions=max_positions,
                     num_segments=num_segments, dropout=dropout, head_zeroinit=head_zeroinit)
