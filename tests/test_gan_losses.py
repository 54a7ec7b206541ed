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
  """D(x) = sum(c * x^2) per example on x in [-1, 1]: dD/dx = 2 c x, known in closed form."""

  def __init__(self, c=0.3):
    self.c = c
    self.calls = []

  def __call__(self, images, labels=None, training=False):
    self.calls.append((training, labels))
    return tf.reduce_sum(self.c * tf.square(images), axis=[1, 2, 3])[:, None]


def _compare_gan_slopes_penalty(unit_points, grad_fn):
  """compare_gan's mean((sqrt(1e-4 + ||dD01/dy||^2) - 1)^2) at points y in [0, 1], dD01/dy = grad_fn(y)."""
  grads = grad_fn(unit_points).astype(np.float64)
  slopes = np.sqrt(1e-4 + np.sum(grads.reshape(len(unit_points), -1) ** 2, axis=1))
  return np.mean((slopes - 1) ** 2)


def _quadratic_unit_grad(c):
  # D01(y) = D(2y - 1) = sum(c (2y - 1)^2): dD01/dy = 4 c (2y - 1).
  return lambda y: 4 * c * (2 * y - 1)


def _images(seed, n=3):
  return np.random.default_rng(seed).uniform(-1, 1, (n, 4, 4, 3)).astype(np.float32)


def test_wgan_gp_matches_numpy():
  real, fake, seed = _images(0), _images(1), tf.constant([7, 3])
  d = _Quadratic()
  penalty = gan_penalties.wgan_gp(d, tf.constant(real), tf.constant(fake), labels="y", seed=seed)
  alpha = tf.random.stateless_uniform([3, 1, 1, 1], seed).numpy()
  y_real, y_fake = (real + 1) / 2, (fake + 1) / 2
  expected = _compare_gan_slopes_penalty(y_real + alpha * (y_fake - y_real), _quadratic_unit_grad(d.c))
  np.testing.assert_allclose(float(penalty), expected, rtol=1e-5)
  assert d.calls == [(True, "y")]  # real labels, training mode, as compare_gan


def test_dragan_matches_numpy():
  real, seed = _images(2), tf.constant([1, 2])
  d = _Quadratic(0.7)
  penalty = gan_penalties.dragan(d, tf.constant(real), tf.constant(_images(3)), seed=seed)
  noise = tf.random.stateless_uniform(real.shape, seed).numpy() - 0.5
  y = (real + 1) / 2
  points = np.clip(y + y.std() * noise, 0.0, 1.0)
  assert np.mean((points == 0) | (points == 1)) > 0.02  # the clip is exercised
  np.testing.assert_allclose(float(penalty), _compare_gan_slopes_penalty(points, _quadratic_unit_grad(d.c)),
                             rtol=1e-5)


class _UnitRangeDiscriminator:
  """D01(y) = sum(w * sin(3 y) + y^2 / 2) per example on compare_gan's y in [0, 1]; dD01/dy in closed form."""

  def __init__(self):
    self.w = np.array([0.15, -0.1, 0.2], np.float32)  # per channel

  def __call__(self, unit_images):
    return tf.reduce_sum(self.w * tf.sin(3.0 * unit_images) + 0.5 * tf.square(unit_images), axis=[1, 2, 3])[:, None]

  def grad(self, y):
    return 3.0 * self.w * np.cos(3.0 * y) + y


@pytest.mark.parametrize("name", ["wgan_gp", "dragan"])
def test_penalty_on_minus_one_one_images_equals_compare_gans_on_zero_one(name):
  # For D11(x) = D01((x + 1) / 2), the penalty on x in [-1, 1] is compare_gan's formula for D01 on (x + 1) / 2
  # with the same draws: a published lambda (the study's 1, 10, 10^[-1, 2]) means the same here.
  d01 = _UnitRangeDiscriminator()
  d11 = lambda x, labels=None, training=False: d01((x + 1.0) / 2.0)  # noqa: E731
  real, fake, seed = _images(6, n=4), _images(7, n=4), tf.constant([5, 9])
  penalty = float(gan_penalties.get_penalty(name)(d11, tf.constant(real), tf.constant(fake), labels=None,
                                                  seed=seed))
  y_real, y_fake = (real + 1) / 2, (fake + 1) / 2
  if name == "wgan_gp":  # compare_gan: x + alpha * (x_fake - x), alpha ~ U[0, 1) per example
    alpha = tf.random.stateless_uniform([4, 1, 1, 1], seed).numpy()
    points = y_real + alpha * (y_fake - y_real)
  else:  # compare_gan: clip(x + std(x) * (U[0, 1) - 0.5), 0, 1), std over the whole batch
    points = np.clip(y_real + y_real.std() * (tf.random.stateless_uniform(real.shape, seed).numpy() - 0.5), 0, 1)
  expected = _compare_gan_slopes_penalty(points, d01.grad)
  np.testing.assert_allclose(penalty, expected, rtol=1e-5)
  # The gradient with respect to the [-1, 1] images is half as large: that penalty is a different number.
  assert abs(_compare_gan_slopes_penalty(points, lambda y: d01.grad(y) / 2) - expected) > 0.1 * expected


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
