"""Blur corruptions: defocus, glass, motion, zoom (benchmark) and gaussian (extra).

Each takes an NHWC float32 batch in [0, 1], a severity 1..5 and a stateless seed, and returns the batch in
[0, 1].
"""

from __future__ import annotations

import functools
import math

import numpy as np
import tensorflow as tf

from model_garden.data.corruptions import filters, params


@functools.lru_cache(maxsize=None)
def defocus_kernel(radius: int, alias_blur: float) -> np.ndarray:
  """The reference's `disk`: a normalised disk, anti-aliased by cv2.GaussianBlur.

  The disk lives on a 17x17 grid (radius <= 8) or a (2r+1)^2 grid, and is blurred by a 3x3 (radius <= 8)
  or 5x5 Gaussian of std `alias_blur` with OpenCV's kernel (exp(-t^2 / 2 sigma^2), normalised) and border
  (BORDER_REFLECT_101), computed here in float64 (a constant, built once per severity).
  """
  if radius <= 8:
    grid, ksize = np.arange(-8, 9), 3
  else:
    grid, ksize = np.arange(-radius, radius + 1), 5
  xx, yy = np.meshgrid(grid, grid)
  disk = ((xx ** 2 + yy ** 2) <= radius ** 2).astype(np.float64)
  disk /= disk.sum()
  t = np.arange(ksize) - (ksize - 1) / 2.0
  g = np.exp(-t * t / (2.0 * alias_blur * alias_blur))
  g /= g.sum()
  r = ksize // 2
  padded = np.pad(disk, r, mode="reflect")  # numpy 'reflect' is BORDER_REFLECT_101
  rows = sum(g[i] * padded[i:i + disk.shape[0], :] for i in range(ksize))
  return sum(g[i] * rows[:, i:i + disk.shape[1]] for i in range(ksize)).astype(np.float32)


def defocus_blur(x, severity, seed):
  """cv2.filter2D with the anti-aliased disk, BORDER_REFLECT_101 (exact up to float32)."""
  del seed
  radius, alias_blur = params.DEFOCUS_BLUR[severity - 1]
  return tf.clip_by_value(filters.correlate2d(x, defocus_kernel(radius, alias_blur), "reflect101"), 0.0, 1.0)


def glass_blur(x, severity, seed):
  """Gaussian blur, local pixel shuffling, Gaussian blur again.

  Approximate: the reference swaps every pixel in [d + 1, size - d] with one at a uniform offset in
  [-d, d) in a sequential Python loop (a permutation; pixels ride chains of swaps, up to ~20 px). Here each
  pixel in that window instead reads the pixel at a rounded-Gaussian offset whose per-axis std matches the
  loop's measured displacement (params.GLASS_BLUR_DISPLACEMENT_STD), in one gather: symmetric rather than
  skewed towards the loop's scan direction, and not a permutation (a pixel may be read twice). The blurs
  (skimage.filters.gaussian, truncate 4, 'nearest' border) and the uint8 truncation in between are exact.
  """
  sigma, delta, _ = params.GLASS_BLUR[severity - 1]
  std = params.GLASS_BLUR_DISPLACEMENT_STD[severity - 1]
  y = filters.gaussian_filter(x, sigma)
  y = tf.floor(y * 255.0) / 255.0  # np.uint8(blurred * 255) truncates
  shape = tf.shape(y)
  n, h, w = shape[0], shape[1], shape[2]
  step_std = math.sqrt(std * std - 1.0 / 12.0)  # rounding adds 1/12 to the variance
  offsets = tf.cast(tf.round(tf.random.stateless_normal([n, h, w, 2], seed, stddev=step_std)), tf.int32)
  rows = tf.range(h)[None, :, None]
  cols = tf.range(w)[None, None, :]
  inside = ((rows > delta) & (rows <= h - delta)) & ((cols > delta) & (cols <= w - delta))
  src_rows = tf.clip_by_value(tf.where(inside, rows + offsets[..., 0], rows), 0, h - 1)
  src_cols = tf.clip_by_value(tf.where(inside, cols + offsets[..., 1], cols), 0, w - 1)
  flat = tf.reshape(y, [n, -1, shape[3]])
  y = tf.reshape(tf.gather(flat, src_rows * w + src_cols, batch_dims=1), shape)
  y.set_shape(x.shape)
  return tf.clip_by_value(filters.gaussian_filter(y, sigma), 0.0, 1.0)


def motion_blur(x, severity, seed):
  """ImageMagick's -motion-blur (radius, sigma) at a uniform angle in [-45, 45) degrees.

  Reimplements ImageMagick 6's MotionBlurImage kernel (filters.motion_blur) instead of calling Wand; the
  reference's PNG round trip is the final rounding to 8 bits. tfds' copy draws uniform(-45, -45), i.e. a
  fixed -45; this follows the ImageNet-C script.
  """
  radius, sigma = params.MOTION_BLUR[severity - 1]
  angles = tf.random.stateless_uniform([tf.shape(x)[0]], seed, *params.MOTION_BLUR_ANGLE, dtype=tf.float64)
  return tf.clip_by_value(filters.motion_blur(x, radius, sigma, angles), 0.0, 1.0)


def zoom_blur(x, severity, seed):
  """Mean of the image and its clipped zooms by the severity's factors (exact up to float32)."""
  del seed
  factors = params.zoom_factors(severity)
  out = x
  for zoom in factors:
    out = out + filters.clipped_zoom(x, zoom)
  return tf.clip_by_value(out / (len(factors) + 1), 0.0, 1.0)


def gaussian_blur(x, severity, seed):
  """skimage.filters.gaussian(sigma=c): truncate 4, 'nearest' border (exact up to float32)."""
  del seed
  return tf.clip_by_value(filters.gaussian_filter(x, params.GAUSSIAN_BLUR[severity - 1]), 0.0, 1.0)
