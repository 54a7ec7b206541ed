"""Layer normalisation over every non-batch axis with per-channel scale and offset (tf.contrib style)."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.layers.tensor_ops import moments


@keras.saving.register_keras_serializable("model_garden")
class LayerNormAllAxes(keras.layers.Layer):
  """Layer norm of a feature map over (height, width, channels) with per-channel gamma and beta.

  "Layer Normalization" (Ba et al. 2016), as the `tf.contrib.layers.layer_norm` defaults that
  compare_gan's `layer_norm` (the study's "LN" discriminator normaliser) calls: moments over all axes but
  the batch (`begin_norm_axis=1`), learned scale and offset over the last axis only
  (`begin_params_axis=-1`), epsilon 1e-12. `keras.layers.LayerNormalization(axis=[1, 2, 3])` would instead
  learn a gamma per (h, w, c) position.

  Args:
    epsilon: added to the variance (tf.contrib: 1e-12).

  Example:
    >>> ln = LayerNormAllAxes()
    >>> ln(tf.zeros([2, 8, 8, 16])).shape
    TensorShape([2, 8, 8, 16])
  """

  def __init__(self, epsilon: float = 1e-12, **kwargs):
    super().__init__(**kwargs)
    self.epsilon = float(epsilon)

  def build(self, input_shape):
    channels = int(input_shape[-1])
    self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones", autocast=False)
    self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros", autocast=False)
    self.built = True

  def call(self, inputs):
    x = ops.cast(inputs, "float32")
    mean, variance = moments(x, range(1, len(x.shape)), keepdims=True)
    y = (x - mean) * ops.rsqrt(variance + self.epsilon)
    y = y * ops.convert_to_tensor(self.gamma) + ops.convert_to_tensor(self.beta)
    return ops.cast(y, inputs.dtype)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    config = super().get_config()
    config["epsilon"] = self.epsilon
    return config
