"""`Linear`: linear (or polynomial) decay to `end * base` after the warmup."""

from __future__ import annotations

import keras

from model_garden.optimizers.registry import SCHEDULES
from model_garden.optimizers.schedules.schedule import Schedule


@SCHEDULES.register("linear")
@keras.saving.register_keras_serializable("model_garden")
class Linear(Schedule):
  """Linear warmup then `end + (1 - end) * (1 - progress) ** power`, as big_vision's "linear"/"polynomial".

  `end` is a fraction of `base` (big_vision builds its schedules with base 1 and scales by lr afterwards).

  Args:
    base, total_steps, warmup_steps, cooldown_steps: see `Schedule`.
    end: the final multiplier (default 0).
    power: 1 for linear decay, other values for polynomial decay.

  Example:
    >>> float(Linear(1.0, total_steps=110, warmup_steps=10, end=0.1)(60))  # half-way
    0.55
  """

  def __init__(self, base: float = 1.0, total_steps: int | None = None, warmup_steps: int = 0,
               cooldown_steps: int = 0, end: float = 0.0, power: float = 1.0):
    super().__init__(base, total_steps, warmup_steps, cooldown_steps)
    self.end = float(end)
    self.power = float(power)

  def decay(self, step):
    return self.end + (1.0 - self.end) * (1.0 - self.progress(step)) ** self.power

  def get_config(self) -> dict:
    return {**super().get_config(), "end": self.end, "power": self.power}
