"""`AdafactorBV`: big_vision's modified Adafactor of "Scaling Vision Transformers"."""

from __future__ import annotations

from typing import Optional, Tuple

import keras
from keras import ops

from model_garden.optimizers.param_group_optimizer import ParamGroupOptimizer, decay_on_state
from model_garden.optimizers.registry import OPTIMIZERS


def factored_axes(shape, min_dim: int) -> Optional[Tuple[int, int]]:
  """(row axis, column axis) = (largest, second-largest) axes if both are >= min_dim, else None.

  Ties keep axis order (a stable sort, as optax's argsort does for these small arrays): for an (n, n)
  kernel the rows are axis 1 and the columns axis 0.
  """
  if len(shape) < 2:
    return None
  order = sorted(range(len(shape)), key=lambda axis: shape[axis])
  col_axis, row_axis = order[-2], order[-1]
  if shape[col_axis] < min_dim:
    return None
  return row_axis, col_axis


@OPTIMIZERS.register("adafactor_bv")
@keras.saving.register_keras_serializable("model_garden")
class AdafactorBV(ParamGroupOptimizer):
  """Adafactor (Shazeer & Stern 2018) as modified by Zhai et al. 2021, "Scaling Vision Transformers".

  big_vision's `scale_by_adafactor` (optax `scale_by_factored_rms` -> optional block-RMS clip -> EMA
  momentum). At step t (counting from 0) with gradient g:

    beta2_t = min(beta2_cap, 1 - (t - decay_offset + 1) ** -decay_rate)     (0 at t=0, capped at 0.999)
    G = g^2 + eps
    factored variables (the two largest axes both >= factored_min_dim; rows = largest axis):
      v_row <- beta2_t * v_row + (1 - beta2_t) * mean(G over the column axis)
      v_col <- beta2_t * v_col + (1 - beta2_t) * mean(G over the row axis)
      u = g / sqrt(v_row (x) v_col / mean(v_col))       ((x): broadcast outer product)
    other variables (vectors, small matrices):
      v <- beta2_t * v + (1 - beta2_t) * G;   u = g / sqrt(v)
    clipping_threshold c (off by default): u <- u / max(1, rms(u) / c)
    momentum (optax `ema(momentum, debias=False, accumulator_dtype=momentum_dtype)`, not debiased):
      m <- d * m + (1 - momentum) * u;  u = m     (float32; m then stored in momentum_dtype)
    p <- p - lr_t * lr_mult * u - s(t) * wd * wd_mult * p    (see ParamGroupOptimizer)

  d is the momentum rounded to momentum_dtype (`momentum_decay`), as JAX applies a Python float to a
  bfloat16 array: bf16(0.9) = 0.8984375, while (1 - momentum) meets the float32 u and stays float32(0.1).
  The step uses the float32 m; only the stored m is rounded (`decay_on_state`).

  There is no relative (parameter-scale) step size. Per (n, m) factored kernel the state is n + m
  float32 values plus n*m bfloat16 momentum values: about a quarter of Adam's 2*n*m float32 values.

  Args:
    learning_rate: float or `Schedule` (ViT-g: `Rsqrt(8e-4, ...)`).
    momentum: first-moment decay (None or 0: no momentum state).
    momentum_dtype: dtype the momentum is stored in.
    factored_min_dim: factor the second moment when the two largest axes are at least this long.
    decay_rate: exponent of the beta2 schedule.
    decay_offset: step at which the beta2 schedule starts (e.g. where a fine-tuning run starts).
    beta2_cap: upper bound of beta2 (the modification: plain Adafactor lets beta2 -> 1).
    eps: added to g^2.
    clipping_threshold: block-RMS update clipping threshold (None: off, as in Scaling ViT).
    **kwargs: `ParamGroupOptimizer` arguments (wd, wd_mults, lr_mults, frozen, grad_clip_norm, name).

  Example:
    >>> sched = Rsqrt(8e-4, total_steps=1_000_000, warmup_steps=10_000, cooldown_steps=50_000)
    >>> opt = AdafactorBV(sched, wd=0.03 * 8e-4, wd_mults=[(".*head/kernel", 100.0), (".*/kernel", 1.0)],
    ...                   grad_clip_norm=1.0)
    >>> opt.apply(grads, model.trainable_variables)
  """

  def __init__(self, learning_rate=8e-4, *, momentum: float | None = 0.9, momentum_dtype: str = "bfloat16",
               factored_min_dim: int = 32, decay_rate: float = 0.8, decay_offset: int = 0,
               beta2_cap: float = 0.999, eps: float = 1e-30, clipping_threshold: float | None = None,
               **kwargs):
    super().__init__(learning_rate, **kwargs)
    self.momentum = float(momentum) if momentum else None
    self.momentum_dtype = keras.backend.standardize_dtype(momentum_dtype)
    # The decay that multiplies the stored momentum (0.8984375 for 0.9 in bfloat16).
    self.momentum_decay = decay_on_state(self.momentum, self.momentum_dtype) if self.momentum else None
    self.factored_min_dim = int(factored_min_dim)
    self.decay_rate = float(decay_rate)
    self.decay_offset = int(decay_offset)
    self.beta2_cap = float(beta2_cap)
    self.eps = float(eps)
    self.clipping_threshold = float(clipping_threshold) if clipping_threshold else None

  def build_state(self, variables):
    self._axes = [factored_axes(tuple(v.shape), self.factored_min_dim) for v in variables]
    self._v_row, self._v_col, self._v, self._m = [], [], [], []
    for v, axes in zip(variables, self._axes):
      shape = tuple(v.shape)
      if axes:
        row_axis, col_axis = axes
        # v_row keeps the rows (drops the column axis); v_col keeps the columns.
        self._v_row.append(self.add_state(v, "v_row", shape=_drop(shape, col_axis), dtype="float32"))
        self._v_col.append(self.add_state(v, "v_col", shape=_drop(shape, row_axis), dtype="float32"))
        self._v.append(None)
      else:
        self._v_row.append(None)
        self._v_col.append(None)
        self._v.append(self.add_state(v, "v", dtype="float32"))
      self._m.append(self.add_state(v, "momentum", dtype=self.momentum_dtype) if self.momentum else None)

  def beta2(self):
    """beta2_t at the current step (optax's decay_rate_pow, capped)."""
    t = ops.cast(ops.maximum(self.iterations - self.decay_offset, 0) + 1, "float32")
    return ops.minimum(self.beta2_cap, 1.0 - ops.power(t, -self.decay_rate))

  def update_direction(self, gradient, variable, index):
    g = ops.cast(gradient, "float32")
    beta2 = self.beta2()
    g2 = ops.square(g) + self.eps
    axes = self._axes[index]
    if axes:
      row_axis, col_axis = axes
      v_row = beta2 * self._v_row[index] + (1.0 - beta2) * ops.mean(g2, axis=col_axis)
      v_col = beta2 * self._v_col[index] + (1.0 - beta2) * ops.mean(g2, axis=row_axis)
      self.assign(self._v_row[index], v_row)
      self.assign(self._v_col[index], v_col)
      # v_col lost the row axis: its column axis sits one lower when it came after the row axis.
      col_in_v_col = col_axis - 1 if col_axis > row_axis else col_axis
      col_scale = v_col / ops.mean(v_col, axis=col_in_v_col, keepdims=True)
      u = g * ops.expand_dims(ops.rsqrt(v_row), col_axis) * ops.expand_dims(ops.rsqrt(col_scale), row_axis)
    else:
      v = beta2 * self._v[index] + (1.0 - beta2) * g2
      self.assign(self._v[index], v)
      u = g * ops.rsqrt(v)
    if self.clipping_threshold:
      rms = ops.sqrt(ops.mean(ops.square(u)))
      u = u / ops.maximum(1.0, rms / self.clipping_threshold)
    if self.momentum:
      m = self.momentum_decay * ops.cast(self._m[index], "float32") + (1.0 - self.momentum) * u
      self.assign(self._m[index], m)  # rounded to momentum_dtype; this step uses the float32 value
      u = m
    return u


def _drop(shape, axis):
  return shape[:axis] + shape[axis + 1:]
