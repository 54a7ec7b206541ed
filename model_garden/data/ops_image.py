"""Image preprocessing ops. Sizes are (height, width) or one int for both; images are HWC."""

from __future__ import annotations

import tensorflow as tf

from model_garden.data.preprocess import PreprocessConfigError, op_rng, register


def _hw(size):
  if isinstance(size, int):
    return size, size
  size = tuple(size)
  if len(size) != 2:
    raise ValueError(f"A size is an int or (height, width), got {size!r}.")
  return int(size[0]), int(size[1])


def _check_fits(op_name: str, image, th: int, tw: int):
  """`image`, checked to be at least th x tw: statically when its sizes are known, else when it runs.

  A crop larger than the image is a configuration error; the static check reports it while the pipeline
  is built (`PreprocessConfigError`), the runtime one names the op and both sizes in the tf.data error.
  """
  h, w = (image.shape[0], image.shape[1]) if image.shape.rank is not None else (None, None)
  if (h is not None and h < th) or (w is not None and w < tw):
    raise PreprocessConfigError(
        f"{op_name} needs images of at least {th}x{tw} (height x width), but they are "
        f"{h if h is not None else '?'}x{w if w is not None else '?'}. Use a size of at most "
        f"{min(th, h or th)}x{min(tw, w or tw)}, or resize first, e.g. 'resize({max(th, tw)})|{op_name}'.")
  if h is not None and w is not None:
    return image
  shape = tf.shape(image)
  check = tf.debugging.Assert(
      tf.logical_and(shape[0] >= th, shape[1] >= tw),
      [f"{op_name} needs images of at least {th}x{tw} (height x width); this one is", shape[0], "x", shape[1]])
  with tf.control_dependencies([check]):
    return tf.identity(image)


def _on_image(fn, key):
  def op(example):
    example = dict(example)
    if key not in example:
      raise KeyError(f"Preprocessing op needs the key {key!r}; the example has {sorted(example)}. "
                     "Pass key=... to the op, or rename with copy(inkey=..., outkey=...).")
    example[key] = fn(example[key], example)
    return example
  return op


@register("decode")
def decode(channels: int = 3, key: str = "image"):
  """Decodes encoded image bytes (JPEG/PNG/GIF/BMP) to uint8 HWC with `channels` channels."""
  def fn(image, _):
    if image.dtype != tf.string:
      return image
    image = tf.io.decode_image(image, channels=channels, expand_animations=False)
    image.set_shape([None, None, channels])
    return image
  return _on_image(fn, key)


@register("resize")
def resize(size, method: str = "bilinear", antialias: bool = False, key: str = "image"):
  """Resizes to exactly `size`, as float32 in the input's value range (no rounding back to uint8).

  The exported SavedModel (model_garden.export.preprocess_uint8) does exactly this before mapping to
  [-1, 1], so `resize(S)|value_range(-1, 1)` in eval matches serving bit for bit.
  """
  hw = _hw(size)
  def fn(image, _):
    return tf.image.resize(tf.cast(image, tf.float32), hw, method=method, antialias=antialias)
  return _on_image(fn, key)


@register("resize_small")
def resize_small(smaller_size: int, method: str = "area", antialias: bool = False, key: str = "image"):
  """Resizes so the smaller side is `smaller_size`, keeping the aspect ratio."""
  def fn(image, _):
    dtype = image.dtype
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    ratio = tf.cast(smaller_size, tf.float32) / tf.cast(tf.minimum(h, w), tf.float32)
    new_h = tf.cast(tf.round(tf.cast(h, tf.float32) * ratio), tf.int32)
    new_w = tf.cast(tf.round(tf.cast(w, tf.float32) * ratio), tf.int32)
    out = tf.image.resize(tf.cast(image, tf.float32), (new_h, new_w), method=method, antialias=antialias)
    return _restore_dtype(out, dtype)
  return _on_image(fn, key)


@register("central_crop")
def central_crop(size, key: str = "image"):
  """Crops the central `size` window (the image must be at least that large)."""
  th, tw = _hw(size)
  def fn(image, _):
    image = _check_fits(f"central_crop({size})", image, th, tw)
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    top, left = (h - th) // 2, (w - tw) // 2
    out = tf.image.crop_to_bounding_box(image, top, left, th, tw)
    return out
  return _on_image(fn, key)


@register("random_crop")
def random_crop(size, key: str = "image"):
  """A uniformly placed `size` crop (stateless, from the example's seed)."""
  th, tw = _hw(size)
  def fn(image, example):
    image = _check_fits(f"random_crop({size})", image, th, tw)
    channels = image.shape[-1] if image.shape[-1] is not None else tf.shape(image)[-1]
    return tf.image.stateless_random_crop(image, [th, tw, channels], seed=op_rng(example, "random_crop"))
  return _on_image(fn, key)


@register("inception_crop")
def inception_crop(size=None, area_min: float = 5.0, area_max: float = 100.0, method: str = "bilinear",
                   key: str = "image"):
  """The Inception crop: a random box of 5-100% of the area, aspect ratio 3/4-4/3, resized to `size`."""
  hw = _hw(size) if size is not None else None
  def fn(image, example):
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), tf.zeros([0, 0, 4], tf.float32), seed=op_rng(example, "inception_crop"),
        area_range=(area_min / 100.0, area_max / 100.0), min_object_covered=0.0,
        use_image_if_no_bounding_boxes=True)
    crop = tf.slice(image, begin, crop_size)
    crop.set_shape([None, None, image.shape[-1]])
    if hw is None:
      return crop
    return _restore_dtype(tf.image.resize(tf.cast(crop, tf.float32), hw, method=method), image.dtype)
  return _on_image(fn, key)


@register("flip_lr")
def flip_lr(key: str = "image"):
  """Flips left-right with probability 1/2 (really random: BiT's TF2 pipeline always flipped)."""
  def fn(image, example):
    return tf.image.stateless_random_flip_left_right(image, seed=op_rng(example, "flip_lr"))
  return _on_image(fn, key)


@register("value_range")
def value_range(vmin: float = -1.0, vmax: float = 1.0, in_min: float = 0.0, in_max: float = 255.0,
                clip_values: bool = False, key: str = "image"):
  """Maps [in_min, in_max] linearly to [vmin, vmax] as float32 (models take [-1, 1])."""
  def fn(image, _):
    image = tf.cast(image, tf.float32)
    image = vmin + (image - in_min) * (vmax - vmin) / (in_max - in_min)
    if clip_values:
      image = tf.clip_by_value(image, vmin, vmax)
    return image
  return _on_image(fn, key)


@register("randaugment")
def randaugment(num_ops: int = 2, magnitude: float = 0.5, value_range=(0, 255), seed: int = 0,
                key: str = "image"):
  """Keras core's RandAugment on one uint8/float image in [0, 255] (before value_range).

  Keras' layer draws from its own seeded generator, not the example seed, so a resumed run does not
  replay the exact same RandAugment draws (all other ops do).
  """
  import keras  # pylint: disable=g-import-not-at-top
  layer = keras.layers.RandAugment(value_range=value_range, num_ops=num_ops, factor=magnitude, seed=seed)
  def fn(image, _):
    dtype = image.dtype
    return _restore_dtype(layer(tf.cast(image, tf.float32)), dtype)
  return _on_image(fn, key)


def _restore_dtype(image, dtype):
  if dtype == tf.uint8:
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
  return tf.cast(image, dtype)
