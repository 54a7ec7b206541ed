"""Running a Dense, Conv2D or Conv2DTranspose layer with a kernel computed from its stored one.

Weight reparameterisations (spectral norm, weight norm) keep the layer's `kernel` variable as the trained
parameter and compute the kernel actually used in the forward pass from it. These helpers read the stored
kernel in float32 (even under a mixed precision policy) and run the layer's own operation with another
kernel, so the variable is never overwritten.
"""

from __future__ import annotations

import keras
from keras import ops
# The one private Keras name the networks use: Keras has no public way to read a float32 variable inside a
# mixed-precision layer's call without autocasting it (Variable.autocast is set at creation, by Keras' own
# Dense/Conv build). tests/test_keras_workarounds.py fails if a Keras release drops or changes it.
from keras.src import backend as keras_backend

SUPPORTED = (keras.layers.Dense, keras.layers.Conv2D, keras.layers.Conv2DTranspose)


def check_supported(layer, wrapper_name: str) -> None:
  if not isinstance(layer, SUPPORTED):
    raise TypeError(f"{wrapper_name} wraps Dense, Conv2D or Conv2DTranspose layers, got "
                    f"{type(layer).__name__}. Wrap the layer that owns the kernel, e.g. "
                    f"{wrapper_name}(keras.layers.Conv2D(64, 3)).")


def kernel_variable(layer):
  return layer._kernel if isinstance(layer, keras.layers.Dense) else layer.kernel  # pylint: disable=protected-access


def output_axis(layer) -> int:
  """The kernel axis of the output channels: -1, except Conv2DTranspose's (h, w, out, in) kernel."""
  return -2 if isinstance(layer, keras.layers.Conv2DTranspose) else -1


def read_float32(variable):
  """The variable's value in its own dtype (float32), not autocast to the layer's compute dtype."""
  # `variable.value` honours the scope; `ops.convert_to_tensor(variable)` autocasts to the layer's compute dtype
  # on the TensorFlow backend whatever the scope says (Keras 3.15), which read float16 kernels here before.
  with keras_backend.AutocastScope(None):
    return variable.value


def call_with_kernel(layer, inputs, kernel):
  """`layer(inputs)` computed with `kernel` in place of the layer's kernel variable."""
  kernel = ops.cast(kernel, inputs.dtype)
  if isinstance(layer, keras.layers.Dense):
    outputs = ops.matmul(inputs, kernel)
  elif isinstance(layer, keras.layers.Conv2DTranspose):
    outputs = ops.conv_transpose(inputs, kernel, strides=list(layer.strides), padding=layer.padding,
                                 output_padding=layer.output_padding, dilation_rate=layer.dilation_rate,
                                 data_format=layer.data_format)
  else:
    outputs = layer.convolution_op(inputs, kernel)
  if layer.bias is not None:
    bias = ops.cast(layer.bias, outputs.dtype)
    if getattr(layer, "data_format", "channels_last") == "channels_first" and len(outputs.shape) > 2:
      bias = ops.reshape(bias, (1, -1) + (1,) * (len(outputs.shape) - 2))
    outputs = outputs + bias
  if layer.activation is not None:
    outputs = layer.activation(outputs)
  return outputs
