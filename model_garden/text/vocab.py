r"""Offline vocabulary training: SentencePiece (the `sentencepiece` package) and BERT WordPiece (tf-text).

Command line (reads the captions of a tfds dataset or an image-text source and writes the vocabulary):

  python -m model_garden.text.vocab --dataset=mg_shapes/px32 --split=train --kind=sentencepiece \
      --vocab_size=256 --output=/tmp/mg_shapes.model
  python -m model_garden.text.vocab --dataset=mg_shapes/px32 --kind=wordpiece --vocab_size=512 \
      --output=/tmp/vocab.txt

SentencePiece caps the vocabulary at what a small corpus supports ("Vocabulary size too high"): by default
the size is a soft limit here (`hard_vocab_limit=False`), so a tiny caption set gives a smaller vocabulary
instead of an error.
"""

from __future__ import annotations

import io
import os
from typing import Iterable, List, Optional, Sequence

from model_garden.text.wordpiece_tokenizer import RESERVED_TOKENS

# T5's special-piece layout, which big_vision's text pipeline assumes: pad 0, EOS 1 (the "sticky" token
# the text transformer pools), unk 2, no BOS.
SP_PAD_ID, SP_EOS_ID, SP_UNK_ID = 0, 1, 2


def train_sentencepiece(texts: Iterable[str], vocab_size: int, *, lower: bool = True,
                        model_type: str = "bpe", character_coverage: float = 1.0,
                        hard_vocab_limit: bool = False, output: Optional[str] = None) -> bytes:
  """Trains a SentencePiece model on `texts`; returns its serialized bytes (and writes `output` if given).

  Pieces 0, 1 and 2 are `<pad>`, `</s>` (EOS) and `<unk>`, as in T5's vocabularies used by big_vision, and
  there is no BOS. Normalisation is the identity (NFKC tables add ~240 kB and captions need none); the
  text is lower-cased first when `lower` (the tokenizer lower-cases too). Training uses one thread, so
  the same texts give the same model.

  Args:
    texts: training sentences.
    vocab_size: pieces wanted (a soft limit unless `hard_vocab_limit`).
    lower: lower-case the texts.
    model_type: "bpe" (default) or "unigram" (T5's vocabularies). On small caption sets (mg_shapes: ~100
      distinct words) unigram training splits even frequent words ("two" -> "t", "w", "o") while BPE keeps
      whole words, hence the default.
    character_coverage: fraction of characters covered by pieces.
    hard_vocab_limit: fail when the corpus cannot support `vocab_size` pieces.
    output: optional path of the `.model` file to write.
  """
  import sentencepiece  # pylint: disable=g-import-not-at-top
  sentences = [t.lower() if lower else t for t in texts if t]
  if not sentences:
    raise ValueError("train_sentencepiece got no non-empty texts.")
  writer = io.BytesIO()
  try:
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=writer, vocab_size=int(vocab_size),
        model_type=model_type, character_coverage=character_coverage, hard_vocab_limit=hard_vocab_limit,
        pad_id=SP_PAD_ID, eos_id=SP_EOS_ID, unk_id=SP_UNK_ID, bos_id=-1,
        normalization_rule_name="identity", num_threads=1, minloglevel=2)
  except RuntimeError as e:
    if "Vocabulary size" in str(e):
      raise ValueError(f"SentencePiece cannot make {vocab_size} pieces from {len(sentences)} sentences "
                       f"({e}). Lower vocab_size or pass hard_vocab_limit=False.") from None
    raise
  model = writer.getvalue()
  if output:
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "wb") as f:
      f.write(model)
  return model


def train_wordpiece(texts: Iterable[str], vocab_size: int, *, lower: bool = True,
                    reserved_tokens: Sequence[str] = RESERVED_TOKENS,
                    output: Optional[str] = None) -> List[str]:
  """Trains a BERT WordPiece vocabulary with tf-text's `bert_vocab_from_dataset` learner.

  The reserved tokens come first (`[PAD]` = 0, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`), so the vocabulary
  works with `WordPieceTokenizer` and the BERT encoder's zero-padding mask.

  Returns:
    The tokens in id order (also written to `output`, one per line, when given).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset  # pylint: disable=g-import-not-at-top
  sentences = [t for t in texts if t]
  if not sentences:
    raise ValueError("train_wordpiece got no non-empty texts.")
  dataset = tf.data.Dataset.from_tensor_slices(sentences).batch(1024)
  tokens = bert_vocab_from_dataset.bert_vocab_from_dataset(
      dataset, vocab_size=int(vocab_size), reserved_tokens=list(reserved_tokens),
      bert_tokenizer_params={"lower_case": lower})
  if output:
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
      f.write("\n".join(tokens) + "\n")
  return tokens


def dataset_captions(name: str, split: str = "train", *, key: str = "captions",
                     data_dir: Optional[str] = None, limit: Optional[int] = None) -> List[str]:
  """All captions of a dataset split (tfds name or image-text source spec), for vocabulary training.

  Images are never decoded: only the `key` feature is read.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from model_garden.data.pipeline import get_builder  # pylint: disable=g-import-not-at-top
  from model_garden.data.sources import lookup_source  # pylint: disable=g-import-not-at-top
  source = lookup_source(name, data_dir=data_dir)
  if source is not None:
    ds = source.as_dataset(split, shuffle_files=False)
  else:
    builder = get_builder(name, data_dir=data_dir)
    decoders = {"image": tfds.decode.SkipDecoding()} if "image" in builder.info.features else None
    ds = builder.as_dataset(split=split, shuffle_files=False, decoders=decoders)
  if key not in ds.element_spec:
    raise KeyError(f"{name} has no feature {key!r}; it has {sorted(ds.element_spec)}. Pass --key.")
  ds = ds.map(lambda example: tf.reshape(example[key], [-1])).unbatch().batch(4096)
  texts = []
  for batch in ds:
    texts.extend(t.decode("utf-8") for t in batch.numpy().tolist() if t)
    if limit and len(texts) >= limit:
      return texts[:limit]
  return texts


def main(argv=None):
  import argparse  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser(description="Train a SentencePiece or WordPiece vocabulary on captions.")
  parser.add_argument("--dataset", default="mg_shapes/px32", help="tfds name or image-text source spec.")
  parser.add_argument("--split", default="train")
  parser.add_argument("--key", default="captions", help="Feature holding the texts.")
  parser.add_argument("--data_dir", default=None)
  parser.add_argument("--kind", choices=("sentencepiece", "wordpiece"), default="sentencepiece")
  parser.add_argument("--vocab_size", type=int, default=256)
  parser.add_argument("--model_type", choices=("bpe", "unigram"), default="bpe")
  parser.add_argument("--limit", type=int, default=None, help="Use at most this many texts.")
  parser.add_argument("--output", required=True)
  args = parser.parse_args(argv)
  texts = dataset_captions(args.dataset, args.split, key=args.key, data_dir=args.data_dir, limit=args.limit)
  if args.kind == "sentencepiece":
    model = train_sentencepiece(texts, args.vocab_size, model_type=args.model_type, output=args.output)
    print(f"Wrote {args.output} ({len(model)} bytes) from {len(texts)} texts.")
  else:
    tokens = train_wordpiece(texts, args.vocab_size, output=args.output)
    print(f"Wrote {args.output} ({len(tokens)} tokens) from {len(texts)} texts.")


if __name__ == "__main__":
  main()
