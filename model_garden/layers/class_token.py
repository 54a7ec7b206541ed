"""The learned [class] token prepended to a token sequence."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable("model_garden")
class ClassToken(keras.layers.Layer):
  """Prepends a learned, zero-initialised token `cls` of shape (1, 1, width) to every sequence.

  The [class] token of BERT (Devlin et al. 2019) as used by "An Image is Worth 16x16 Words" (Dosovitskiy
  et al. 2021) for `pool="tok"`. In big_vision the position embedding is added before this token is
  prepended, so the token has no position-embedding row of its own.

  Example:
    >>> ClassToken()(tf.zeros([2, 196, 768])).shape
    TensorShape([2, 197, 768])
  """

  def build(self, input_shape):
    self.cls = self.add_weight(name="cls", shape=(1, 1, int(input_shape[-1])), initializer="zeros")
    self.built = True

  def call(self, x):
    batch = ops.shape(x)[0]
    cls = ops.broadcast_to(ops.cast(self.cls, x.dtype), (batch, 1, x.shape[-1]))
    return ops.concatenate([cls, x], axis=1)

  def compute_output_shape(self, input_shape):
    length = None if input_shape[1] is None else input_shape[1] + 1
    return (input_shape[0], length, input_shape[2])
