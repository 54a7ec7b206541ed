"""Self-modulated batch normalisation: the scale and offset are functions of the latent z."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.layers import normalized_layers
from model_garden.layers.standing_batch_norm import StandingBatchNorm


@keras.saving.register_keras_serializable("model_garden")
class SelfModulatedBatchNorm(keras.layers.Layer):
  """Batch norm whose gamma and beta are computed from the generator's latent z.

  "On Self Modulation for Generative Adversarial Networks" (Chen et al. 2019), as compare_gan's
  `self_modulated_batch_norm`: standardise, then h = relu(linear(z, num_hidden)) (skipped when
  `num_hidden` is 0), gamma = linear(h) with bias initialised to 1, beta = linear(h) with bias 0.

  Args:
    num_hidden: width of the hidden layer (compare_gan: 32); 0 for linear functions of z.
    kernel_norm: "none", "spectral" or "weight" for the three projections.
    init: kernel initialiser of the projections.
    momentum, epsilon, cross_replica: of the standardisation (`StandingBatchNorm`).

  Call: `layer(x, z, training=False)`.

  Example:
    >>> sbn = SelfModulatedBatchNorm()
    >>> y = sbn(features, z, training=True)
  """

  def __init__(self, num_hidden: int = 32, kernel_norm: str = "none", init: str = "normal",
               momentum: float = 0.9, epsilon: float = 1e-5, cross_replica: bool = False, **kwargs):
    super().__init__(**kwargs)
    self.num_hidden, self.kernel_norm, self.init = int(num_hidden), kernel_norm, init
    self.momentum, self.epsilon, self.cross_replica = float(momentum), float(epsilon), bool(cross_replica)
    self.standardize = StandingBatchNorm(center=False, scale=False, momentum=momentum, epsilon=epsilon,
                                         cross_replica=cross_replica, name="standardize")

  def build(self, x_shape, z_shape):
    if z_shape is None or len(z_shape) != 2:
      raise ValueError(f"{self.name}: z must have rank 2 (batch, z_dim); got shape {z_shape}.")
    channels = int(x_shape[-1])
    self.hidden = (normalized_layers.dense(self.num_hidden, name="hidden", kernel_norm=self.kernel_norm,
                                           init=self.init) if self.num_hidden else None)
    self.gamma = normalized_layers.dense(channels, name="gamma", kernel_norm=self.kernel_norm,
                                         init=self.init, bias_init=1.0)
    self.beta = normalized_layers.dense(channels, name="beta", kernel_norm=self.kernel_norm, init=self.init)
    self.standardize.build(x_shape)
    h_shape = z_shape
    if self.hidden is not None:
      self.hidden.build(z_shape)
      h_shape = (z_shape[0], self.num_hidden)
    self.gamma.build(h_shape)
    self.beta.build(h_shape)
    self.built = True

  def call(self, x, z, training=False):
    y = self.standardize(x, training=training)
    h = ops.cast(z, y.dtype)
    if self.hidden is not None:
      h = ops.relu(self.hidden(h, training=training))
    shape = (-1,) + (1,) * (len(x.shape) - 2) + (x.shape[-1],)
    gamma = ops.reshape(self.gamma(h, training=training), shape)
    beta = ops.reshape(self.beta(h, training=training), shape)
    return y * gamma + beta

  def compute_output_shape(self, x_shape, z_shape=None):
    return x_shape

  def get_config(self):
    config = super().get_config()
    config.update({"num_hidden": self.num_hidden, "kernel_norm": self.kernel_norm, "init": self.init,
                   "momentum": self.momentum, "epsilon": self.epsilon, "cross_replica": self.cross_replica})
    return config
