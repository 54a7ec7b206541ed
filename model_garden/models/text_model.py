"""The base class of text towers: token ids in, logits (or embeddings) out, named intermediates."""

from __future__ import annotations

from typing import Dict

import keras

from model_garden.models.forward_dispatch import ForwardDispatch


def check_tokens(tokens, max_len: int, name: str) -> None:
  """Clear errors for token input a text tower cannot take (wrong rank, floats, too long)."""
  shape = tuple(tokens.shape)
  if len(shape) != 2:
    raise ValueError(f"{name} takes token ids of shape (batch, length), got shape {shape}. Tokenize the "
                     "texts first (model_garden.text.get_tokenizer or the pp op `tokenize`).")
  dtype = str(getattr(tokens, "dtype", ""))
  if "int" not in dtype:
    raise TypeError(f"{name} takes integer token ids, got dtype {dtype}.")
  if shape[1] is not None and shape[1] > max_len:
    raise ValueError(f"{name} was built for at most max_len={max_len} tokens, got {shape[1]}. Tokenize with "
                     f"max_len={max_len}, or build the tower with a larger max_len.")


class TextModel(ForwardDispatch, keras.Model):
  """A text tower: `model(tokens)` returns logits; `model.intermediates(tokens)` the named endpoints.

  The text counterpart of `ImageModel` (LiT's text towers: `TextTransformer`, `BertEncoder`). Subclasses set
  `self.max_len` and implement `forward(tokens, training=False) -> (logits, out_dict)`; the dict holds
  `pre_logits` and `logits` at least. Token ids are checked here (rank 2, integers, at most max_len).

  Example:
    >>> tower = model_garden.models.get("text_transformer(variant='Ti', vocab_size=256, max_len=16)")
    >>> tower.intermediates(tokens)["pre_logits"].shape   # tokens: int32 (batch, 16)
  """

  max_len: int

  def forward(self, tokens, training: bool = False):
    raise NotImplementedError(f"{type(self).__name__} must implement forward(tokens, training).")

  def call(self, tokens, training=False):
    check_tokens(tokens, self.max_len, self.name)
    return self.forward(tokens, training=training)[0]

  def intermediates(self, tokens, training: bool = False) -> Dict[str, keras.KerasTensor]:
    check_tokens(tokens, self.max_len, self.name)
    if not self.built:
      self.build()
    return self.forward(tokens, training=training)[1]
