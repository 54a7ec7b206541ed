"""Text preprocessing ops for pp strings: `sample_caption` and `tokenize`.

  "decode|resize(32)|value_range(-1, 1)|sample_caption|tokenize(16, model='mg_shapes_sp')|keep('image', 'labels')"

`sample_caption` picks one of an image's captions with the example's stateless seed, so each time the image
comes round in the stream (a new position, a new seed) another caption may be drawn, and a resumed run
draws the same ones. `tokenize` writes fixed-length int32 ids (big_vision names the key `labels`).
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Tuple

import tensorflow as tf

from model_garden.data.preprocess import op_rng, register
from model_garden.text.prompts import vocab_path
from model_garden.text.sentencepiece_tokenizer import SentencePieceTokenizer
from model_garden.text.wordpiece_tokenizer import WordPieceTokenizer

KINDS = ("sentencepiece", "wordpiece")
_CACHE: Dict[Tuple, tf.Module] = {}


def tokenizer_kind(model: str) -> str:
  """"sentencepiece" for `.model` files, "wordpiece" for `.txt` / `.vocab` files."""
  path = vocab_path(model)
  if path.endswith(".model"):
    return "sentencepiece"
  if path.endswith((".txt", ".vocab")):
    return "wordpiece"
  raise ValueError(f"Cannot tell the tokenizer of {model!r} from its name: pass kind='sentencepiece' (a "
                   "SentencePiece .model) or kind='wordpiece' (a BERT vocab.txt).")


def get_tokenizer(model: str, max_len: int, *, kind: Optional[str] = None, eos: str = "sticky",
                  pad_value: Optional[int] = None, lower: bool = True):
  """A (cached) `SentencePieceTokenizer` or `WordPieceTokenizer` for a vocabulary file or shipped name.

  Args:
    model: a `.model` (SentencePiece) or `vocab.txt` (WordPiece) path, or a shipped vocabulary:
      "mg_shapes_sp", "mg_shapes_wp".
    max_len: ids per text.
    kind: "sentencepiece" or "wordpiece"; default from the file name.
    eos, pad_value, lower: SentencePiece options (see `SentencePieceTokenizer`); WordPiece uses `lower`.
  """
  kind = kind or tokenizer_kind(model)
  if kind not in KINDS:
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")
  path = vocab_path(model)
  key = (kind, os.path.abspath(path), int(max_len), eos, pad_value, bool(lower))
  if key in _CACHE and not _alive(_CACHE[key]):
    del _CACHE[key]
  if key not in _CACHE:
    if kind == "sentencepiece":
      _CACHE[key] = SentencePieceTokenizer(path, max_len, eos=eos, pad_value=pad_value, lower=lower)
    else:
      _CACHE[key] = WordPieceTokenizer(path, max_len, lower_case=lower)
  return _CACHE[key]


def _alive(tokenizer) -> bool:
  """False when a SentencePiece tokenizer's model resource is gone.

  tensorflow-text's SentencePiece model is a kernel-owned resource (its TODO b/318839908): clearing
  TensorFlow's kernel cache, which `tf.random.set_seed` / `keras.utils.set_random_seed` do (e.g. at the start
  of every `model_garden.train` run), deletes it, and the tokenizer then fails with "Resource ...
  SentencepieceOp ... does not exist". Cached tokenizers are checked and re-created.
  """
  if not isinstance(tokenizer, SentencePieceTokenizer):
    return True
  try:
    tokenizer(tf.constant([""]))
    return True
  except tf.errors.NotFoundError:
    return False


@register("tokenize")
def tokenize(max_len: int, model: str = "mg_shapes_sp", kind: Optional[str] = None, eos: str = "sticky",
             pad_value: Optional[int] = None, lower: bool = True, inkey: str = "texts",
             outkey: str = "labels"):
  """Tokenizes the string (or string vector) `inkey` into int32 ids [max_len] (or [n, max_len]) `outkey`.

  SentencePiece: big_vision's `tokenize(max_len, eos='sticky', pad_value=EOS)` convention by default;
  WordPiece: `[CLS]` first, zero padding (big_vision's `bert_tokenize`).
  """
  tokenizer = get_tokenizer(model, max_len, kind=kind, eos=eos, pad_value=pad_value, lower=lower)

  def op(example):
    if inkey not in example:
      raise KeyError(f"tokenize needs the text key {inkey!r}; the example has {sorted(example)}. Pass "
                     "inkey=..., or pick a caption first with sample_caption(inkey='captions', outkey='texts').")
    example = dict(example)
    example[outkey] = tokenizer(example[inkey])
    return example
  return op


@register("sample_caption")
def sample_caption(inkey: str = "captions", outkey: str = "texts"):
  """Draws one string of the vector `inkey` (e.g. an image's captions) into `outkey`, per example seed.

  A scalar `inkey` is copied as it is. The draw uses `op_rng(example, "sample_caption")`.
  """
  def op(example):
    if inkey not in example:
      raise KeyError(f"sample_caption needs the key {inkey!r}; the example has {sorted(example)}.")
    example = dict(example)
    captions = example[inkey]
    if isinstance(captions, tf.RaggedTensor):
      captions = captions.flat_values
    if captions.shape.rank == 0:
      example[outkey] = captions
      return example
    captions = tf.reshape(captions, [-1])
    count = tf.shape(captions)[0]
    with tf.control_dependencies([tf.debugging.assert_positive(
        count, message=f"sample_caption: the example has no strings under {inkey!r}")]):
      index = tf.random.stateless_uniform([], op_rng(example, "sample_caption"), minval=0,
                                          maxval=tf.maximum(count, 1), dtype=tf.int32)
    example[outkey] = tf.gather(captions, index)
    return example
  return op


@register("fixed_captions")
def fixed_captions(num: int, inkey: str = "captions", outkey: str | None = None):
  """Cuts or pads the string vector `inkey` to `num` entries with "" (so examples with different caption
  counts batch; the retrieval evaluator skips empty captions)."""
  def op(example):
    example = dict(example)
    captions = example[inkey]
    if isinstance(captions, tf.RaggedTensor):
      captions = captions.flat_values
    captions = tf.reshape(captions, [-1])[:num]
    captions = tf.pad(captions, [[0, num - tf.shape(captions)[0]]], constant_values="")
    example[outkey or inkey] = tf.ensure_shape(captions, [num])
    return example
  return op
