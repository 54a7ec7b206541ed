"""In-graph tokenizers (SentencePiece, WordPiece), vocabulary training and the text pp ops."""

import numpy as np
import pytest
import tensorflow as tf

from model_garden.data.preprocess import get_preprocess_fn
from model_garden.text import ops_text  # noqa: F401  (registers tokenize, sample_caption)
from model_garden.text import (SentencePieceTokenizer, WordPieceTokenizer, get_tokenizer, train_sentencepiece,
                               train_wordpiece)

CORPUS = ["two small red triangles on the left", "a photo of 3 blue circles", "there is a big green star",
          "red circles, two of them, at the top", "a single hollow circle in the middle",
          "four tiny yellow hearts on the right", "an image of one large black square"] * 10


@pytest.fixture(scope="module")
def sp_model():
  return train_sentencepiece(CORPUS, 64)


@pytest.fixture(scope="module")
def wp_vocab():
  return train_wordpiece(CORPUS, 200)


def test_sentencepiece_round_trip_and_sticky_eos(sp_model):
  tok = SentencePieceTokenizer(sp_model, max_len=32)
  assert (tok.pad_id, tok.eos_id, tok.unk_id) == (0, 1, 2)
  texts = ["A photo of 3 blue circles", "red circles"]
  ids = tok(texts).numpy()
  assert ids.shape == (2, 32) and ids.dtype == np.int32
  np.testing.assert_array_equal(tok.detokenize(ids).numpy(), [t.lower().encode() for t in texts])
  for row in ids:  # Sticky EOS: pieces, then EOS repeated to the end (padding is EOS).
    first_eos = int(np.argmax(row == 1))
    assert first_eos > 0 and np.all(row[first_eos:] == 1) and np.all(row[:first_eos] > 2)
  long = tok("two small red triangles on the left " * 3).numpy()
  assert long.shape == (32,) and long[-1] == 1 and np.all(long[:-1] > 2)  # Cut, EOS kept last.


def test_sentencepiece_eos_modes_and_padding(sp_model):
  pieces = SentencePieceTokenizer(sp_model, max_len=40, eos="none", pad_value=0)("red circles").numpy()
  n = int(np.sum(pieces != 0))
  yes = SentencePieceTokenizer(sp_model, max_len=n + 2, eos="yes")("red circles").numpy()
  np.testing.assert_array_equal(yes, list(pieces[:n]) + [1, 0])  # EOS then the pad id.
  cut = SentencePieceTokenizer(sp_model, max_len=n, eos="yes")("red circles").numpy()
  np.testing.assert_array_equal(cut, pieces[:n])  # Too long: EOS dropped.
  sticky = SentencePieceTokenizer(sp_model, max_len=n, eos="sticky", pad_value=0)("red circles").numpy()
  np.testing.assert_array_equal(sticky, list(pieces[:n - 1]) + [1])
  padded = SentencePieceTokenizer(sp_model, max_len=n + 3, pad_value=0)("red circles").numpy()
  np.testing.assert_array_equal(padded, list(pieces[:n]) + [1, 0, 0])
  with pytest.raises(ValueError, match="eos must be"):
    SentencePieceTokenizer(sp_model, max_len=8, eos="always")


def test_vocabulary_size_is_a_soft_limit_by_default():
  model = train_sentencepiece(CORPUS[:7], 5000)
  assert SentencePieceTokenizer(model, max_len=4).vocab_size < 5000
  with pytest.raises(ValueError, match="hard_vocab_limit=False"):
    train_sentencepiece(CORPUS[:7], 5000, hard_vocab_limit=True)


def test_wordpiece_cls_first_zero_padding_and_round_trip(wp_vocab):
  assert wp_vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  tok = WordPieceTokenizer(wp_vocab, max_len=10)
  ids = tok(["Red Circles", "a photo of 3 blue circles at the top of it", "zebra"]).numpy()
  assert ids.shape == (3, 10)
  assert np.all(ids[:, 0] == tok.cls_id)
  np.testing.assert_array_equal(ids[0, 3:], 0)  # [CLS] red circles, then zero padding.
  assert np.all(ids[1] != 0)  # Cut to max_len - 1 pieces after [CLS]; no [SEP].
  assert tok.unk_id in ids[2]
  assert tok.detokenize(ids[:1]).numpy()[0] == b"red circles"
  with pytest.raises(ValueError, match=r"\[PAD\] must be id 0"):
    WordPieceTokenizer(["[UNK]", "[PAD]", "[CLS]"], max_len=4)


def test_shipped_mg_shapes_vocabularies_keep_caption_words():
  sp = get_tokenizer("mg_shapes_sp", 16)
  ids = sp(["Two small red triangles on the left"]).numpy()[0]
  assert int(np.sum(ids > 2)) == 7  # One piece per word.
  wp = get_tokenizer("mg_shapes_wp", 16)
  assert wp.unk_id not in wp(["a photo of 3 blue circles"]).numpy()


def test_tokenize_and_sample_caption_pp_ops():
  fn = get_preprocess_fn("sample_caption|tokenize(8, model='mg_shapes_sp')")
  captions = tf.constant(["red circles", "a blue star", "two hearts", "green ring", "a cross"])
  drawn = set()
  for seed in range(20):
    out = fn({"captions": captions, "_rng": tf.constant([seed, 0], tf.int64)})
    again = fn({"captions": captions, "_rng": tf.constant([seed, 0], tf.int64)})
    assert out["texts"].numpy() == again["texts"].numpy()  # Deterministic per example seed.
    assert out["labels"].shape == (8,) and out["labels"].dtype == tf.int32
    drawn.add(out["texts"].numpy())
  assert len(drawn) >= 4  # Different seeds draw different captions.
  with pytest.raises(KeyError, match="sample_caption"):
    get_preprocess_fn("tokenize(8)")({"captions": captions})


def test_cached_tokenizer_survives_set_random_seed():
  tok = get_tokenizer("mg_shapes_sp", 8)
  expected = tok(["a red star"]).numpy()
  tf.random.set_seed(1)  # Clears TF's kernel cache: tf-text's SentencePiece resource dies with it.
  np.testing.assert_array_equal(get_tokenizer("mg_shapes_sp", 8)(["a red star"]).numpy(), expected)
