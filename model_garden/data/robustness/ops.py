"""Preprocessing ops of the robustness datasets: label sets, ObjectNet's border, mg_shapes' stand-in ReaL labels."""

from __future__ import annotations

import tensorflow as tf

from model_garden.data.preprocess import register

# mg_shapes shapes (render.SHAPES order: circle, square, triangle, diamond, star, cross, heart, ring) paired
# with the shape a small, 32-px rendering is most easily taken for: circle/ring, square/diamond (a square
# turned 45 degrees), triangle/heart, star/cross.
MG_SHAPES_PARTNER = (7, 3, 6, 1, 5, 4, 2, 0)
MG_SHAPES_SMALL = 0  # render.SIZES index of "small".


@register("labelset")
def labelset(depth: int, key: str = "real_label", key_result: str = "real_label"):
  """A variable-length list of class ids `key` -> a multi-hot float32 vector of size `depth` in `key_result`.

  An empty list gives all zeros (an image with no valid label, as 3,163 of ReaL's 50,000 are), never the
  -inf that a max over an empty one-hot would give; duplicate ids count once. This is the label input of
  `RealAccuracy` and `real_accuracy` ("multihot" form).
  """
  def op(example):
    example = dict(example)
    ids = tf.reshape(tf.cast(example[key], tf.int32), [-1])
    hot = tf.reduce_sum(tf.one_hot(ids, depth, dtype=tf.float32), axis=0)
    example[key_result] = tf.minimum(hot, 1.0)
    return example
  return op


@register("crop_border")
def crop_border(pixels: int = 2, key: str = "image"):
  """Crops `pixels` from every side: ObjectNet images carry a thin red border the authors crop away.

  The ObjectNet authors' evaluation template (objectnet_iterator.py) crops 2 px per side
  (`img.crop((2, 2, w - 2, h - 2))`), removing the 1 px border with a margin; that is the default.
  """
  if pixels < 0:
    raise ValueError(f"crop_border needs pixels >= 0, got {pixels}.")

  def op(example):
    example = dict(example)
    image = example[key]
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    example[key] = image[pixels:h - pixels, pixels:w - pixels]
    return example
  return op


@register("mg_shapes_real")
def mg_shapes_real(key_result: str = "real_label", empty_when_crowded: bool = True):
  """A constructed ReaL-style label set for mg_shapes (offline stand-in for `imagenet2012_real`).

  ReaL (Beyer et al. 2020) relabels each ImageNet image with the set of classes raters accept, possibly
  several, possibly none. mg_shapes has no such annotation, so this op builds one from its features:
    - the shape itself is always acceptable;
    - for small objects the shape most easily confused with it at low resolution is acceptable too
      (circle/ring, square/diamond, triangle/heart, star/cross), as ReaL accepts plausible alternatives;
    - with `empty_when_crowded`, four small objects give an empty set ("raters could not agree"), so such
      images leave the ReaL score, as ReaL's 3,163 empty images do.
  ReaL accuracy is then at least the original accuracy on the scored images: confusions between partners
  are forgiven. Writes a multi-hot float32 vector of size 8 in `key_result`.
  """
  def op(example):
    example = dict(example)
    label = tf.cast(example["label"], tf.int32)
    small = tf.equal(tf.cast(example["size"], tf.int32), MG_SHAPES_SMALL)
    partner = tf.gather(tf.constant(MG_SHAPES_PARTNER, tf.int32), label)
    hot = tf.one_hot(label, 8) + tf.cast(small, tf.float32) * tf.one_hot(partner, 8)
    if empty_when_crowded:
      crowded = small & tf.equal(tf.cast(example["count"], tf.int32), 4)
      hot = hot * (1.0 - tf.cast(crowded, tf.float32))
    example[key_result] = tf.minimum(hot, 1.0)
    return example
  return op
