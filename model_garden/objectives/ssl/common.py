"""Batch construction and loss pieces shared by the self-supervised and semi-supervised objectives.

Everything here is a pure function of tensors (and of an explicit stateless seed), so each piece is
tested on its own against a hand or NumPy computation.
"""

from __future__ import annotations

import re
import zlib
from typing import Iterable

import keras
import tensorflow as tf

NUM_ROTATIONS = 4


# -- Randomness ---------------------------------------------------------------------------------------
def next_seed(seed_generator: keras.random.SeedGenerator, salt: str) -> tf.Tensor:
  """A fresh stateless seed ([2] int64) from an objective's checkpointed generator, folded with `salt`.

  The generator's state is a variable of the objective, so a resumed run replays the same draws.
  """
  base = tf.cast(seed_generator.next(), tf.int64)
  return tf.random.experimental.stateless_fold_in(base, zlib.crc32(salt.encode()))


# -- Labels and reductions ----------------------------------------------------------------------------
def class_indices(labels) -> tf.Tensor:
  """int32 class ids from integer labels or one-hot / soft label vectors (argmax)."""
  labels = tf.convert_to_tensor(labels)
  if labels.shape.rank == 2:
    return tf.argmax(labels, axis=-1, output_type=tf.int32)
  return tf.cast(labels, tf.int32)


def sparse_xent(labels, logits) -> tf.Tensor:
  """Per-example softmax cross-entropy; labels are int ids (negative ids are fine when masked out)."""
  logits = tf.cast(logits, tf.float32)
  safe = tf.maximum(tf.cast(labels, tf.int32), 0)
  return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)


def masked_mean(values, mask) -> tf.Tensor:
  """sum(mask * values) / max(sum(mask), 1): the mean over the selected examples, 0 if none."""
  mask = tf.cast(mask, tf.float32)
  values = tf.cast(values, tf.float32)
  return tf.reduce_sum(mask * values) / tf.maximum(tf.reduce_sum(mask), 1.0)


def accuracy(labels, logits, mask=None) -> tf.Tensor:
  hit = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(labels, tf.int32)), tf.float32)
  return tf.reduce_mean(hit) if mask is None else masked_mean(hit, mask)


def labelled_mask(batch, batch_size) -> tf.Tensor:
  """float32 [B]: `batch["labelled"]` (the semi-supervised data layout) or all ones if absent."""
  if "labelled" in batch:
    return tf.cast(tf.reshape(batch["labelled"], [-1]), tf.float32)
  return tf.ones([batch_size], tf.float32)


def l2_penalty(variables: Iterable, weight_decay: float, decay_regex: str) -> tf.Tensor:
  """`weight_decay / 2 * sum(w^2)` over variables whose path matches `decay_regex` (re.search).

  The coupled L2 of the original TF1 code (`tf.contrib.layers.l2_regularizer(scale)` = scale * l2_loss),
  added to the loss so it passes through momentum exactly as there.
  """
  if not weight_decay:
    return tf.constant(0.0)
  decayed = [v for v in variables if re.search(decay_regex, v.path)]
  if not decayed:
    return tf.constant(0.0)
  return 0.5 * weight_decay * tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in decayed])


# -- Rotation ------------------------------------------------------------------------------------------
def rotate_images(images):
  """The four rotations of every image: [B, S, S, C] -> ([4B, S, S, C], int32 labels [4B]).

  Image-major (image 0 at 0, 90, 180, 270 degrees, then image 1, ...); label k is a counter-clockwise
  rotation by k * 90 degrees (`np.rot90(image, k)`), as the original's `get_rotate_preprocess`.
  """
  if images.shape[1] is not None and images.shape[1] != images.shape[2]:
    raise ValueError(f"Rotation needs square images so all four rotations batch together; got shape "
                     f"{images.shape}. Crop them square in the preprocessing (e.g. central_crop(S)).")
  rot90 = tf.transpose(tf.reverse(images, [2]), [0, 2, 1, 3])
  rot180 = tf.reverse(images, [1, 2])
  rot270 = tf.reverse(tf.transpose(images, [0, 2, 1, 3]), [2])
  stacked = tf.stack([images, rot90, rot180, rot270], axis=1)
  batch = tf.shape(images)[0]
  flat = tf.reshape(stacked, tf.concat([[batch * NUM_ROTATIONS], tf.shape(images)[1:]], 0))
  labels = tf.tile(tf.range(NUM_ROTATIONS, dtype=tf.int32), [batch])
  return flat, labels


# -- Augmentation in the objective ---------------------------------------------------------------------
def random_grayscale(images, probability: float, seed):
  """Replaces each image by the mean of its channels with `probability` (the original's `to_gray`)."""
  if probability <= 0:
    return images
  batch = tf.shape(images)[0]
  draw = tf.random.stateless_uniform([batch, 1, 1, 1], seed)
  gray = tf.repeat(tf.reduce_mean(images, axis=-1, keepdims=True), images.shape[-1], axis=-1)
  return tf.where(draw < probability, gray, images)


def random_boxes(count, seed, area_range=(0.05, 1.0), aspect_range=(3 / 4, 4 / 3)):
  """`count` normalised [y1, x1, y2, x2] boxes with area fraction and aspect ratio drawn uniformly.

  The Inception crop's distribution (Szegedy et al. 2015; area 5-100%, aspect 3/4-4/3) drawn in one
  vectorised step: a box that would not fit is shrunk to fit rather than redrawn.
  """
  seeds = tf.random.experimental.stateless_split(seed, 4)
  area = tf.random.stateless_uniform([count], seeds[0], area_range[0], area_range[1])
  log_ratio = tf.random.stateless_uniform([count], seeds[1], tf.math.log(aspect_range[0]),
                                          tf.math.log(aspect_range[1]))
  ratio = tf.exp(log_ratio)  # width / height
  height = tf.minimum(tf.sqrt(area / ratio), 1.0)
  width = tf.minimum(tf.sqrt(area * ratio), 1.0)
  top = tf.random.stateless_uniform([count], seeds[2]) * (1.0 - height)
  left = tf.random.stateless_uniform([count], seeds[3]) * (1.0 - width)
  return tf.stack([top, left, top + height, left + width], axis=-1)


def inception_views(images, num_views: int, size: int, seed, area_range=(0.05, 1.0), flip: bool = True,
                    brightness: float = 32.0 / 255.0, saturation=(0.5, 1.5)):
  """`num_views` Inception-style views of every image: [B, H, W, C] in [-1, 1] -> [B * num_views, S, S, C].

  Per view: a random box (`random_boxes`) resized bilinearly to `size`, a random left-right flip, a random
  brightness shift and saturation factor (slim `inception_preprocessing` in fast mode, which the
  original's Exemplar uses), clipped to [-1, 1]. View-major within each image: image 0's views first.
  """
  batch = tf.shape(images)[0]
  count = batch * num_views
  seeds = tf.random.experimental.stateless_split(seed, 4)
  boxes = random_boxes(count, seeds[0], area_range)
  box_images = tf.repeat(tf.range(batch), num_views)
  views = tf.image.crop_and_resize(images, boxes, box_images, [size, size], method="bilinear")
  if flip:
    flip_draw = tf.random.stateless_uniform([count, 1, 1, 1], seeds[1]) < 0.5
    views = tf.where(flip_draw, tf.reverse(views, [2]), views)
  if brightness:
    # brightness is in [0, 1] pixel units (slim's 32/255); images here span [-1, 1], twice as wide.
    delta = tf.random.stateless_uniform([count, 1, 1, 1], seeds[2], -brightness, brightness) * 2.0
    views = views + delta
  if saturation:
    factor = tf.random.stateless_uniform([count, 1, 1, 1], seeds[3], saturation[0], saturation[1])
    gray = tf.reduce_mean(views, axis=-1, keepdims=True)
    views = gray + (views - gray) * factor
  return tf.clip_by_value(views, -1.0, 1.0)


def output_width(network, image_shape, endpoint: str | None = None) -> int:
  """The last-axis size of `network(images)` (or of one of its intermediates), found symbolically."""
  shape = (1,) + tuple(image_shape[1:])
  if endpoint is None:
    spec = network.compute_output_spec(keras.KerasTensor(shape))
  else:
    spec = keras.src.backend.compute_output_spec(lambda x: network.intermediates(x)[endpoint],
                                                 keras.KerasTensor(shape))
  return int(spec.shape[-1])
