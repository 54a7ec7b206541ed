"""Spectral normalisation as a reparameterisation: the forward pass uses W / sigma(W), the variable stays W."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.layers import reparameterized_kernel as rk

SINGULAR_VECTORS = ("left", "right", "auto")


def power_iteration(matrix, u, singular_vector: str = "left", epsilon: float = 1e-12):
  """One power-iteration round on `matrix` (rows, cols) from the persisted vector `u`.

  Returns `(sigma, u_new)`: the estimate of the largest singular value, sigma = u_new^T W v, and the
  vector to persist. `u` is the left singular vector estimate (length rows) for "left", the right one
  (length cols) for "right". Both vectors are treated as constants (stop-gradient), so gradients flow
  through sigma's dependence on W only, as in Miyato et al. and compare_gan.
  """
  def l2_normalize(x):
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x)), epsilon))

  if singular_vector == "left":
    v = l2_normalize(ops.matmul(ops.transpose(matrix), u))       # (cols,)
    u_new = l2_normalize(ops.matmul(matrix, v))                  # (rows,)
    u_new, v = ops.stop_gradient(u_new), ops.stop_gradient(v)
    sigma = ops.sum(u_new * ops.matmul(matrix, v))
  else:
    v = l2_normalize(ops.matmul(matrix, u))                      # (rows,)
    u_new = l2_normalize(ops.matmul(ops.transpose(matrix), v))   # (cols,)
    u_new, v = ops.stop_gradient(u_new), ops.stop_gradient(v)
    sigma = ops.sum(v * ops.matmul(matrix, u_new))
  return sigma, u_new


@keras.saving.register_keras_serializable("model_garden")
class SpectralNorm(keras.layers.Wrapper):
  """Spectral normalisation of a Dense/Conv2D/Conv2DTranspose kernel, as a reparameterisation.

  "Spectral Normalization for Generative Adversarial Networks" (Miyato et al. 2018), as compare_gan's
  `arch_ops.spectral_norm`: the kernel is reshaped to a matrix W of shape (-1, kernel.shape[-1]) (for
  Conv2D (k*k*C_in, C_out), W^T of the paper); one power-iteration round from a persistent, non-trainable
  unit vector `u` estimates sigma = u^T W v; the layer computes with W / sigma. Gradients flow through
  sigma (u and v are constants). The `kernel` variable is never written: it stays W, and the optimizer
  updates W. `u` is updated (assigned) only when the layer is called with `training=True`; inference runs
  the same round from the stored `u` without storing the result.

  This differs from `keras.layers.SpectralNormalization`, which assigns W / sigma into the kernel at every
  training call (no gradient through sigma, the parameter itself rescaled, and the rescaling repeated each
  time a training-mode call happens, e.g. during the generator step).

  Args:
    layer: the Dense, Conv2D or Conv2DTranspose layer whose kernel is normalised.
    singular_vector: which singular vector `u` persists: "left" (length k*k*C_in; compare_gan's default),
      "right" (length C_out), or "auto" (the shorter one; compare_gan's BigGAN configs).
    epsilon: floor on the squared norm in the l2 normalisations (compare_gan: 1e-12).

  Example:
    >>> conv = SpectralNorm(keras.layers.Conv2D(64, 3, padding="same"))
    >>> y = conv(images, training=True)   # updates conv.u; conv.layer.kernel is unchanged
    >>> conv.sigma()                      # the current estimate of the largest singular value
  """

  def __init__(self, layer, singular_vector: str = "left", epsilon: float = 1e-12, **kwargs):
    rk.check_supported(layer, "SpectralNorm")
    if singular_vector not in SINGULAR_VECTORS:
      raise ValueError(f"singular_vector must be one of {SINGULAR_VECTORS}, got {singular_vector!r}.")
    super().__init__(layer, **kwargs)
    self.singular_vector = singular_vector
    self.epsilon = float(epsilon)

  def build(self, input_shape=None):
    super().build(input_shape)
    shape = tuple(rk.kernel_variable(self.layer).shape)
    rows, cols = int(_prod(shape[:-1])), int(shape[-1])
    mode = self.singular_vector
    if mode == "auto":
      mode = "left" if rows <= cols else "right"
    self._mode = mode
    self.u = self.add_weight(name="u", shape=(rows if mode == "left" else cols,),
                             initializer=keras.initializers.RandomNormal(0.0, 1.0), trainable=False,
                             autocast=False)
    self.built = True

  def _matrix(self):
    kernel = rk.read_float32(rk.kernel_variable(self.layer))
    return kernel, ops.reshape(kernel, (-1, kernel.shape[-1]))

  def normalized_kernel(self, training=False):
    """W / sigma in the kernel's shape (float32); assigns the new `u` when `training`."""
    kernel, matrix = self._matrix()
    sigma, u_new = power_iteration(matrix, ops.convert_to_tensor(self.u), self._mode, self.epsilon)
    if training:
      self.u.assign(u_new)
    return kernel / sigma

  def sigma(self):
    """The current estimate of the largest singular value (no state change)."""
    _, matrix = self._matrix()
    return power_iteration(matrix, ops.convert_to_tensor(self.u), self._mode, self.epsilon)[0]

  def call(self, inputs, training=False):
    return rk.call_with_kernel(self.layer, inputs, self.normalized_kernel(training=bool(training)))

  def compute_output_shape(self, input_shape):
    return self.layer.compute_output_shape(input_shape)

  def get_config(self):
    config = super().get_config()
    config.update({"singular_vector": self.singular_vector, "epsilon": self.epsilon})
    return config


def _prod(values):
  out = 1
  for v in values:
    out *= int(v)
  return out
