"""`Adam`: Adam with bias correction, optax's `scale_by_adam` (optionally a bfloat16 first moment)."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.optimizers.param_group_optimizer import ParamGroupOptimizer, decay_on_state
from model_garden.optimizers.registry import OPTIMIZERS


@OPTIMIZERS.register("adam")
@keras.saving.register_keras_serializable("model_garden")
class Adam(ParamGroupOptimizer):
  """Adam (Kingma & Ba 2015); with `wd` it is AdamW-style decoupled decay (Loshchilov & Hutter 2019).

  At step t (counting from 1), with optax's epsilon placement:

    mu <- b1 * mu + (1 - b1) * g          nu <- b2 * nu + (1 - b2) * g^2
    u = (mu / (1 - b1^t)) / (sqrt(nu / (1 - b2^t) + eps_root) + eps)
    p <- p - lr_t * lr_mult * u - s(t) * wd * wd_mult * p    (see ParamGroupOptimizer)

  big_vision's ViT configs use `mu_dtype="bfloat16"` to halve the first moment's memory. As in optax, b1
  multiplies the stored mu after rounding to its dtype (bf16(0.9) = 0.8984375, `decay_on_state`); the
  new mu is computed and used in float32 and only stored rounded.

  Args:
    learning_rate: float or `Schedule`.
    b1, b2: decay rates of the first and second moments.
    eps, eps_root: epsilon outside and inside the square root.
    mu_dtype: dtype the first moment is stored in (None: the variable's).
    **kwargs: `ParamGroupOptimizer` arguments (wd, wd_mults, lr_mults, frozen, grad_clip_norm, name).

  Example:
    >>> opt = Adam(Cosine(1e-3, total_steps=10_000, warmup_steps=500), wd=1e-4, mu_dtype="bfloat16")
    >>> opt.apply(grads, model.trainable_variables)
  """

  def __init__(self, learning_rate=0.001, *, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
               eps_root: float = 0.0, mu_dtype: str | None = None, **kwargs):
    super().__init__(learning_rate, **kwargs)
    self.b1, self.b2 = float(b1), float(b2)
    self.eps, self.eps_root = float(eps), float(eps_root)
    self.mu_dtype = None if mu_dtype is None else keras.backend.standardize_dtype(mu_dtype)

  def build_state(self, variables):
    self._mu = [self.add_state(v, "mu", dtype=self.mu_dtype) for v in variables]
    self._b1_on_mu = [decay_on_state(self.b1, mu.dtype) for mu in self._mu]
    self._nu = [self.add_state(v, "nu") for v in variables]

  def update_direction(self, gradient, variable, index):
    dtype = gradient.dtype
    t = ops.cast(self.iterations + 1, dtype)
    mu_state, nu_state = self._mu[index], self._nu[index]
    mu = self._b1_on_mu[index] * ops.cast(mu_state, dtype) + (1.0 - self.b1) * gradient
    nu = self.b2 * ops.cast(nu_state, dtype) + (1.0 - self.b2) * ops.square(gradient)
    self.assign(mu_state, mu)
    self.assign(nu_state, nu)
    mu_hat = mu / (1.0 - ops.power(self.b1, t))
    nu_hat = nu / (1.0 - ops.power(self.b2, t))
    return mu_hat / (ops.sqrt(nu_hat + self.eps_root) + self.eps)
