"""The serving preprocessing contract without TensorFlow: resize methods and `preprocess_images`.

`model_garden.export.serving.preprocess_uint8` is the contract (`tf.image.resize(..., antialias=False)`,
then `x / 127.5 - 1`) and what the SavedModel runs. `preprocess_images` is the same arithmetic on any Keras
backend: on TensorFlow it is that function; on JAX and PyTorch it resizes with `keras.ops.image.resize`
(half-pixel centres, no antialiasing, as `tf.image.resize`), so a preset classifies on every backend.
"""

from __future__ import annotations

import keras
from keras import ops

from model_garden import backends

# The methods tf.image.resize accepts; checked before anything is traced.
RESIZE_METHODS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian",
                  "mitchellcubic")
# What keras.ops.image.resize computes as tf.image.resize does on JAX and PyTorch (tested to 1e-4); the
# bicubic kernels differ (PyTorch's a = -0.75 against TensorFlow's -0.5), so they stay TensorFlow-only.
PORTABLE_RESIZE_METHODS = ("bilinear",)


def preprocess_images(images, image_size: int, resize_method: str = "bilinear"):
  """uint8 images ([H, W, 3] or [N, H, W, 3], values in [0, 255]) -> float32 [..., S, S, 3] in [-1, 1].

  Example:
    >>> x = preprocess_images(np.zeros([2, 40, 48, 3], np.uint8), 32)
    >>> tuple(x.shape), float(x[0, 0, 0, 0])
    ((2, 32, 32, 3), -1.0)
  """
  if resize_method not in RESIZE_METHODS:
    raise ValueError(f"resize_method must be one of {RESIZE_METHODS}, got {resize_method!r}.")
  if backends.is_tensorflow():  # The serving contract itself (`serving.preprocess_uint8` calls this).
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    images = tf.cast(images, tf.float32)
    images = tf.image.resize(images, (image_size, image_size), method=resize_method, antialias=False)
    return images / 127.5 - 1.0
  if resize_method not in PORTABLE_RESIZE_METHODS:
    raise ValueError(f"resize_method {resize_method!r} is TensorFlow-only (tf.image.resize); on "
                     f"{keras.backend.backend()} use one of {PORTABLE_RESIZE_METHODS}.")
  images = ops.cast(ops.convert_to_tensor(images), "float32")
  images = ops.image.resize(images, (image_size, image_size), interpolation=resize_method, antialias=False)
  return images / 127.5 - 1.0
