"""GAN losses and penalties against NumPy computations on fixed logits and analytic discriminators."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from model_garden.objectives import gan_losses, gan_penalties

REAL = np.array([[2.0], [-1.0], [0.5], [3.0]], np.float32)
FAKE = np.array([[-2.0], [0.25], [1.5], [-0.5]], np.float32)


def _softplus(x):
  return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def _sigmoid(x):
  return 1 / (1 + np.exp(-x))


EXPECTED = {
    "non_saturating": (_softplus(-REAL).mean() + _softplus(FAKE).mean(), _softplus(-FAKE).mean()),
    "wasserstein": (-REAL.mean() + FAKE.mean(), -FAKE.mean()),
    "least_squares": (0.5 * (np.mean((_sigmoid(REAL) - 1) ** 2) + np.mean(_sigmoid(FAKE) ** 2)),
                      0.5 * np.mean((_sigmoid(FAKE) - 1) ** 2)),
    "hinge": (np.maximum(0, 1 - REAL).mean() + np.maximum(0, 1 + FAKE).mean(), -FAKE.mean()),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loss_matches_numpy(name):
  d_loss, g_loss = gan_losses.get_loss(name)(tf.constant(REAL), tf.constant(FAKE))
  np.testing.assert_allclose([float(d_loss), float(g_loss)], EXPECTED[name], rtol=1e-6)


def test_losses_accept_float16_and_flat_logits():
  d_loss, _ = gan_losses.hinge(tf.constant(REAL[:, 0], tf.float16), tf.constant(FAKE, tf.float16))
  assert d_loss.dtype == tf.float32
  np.testing.assert_allclose(float(d_loss), EXPECTED["hinge"][0], rtol=1e-3)


def test_unknown_names_suggest():
  with pytest.raises(ValueError, match="hinge"):
    gan_losses.get_loss("hinje")
  with pytest.raises(ValueError, match="wgan_gp"):
    gan_penalties.get_penalty("wgan-gp")


class _Quadratic:
  """D(x) = sum(c * x^2) per example: dD/dx = 2 c x, known in closed form."""

  def __init__(self, c=0.3):
    self.c = c
    self.calls = []

  def __call__(self, images, labels=None, training=False):
    self.calls.append((training, labels))
    return tf.reduce_sum(self.c * tf.square(images), axis=[1, 2, 3])[:, None]


def _slopes_penalty(points, c):
  grads = 2 * c * points
  slopes = np.sqrt(1e-4 + np.sum(grads.reshape(len(points), -1) ** 2, axis=1))
  return np.mean((slopes - 1) ** 2)


def _images(seed, n=3):
  return np.random.default_rng(seed).uniform(-1, 1, (n, 4, 4, 3)).astype(np.float32)


def test_wgan_gp_matches_numpy():
  real, fake, seed = _images(0), _images(1), tf.constant([7, 3])
  d = _Quadratic()
  penalty = gan_penalties.wgan_gp(d, tf.constant(real), tf.constant(fake), labels="y", seed=seed)
  alpha = tf.random.stateless_uniform([3, 1, 1, 1], seed).numpy()
  np.testing.assert_allclose(float(penalty), _slopes_penalty(real + alpha * (fake - real), d.c), rtol=1e-5)
  assert d.calls == [(True, "y")]  # real labels, training mode, as compare_gan


def test_dragan_matches_numpy():
  real, seed = _images(2), tf.constant([1, 2])
  d = _Quadratic(0.7)
  penalty = gan_penalties.dragan(d, tf.constant(real), tf.constant(_images(3)), seed=seed)
  noise = tf.random.stateless_uniform(real.shape, seed).numpy() - 0.5
  points = np.clip(real + real.std() * noise, -1.0, 1.0)
  np.testing.assert_allclose(float(penalty), _slopes_penalty(points, d.c), rtol=1e-5)


def test_penalty_gradient_reaches_discriminator_weights():
  # The penalty depends on D's weights through the input gradient (double backprop).
  w = tf.Variable(0.5)
  d = lambda x, labels=None, training=False: w * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])[:, None]  # noqa: E731
  real, fake = tf.constant(_images(4)), tf.constant(_images(5))
  with tf.GradientTape() as tape:
    penalty = gan_penalties.wgan_gp(d, real, fake, seed=tf.constant([0, 1]))
  grad = tape.gradient(penalty, w)
  eps = 1e-3
  w.assign(0.5 + eps)
  up = gan_penalties.wgan_gp(d, real, fake, seed=tf.constant([0, 1]))
  w.assign(0.5 - eps)
  down = gan_penalties.wgan_gp(d, real, fake, seed=tf.constant([0, 1]))
  np.testing.assert_allclose(float(grad), (float(up) - float(down)) / (2 * eps), rtol=1e-2)


def test_l2_and_none():
  d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, kernel_initializer=keras.initializers.Constant(2.0),
                                                              bias_initializer="ones"),
                        keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(1.0))])
  # Mean over kernels of sum(w^2) / 2 (compare_gan's mean of l2_loss); biases are not kernels.
  np.testing.assert_allclose(float(gan_penalties.l2(d, None, None)), np.mean([0.5 * 6 * 4.0, 0.5 * 3 * 1.0]))
  assert float(gan_penalties.none(d, None, None)) == 0.0
