"""Input checks shared by every network: a wrong image fails early with the fix in the message."""

from __future__ import annotations

import keras


class ImageInputError(ValueError):
  """Images of the wrong rank, channel count or dtype were given to a network."""


def check_images(images, model_name: str = "model", channels: int = 3) -> None:
  """Checks a batch of images is (batch, height, width, channels) floats; raises ImageInputError if not.

  Networks take float images in [-1, 1] (the original JAX code's convention). Integer images mean a
  preprocessing step is missing, so the error names the op that fixes it.
  """
  shape = tuple(images.shape)
  if len(shape) != 4:
    hint = (" Add a batch dimension: images[None]." if len(shape) == 3 else "")
    raise ImageInputError(
        f"{model_name} expects a batch of images of shape (batch, height, width, {channels}); got rank "
        f"{len(shape)} with shape {shape}.{hint}")
  if shape[-1] is not None and shape[-1] != channels:
    hint = " Convert grayscale with tf.image.grayscale_to_rgb." if shape[-1] == 1 else ""
    hint = " Drop the alpha channel: images[..., :3]." if shape[-1] == 4 else hint
    raise ImageInputError(
        f"{model_name} expects {channels} channels (last axis, channels-last), got shape {shape}.{hint}")
  dtype = keras.backend.standardize_dtype(images.dtype)
  if "float" not in dtype:
    raise ImageInputError(
        f"{model_name} expects float images in [-1, 1], got dtype {dtype}. Convert with the "
        "preprocessing op value_range(-1, 1) (or images / 127.5 - 1).")
