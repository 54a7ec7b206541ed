"""Resampling and activation helpers of compare_gan's architectures (`resnet_ops`, `arch_ops`)."""

from __future__ import annotations

from keras import ops

Z_DISTRIBUTIONS = ("uniform", "normal")


def unpool(x):
  """compare_gan's `resnet_ops.unpool`: 2x upsampling by zero insertion.

  Each input pixel lands at (2i, 2j) and the other three positions are zeros (not nearest-neighbour
  upsampling as in the SNGAN and BigGAN papers' code); the 3x3 convolution that follows interpolates.
  """
  _, height, width, channels = x.shape
  zeros = ops.zeros_like(x)
  x = ops.reshape(ops.stack([x, zeros], axis=3), (-1, height, 2 * width, channels))
  zeros = ops.zeros_like(x)
  return ops.reshape(ops.stack([x, zeros], axis=2), (-1, 2 * height, 2 * width, channels))


def downsample(x):
  """2x2 average pooling with stride 2 and "SAME" padding (compare_gan's `tf.nn.pool(..., "AVG", "SAME")`)."""
  return ops.average_pool(x, 2, 2, padding="same")


def lrelu(x, leak: float = 0.2):
  return ops.maximum(x, leak * x)


def check_power_of_two(size: int, who: str, minimum: int = 4, maximum: int | None = None):
  if size < minimum or size & (size - 1) or (maximum and size > maximum):
    limit = f" and at most {maximum}" if maximum else ""
    raise ValueError(f"{who}: image_size must be a power of two, at least {minimum}{limit}; got {size}.")
