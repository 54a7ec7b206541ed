"""`SGD`: stochastic gradient descent with (Nesterov) momentum, as big_vision's `momentum_hp`."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.optimizers.param_group_optimizer import ParamGroupOptimizer, decay_on_state
from model_garden.optimizers.registry import OPTIMIZERS


@OPTIMIZERS.register("sgd")
@keras.saving.register_keras_serializable("model_garden")
class SGD(ParamGroupOptimizer):
  """SGD with heavy-ball or Nesterov momentum (Polyak 1964; Sutskever et al. 2013), optax's `trace`.

  The momentum holds gradients, not lr-scaled steps, so lr schedules and lr_mults act on the step only:

    m <- g + d * m                 (float32; m then stored in momentum_dtype)
    u = m                          (nesterov: u = g + momentum * m, with the float32 m)
    p <- p - lr_t * lr_mult * u - s(t) * wd * wd_mult * p    (see ParamGroupOptimizer)

  d is the momentum rounded to momentum_dtype (`momentum_decay`): optax's `trace` multiplies the Python
  float into the stored state, so for big_vision's bfloat16 momentum (`momentum_hp`) d = bf16(0.9) =
  0.8984375; Nesterov's second product meets the float32 m and uses float32(0.9) (`decay_on_state`).

  For a constant lr and float32 momentum this equals `keras.optimizers.SGD`. BiT and big_vision's transfer
  configs use it (momentum 0.9; big_vision keeps the momentum in bfloat16, `momentum_dtype="bfloat16"`).

  Args:
    learning_rate: float or `Schedule`.
    momentum: 0 for plain SGD (no state).
    nesterov: Nesterov momentum.
    momentum_dtype: dtype the momentum is stored in (computed in float32).
    **kwargs: `ParamGroupOptimizer` arguments (wd, wd_mults, lr_mults, frozen, grad_clip_norm, name).

  Example:
    >>> opt = SGD(0.03, momentum=0.9, grad_clip_norm=1.0)
    >>> opt.apply(grads, model.trainable_variables)
  """

  def __init__(self, learning_rate=0.01, *, momentum: float = 0.9, nesterov: bool = False,
               momentum_dtype: str = "float32", **kwargs):
    super().__init__(learning_rate, **kwargs)
    self.momentum = float(momentum or 0.0)
    self.nesterov = bool(nesterov)
    self.momentum_dtype = keras.backend.standardize_dtype(momentum_dtype)
    self.momentum_decay = decay_on_state(self.momentum, self.momentum_dtype)  # multiplies the stored m

  def build_state(self, variables):
    self._momenta = [self.add_state(v, "momentum", dtype=self.momentum_dtype) if self.momentum else None
                     for v in variables]

  def update_direction(self, gradient, variable, index):
    if not self.momentum:
      return gradient
    state = self._momenta[index]
    m = gradient + self.momentum_decay * ops.cast(state, gradient.dtype)
    self.assign(state, m)
    return gradient + self.momentum * m if self.nesterov else m
