"""The transformer feed-forward block: Dense -> GELU -> Dropout -> Dense."""

from __future__ import annotations

from typing import Optional

import keras
from keras import ops

from model_garden.layers import tensor_ops


@keras.saving.register_keras_serializable("model_garden")
class MlpBlock(keras.layers.Layer):
  """Two Dense layers with a tanh-approximate GELU between them.

  The feed-forward block of "An Image is Worth 16x16 Words" (Dosovitskiy et al. 2021), of big_vision's
  ViT and, with Flax's default initialisers, of "MLP-Mixer" (Tolstikhin et al. 2021). The GELU is the
  tanh approximation because that is what `flax.linen.gelu` computes by default, so converted
  checkpoints give the logits they were trained with.

  Sub-layers are named `Dense_0` and `Dense_1` as in the Flax checkpoints.

  Args:
    mlp_dim: hidden width; None for 4x the input width.
    out_dim: output width; None for the input width.
    dropout: dropout rate after the GELU.
    kernel_initializer: initialiser of both kernels (default: big_vision's xavier_uniform).
    bias_initializer: initialiser of both biases (default: big_vision's normal(stddev=1e-6)).

  Example:
    >>> mlp = MlpBlock(mlp_dim=3072)
    >>> mlp(tf.zeros([2, 197, 768])).shape
    TensorShape([2, 197, 768])
  """

  def __init__(self, mlp_dim: Optional[int] = None, out_dim: Optional[int] = None, dropout: float = 0.0,
               kernel_initializer="glorot_uniform", bias_initializer=None, **kwargs):
    super().__init__(**kwargs)
    self.mlp_dim = None if mlp_dim is None else int(mlp_dim)
    self.out_dim = None if out_dim is None else int(out_dim)
    self.dropout = float(dropout)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    # big_vision gives the MLP biases a tiny random init rather than zeros; keep that as the default.
    self.bias_initializer = keras.initializers.get(
        bias_initializer if bias_initializer is not None else keras.initializers.RandomNormal(stddev=1e-6))
    self.drop = keras.layers.Dropout(self.dropout)
    self.dense_0 = None
    self.dense_1 = None

  def build(self, input_shape):
    width = int(input_shape[-1])
    hidden = self.mlp_dim or 4 * width
    inits = dict(kernel_initializer=self.kernel_initializer, bias_initializer=self.bias_initializer)
    self.dense_0 = keras.layers.Dense(hidden, name="Dense_0", **inits)
    self.dense_1 = keras.layers.Dense(self.out_dim or width, name="Dense_1", **inits)
    self.dense_0.build(input_shape)
    self.dense_1.build(tuple(input_shape[:-1]) + (hidden,))
    self.built = True

  def call(self, x, training=False):
    # On TensorFlow, `tensor_ops.dense` is a 2-D MatMul + BiasAdd on (tokens, width) that oneDNN fuses on CPU
    # (see tools/benchmark.py); the weights stay Dense_0/Dense_1's, so checkpoints are unchanged.
    x = tensor_ops.dense(x, self.dense_0.kernel, self.dense_0.bias)
    x = ops.gelu(x, approximate=True)
    x = self.drop(x, training=training)
    return tensor_ops.dense(x, self.dense_1.kernel, self.dense_1.bias)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.out_dim or input_shape[-1],)

  def get_config(self):
    config = super().get_config()
    config.update({
        "mlp_dim": self.mlp_dim,
        "out_dim": self.out_dim,
        "dropout": self.dropout,
        "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        "bias_initializer": keras.initializers.serialize(self.bias_initializer),
    })
    return config
