"""`Constant`: the base rate after an optional warmup (and before an optional cooldown)."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.optimizers.registry import SCHEDULES
from model_garden.optimizers.schedules.schedule import Schedule


@SCHEDULES.register("constant")
@keras.saving.register_keras_serializable("model_garden")
class Constant(Schedule):
  """`base`, with `Schedule`'s linear warmup and cooldown (big_vision's "stair" with no steps).

  Args:
    base, total_steps, warmup_steps, cooldown_steps: see `Schedule`; `total_steps` is needed only with a
      cooldown.

  Example:
    >>> float(Constant(0.1, warmup_steps=10)(5))
    0.05
  """

  needs_total_steps = False

  def decay(self, step):
    return ops.ones_like(step)
