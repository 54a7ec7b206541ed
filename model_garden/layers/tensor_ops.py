"""Tensor helpers the layers share: token-wise dense projections and moments, on every Keras backend.

`dense` is where the one TensorFlow-only fast path of the networks lives: on TensorFlow a projection of
(batch, tokens, width) tokens runs as one 2-D MatMul + BiasAdd on (batch * tokens, width), which oneDNN
fuses on CPU while Dense's 3-D matmul (a broadcast BatchMatMul + Add) never gets fused (measured with
tools/benchmark.py: ViT-B/16 float32 train and infer on 2 CPU cores). JAX (XLA) and PyTorch get the plain
`keras.ops` form, which their compilers and kernels handle as well. The results are the same.
"""

from __future__ import annotations

import keras
from keras import ops

from model_garden import backends


def dense(x, kernel, bias=None):
  """`x @ kernel + bias` over the last axis of `x`; `kernel` (in, out) and `bias` (out,) cast to x's dtype."""
  kernel = ops.cast(kernel, x.dtype)
  if backends.is_tensorflow():
    tf = backends.tensorflow()
    y = tf.matmul(tf.reshape(x, (-1, kernel.shape[0])), kernel)
    if bias is not None:
      y = tf.nn.bias_add(y, ops.cast(bias, y.dtype))
    return tf.reshape(y, tf.concat([tf.shape(x)[:-1], [kernel.shape[1]]], axis=0))
  y = ops.matmul(x, kernel)
  return y if bias is None else y + ops.cast(bias, y.dtype)


def moments(x, axes, keepdims: bool = False):
  """Mean and biased variance of `x` over `axes`, as `tf.nn.moments` computes them.

  The variance is the mean of squared deviations from the (stop-gradient) mean, not E[x^2] - E[x]^2
  (`keras.ops.moments`), which cancels catastrophically for inputs with a large mean; on TensorFlow this
  is the same arithmetic as `tf.nn.moments`, so the GAN normalisers give the numbers they gave before.
  """
  axes = [int(a) for a in axes]
  mean = ops.mean(x, axis=axes, keepdims=True)
  variance = ops.mean(ops.square(x - ops.stop_gradient(mean)), axis=axes, keepdims=True)
  if not keepdims:
    mean, variance = ops.squeeze(mean, axis=axes), ops.squeeze(variance, axis=axes)
  return mean, variance


def stateless_normal(shape, seed, dtype="float32"):
  """N(0, 1) samples from a stateless seed: an int or a (2,) int tensor (traced seeds work under jit).

  The same seed gives the same samples on one backend; each backend has its own generator (TensorFlow's
  `tf.random.stateless_normal`, JAX's threefry, PyTorch's Philox/MT via a seeded `torch.Generator`).
  """
  return _stateless("normal", tuple(shape), seed, 0.0, 1.0, dtype)


def stateless_uniform(shape, seed, minval=0.0, maxval=1.0, dtype="float32"):
  """Uniform samples in [minval, maxval) from a stateless seed (see `stateless_normal`); int dtypes too."""
  return _stateless("uniform", tuple(shape), seed, minval, maxval, dtype)


def _stateless(kind, shape, seed, minval, maxval, dtype):
  name = backends.backend()
  if isinstance(seed, int):
    seed = [seed, 0]
  if name == "tensorflow":
    tf = backends.tensorflow()
    # int64, not int32: a seed word >= 2**31 would turn negative, and XLA reads negative words otherwise than
    # TensorFlow's kernels (objectives.randomness keeps seeds in [0, 2**32)).
    seed = tf.cast(seed, tf.int64)
    if kind == "normal":
      return tf.random.stateless_normal(shape, seed, dtype=dtype)
    return tf.random.stateless_uniform(shape, seed, minval=minval, maxval=maxval, dtype=dtype)
  if name == "jax":
    import jax  # pylint: disable=g-import-not-at-top
    key = ops.cast(seed, "uint32")  # A raw (2,) threefry key.
    if kind == "normal":
      return jax.random.normal(key, shape, dtype=dtype)
    if "int" in str(dtype):
      return jax.random.randint(key, shape, minval, maxval, dtype=dtype)
    return jax.random.uniform(key, shape, dtype=dtype, minval=minval, maxval=maxval)
  # PyTorch runs eagerly: the seed is concrete, and one Python int seeds Keras' generator.
  first, second = (int(v) for v in ops.convert_to_numpy(seed).reshape(-1)[:2])
  python_seed = (first * 2 ** 32 + second) % (2 ** 31 - 1)
  if kind == "normal":
    return keras.random.normal(shape, dtype=dtype, seed=python_seed)
  if "int" in str(dtype):
    return keras.random.randint(shape, minval, maxval, dtype=dtype, seed=python_seed)
  return keras.random.uniform(shape, minval=minval, maxval=maxval, dtype=dtype, seed=python_seed)
