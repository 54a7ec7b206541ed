"""Batch normalisation with moving averages, optional cross-replica moments and standing statistics."""

from __future__ import annotations

import keras
from keras import ops

from model_garden import backends
from model_garden.layers.tensor_ops import moments


class _Accumulator:
  """Sums of per-batch means and variances; a plain object so Keras does not track or save it."""

  def __init__(self, channels: int):
    self.mean = keras.Variable(ops.zeros([channels]), trainable=False, name="standing_mean_sum")
    self.variance = keras.Variable(ops.zeros([channels]), trainable=False, name="standing_variance_sum")
    self.count = keras.Variable(0.0, trainable=False, name="standing_count")


@keras.saving.register_keras_serializable("model_garden")
class StandingBatchNorm(keras.layers.Layer):
  """Batch normalisation over all axes but the last, as compare_gan's `batch_norm`/`standardize_batch`.

  "Batch Normalization" (Ioffe & Szegedy 2015). In training mode the layer normalises with the batch's
  mean and (biased) variance and updates `moving = momentum * moving + (1 - momentum) * batch`; at
  inference it uses the moving averages, or *standing statistics* (BigGAN, Brock et al. 2019; compare_gan's
  accumulators filled over 204,800 samples at evaluation): between `start_standing_statistics()` and
  `finish_standing_statistics()`, inference-mode calls normalise with the batch's moments and add them
  to accumulators; finishing replaces the moving averages with the averages of the per-batch means and
  variances. `update_standing_statistics` in `model_garden.models.gan` runs this for a generator.

  Defaults follow the compare_gan configs (`standardize_batch.decay = 0.9`, `epsilon = 1e-5`; the code's
  own defaults are 0.999 and 1e-3). Moments are computed in float32 under mixed precision. With
  `cross_replica=True`, training-mode moments are all-reduced over the replicas of a tf.distribute
  strategy (compare_gan does so on TPU), so the batch statistics are those of the global batch.
  Rank-2 inputs are normalised per feature (SNDCGAN's first generator BN does this).

  Args:
    center: add a learned offset beta (zeros).
    scale: multiply by a learned gamma (ones). Both False: standardisation only (conditional and
      self-modulated batch norm add their own).
    momentum: decay of the moving averages.
    epsilon: added to the variance.
    cross_replica: all-reduce the training-mode moments across replicas.

  Example:
    >>> bn = StandingBatchNorm()
    >>> y = bn(x, training=True)        # batch moments; moving averages updated
    >>> y = bn(x)                       # moving averages
  """

  def __init__(self, center: bool = True, scale: bool = True, momentum: float = 0.9, epsilon: float = 1e-5,
               cross_replica: bool = False, **kwargs):
    super().__init__(**kwargs)
    self.center, self.scale = bool(center), bool(scale)
    self.momentum, self.epsilon = float(momentum), float(epsilon)
    self.cross_replica = bool(cross_replica)
    object.__setattr__(self, "_accumulator", None)

  def build(self, input_shape):
    channels = int(input_shape[-1])
    self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones",
                                 autocast=False) if self.scale else None
    self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros",
                                autocast=False) if self.center else None
    self.moving_mean = self.add_weight(name="moving_mean", shape=(channels,), initializer="zeros",
                                       trainable=False, autocast=False)
    self.moving_variance = self.add_weight(name="moving_variance", shape=(channels,), initializer="ones",
                                           trainable=False, autocast=False)
    self.built = True

  # -- Standing statistics --------------------------------------------------------------------------------
  def start_standing_statistics(self):
    """Inference-mode calls now use batch moments and accumulate them (see the class docstring)."""
    object.__setattr__(self, "_accumulator", _Accumulator(int(self.moving_mean.shape[0])))

  def finish_standing_statistics(self) -> int:
    """Moves the averaged accumulated moments into the moving averages; returns the batches seen."""
    acc = self._accumulator
    if acc is None:
      raise RuntimeError(f"{self.name}: finish_standing_statistics() without start_standing_statistics().")
    count = float(ops.convert_to_numpy(acc.count))
    if count:
      self.moving_mean.assign(acc.mean / count)
      self.moving_variance.assign(acc.variance / count)
    object.__setattr__(self, "_accumulator", None)
    return int(count)

  # -- Forward ------------------------------------------------------------------------------------------------
  def _batch_moments(self, x, axes):
    if self.cross_replica and backends.is_tensorflow():  # Replica contexts are tf.distribute's.
      tf = backends.tensorflow()
      context = tf.distribute.get_replica_context()
      if context is not None and context.num_replicas_in_sync > 1:
        count = tf.cast(tf.reduce_prod(tf.gather(tf.shape(x), axes)), tf.float32)
        sums = context.all_reduce("sum", [tf.reduce_sum(x, axes), tf.reduce_sum(tf.square(x), axes),
                                          count])
        mean = sums[0] / sums[2]
        return mean, tf.maximum(sums[1] / sums[2] - tf.square(mean), 0.0)
    return moments(x, axes)

  def call(self, inputs, training=False):
    x = ops.cast(inputs, "float32")
    axes = list(range(len(x.shape) - 1))
    accumulator = self._accumulator
    if training:
      mean, variance = self._batch_moments(x, axes)
      self.moving_mean.assign(self.momentum * self.moving_mean + (1.0 - self.momentum) * mean)
      self.moving_variance.assign(self.momentum * self.moving_variance + (1.0 - self.momentum) * variance)
    elif accumulator is not None:
      mean, variance = moments(x, axes)
      accumulator.mean.assign_add(mean)
      accumulator.variance.assign_add(variance)
      accumulator.count.assign_add(1.0)
    else:
      mean, variance = ops.convert_to_tensor(self.moving_mean), ops.convert_to_tensor(self.moving_variance)
    y = (x - mean) * ops.rsqrt(variance + self.epsilon)
    if self.gamma is not None:
      y = y * ops.convert_to_tensor(self.gamma)
    if self.beta is not None:
      y = y + ops.convert_to_tensor(self.beta)
    return ops.cast(y, inputs.dtype)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    config = super().get_config()
    config.update({"center": self.center, "scale": self.scale, "momentum": self.momentum,
                   "epsilon": self.epsilon, "cross_replica": self.cross_replica})
    return config
