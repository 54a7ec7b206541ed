"""Discriminator penalties: `fn(discriminator, real, fake, labels=None, seed=None, rows=None) -> scalar`.

As compare_gan's `gans/penalty_lib.py`; the objective adds `penalty_weight * penalty` to the discriminator
loss (compare_gan's `lambda`). `discriminator` is called as `discriminator(images, labels=labels,
training=True)`; `seed` is a (2,) int32 stateless seed for the random draws (`objectives.randomness`: the
same numbers with and without XLA); `rows` are the examples' rows of the step's global batch (each draw is the
global batch's at those rows; default: the batch is the whole step); `labels` are the real images' labels
(compare_gan conditions the penalty's discriminator calls on them). Gradient penalties are computed per
example and averaged over the batch; call them inside the discriminator's GradientTape, which then
differentiates through the input gradient.

Image range: model_garden's discriminator sees images x in [-1, 1], compare_gan's sees y = (x + 1) / 2 in
[0, 1]. The gradient penalties are computed as compare_gan computes them on the same images: interpolation,
DRAGAN's noise and clip, and the gradient all live in [0, 1] pixels, through D01(y) = D(2y - 1). The
constrained gradient ||dD01/dy|| = 2 ||dD/dx||, so on x alone the same lambda would weigh a different
constraint: with this, compare_gan's (and the study's) lambda values carry over unchanged.
"""

from __future__ import annotations

import re
from typing import Callable, Dict

import tensorflow as tf

from model_garden.objectives import randomness
from model_garden.registry import suggestion


def _unit_range(images):
  """[-1, 1] images as compare_gan's [0, 1] ones: y = (x + 1) / 2."""
  return (tf.cast(images, tf.float32) + 1.0) / 2.0


def _slopes_penalty(discriminator, unit_images, labels):
  """compare_gan's mean((sqrt(1e-4 + ||dD01/dy||^2) - 1)^2), D01(y) = D(2y - 1), y = `unit_images` in [0, 1]."""
  with tf.GradientTape() as tape:
    tape.watch(unit_images)
    logits = tf.cast(discriminator(unit_images * 2.0 - 1.0, labels=labels, training=True), tf.float32)
  gradients = tape.gradient(logits, unit_images)
  squared = tf.reduce_sum(tf.square(tf.cast(gradients, tf.float32)), axis=list(range(1, len(unit_images.shape))))
  slopes = tf.sqrt(1e-4 + squared)
  return tf.reduce_mean(tf.square(slopes - 1.0))


def _seed(seed):
  return tf.constant([0, 0], tf.int32) if seed is None else tf.cast(seed, tf.int32)


def none(discriminator, real, fake, labels=None, seed=None, rows=None):
  """No penalty (0)."""
  del discriminator, real, fake, labels, seed, rows
  return tf.constant(0.0)


def wgan_gp(discriminator, real, fake, labels=None, seed=None, rows=None):
  """WGAN-GP (Gulrajani et al. 2017): the gradient norm at y + a (y_fake - y), a ~ U[0, 1) per example.

  y, y_fake are the images in [0, 1] and the gradient is with respect to [0, 1] pixels (compare_gan).
  """
  real, fake = _unit_range(real), _unit_range(fake)
  alpha = randomness.uniform([tf.shape(real)[0]] + [1] * (len(real.shape) - 1), _seed(seed), rows=rows)
  return _slopes_penalty(discriminator, real + alpha * (fake - real), labels)


def _global_std(values):
  """The standard deviation of every value of `values` over all replicas (this tensor's alone on one device)."""
  context = tf.distribute.get_replica_context()
  if context is None or context.num_replicas_in_sync == 1:
    return tf.math.reduce_std(values)
  count = tf.cast(tf.size(values), tf.float32)
  mean = context.all_reduce("sum", tf.reduce_sum(values)) / context.all_reduce("sum", count)
  squares = context.all_reduce("sum", tf.reduce_sum(tf.square(values - mean)))
  return tf.sqrt(squares / context.all_reduce("sum", count))


def dragan(discriminator, real, fake, labels=None, seed=None, rows=None):
  """DRAGAN (Kodali et al. 2017): gradient norm at clip(y + std(y) (u - 0.5), 0, 1), u ~ U[0, 1) per value.

  y is the real batch in [0, 1], std is taken over the whole batch tensor (the global batch's, all-reduced
  over replicas; compare_gan takes each TPU core's), and the gradient is with respect to [0, 1] pixels, as
  compare_gan.
  """
  del fake
  real = _unit_range(real)
  std = _global_std(real)
  noise = randomness.uniform(tf.shape(real), _seed(seed), rows=rows) - 0.5
  return _slopes_penalty(discriminator, tf.clip_by_value(real + std * noise, 0.0, 1.0), labels)


def l2(discriminator, real, fake, labels=None, seed=None, rows=None):
  """Mean over the discriminator's kernels of sum(w^2) / 2 (compare_gan's `l2_penalty`: a mean of l2_loss).

  Kernels are the trainable variables whose path ends in "kernel" (dense, conv; the stored W of a
  spectrally normalised layer), not biases, norms or embeddings.
  """
  del real, fake, labels, seed, rows
  kernels = [v for v in discriminator.trainable_variables if re.search(r"kernel$", v.path)]
  if not kernels:
    raise ValueError(f"{discriminator.name} has no trainable kernels for the l2 penalty.")
  return tf.reduce_mean(tf.stack([0.5 * tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in kernels]))


PENALTIES: Dict[str, Callable] = {"none": none, "wgan_gp": wgan_gp, "dragan": dragan, "l2": l2}


def get_penalty(name: str) -> Callable:
  """The penalty function named `name`, or a ValueError listing the known ones."""
  if name not in PENALTIES:
    raise ValueError(f"Unknown GAN penalty {name!r}. {suggestion(name, PENALTIES)}")
  return PENALTIES[name]
