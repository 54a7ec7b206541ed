"""A 2-D convolution whose kernel is standardised per output channel before every use (BiT's StdConv)."""

from __future__ import annotations

import keras
from keras import ops

# BiT's TF2, JAX and PyTorch code all use var + 1e-10 (a TF2 comment notes the authors' first code used
# std + 1e-5); the variance is the biased one (mean of squares).
WS_EPSILON = 1e-10


def standardize_kernel(kernel, epsilon: float = WS_EPSILON):
  """`(k - mean) / sqrt(var + epsilon)` over the height, width and input axes of an HWIO kernel.

  Computed in float32 whatever the kernel's dtype (moments accumulated in bfloat16 are too coarse),
  and returned in the kernel's dtype.
  """
  dtype = kernel.dtype
  kernel = ops.cast(kernel, "float32")
  mean = ops.mean(kernel, axis=(0, 1, 2), keepdims=True)
  centred = kernel - mean
  var = ops.mean(ops.square(centred), axis=(0, 1, 2), keepdims=True)
  return ops.cast(centred * ops.rsqrt(var + epsilon), dtype)


@keras.saving.register_keras_serializable("model_garden")
class StandardizedConv2D(keras.layers.Conv2D):
  """`keras.layers.Conv2D` with Weight Standardization: the kernel is standardised in every call.

  Weight Standardization ("Micro-Batch Training with Batch-Channel Normalization and Weight
  Standardization", Qiao et al. 2019, arXiv 1903.10520) as used by BiT ("Big Transfer", Kolesnikov et
  al. 2020) together with GroupNorm: before the convolution each output channel's kernel `k[..., o]` is
  replaced by `(k - mean) / sqrt(var + epsilon)`, the moments taken over height, width and input channels
  (HWI of the HWIO kernel), the variance biased, epsilon 1e-10 (big_transfer `StandardizedConv2D`,
  `StdConv`, `StdConv2d`). The stored variable stays unstandardised, so official checkpoints load as they
  are. There is no learnable gain: the normalisation that follows supplies the scale. BiT's convolutions
  have no bias (`use_bias=False`, the default here); padding is Keras' ("valid" or "same"): BiT pads
  explicitly (zeros, `(k - 1) // 2` before) and convolves "valid", which differs from "same" for strided
  convolutions of even-sized inputs.

  Args:
    filters, kernel_size, strides, padding, ...: as `keras.layers.Conv2D`.
    use_bias: default False (BiT's convolutions have none).
    epsilon: added to the variance (default 1e-10).

  Example:
    >>> conv = StandardizedConv2D(64, 7, strides=2, name="standardized_conv2d")
    >>> conv(tf.zeros([2, 230, 230, 3])).shape
    TensorShape([2, 112, 112, 64])
  """

  def __init__(self, filters, kernel_size, use_bias: bool = False, epsilon: float = WS_EPSILON, **kwargs):
    super().__init__(filters, kernel_size, use_bias=use_bias, **kwargs)
    self.epsilon = float(epsilon)

  def convolution_op(self, inputs, kernel):
    return super().convolution_op(inputs, standardize_kernel(kernel, self.epsilon))

  def get_config(self):
    config = super().get_config()
    config["epsilon"] = self.epsilon
    return config
