"""Weight normalisation as a reparameterisation: W = g * V / ||V|| per output channel."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.layers import reparameterized_kernel as rk


@keras.saving.register_keras_serializable("model_garden")
class WeightNorm(keras.layers.Wrapper):
  """Weight normalisation of a Dense/Conv2D/Conv2DTranspose kernel.

  "Weight Normalization: A Simple Reparameterization to Accelerate Training of Deep Neural Networks"
  (Salimans & Kingma 2016), as compare_gan's `weight_norm_linear/conv2d/deconv2d`: the wrapped layer's
  `kernel` is the direction V, a trainable per-output-channel scale `g` its length, and the forward pass
  uses g * V / ||V||, the norm taken over every kernel axis except the output channels (the last axis, or
  axis -2 of a Conv2DTranspose kernel). The kernel variable is never overwritten.

  Notable difference: compare_gan (and the paper) initialise g and the bias from the statistics of a
  first batch (data-dependent init); here g starts at ||V|| so that the initial forward pass equals the
  unnormalised layer's, and the bias keeps its initialiser. compare_gan lists weight norm among the
  study's discriminator normalisers, but none of its architectures applies it.

  Args:
    layer: the Dense, Conv2D or Conv2DTranspose layer whose kernel is reparameterised.
    epsilon: floor on the squared norm.

  Example:
    >>> dense = WeightNorm(keras.layers.Dense(10))
    >>> dense(x)   # trains dense.g and dense.layer.kernel (the direction)
  """

  def __init__(self, layer, epsilon: float = 1e-12, **kwargs):
    rk.check_supported(layer, "WeightNorm")
    super().__init__(layer, **kwargs)
    self.epsilon = float(epsilon)

  def build(self, input_shape=None):
    super().build(input_shape)
    kernel = rk.kernel_variable(self.layer)
    axis = rk.output_axis(self.layer) % len(kernel.shape)
    self._axes = tuple(i for i in range(len(kernel.shape)) if i != axis)
    self._g_shape = tuple(1 if i != axis else kernel.shape[i] for i in range(len(kernel.shape)))
    axes = self._axes

    def kernel_norm(shape, dtype=None):
      # g starts at ||V||: the first forward pass equals the unnormalised layer's.
      del shape
      return ops.cast(ops.sqrt(ops.sum(ops.square(rk.read_float32(kernel)), axis=axes)), dtype or "float32")

    self.g = self.add_weight(name="g", shape=(kernel.shape[axis],), initializer=kernel_norm, autocast=False)
    self.built = True

  def normalized_kernel(self):
    kernel = rk.read_float32(rk.kernel_variable(self.layer))
    squared = ops.sum(ops.square(kernel), axis=self._axes, keepdims=True)
    g = ops.reshape(rk.read_float32(self.g), self._g_shape)
    return g * kernel * ops.rsqrt(ops.maximum(squared, self.epsilon))

  def call(self, inputs):
    return rk.call_with_kernel(self.layer, inputs, self.normalized_kernel())

  def compute_output_shape(self, input_shape):
    return self.layer.compute_output_shape(input_shape)

  def get_config(self):
    config = super().get_config()
    config["epsilon"] = self.epsilon
    return config
