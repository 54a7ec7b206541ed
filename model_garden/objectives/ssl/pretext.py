"""Batch construction of the self-supervised pretext tasks: rotations, Inception-style views, shapes.

Each is a pure function of tensors (and of an explicit stateless seed), tested on its own against a hand or
NumPy computation. Generic pieces (seeds, masked means, L2) are in `model_garden.objectives.common`. Random draws
go through `objectives.randomness` (the same numbers under XLA; `rows`: this computation's rows of the step's
global batch, so a distributed step draws what a one-device step draws).
"""

from __future__ import annotations

from typing import Optional

import keras
import tensorflow as tf

from model_garden.layers.symbolic import output_spec
from model_garden.objectives import randomness
from model_garden.objectives.randomness import BatchRows

NUM_ROTATIONS = 4


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
def random_grayscale(images, probability: float, seed, rows: Optional[BatchRows] = None):
  """Replaces each image by the mean of its channels with `probability` (the original's `to_gray`)."""
  if probability <= 0:
    return images
  batch = tf.shape(images)[0]
  draw = randomness.uniform([batch, 1, 1, 1], seed, rows=rows)
  gray = tf.repeat(tf.reduce_mean(images, axis=-1, keepdims=True), images.shape[-1], axis=-1)
  return tf.where(draw < probability, gray, images)


def random_boxes(count, seed, area_range=(0.05, 1.0), aspect_range=(3 / 4, 4 / 3)):
  """`count` normalised [y1, x1, y2, x2] boxes with area fraction and aspect ratio drawn uniformly.

  The Inception crop's distribution (Szegedy et al. 2015; area 5-100%, aspect 3/4-4/3) drawn in one
  vectorised step: a box that would not fit is shrunk to fit rather than redrawn.
  """
  seeds = randomness.split(seed, 4)
  area = randomness.uniform([count], seeds[0], area_range[0], area_range[1])
  log_ratio = randomness.uniform([count], seeds[1], tf.math.log(aspect_range[0]), tf.math.log(aspect_range[1]))
  ratio = tf.exp(log_ratio)  # width / height
  height = tf.minimum(tf.sqrt(area / ratio), 1.0)
  width = tf.minimum(tf.sqrt(area * ratio), 1.0)
  top = randomness.uniform([count], seeds[2]) * (1.0 - height)
  left = randomness.uniform([count], seeds[3]) * (1.0 - width)
  return tf.stack([top, left, top + height, left + width], axis=-1)


def crop_and_resize(images, boxes, box_indices, size: int):
  """Bilinear crops of `images` [B, H, W, C] in normalised `boxes` [N, 4] (y1, x1, y2, x2), resized to size^2.

  `tf.image.crop_and_resize(images, boxes, box_indices, [size, size])`'s sampling grid and interpolation
  (output pixel i of a crop samples y1 (H - 1) + i (y2 - y1) (H - 1) / (size - 1)) written with gathers, which
  XLA compiles (its CropAndResize kernel has no XLA version). One difference: a coordinate outside the image
  is clamped to the border, where TensorFlow writes an extrapolation value of 0 for the whole row, which a box
  edge at 1.0 can reach by float rounding.
  """
  images = tf.convert_to_tensor(images)
  shape = tf.shape(images)
  height, width, channels = shape[1], shape[2], images.shape[-1]
  boxes = tf.cast(boxes, tf.float32)
  y1, x1, y2, x2 = tf.unstack(boxes, axis=1)

  def grid(start, stop, extent):
    """Source coordinates [N, size]: (integer below, integer above, fraction) of each output pixel."""
    last = tf.cast(extent - 1, tf.float32)
    if size > 1:
      scale = (stop - start) * last / (size - 1)
      coords = start[:, None] * last + tf.range(size, dtype=tf.float32)[None, :] * scale[:, None]
    else:
      coords = tf.tile((0.5 * (start + stop) * last)[:, None], [1, size])
    coords = tf.clip_by_value(coords, 0.0, last)
    low = tf.floor(coords)
    return tf.cast(low, tf.int32), tf.cast(tf.math.ceil(coords), tf.int32), coords - low

  top, bottom, y_lerp = grid(y1, y2, height)
  left, right, x_lerp = grid(x1, x2, width)
  rows = tf.reshape(images, [-1, width, channels])  # [B * H, W, C]: row r of image b is b * H + r
  base = tf.cast(box_indices, tf.int32)[:, None] * height
  top_rows, bottom_rows = tf.gather(rows, base + top), tf.gather(rows, base + bottom)  # [N, size, W, C]

  def columns(picked, index):
    return tf.cast(tf.gather(picked, index, axis=2, batch_dims=1), tf.float32)  # [N, size, size, C]

  x_lerp, y_lerp = x_lerp[:, None, :, None], y_lerp[:, :, None, None]
  top_left, top_right = columns(top_rows, left), columns(top_rows, right)
  bottom_left, bottom_right = columns(bottom_rows, left), columns(bottom_rows, right)
  upper = top_left + (top_right - top_left) * x_lerp
  lower = bottom_left + (bottom_right - bottom_left) * x_lerp
  return upper + (lower - upper) * y_lerp


def inception_views(images, num_views: int, size: int, seed, area_range=(0.05, 1.0), flip: bool = True,
                    brightness: float = 32.0 / 255.0, saturation=(0.5, 1.5), rows: Optional[BatchRows] = None):
  """`num_views` Inception-style views of every image: [B, H, W, C] in [-1, 1] -> [B * num_views, S, S, C].

  Per view: a random box (`random_boxes`) resized bilinearly to `size` (`crop_and_resize`), a random left-right
  flip, a random brightness shift and saturation factor (slim `inception_preprocessing` in fast mode, which the
  original's Exemplar uses), clipped to [-1, 1]. View-major within each image: image 0's views first.
  `size` is a Python int: the views of a batch share one static shape whatever the images' shapes. `rows`: the
  images' rows of the step's global batch (default: all of it); views are drawn per global view.
  """
  if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
    raise ValueError(f"inception_views needs the view side as a positive int, got {size!r} (an image batch's "
                     "height is often unknown while tracing: use the objective's view_size or the network's "
                     "image_size).")
  batch = tf.shape(images)[0]
  count = batch * num_views
  view_rows = (rows or BatchRows.all(batch)).repeat(num_views)
  seeds = randomness.split(seed, 4)
  boxes = view_rows.draw(lambda n: random_boxes(n, seeds[0], area_range))
  box_images = tf.repeat(tf.range(batch), num_views)
  views = crop_and_resize(images, boxes, box_images, size)
  if flip:
    flip_draw = randomness.uniform([count, 1, 1, 1], seeds[1], rows=view_rows) < 0.5
    views = tf.where(flip_draw, tf.reverse(views, [2]), views)
  if brightness:
    # brightness is in [0, 1] pixel units (slim's 32/255); images here span [-1, 1], twice as wide.
    delta = randomness.uniform([count, 1, 1, 1], seeds[2], -brightness, brightness, rows=view_rows) * 2.0
    views = views + delta
  if saturation:
    factor = randomness.uniform([count, 1, 1, 1], seeds[3], saturation[0], saturation[1], rows=view_rows)
    gray = tf.reduce_mean(views, axis=-1, keepdims=True)
    views = gray + (views - gray) * factor
  return tf.clip_by_value(views, -1.0, 1.0)


def view_size(size, network, objective: str) -> int:
  """The side of the views an objective cuts: `size`, else the network's `image_size`.

  Never the batch's own height: images of a `tf.data` pipeline usually have an unknown static height, and
  `crop_and_resize` needs a fixed output size.
  """
  size = size or getattr(network, "image_size", None)
  if not size:
    raise ValueError(f"{objective} cuts views of a fixed size: pass view_size=S, or build the network with "
                     "image_size=S.")
  return int(size)


def image_shape_of(network, image_shape=None):
  """`image_shape`, else (None, S, S, 3) from the network's `image_size` (what the trainer builds with)."""
  if image_shape is not None:
    return tuple(image_shape)
  size = getattr(network, "image_size", None)
  if not size:
    raise ValueError(f"{network.name} has no image_size: pass image_shape to build_for_training.")
  return (None, int(size), int(size), 3)


def output_width(network, image_shape, endpoint: str | None = None) -> int:
  """The last-axis size of `network(images)` (or of one of its intermediates), found symbolically."""
  shape = (1,) + tuple(image_shape[1:])
  if endpoint is None:
    spec = network.compute_output_spec(keras.KerasTensor(shape))
  else:
    spec = output_spec(lambda x: network.intermediates(x)[endpoint], keras.KerasTensor(shape))
  return int(spec.shape[-1])
