"""`ParamGroupOptimizer`: big_vision's optimizer chain around any update rule, as a Keras optimizer."""

from __future__ import annotations

import inspect
import warnings
from typing import List, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from model_garden.optimizers.param_groups import DEFAULT_WD_MULTS, ParamGroups, variable_path
from model_garden.optimizers.schedules.schedule import Schedule


class ParamGroupOptimizer(keras.optimizers.Optimizer):
  """Clipping, per-group lr multipliers, decoupled weight decay and freezing around an update rule.

  Implements the chain of big_vision's `optax.py::make` (Zhai et al. 2021, "Scaling Vision Transformers"):
  clip_by_global_norm -> update rule -> scale(lr) -> lr_mults -> add_decayed_weights(wd * wd_mult)
  -> schedule -> scale(-1). With `s(t)` the schedule's multiplier at step t (`Schedule.multiplier`, so
  that lr_t = lr * s(t)) and `u_t` the rule's direction for the clipped gradient, each variable becomes

    p <- p - lr_t * lr_mult * u_t - s(t) * wd * wd_mult * p

  The weight decay is decoupled (Loshchilov & Hutter 2019) and follows the schedule's shape but not the
  value of lr: `wd` is big_vision's absolute per-step coefficient at the schedule's peak. The ViT-g config's
  "0.03 relative to lr" is therefore written `wd = 0.03 * lr` (here 0.03 * 8e-4), with the head's kernel
  decayed 100x more through `wd_mults`. lr_mults scale only the update, not the decay (as in big_vision).

  Frozen variables (`frozen` regexes) are removed by `filter_trainable`, get no state in `build`, and are
  skipped by `apply`. Patterns follow `param_groups` (Keras `.path`, with or without the model's name).

  The gradient is clipped after the TF backend sums it across replicas, so under MirroredStrategy the
  clipping sees the global gradient (Keras' own `global_clipnorm` clips each replica's part before the sum).

  Subclasses implement `build_state(variables)` and `update_direction(gradient, variable, index)`, and list
  their hyperparameters as keyword-only `__init__` arguments (those are what optimizer specs accept).

  Args:
    learning_rate: a float (constant: s(t) = 1) or a `Schedule`; other Keras schedules only without `wd`,
      as the decay needs the schedule's multiplier.
    wd: decoupled weight decay coefficient (0 = off).
    wd_mults: `[(regex, multiplier)]`, first match wins, unmatched variables are not decayed.
    lr_mults: `[(regex, multiplier)]`, first match wins, unmatched variables get 1.
    frozen: a regex or list of regexes of variables not to train.
    grad_clip_norm: clip the gradient to this global norm before the rule (None = off).
    name: the optimizer's name.

  Example (a new rule; `optimizers.make` builds the registered ones from a config):
    >>> class Sign(ParamGroupOptimizer):
    ...   def update_direction(self, gradient, variable, index):
    ...     return ops.sign(gradient)
    >>> opt = Sign(Cosine(0.01, total_steps=1000), wd=1e-4, frozen="img/.*", grad_clip_norm=1.0)
    >>> variables = opt.filter_trainable(model.trainable_variables)
    >>> opt.apply(grads, variables)
  """

  def __init__(self, learning_rate, *, wd: float = 0.0, wd_mults=DEFAULT_WD_MULTS, lr_mults=None,
               frozen=None, grad_clip_norm: float | None = None, name: str | None = None):
    if isinstance(learning_rate, int) and not isinstance(learning_rate, bool):
      learning_rate = float(learning_rate)
    super().__init__(learning_rate=learning_rate, name=name)
    self.wd = float(wd or 0.0)
    self.grad_clip_norm = float(grad_clip_norm) if grad_clip_norm else None
    self.groups = ParamGroups(frozen=frozen, lr_mults=lr_mults, wd_mults=wd_mults)
    if self.wd and callable(learning_rate) and not isinstance(learning_rate, Schedule):
      raise ValueError("Decoupled weight decay follows the schedule's multiplier, which only model_garden "
                       f"schedules expose; got learning_rate={learning_rate!r}.")

  @classmethod
  def hyperparameter_names(cls) -> List[str]:
    """The update rule's own arguments: what `"name(k=v)"` optimizer specs may set."""
    common = set(inspect.signature(ParamGroupOptimizer.__init__).parameters)
    params = inspect.signature(cls.__init__).parameters
    return [n for n, p in params.items() if p.kind == p.KEYWORD_ONLY and n not in common]

  def filter_trainable(self, variables: Sequence) -> list:
    """`variables` without the frozen ones (warns about `frozen` patterns that match nothing)."""
    variables = list(variables)
    for pattern in self.groups.unmatched(self.groups.frozen, variables):
      warnings.warn(f"{self.name}: frozen pattern {pattern!r} matches no variable; paths look like "
                    f"{_example(variables)}.", stacklevel=2)
    return [v for v in variables if not self.groups.is_frozen(v)]

  def build(self, variables):
    if self.built:
      return
    variables = [v for v in variables if not self.groups.is_frozen(v)]
    super().build(variables)
    self._lr_mult_of = [self.groups.lr_mult(v) for v in variables]
    self._wd_of = [self.wd * self.groups.wd_mult(v) for v in variables]
    patterns = [p for p, _ in self.groups.lr_mults] + ([p for p, _ in self.groups.wd_mults] if self.wd else [])
    for pattern in self.groups.unmatched(patterns, variables):
      warnings.warn(f"{self.name}: pattern {pattern!r} matches no trained variable; paths look like "
                    f"{_example(variables)}.", stacklevel=2)
    self.build_state(variables)

  def apply(self, grads, trainable_variables=None):
    if trainable_variables is not None:
      # Frozen variables may still be passed in (e.g. model.trainable_variables): skip them.
      pairs = [(g, v) for g, v in zip(grads, trainable_variables) if not self.groups.is_frozen(v)]
      grads, trainable_variables = [g for g, _ in pairs], [v for _, v in pairs]
    # Embedding lookups give IndexedSlices; the update rules do dense math (decay, factored moments).
    grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
    return super().apply(grads, trainable_variables)

  def build_state(self, variables) -> None:
    """Creates the rule's state for the (unfrozen) `variables`; index i belongs to `variables[i]`."""

  def update_direction(self, gradient, variable, index: int):
    """Updates the rule's state for `variable` and returns its direction u (before lr); gradient descent."""
    return gradient

  def add_state(self, reference, name: str, shape=None, dtype=None):
    """An optimizer variable for `reference` (default: same shape and dtype), colocated with it."""
    shape = tuple(reference.shape) if shape is None else tuple(shape)
    dtype = reference.dtype if dtype is None else dtype
    full_name = f"{variable_path(reference).replace('/', '_')}_{name}"
    strategy = getattr(self, "_distribution_strategy", None)  # TF backend: keep state next to its variable.
    if strategy is None:
      return self.add_variable(shape=shape, dtype=dtype, name=full_name)
    colocate = reference.value if isinstance(reference, keras.Variable) else reference
    with strategy.extended.colocate_vars_with(colocate):
      return self.add_variable(shape=shape, dtype=dtype, name=full_name)

  def update_step(self, gradient, variable, learning_rate):
    index = self._get_variable_index(variable)
    dtype = compute_dtype(variable.dtype)
    gradient = ops.cast(ops.convert_to_tensor(gradient), dtype)
    direction = self.update_direction(gradient, variable, index)
    delta = ops.cast(learning_rate, dtype) * self._lr_mult_of[index] * ops.cast(direction, dtype)
    if self._wd_of[index]:
      decay = ops.cast(self.schedule_multiplier(), dtype) * self._wd_of[index]
      delta = delta + decay * ops.cast(variable, dtype)
    self.assign_sub(variable, delta)

  def schedule_multiplier(self):
    """s(t): the schedule without the base rate at the current step (1 for a constant float lr)."""
    if isinstance(self._learning_rate, Schedule):
      return self._learning_rate.multiplier(self._iterations)
    return 1.0

  def clip(self, grads):
    """Scales `grads` to global norm at most `grad_clip_norm` (optax.clip_by_global_norm)."""
    if not self.grad_clip_norm:
      return list(grads)
    present = [ops.cast(g, "float32") for g in grads if g is not None]
    norm = ops.sqrt(ops.sum(ops.stack([ops.sum(ops.square(g)) for g in present])))
    scale = self.grad_clip_norm / ops.maximum(norm, self.grad_clip_norm)
    return [None if g is None else g * ops.cast(scale, g.dtype) for g in grads]

  def _all_reduce_sum_gradients(self, grads_and_vars):
    # TF backend: the per-replica gradients are summed here, in the replica context, just before the
    # update; clipping the sum keeps the global-norm clipping exact under MirroredStrategy.
    grads_and_vars = list(super()._all_reduce_sum_gradients(grads_and_vars))
    if not self.grad_clip_norm or not grads_and_vars:
      return grads_and_vars
    grads = self.clip([g for g, _ in grads_and_vars])
    return [(g, v) for g, (_, v) in zip(grads, grads_and_vars)]

  def _clip_gradients(self, grads):
    # Keras clips here, before the replica sum; on TF we clip after it (above), elsewhere here.
    if hasattr(super(), "_all_reduce_sum_gradients"):
      return grads
    return self.clip(grads)

  def get_config(self) -> dict:
    config = super().get_config()
    config = {"name": config["name"], "learning_rate": config["learning_rate"], "wd": self.wd,
              "grad_clip_norm": self.grad_clip_norm, **self.groups.get_config()}
    config.update({n: getattr(self, n) for n in self.hyperparameter_names()})
    return config


def compute_dtype(dtype) -> str:
  """float32 for half-precision variables (their updates are computed in float32), else their dtype."""
  dtype = keras.backend.standardize_dtype(dtype)
  return "float32" if dtype in ("float16", "bfloat16") else dtype


def decay_on_state(decay: float, state_dtype) -> float:
  """`decay` as JAX multiplies it into a state array of `state_dtype`: rounded to that dtype first.

  In optax (`ema`, `trace`, `scale_by_adam`'s mu) the decay is a Python float times the stored state; JAX's
  weak typing converts the float to the state's dtype, so a bfloat16 momentum decays by bf16(0.9) =
  0.8984375, not 0.9 (float32 states: float32(0.9), what TF does anyway). The product is exact in float32
  (8-bit mantissas) and, under jit as big_vision runs it, stays float32 until the sum is stored.
  """
  numpy_dtype = tf.as_dtype(keras.backend.standardize_dtype(state_dtype)).as_numpy_dtype  # ml_dtypes for bf16
  return float(np.asarray(decay, numpy_dtype))


def _example(variables) -> str:
  paths = [variable_path(v) for v in variables[:2]]
  return ", ".join(repr(p) for p in paths) if paths else "(no variables)"
