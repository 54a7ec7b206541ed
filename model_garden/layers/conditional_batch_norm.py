"""Conditional batch normalisation: the scale and offset are linear functions of a conditioning vector."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.layers import normalized_layers
from model_garden.layers.standing_batch_norm import StandingBatchNorm


@keras.saving.register_keras_serializable("model_garden")
class ConditionalBatchNorm(keras.layers.Layer):
  """Batch norm whose gamma and beta are computed from a conditioning vector y.

  "Modulating early visual processing by language" (de Vries et al. 2017) and "cGANs with Projection
  Discriminator" (Miyato & Koyama 2018); BigGAN (Brock et al. 2019) conditions on the concatenation of a
  chunk of z and a shared class embedding. As compare_gan's `conditional_batch_norm`: the input is
  standardised (`StandingBatchNorm` without affine), then `gamma = linear(y)`, `beta = linear(y)`, both
  without bias by default and spectrally normalised when the generator is. There is no "1 +" on gamma
  (BigGAN's PyTorch code has one): with one-hot y, gamma is a learned per-class scale.

  Args:
    use_bias: give the gamma and beta projections a bias (compare_gan: False).
    kernel_norm: "none", "spectral" or "weight" for the projections.
    init: kernel initialiser of the projections ("normal", "truncated", "orthogonal").
    momentum, epsilon, cross_replica: of the standardisation (`StandingBatchNorm`).

  Call: `layer(x, condition, training=False)` with x (batch, ..., C) and condition (batch, d).

  Example:
    >>> cbn = ConditionalBatchNorm()
    >>> y = cbn(features, tf.one_hot(labels, 10), training=True)
  """

  def __init__(self, use_bias: bool = False, kernel_norm: str = "none", init: str = "normal",
               momentum: float = 0.9, epsilon: float = 1e-5, cross_replica: bool = False, **kwargs):
    super().__init__(**kwargs)
    self.use_bias, self.kernel_norm, self.init = bool(use_bias), kernel_norm, init
    self.momentum, self.epsilon, self.cross_replica = float(momentum), float(epsilon), bool(cross_replica)
    self.standardize = StandingBatchNorm(center=False, scale=False, momentum=momentum, epsilon=epsilon,
                                         cross_replica=cross_replica, name="standardize")

  def build(self, x_shape, condition_shape):
    if condition_shape is None or len(condition_shape) != 2:
      raise ValueError(f"{self.name}: the condition must have rank 2 (batch, features); got shape "
                       f"{condition_shape}.")
    channels = int(x_shape[-1])
    self.gamma = normalized_layers.dense(channels, name="gamma", kernel_norm=self.kernel_norm,
                                         init=self.init, use_bias=self.use_bias)
    self.beta = normalized_layers.dense(channels, name="beta", kernel_norm=self.kernel_norm,
                                        init=self.init, use_bias=self.use_bias)
    self.standardize.build(x_shape)
    self.gamma.build(condition_shape)
    self.beta.build(condition_shape)
    self.built = True

  def call(self, x, condition, training=False):
    y = self.standardize(x, training=training)
    shape = (-1,) + (1,) * (len(x.shape) - 2) + (x.shape[-1],)
    condition = ops.cast(condition, y.dtype)
    gamma = ops.reshape(self.gamma(condition, training=training), shape)
    beta = ops.reshape(self.beta(condition, training=training), shape)
    return y * gamma + beta

  def compute_output_shape(self, x_shape, condition_shape=None):
    return x_shape

  def get_config(self):
    config = super().get_config()
    config.update({"use_bias": self.use_bias, "kernel_norm": self.kernel_norm, "init": self.init,
                   "momentum": self.momentum, "epsilon": self.epsilon, "cross_replica": self.cross_replica})
    return config
