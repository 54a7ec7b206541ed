"""Exports a two-tower (LiT) model as one SavedModel: image and text embeddings, and zero-shot classification.

Signatures (all outputs float32 unless noted):

  embed_images (= serving_default):
    inputs:  image_bytes  tf.string [None]                 encoded JPEG/PNG/GIF/BMP
    outputs: embeddings   [None, D]                        L2-normalised
  embed_images_uint8:
    inputs:  images       tf.uint8  [None, None, None, 3]  any height and width
    outputs: embeddings   [None, D]
  embed_texts:
    inputs:  texts        tf.string [None]                 raw text; tokenized in the graph
    outputs: embeddings   [None, D]
  zero_shot:
    inputs:  image_bytes  tf.string [None]; class_names tf.string [None] (any classes, chosen per request)
    outputs: logits [None, C] (temperature * cosine), probabilities [None, C] (softmax), classes int64 [None],
             class_name string [None]

Images are decoded and resized in the graph exactly as `model_garden.export` does for classifiers (decode,
float32 in [0, 255], `tf.image.resize(..., antialias=False)`, `x / 127.5 - 1`). Class names are turned into
prompts in the graph: canonicalised (lower-case, `_` -> space, punctuation except commas removed, spaces
collapsed), put into each template (canonicalised at export), embedded, averaged per class and
re-normalised, as `model_garden.evaluation.ZeroShotEvaluator` does.

The tokenizer (tensorflow-text SentencePiece or WordPiece ops) lives in the SavedModel: load it with
`import tensorflow_text` first (the stock TF-Serving model server links those ops).
"""

from __future__ import annotations

import os
import re
import string
from typing import Optional, Sequence, Union

import keras
import tensorflow as tf

from model_garden.export.serving import check_arguments, decode_and_preprocess, preprocess_uint8

EMBED_IMAGES = "embed_images"
EMBED_IMAGES_UINT8 = "embed_images_uint8"
EMBED_TEXTS = "embed_texts"
ZERO_SHOT = "zero_shot"
SIGNATURE_NAMES = ("serving_default", EMBED_IMAGES, EMBED_IMAGES_UINT8, EMBED_TEXTS, ZERO_SHOT)

# big_vision keeps commas in class names (alias lists) and turns `_` into spaces before dropping punctuation.
_PUNCTUATION = "[" + "".join(re.escape(c) for c in string.punctuation if c not in ",_") + "]"


def canonicalize_in_graph(texts: tf.Tensor) -> tf.Tensor:
  """The graph version of `model_garden.text.canonicalize(name, keep=",")` for class names."""
  texts = tf.strings.regex_replace(texts, "_", " ")
  texts = tf.strings.regex_replace(texts, _PUNCTUATION, "")
  texts = tf.strings.lower(texts, encoding="utf-8")
  texts = tf.strings.regex_replace(texts, r"\s+", " ")
  return tf.strings.strip(texts)


def _split_templates(templates: Sequence[str]):
  prefixes, suffixes = [], []
  for template in templates:
    prefix, _, suffix = template.partition("{}")
    prefixes.append(prefix)
    suffixes.append(suffix)
  return tf.constant(prefixes, tf.string), tf.constant(suffixes, tf.string)


def export_lit(model: keras.Model, output_dir, *, tokenizer: Union[str, tf.Module],
               templates: Union[str, Sequence[str]] = "class_name_only", image_size: Optional[int] = None,
               resize_method: str = "bilinear", verbose: bool = False) -> str:
  """Writes `model` (a `TwoTowers`) as a SavedModel with `embed_images`, `embed_texts` and `zero_shot`.

  Args:
    model: the two-tower network.
    output_dir: where to write (for TF-Serving, `<model_base_path>/<version>`).
    tokenizer: the training tokenizer: a `SentencePieceTokenizer` / `WordPieceTokenizer`, or a vocabulary
      (file path or shipped name such as "mg_shapes_sp") tokenized to the text tower's max_len with the
      defaults of `model_garden.text.get_tokenizer`.
    templates: the zero-shot prompt templates: a named set ("clip_paper", "mg_shapes_shape", ...) or a list
      of strings with one "{}"; canonicalised here.
    image_size: the image side the image tower expects (default: the model's).
    resize_method: the `tf.image.resize` method; must match the evaluation preprocessing.
    verbose: print Keras' listing of the endpoints.

  Returns:
    `output_dir`.

  Example:
    >>> export_lit(lit, "/tmp/lit/1", tokenizer="mg_shapes_sp", templates="mg_shapes_shape")
    >>> import tensorflow_text  # registers the tokenizer ops before loading
    >>> served = tf.saved_model.load("/tmp/lit/1")
    >>> served.signatures["zero_shot"](image_bytes=tf.stack([png]),
    ...                                class_names=tf.constant(["circle", "star"]))["class_name"]
  """
  from model_garden.text import get_tokenizer  # pylint: disable=g-import-not-at-top
  from model_garden.text import prompts  # pylint: disable=g-import-not-at-top
  if not all(hasattr(model, a) for a in ("embed_images", "embed_texts", "t")):
    raise TypeError(f"export_lit needs a two-tower model (models.get('two_towers(...)')), got "
                    f"{type(model).__name__}.")
  image_size = image_size or getattr(model, "image_size", None)
  check_arguments(image_size, None, "softmax", resize_method)
  if isinstance(tokenizer, str):
    tokenizer = get_tokenizer(tokenizer, model.max_len)
  if getattr(tokenizer, "max_len", model.max_len) > model.max_len:
    raise ValueError(f"The tokenizer makes {tokenizer.max_len} tokens but the text tower takes at most "
                     f"{model.max_len}.")
  prefixes, suffixes = _split_templates(prompts.templates(templates))
  num_templates = int(prefixes.shape[0])
  # Build the model's variables (an unbuilt model has nothing to export).
  model.embed_images(tf.zeros([1, image_size, image_size, 3]))
  model.embed_texts(tokenizer(tf.constant(["probe"])))

  def embed_images(image_bytes):
    images = decode_and_preprocess(image_bytes, image_size, resize_method)
    return {"embeddings": model.embed_images(images, training=False)}

  def embed_images_uint8(images):
    return {"embeddings": model.embed_images(preprocess_uint8(images, image_size, resize_method),
                                             training=False)}

  def embed_texts(texts):
    return {"embeddings": model.embed_texts(tokenizer(texts), training=False)}

  def zero_shot(image_bytes, class_names):
    names = canonicalize_in_graph(class_names)
    prompts_ = prefixes[None, :] + names[:, None] + suffixes[None, :]  # [C, T]; string `+` broadcasts.
    ztxt = model.embed_texts(tokenizer(tf.reshape(prompts_, [-1])), training=False)
    ztxt = tf.reshape(ztxt, [tf.shape(names)[0], num_templates, -1])
    classes = tf.math.l2_normalize(tf.reduce_mean(ztxt, axis=1), axis=-1, epsilon=1e-16)
    zimg = model.embed_images(decode_and_preprocess(image_bytes, image_size, resize_method), training=False)
    logits = tf.cast(model.temperature, tf.float32) * tf.matmul(zimg, classes, transpose_b=True)
    predicted = tf.argmax(logits, axis=-1)
    return {"logits": logits, "probabilities": tf.nn.softmax(logits, axis=-1), "classes": predicted,
            "class_name": tf.gather(class_names, predicted)}

  archive = keras.export.ExportArchive()
  archive.track(model)
  # The tokenizer holds a resource (SentencePiece model or vocabulary table) the endpoints capture; an
  # untracked one makes ExportArchive refuse the endpoint.
  archive.track(tokenizer)
  archive.add_endpoint(EMBED_IMAGES, embed_images,
                       input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
  archive.add_endpoint(EMBED_IMAGES_UINT8, embed_images_uint8,
                       input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
  archive.add_endpoint(EMBED_TEXTS, embed_texts, input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
  archive.add_endpoint(ZERO_SHOT, zero_shot,
                       input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes"),
                                        tf.TensorSpec([None], tf.string, name="class_names")])
  output_dir = os.fspath(output_dir)
  archive.write_out(output_dir, verbose=verbose)
  return output_dir
