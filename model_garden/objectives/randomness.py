"""The random draws of training steps: the same numbers with or without XLA, and on every replica layout.

1. XLA-consistent. TensorFlow's float stateless ops (`tf.random.stateless_uniform`, `stateless_normal`,
   `nn.experimental.stateless_dropout`) give other numbers under XLA (`jit_compile=True`) than its own kernels
   (XLA turns the same Philox bits into floats another way), and `stateless_random_gamma` (Keras' `beta`) does
   not compile at all; the integer draws agree bit for bit. The floats here are therefore made from integer
   draws: `uniform` takes the low 23 bits as the mantissa as TensorFlow's kernel does, so it equals
   `tf.random.stateless_uniform` without XLA bit for bit (and with XLA, but for the last bit of a [minval, maxval)
   scaling, which XLA fuses into one multiply-add); `normal` is the Box-Muller transform of pairs of
   such uniforms, as TensorFlow's kernel computes it (equal to `tf.random.stateless_normal` up to float
   rounding, ~3e-7); `gamma` and `beta` use Marsaglia and Tsang's method on them. Seeds go through
   `canonical_seed` (the low 32 bits of each word, non-negative): XLA reads a negative seed word otherwise than
   TensorFlow's kernels do, so `fold_in` and `split` here keep every seed canonical.
2. Global-batch rows. A draw per example is made for the step's whole global batch and each replica (and each
   gradient-accumulation micro-batch) keeps its own rows (`BatchRows`), so a distributed step draws exactly
   what a one-device step on the same global batch draws (as the contrastive loss gathers the global batch).
   Every replica thus draws the global batch's numbers: negligible for per-example scalars (crop boxes, flips,
   latents), the size of the global image batch for per-pixel noise (VAT, DRAGAN).

Seeds are stateless `[2]` integer tensors (`common.next_seed`), so a resumed run replays its draws.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import tensorflow as tf

_MANTISSA_BITS = 23
_LOW_WORD = 0xFFFFFFFF
# Marsaglia-Tsang accepts more than 95% of its proposals for any shape >= 1: with 16 per draw, the chance
# that none is accepted is below 1e-20.
_GAMMA_PROPOSALS = 16


def canonical_seed(seed) -> tf.Tensor:
  """The [2] int64 seed whose words are the low 32 bits of `seed`'s words: TensorFlow's kernels and XLA agree
  on it (they read a negative word differently)."""
  return tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), _LOW_WORD)


def fold_in(seed, data) -> tf.Tensor:
  """`tf.random.experimental.stateless_fold_in` of canonical seeds: a new canonical seed for `data` (an int)."""
  return canonical_seed(tf.random.experimental.stateless_fold_in(canonical_seed(seed), tf.cast(data, tf.int64)))


def split(seed, count: int = 2) -> tf.Tensor:
  """`count` new canonical seeds ([count, 2]) from `seed` (`tf.random.experimental.stateless_split`)."""
  return canonical_seed(tf.random.experimental.stateless_split(canonical_seed(seed), count))


class BatchRows:
  """Which rows of the step's global batch of `total` examples a computation holds: `indices` (int32).

  Build one with `Objective.batch_rows(count)` inside a step (replica and micro-batch aware), or `all(count)`
  for a whole batch. `draw(fn)` calls `fn(total)` for the global batch's values and keeps these rows.

  Example:
    >>> rows = objective.batch_rows(tf.shape(images)[0])
    >>> flips = rows.draw(lambda n: randomness.uniform([n], seed) < 0.5)
  """

  def __init__(self, indices, total, *, is_all: bool = False):
    self.indices = tf.cast(indices, tf.int32)
    self.total = total
    self.is_all = bool(is_all)  # indices == range(total): take() is the identity

  @classmethod
  def all(cls, count) -> "BatchRows":
    """Every row of a batch of `count` examples, in order (one device, no micro-batches)."""
    return cls(tf.range(count), count, is_all=True)

  @classmethod
  def strided(cls, start, stride, count, total) -> "BatchRows":
    """Rows start, start + stride, ... (`count` of them) of a global batch of `total`."""
    return cls(tf.cast(start, tf.int32) + stride * tf.range(count), total)

  @property
  def count(self):
    return tf.shape(self.indices)[0]

  def take(self, values):
    """This computation's rows of `values` ([total, ...], one row per example of the global batch)."""
    return values if self.is_all else tf.gather(values, self.indices)

  def draw(self, fn: Callable):
    """`fn(total)` -> [total, ...] values for the global batch; returns this computation's rows of them."""
    return self.take(fn(self.total))

  def repeat(self, copies: int) -> "BatchRows":
    """The rows of a batch where every example has `copies` consecutive rows (e.g. its views)."""
    if self.is_all:
      return BatchRows.all(self.total * copies)
    indices = tf.reshape(self.indices[:, None] * copies + tf.range(copies)[None, :], [-1])
    return BatchRows(indices, self.total * copies)


def _rows_shape(shape, rows: Optional[BatchRows]):
  """`shape` with its first dimension replaced by the global batch when `rows` are given."""
  if rows is None or rows.is_all:
    return shape
  if isinstance(shape, (list, tuple)):
    return [rows.total] + list(shape[1:])
  return tf.concat([[rows.total], tf.cast(shape, tf.int32)[1:]], axis=0)


def _draw(fn, shape, rows):
  values = fn(_rows_shape(shape, rows))
  return values if rows is None else rows.take(values)


def uniform(shape, seed, minval=0.0, maxval=1.0, rows: Optional[BatchRows] = None, dtype=tf.float32):
  """U[minval, maxval) floats; without XLA bit-identical to `tf.random.stateless_uniform(shape, seed, ...)`.

  With `rows`, `shape[0]` is the local count: the values are the global batch's draw at those rows.
  """
  seed = canonical_seed(seed)

  def fn(full_shape):
    bits = tf.random.stateless_uniform(full_shape, seed, minval=0, maxval=1 << _MANTISSA_BITS, dtype=tf.int32)
    unit = tf.cast(bits, tf.float32) * (1.0 / (1 << _MANTISSA_BITS))
    return tf.cast(unit * (maxval - minval) + minval, dtype)
  return _draw(fn, shape, rows)


def uniform_int(shape, seed, minval, maxval, rows: Optional[BatchRows] = None, dtype=tf.int32):
  """Integers in [minval, maxval): `tf.random.stateless_uniform` (its integer draws agree under XLA)."""
  seed = canonical_seed(seed)
  return _draw(lambda s: tf.random.stateless_uniform(s, seed, minval=minval, maxval=maxval, dtype=dtype),
               shape, rows)


def normal(shape, seed, rows: Optional[BatchRows] = None, dtype=tf.float32):
  """N(0, 1) by Box-Muller on `uniform` pairs, as TensorFlow's kernel for `tf.random.stateless_normal`.

  Elements 2k and 2k + 1 (row-major) come from uniforms u (2k) and v (2k + 1): sqrt(-2 log max(u, 1e-7)) times
  sin(2 pi v) and cos(2 pi v).
  """
  def fn(full_shape):
    count = tf.reduce_prod(tf.cast(full_shape, tf.int32))
    pairs = tf.reshape(uniform([(count + 1) // 2 * 2], seed), [-1, 2])
    radius = tf.sqrt(-2.0 * tf.math.log(tf.maximum(pairs[:, 0], 1e-7)))
    angle = 2.0 * math.pi * pairs[:, 1]
    values = tf.reshape(tf.stack([tf.sin(angle) * radius, tf.cos(angle) * radius], axis=1), [-1])[:count]
    return tf.cast(tf.reshape(values, full_shape), dtype)
  return _draw(fn, shape, rows)


def gamma(shape, seed, concentration: float, rows: Optional[BatchRows] = None):
  """Gamma(concentration, 1) draws by Marsaglia and Tsang's method (2000), from `normal` and `uniform`.

  For shape a >= 1: d = a - 1/3, c = 1 / sqrt(9 d); a proposal x ~ N(0, 1), v = (1 + c x)^3 is accepted when
  log(u) < x^2 / 2 + d - d v + d log(v), u ~ U[0, 1), and the draw is d v (the first accepted of
  `_GAMMA_PROPOSALS`). For a < 1, a Gamma(a + 1) draw times u'^(1 / a).
  """
  alpha = float(concentration)
  if alpha <= 0:
    raise ValueError(f"The gamma concentration must be positive, got {concentration}.")
  shape_a = alpha + 1.0 if alpha < 1.0 else alpha
  d = shape_a - 1.0 / 3.0
  c = 1.0 / math.sqrt(9.0 * d)
  seeds = split(seed, 3)

  def fn(full_shape):
    proposals = tf.concat([tf.cast(full_shape, tf.int32), [_GAMMA_PROPOSALS]], axis=0)
    x = normal(proposals, seeds[0])
    u = uniform(proposals, seeds[1])
    v = tf.maximum((1.0 + c * x) ** 3, 1e-30)
    accepted = tf.logical_and(1.0 + c * x > 0, tf.math.log(u) < 0.5 * tf.square(x) + d - d * v + d * tf.math.log(v))
    first = tf.argmax(tf.cast(accepted, tf.int32), axis=-1, output_type=tf.int32)
    draws = d * tf.gather(v, first, axis=-1, batch_dims=len(v.shape) - 1)
    if alpha < 1.0:
      draws = draws * uniform(full_shape, seeds[2]) ** (1.0 / alpha)
    return draws
  return _draw(fn, list(shape) if isinstance(shape, (list, tuple)) else shape, rows)


def beta(shape, seed, concentration1: float, concentration0: float, rows: Optional[BatchRows] = None):
  """Beta(concentration1, concentration0) draws: X / (X + Y) of two `gamma` draws."""
  if concentration1 <= 0 or concentration0 <= 0:
    raise ValueError(f"Beta concentrations must be positive, got ({concentration1}, {concentration0}).")
  seeds = split(seed, 2)
  x = gamma(shape, seeds[0], concentration1, rows=rows)
  y = gamma(shape, seeds[1], concentration0, rows=rows)
  return x / (x + y)


def dropout(x, rate: float, seed, rows: Optional[BatchRows] = None):
  """Inverted dropout of `x` [N, ...]: keeps the entries where `uniform >= rate`, scaled by 1 / (1 - rate).

  With `rows`, the mask is the global batch's mask at those rows of N.
  """
  if not rate:
    return x
  keep = uniform(tf.shape(x), seed, rows=rows) >= rate
  return tf.where(keep, x / (1.0 - rate), tf.zeros_like(x))
