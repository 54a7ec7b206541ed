"""Spectral norm is a reparameterisation: sigma converges to the top singular value, the kernel stays W."""

import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from model_garden.layers.spectral_norm import SpectralNorm, power_iteration
from model_garden.layers.weight_norm import WeightNorm


def _matrix_with_gap(rows, cols, top=3.0, seed=0):
  rng = np.random.default_rng(seed)
  u, _ = np.linalg.qr(rng.normal(size=(rows, rows)))
  v, _ = np.linalg.qr(rng.normal(size=(cols, cols)))
  s = np.linspace(1.0, 0.2, min(rows, cols))
  s[0] = top
  return (u[:, :len(s)] * s) @ v[:, :len(s)].T


@pytest.mark.parametrize("singular_vector", ["left", "right", "auto"])
def test_dense_sigma_converges_and_kernel_is_unchanged(singular_vector):
  layer = SpectralNorm(keras.layers.Dense(5), singular_vector=singular_vector)
  x = tf.random.stateless_normal([4, 7], [0, 1])
  layer(x)
  w = _matrix_with_gap(7, 5).astype(np.float32)
  layer.layer.kernel.assign(w)
  u0 = layer.u.numpy().copy()
  layer(x, training=False)
  np.testing.assert_array_equal(layer.u.numpy(), u0)  # inference does not move u
  for _ in range(30):
    y = layer(x, training=True)
  np.testing.assert_array_equal(layer.layer.kernel.numpy(), w)  # the variable stays W
  sigma = np.linalg.svd(w, compute_uv=False)[0]
  np.testing.assert_allclose(float(layer.sigma()), sigma, rtol=1e-5)
  np.testing.assert_allclose(y, x.numpy() @ (w / sigma) + layer.layer.bias.numpy(), rtol=1e-4, atol=1e-5)


def test_conv_kernel_reshaped_as_compare_gan():
  conv = SpectralNorm(keras.layers.Conv2D(6, 3, padding="same"))
  x = tf.random.stateless_normal([2, 5, 5, 4], [3, 4])
  conv(x)
  w = _matrix_with_gap(3 * 3 * 4, 6, top=2.5, seed=1).reshape(3, 3, 4, 6).astype(np.float32)
  conv.layer.kernel.assign(w)
  for _ in range(30):
    conv(x, training=True)
  np.testing.assert_array_equal(conv.layer.kernel.numpy(), w)
  np.testing.assert_allclose(float(conv.sigma()), 2.5, rtol=1e-5)  # largest singular value of W.reshape(-1, 6)
  expected = tf.nn.conv2d(x, w / 2.5, 1, "SAME") + conv.layer.bias
  np.testing.assert_allclose(conv(x), expected, rtol=1e-4, atol=1e-5)


def test_gradient_flows_through_sigma():
  # d/dW of sum(x @ W / sigma(W)) with u, v constant: (x^T 1) / sigma - s * u v^T / sigma^2, s = sum(x W).
  layer = SpectralNorm(keras.layers.Dense(3, use_bias=False))
  x = tf.random.stateless_normal([4, 5], [5, 6])
  layer(x)
  layer.layer.kernel.assign(_matrix_with_gap(5, 3, seed=2).astype(np.float32))
  for _ in range(50):
    layer(x, training=True)
  w = layer.layer.kernel.numpy()
  u = layer.u.numpy()
  v = w.T @ u / np.linalg.norm(w.T @ u)
  u_next = w @ v / np.linalg.norm(w @ v)
  sigma = u_next @ w @ v
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(x, training=False))
  grad = tape.gradient(loss, layer.layer.kernel)
  s = np.sum(x.numpy() @ w)
  expected = np.outer(x.numpy().sum(0), np.ones(3)) / sigma - s * np.outer(u_next, v) / sigma**2
  np.testing.assert_allclose(grad, expected, rtol=1e-3, atol=1e-5)


def test_power_iteration_function_matches_svd():
  w = tf.constant(_matrix_with_gap(6, 4, seed=3), tf.float32)
  u = tf.ones([6]) / np.sqrt(6)
  for _ in range(40):
    sigma, u = power_iteration(w, u, "left")
  np.testing.assert_allclose(float(sigma), 3.0, rtol=1e-5)


def test_serialisation_and_mixed_precision():
  layer = SpectralNorm(keras.layers.Conv2D(4, 3), singular_vector="auto")
  model = keras.Sequential([keras.Input((6, 6, 2)), layer])
  x = tf.random.stateless_normal([1, 6, 6, 2], [1, 1])
  model(x, training=True)
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
  np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
  keras.mixed_precision.set_global_policy("mixed_float16")
  try:
    half = SpectralNorm(keras.layers.Dense(3))
    y = half(tf.ones([2, 4]), training=True)
    assert y.dtype == tf.float16 and half.u.dtype == "float32" and half.layer.kernel.dtype == "float32"
  finally:
    keras.mixed_precision.set_global_policy("float32")


def test_weight_norm_starts_as_the_plain_layer_and_keeps_the_kernel():
  x = tf.random.stateless_normal([2, 5, 5, 3], [2, 2])
  for layer, out_axis in ((keras.layers.Conv2D(4, 3), 3), (keras.layers.Conv2DTranspose(4, 3, strides=2), 2)):
    wrapped = WeightNorm(layer)
    y = wrapped(x)
    kernel = layer.kernel.numpy().copy()
    plain = layer.__class__.call(layer, x)
    np.testing.assert_allclose(y, plain, rtol=1e-4, atol=1e-5)
    axes = tuple(i for i in range(4) if i != out_axis)
    np.testing.assert_allclose(wrapped.g.numpy(), np.sqrt((kernel**2).sum(axes)), rtol=1e-5)
    wrapped.g.assign(2.0 * wrapped.g)
    np.testing.assert_allclose(wrapped(x) - layer.bias, 2.0 * (plain - layer.bias), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(layer.kernel.numpy(), kernel)


def test_rejects_layers_without_a_kernel():
  with pytest.raises(TypeError, match="Dense, Conv2D or Conv2DTranspose"):
    SpectralNorm(keras.layers.BatchNormalization())
