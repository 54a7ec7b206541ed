"""GAN losses: `fn(d_real_logits, d_fake_logits) -> (d_loss, g_loss)`, as compare_gan's `gans/loss_lib.py`.

Each function takes the discriminator's logits on a batch of real and of generated images (any shape,
usually (batch, 1)), computes in float32, and returns scalar means over the batch: the discriminator loss
(real and fake terms summed) and the generator loss. `LOSSES` maps the names used in GAN specs to them.
"""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import tensorflow as tf

from model_garden.registry import suggestion


def _flat(real, fake):
  real = tf.reshape(tf.cast(real, tf.float32), [-1])
  fake = tf.reshape(tf.cast(fake, tf.float32), [-1])
  return real, fake


def non_saturating(d_real_logits, d_fake_logits) -> Tuple[tf.Tensor, tf.Tensor]:
  """Goodfellow et al. 2014: D = E softplus(-D(x)) + E softplus(D(G(z))); G = E softplus(-D(G(z))).

  Sigmoid cross-entropy with labels 1 for real and 0 for fake; the generator maximises log D(G(z)).
  """
  real, fake = _flat(d_real_logits, d_fake_logits)
  d_loss = tf.reduce_mean(tf.nn.softplus(-real)) + tf.reduce_mean(tf.nn.softplus(fake))
  return d_loss, tf.reduce_mean(tf.nn.softplus(-fake))


def wasserstein(d_real_logits, d_fake_logits) -> Tuple[tf.Tensor, tf.Tensor]:
  """Arjovsky et al. 2017: D = -E D(x) + E D(G(z)); G = -E D(G(z))."""
  real, fake = _flat(d_real_logits, d_fake_logits)
  return -tf.reduce_mean(real) + tf.reduce_mean(fake), -tf.reduce_mean(fake)


def least_squares(d_real_logits, d_fake_logits) -> Tuple[tf.Tensor, tf.Tensor]:
  """Mao et al. 2017 on the sigmoid probabilities p = sigmoid(logit), as compare_gan (not on logits).

  D = 0.5 (E (p_real - 1)^2 + E p_fake^2); G = 0.5 E (p_fake - 1)^2.
  """
  real, fake = _flat(d_real_logits, d_fake_logits)
  p_real, p_fake = tf.sigmoid(real), tf.sigmoid(fake)
  d_loss = 0.5 * (tf.reduce_mean(tf.square(p_real - 1.0)) + tf.reduce_mean(tf.square(p_fake)))
  return d_loss, 0.5 * tf.reduce_mean(tf.square(p_fake - 1.0))


def hinge(d_real_logits, d_fake_logits) -> Tuple[tf.Tensor, tf.Tensor]:
  """Lim & Ye 2017 / Miyato et al. 2018: D = E relu(1 - D(x)) + E relu(1 + D(G(z))); G = -E D(G(z))."""
  real, fake = _flat(d_real_logits, d_fake_logits)
  d_loss = tf.reduce_mean(tf.nn.relu(1.0 - real)) + tf.reduce_mean(tf.nn.relu(1.0 + fake))
  return d_loss, -tf.reduce_mean(fake)


LOSSES: Dict[str, Callable] = {"non_saturating": non_saturating, "wasserstein": wasserstein,
                               "least_squares": least_squares, "hinge": hinge}


def get_loss(name: str) -> Callable:
  """The loss function named `name`, or a ValueError listing the known ones."""
  if name not in LOSSES:
    raise ValueError(f"Unknown GAN loss {name!r}. {suggestion(name, LOSSES)}")
  return LOSSES[name]
