"""SentencePiece tokenization inside the TensorFlow graph, with big_vision's EOS and padding conventions."""

from __future__ import annotations

import os
from typing import Optional, Union

import tensorflow as tf

EOS_MODES = ("sticky", "yes", "none")


def _read_model(model: Union[str, bytes, os.PathLike]) -> bytes:
  if isinstance(model, bytes):
    return model
  path = os.fspath(model)
  if not os.path.exists(path):
    raise FileNotFoundError(f"No SentencePiece model file {path!r}. Train one with "
                            "model_garden.text.train_sentencepiece(texts, vocab_size) or "
                            "`python -m model_garden.text.vocab --kind=sentencepiece ...`.")
  with open(path, "rb") as f:
    return f.read()


def _special_ids(model_bytes: bytes):
  """(pad, eos, unk, bos, vocab size) of a serialized SentencePiece model (-1 where a piece is disabled)."""
  import sentencepiece  # pylint: disable=g-import-not-at-top  (metadata only; tokenizing uses tf-text)
  processor = sentencepiece.SentencePieceProcessor()
  processor.LoadFromSerializedProto(model_bytes)
  return (processor.pad_id(), processor.eos_id(), processor.unk_id(), processor.bos_id(),
          processor.GetPieceSize())


class SentencePieceTokenizer(tf.Module):
  """Strings -> fixed-length int32 token ids with a SentencePiece model, as big_vision's `tokenize` op.

  The tokenizer of LiT's own text towers ("LiT: Zero-Shot Transfer with Locked-image text Tuning", Zhai
  et al. 2022) and of the text transformer in big_vision (`pp/ops_text.py::tokenize`): texts are
  lower-cased (optional), split by a `tensorflow_text.SentencepieceTokenizer` in-graph (so an exported
  SavedModel takes raw strings), then cut or padded to `max_len`. With max_len=3, EOS id 1 and "a" = 2:

  * `eos="sticky"` (default, the contrastive convention): the EOS token is always kept at the end, also
    when the text is cut: "a" -> [2, 1, 1], "aaa" -> [2, 2, 1]. Padding defaults to the EOS id, so the
    last position always holds EOS and the text tower can pool the last token (`pool="last"`).
  * `eos="yes"`: EOS appended, then cut: "aaa" -> [2, 2, 2]; padding defaults to the model's pad id.
  * `eos="none"`: no EOS: "a" -> [2, 0, 0] with pad 0.

  It is a `tf.Module`, so `keras.export.ExportArchive.track(tokenizer)` puts the SentencePiece model into a
  SavedModel (load it after `import tensorflow_text`). Caveat from tensorflow-text: the model is a
  kernel-owned resource that `tf.random.set_seed` (and `keras.utils.set_random_seed`) deletes when it clears
  TensorFlow's kernel cache; create tokenizers after seeding, or get them from
  `model_garden.text.get_tokenizer`, which re-creates dead ones.

  Args:
    model: the serialized model (bytes) or the path of a `.model` file.
    max_len: length of every output row.
    eos: "sticky", "yes" or "none" (see above).
    pad_value: id used for padding; default the EOS id for "sticky", else the model's pad id (0 if none).
    lower: lower-case the text first (UTF-8 aware), as big_vision's default.
    add_bos: prepend the model's BOS token.

  Example:
    >>> tok = SentencePieceTokenizer("mg_shapes.model", max_len=16)
    >>> tok(["two red circles", "a blue star"]).shape
    TensorShape([2, 16])
    >>> tok.detokenize(tok(["two red circles"]))
    <tf.Tensor: ... numpy=array([b'two red circles'], dtype=object)>
  """

  def __init__(self, model: Union[str, bytes, os.PathLike], max_len: int, *, eos: str = "sticky",
               pad_value: Optional[int] = None, lower: bool = True, add_bos: bool = False,
               name: Optional[str] = None):
    super().__init__(name=name)
    import tensorflow_text  # pylint: disable=g-import-not-at-top  (registers the SentencePiece ops)
    if eos not in EOS_MODES:
      raise ValueError(f"eos must be one of {EOS_MODES}, got {eos!r}.")
    if int(max_len) < (2 if eos == "sticky" else 1):
      raise ValueError(f"max_len must be at least {2 if eos == 'sticky' else 1} for eos={eos!r}, got {max_len}.")
    self.model_bytes = _read_model(model)
    self.model_path = None if isinstance(model, bytes) else os.fspath(model)
    pad_id, eos_id, self.unk_id, bos_id, self.vocab_size = _special_ids(self.model_bytes)
    if eos != "none" and eos_id < 0:
      raise ValueError("This SentencePiece model has no EOS piece (trained with eos_id=-1); use eos='none' "
                       "or retrain with model_garden.text.train_sentencepiece (eos id 1).")
    if add_bos and bos_id < 0:
      raise ValueError("add_bos=True but the SentencePiece model has no BOS piece (bos_id=-1).")
    self.max_len = int(max_len)
    self.eos = eos
    self.eos_id = int(eos_id)
    self.pad_id = int(pad_id)
    if pad_value is None:
      pad_value = eos_id if eos == "sticky" else max(pad_id, 0)
    self.pad_value = int(pad_value)
    self.lower = bool(lower)
    self.add_bos = bool(add_bos)
    self._sp = tensorflow_text.SentencepieceTokenizer(model=self.model_bytes, out_type=tf.int32,
                                                      add_bos=self.add_bos, add_eos=False)

  def __call__(self, texts) -> tf.Tensor:
    """int32 ids [..., max_len] for a string tensor of rank 0 or 1."""
    texts = tf.convert_to_tensor(texts, tf.string)
    scalar = texts.shape.rank == 0
    if texts.shape.rank not in (0, 1):
      raise ValueError(f"Tokenize a string scalar or vector; got a tensor of shape {texts.shape}. Flatten it "
                       "first (tf.reshape(texts, [-1])).")
    if scalar:
      texts = texts[None]
    if self.lower:
      texts = tf.strings.lower(texts, encoding="utf-8")
    pieces = self._sp.tokenize(texts)
    lengths = tf.cast(pieces.row_lengths(), tf.int32)
    positions = tf.range(self.max_len, dtype=tf.int32)[None, :]
    if self.eos == "sticky":
      # Keep at most max_len - 1 pieces and put EOS right after them: a cut text still ends with EOS.
      lengths = tf.minimum(lengths, self.max_len - 1)
      ids = pieces.to_tensor(self.pad_value, shape=[None, self.max_len])
      ids = tf.where(positions == lengths[:, None], self.eos_id, ids)
    elif self.eos == "yes":
      ids = pieces.to_tensor(self.pad_value, shape=[None, self.max_len])
      ids = tf.where(positions == lengths[:, None], self.eos_id, ids)  # Dropped when the text fills max_len.
    else:
      ids = pieces.to_tensor(self.pad_value, shape=[None, self.max_len])
    ids = tf.ensure_shape(ids, [None, self.max_len])
    return ids[0] if scalar else ids

  def detokenize(self, ids) -> tf.Tensor:
    """The strings of id rows [N, L] (or one row [L]): stops at the first EOS and drops padding and BOS."""
    ids = tf.convert_to_tensor(ids, tf.int32)
    single = ids.shape.rank == 1
    if single:
      ids = ids[None]
    keep = tf.ones_like(ids, tf.bool)
    if self.eos != "none":
      keep = tf.math.cumsum(tf.cast(tf.equal(ids, self.eos_id), tf.int32), axis=1) == 0
    if self.pad_value != self.eos_id:
      keep &= tf.not_equal(ids, self.pad_value)
    texts = self._sp.detokenize(tf.ragged.boolean_mask(ids, keep))
    return texts[0] if single else texts

  def id_to_piece(self, ids) -> tf.Tensor:
    return self._sp.id_to_string(ids)
