"""`Piecewise`: step decays at fractions of the run (BiT's schedule)."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from model_garden.optimizers.registry import SCHEDULES
from model_garden.optimizers.schedules.schedule import Schedule


@SCHEDULES.register("piecewise")
@keras.saving.register_keras_serializable("model_garden")
class Piecewise(Schedule):
  """Multiplies the rate by `factor` at each boundary, as BiT (Kolesnikov et al. 2020, "Big Transfer").

  `boundaries` are fractions of `total_steps`; boundary b becomes step `round(b * total_steps)`, and the
  decay applies from that step on (big_vision's "stair": `searchsorted(steps, step + 1)`):

    decay(step) = factor ** (number of boundary steps <= step)

  Args:
    base, total_steps, warmup_steps, cooldown_steps: see `Schedule`.
    boundaries: increasing fractions in (0, 1), e.g. `(0.3, 0.6, 0.9)`.
    factor: the multiplier applied at every boundary (default 0.1).

  Example:
    >>> sched = Piecewise(0.03, total_steps=1000, boundaries=(0.3, 0.6, 0.9), factor=0.1)
    >>> float(sched(299)), float(sched(300))
    (0.03..., 0.003...)
  """

  def __init__(self, base: float = 1.0, total_steps: int | None = None, warmup_steps: int = 0,
               cooldown_steps: int = 0, boundaries: Sequence[float] = (0.3, 0.6, 0.9), factor: float = 0.1):
    super().__init__(base, total_steps, warmup_steps, cooldown_steps)
    self.boundaries = tuple(float(b) for b in boundaries)
    self.factor = float(factor)
    if any(not 0.0 < b < 1.0 for b in self.boundaries) or list(self.boundaries) != sorted(self.boundaries):
      raise ValueError(f"piecewise: boundaries must be increasing fractions of total_steps in (0, 1), "
                       f"got {boundaries}.")
    self.boundary_steps = tuple(int(round(b * self.total_steps)) for b in self.boundaries)

  def decay(self, step):
    mult = ops.ones_like(step)
    for boundary in self.boundary_steps:
      mult = mult * ops.where(step >= float(boundary), self.factor, 1.0)
    return mult

  def get_config(self) -> dict:
    return {**super().get_config(), "boundaries": list(self.boundaries), "factor": self.factor}
