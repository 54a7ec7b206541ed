"""BERT WordPiece tokenization inside the TensorFlow graph, as LiT's BERT text towers expect it."""

from __future__ import annotations

import os
from typing import List, Optional, Sequence, Union

import tensorflow as tf

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
#: The reserved tokens of a BERT vocabulary, first in every vocabulary model_garden trains.
RESERVED_TOKENS = (PAD, UNK, CLS, SEP, MASK)


def read_vocab(vocab: Union[str, os.PathLike, Sequence[str]]) -> List[str]:
  """The tokens of a vocabulary: a list, or a `vocab.txt` file with one token per line."""
  if isinstance(vocab, (str, os.PathLike)):
    path = os.fspath(vocab)
    if not os.path.exists(path):
      raise FileNotFoundError(f"No WordPiece vocabulary file {path!r}. Train one with "
                              "model_garden.text.train_wordpiece(texts, vocab_size) or "
                              "`python -m model_garden.text.vocab --kind=wordpiece ...`.")
    with open(path, encoding="utf-8") as f:
      return [line.rstrip("\n") for line in f if line.rstrip("\n")]
  return [str(t) for t in vocab]


class WordPieceTokenizer(tf.Module):
  """Strings -> fixed-length int32 ids with BERT's WordPiece: `[CLS]` first, no `[SEP]`, zero padding.

  The tokenization of LiT's BERT text towers (Zhai et al. 2022; big_vision `pp/proj/flaxformer/bert_ops.py`
  and vision_transformer `vit_jax/preprocess.py::BertTokenizer`): `tensorflow_text.BertTokenizer` with
  `lower_case=True` splits the text into words and word pieces, the pieces are cut to `max_len - 1`,
  `[CLS]` is prepended and the row is padded with `[PAD]` (id 0) to `max_len`. The BERT encoder masks the
  padding (`tokens != 0`) and pools the `[CLS]` position. Unknown pieces map to `[UNK]`.

  It is a `tf.Module` holding its vocabulary table, so `ExportArchive.track(tokenizer)` exports it.

  Args:
    vocab: a `vocab.txt` path (one token per line) or a list of tokens; `[PAD]` must be id 0 and the
      vocabulary must hold `[CLS]` and `[UNK]`.
    max_len: length of every output row, `[CLS]` included.
    lower_case: lower-case and strip accents first (BERT uncased).

  Example:
    >>> tok = WordPieceTokenizer("vocab.txt", max_len=16)
    >>> tok(["Two red circles"])[0, :4]   # [CLS] two red circles
  """

  def __init__(self, vocab: Union[str, os.PathLike, Sequence[str]], max_len: int, *, lower_case: bool = True,
               name: Optional[str] = None):
    super().__init__(name=name)
    import tensorflow_text  # pylint: disable=g-import-not-at-top  (registers the WordPiece ops)
    self.tokens = read_vocab(vocab)
    self.vocab_path = os.fspath(vocab) if isinstance(vocab, (str, os.PathLike)) else None
    for token in (PAD, CLS, UNK):
      if token not in self.tokens:
        raise ValueError(f"The WordPiece vocabulary has no {token} token; BERT tokenization needs "
                         f"{PAD} (id 0), {CLS} and {UNK}.")
    if self.tokens.index(PAD) != 0:
      raise ValueError(f"{PAD} must be id 0 (the BERT encoder masks tokens == 0); it is id "
                       f"{self.tokens.index(PAD)}.")
    if int(max_len) < 2:
      raise ValueError(f"max_len must be at least 2 ([CLS] and one piece), got {max_len}.")
    self.max_len = int(max_len)
    self.lower_case = bool(lower_case)
    self.vocab_size = len(self.tokens)
    self.pad_id, self.cls_id, self.unk_id = 0, self.tokens.index(CLS), self.tokens.index(UNK)
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(self.tokens), tf.range(self.vocab_size, dtype=tf.int64))
    self._table = tf.lookup.StaticVocabularyTable(initializer, num_oov_buckets=1)
    self._bert = tensorflow_text.BertTokenizer(self._table, token_out_type=tf.int32,
                                               lower_case=self.lower_case, unknown_token=UNK)

  def __call__(self, texts) -> tf.Tensor:
    """int32 ids [..., max_len] for a string tensor of rank 0 or 1."""
    texts = tf.convert_to_tensor(texts, tf.string)
    if texts.shape.rank not in (0, 1):
      raise ValueError(f"Tokenize a string scalar or vector; got a tensor of shape {texts.shape}.")
    scalar = texts.shape.rank == 0
    if scalar:
      texts = texts[None]
    pieces = self._bert.tokenize(texts).merge_dims(-2, -1)  # [N, words, pieces] -> [N, pieces]
    body = pieces.to_tensor(self.pad_id, shape=[None, self.max_len - 1])
    cls = tf.fill([tf.shape(body)[0], 1], tf.constant(self.cls_id, tf.int32))
    ids = tf.ensure_shape(tf.concat([cls, body], axis=1), [None, self.max_len])
    return ids[0] if scalar else ids

  def detokenize(self, ids) -> tf.Tensor:
    """The (lower-cased) text of id rows [N, L] or one row [L], without `[CLS]` and padding."""
    ids = tf.convert_to_tensor(ids, tf.int32)
    single = ids.shape.rank == 1
    if single:
      ids = ids[None]
    keep = tf.not_equal(ids, self.pad_id) & tf.not_equal(ids, self.cls_id)
    words = self._bert.detokenize(tf.ragged.boolean_mask(ids, keep))
    texts = tf.strings.reduce_join(words, axis=-1, separator=" ")
    return texts[0] if single else texts
