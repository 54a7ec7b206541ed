"""Discriminator penalties: `fn(discriminator, real, fake, labels=None, seed=None) -> scalar`.

As compare_gan's `gans/penalty_lib.py`; the objective adds `penalty_weight * penalty` to the discriminator
loss (compare_gan's `lambda`). `discriminator` is called as `discriminator(images, labels=labels,
training=True)`; `seed` is a (2,) int32 stateless seed for the random draws; `labels` are the real
images' labels (compare_gan conditions the penalty's discriminator calls on them). Gradient penalties
are computed per example and averaged over the batch; call them inside the discriminator's
GradientTape, which then differentiates through the input gradient.

Image range: model_garden's images are in [-1, 1] where compare_gan's are in [0, 1]; DRAGAN's clip range
follows, and gradients are taken with respect to the [-1, 1] images the discriminator sees.
"""

from __future__ import annotations

import re
from typing import Callable, Dict

import tensorflow as tf

from model_garden.registry import suggestion


def _slopes_penalty(discriminator, images, labels):
  """mean((sqrt(1e-4 + ||dD/dx||^2) - 1)^2) over the batch (compare_gan's form, epsilon included)."""
  with tf.GradientTape() as tape:
    tape.watch(images)
    logits = tf.cast(discriminator(images, labels=labels, training=True), tf.float32)
  gradients = tape.gradient(logits, images)
  squared = tf.reduce_sum(tf.square(tf.cast(gradients, tf.float32)), axis=list(range(1, len(images.shape))))
  slopes = tf.sqrt(1e-4 + squared)
  return tf.reduce_mean(tf.square(slopes - 1.0))


def _seed(seed):
  return tf.constant([0, 0], tf.int32) if seed is None else tf.cast(seed, tf.int32)


def none(discriminator, real, fake, labels=None, seed=None):
  """No penalty (0)."""
  del discriminator, real, fake, labels, seed
  return tf.constant(0.0)


def wgan_gp(discriminator, real, fake, labels=None, seed=None):
  """WGAN-GP (Gulrajani et al. 2017): the gradient norm at x + a (x_fake - x), a ~ U[0, 1) per example."""
  real = tf.cast(real, tf.float32)
  fake = tf.cast(fake, tf.float32)
  alpha = tf.random.stateless_uniform([tf.shape(real)[0]] + [1] * (len(real.shape) - 1), _seed(seed))
  return _slopes_penalty(discriminator, real + alpha * (fake - real), labels)


def dragan(discriminator, real, fake, labels=None, seed=None):
  """DRAGAN (Kodali et al. 2017): gradient norm at clip(x + std(x) (u - 0.5), -1, 1), u ~ U[0, 1) per value.

  std is taken over the whole real batch tensor, as compare_gan.
  """
  del fake
  real = tf.cast(real, tf.float32)
  std = tf.math.reduce_std(real)
  noise = tf.random.stateless_uniform(tf.shape(real), _seed(seed)) - 0.5
  return _slopes_penalty(discriminator, tf.clip_by_value(real + std * noise, -1.0, 1.0), labels)


def l2(discriminator, real, fake, labels=None, seed=None):
  """Mean over the discriminator's kernels of sum(w^2) / 2 (compare_gan's `l2_penalty`: a mean of l2_loss).

  Kernels are the trainable variables whose path ends in "kernel" (dense, conv; the stored W of a
  spectrally normalised layer), not biases, norms or embeddings.
  """
  del real, fake, labels, seed
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
