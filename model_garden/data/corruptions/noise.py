"""Noise corruptions: gaussian, shot, impulse (benchmark) and speckle (extra).

Each takes an NHWC float32 batch in [0, 1], a severity 1..5 and a stateless seed, and returns the batch in
[0, 1]. The draws differ from the reference's numpy draws but follow the same distributions.
"""

from __future__ import annotations

import tensorflow as tf

from model_garden.data.corruptions import params


def gaussian_noise(x, severity, seed):
  """x + N(0, c^2), clipped (exact in distribution)."""
  c = params.GAUSSIAN_NOISE[severity - 1]
  return tf.clip_by_value(x + tf.random.stateless_normal(tf.shape(x), seed, stddev=c), 0.0, 1.0)


def shot_noise(x, severity, seed):
  """Poisson(x * c) / c, clipped (exact in distribution)."""
  c = float(params.SHOT_NOISE[severity - 1])
  counts = tf.random.stateless_poisson(tf.shape(x), seed, lam=x * c, dtype=tf.float32)
  return tf.clip_by_value(counts / c, 0.0, 1.0)


def impulse_noise(x, severity, seed):
  """skimage.util.random_noise(mode='s&p', amount=c): each value independently becomes 0 or 1.

  Matches current skimage (every element flips with probability c, half to salt, half to pepper). The 2018
  skimage that made ImageNet-C instead drew ceil(c * size / 2) salt and as many pepper coordinates with
  replacement, never hitting the last row, column or channel: the same rate up to collisions.
  """
  c = params.IMPULSE_NOISE[severity - 1]
  flip_seed, salt_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
  flipped = tf.random.stateless_uniform(tf.shape(x), flip_seed) < c
  salt = tf.random.stateless_uniform(tf.shape(x), salt_seed) < 0.5
  return tf.where(flipped, tf.cast(salt, x.dtype), x)


def speckle_noise(x, severity, seed):
  """x + x * N(0, c^2), clipped (exact in distribution)."""
  c = params.SPECKLE_NOISE[severity - 1]
  return tf.clip_by_value(x + x * tf.random.stateless_normal(tf.shape(x), seed, stddev=c), 0.0, 1.0)
