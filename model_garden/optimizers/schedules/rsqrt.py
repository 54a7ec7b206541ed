"""`Rsqrt`: the "infinite" inverse-square-root schedule of Scaling ViT."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.optimizers.registry import SCHEDULES
from model_garden.optimizers.schedules.schedule import Schedule


@SCHEDULES.register("rsqrt")
@keras.saving.register_keras_serializable("model_garden")
class Rsqrt(Schedule):
  """Linear warmup, reciprocal-square-root decay, optional linear cooldown (Zhai et al. 2021).

  From "Scaling Vision Transformers" (Zhai et al. 2021) and big_vision's create_learning_rate_schedule:

    decay(step) = 1 / sqrt(1 + (step + shift - warmup_steps) / timescale)   for step >= warmup_steps
                = 1 / sqrt(1 + shift / timescale)                           during the warmup
    lr(step) = base * decay(step) * min(1, step / warmup_steps) * clip((total - step) / cooldown_steps, 0, 1)

  Without a cooldown the rate never reaches 0, so one long run can be stopped anywhere and branched into
  cooldowns of several lengths. Resuming a checkpoint of the main run at step S with
  `total_steps=S + c, cooldown_steps=c` branches a cooldown directly (the step counter continues).

  `shift` advances the decay by `shift` steps. It serves branches whose step counter restarts at 0
  (fresh optimizer state, or a new batch size with `timescale` and `shift` rescaled to the new step size):
  with `shift = S - W` (S the branching step of the main run, W its warmup) and the branch's own warmup W',
  the branch's lr at step W' + k equals the main run's at S + k, and its warmup ramps up to the main run's
  level at S instead of to `base`.

  Args:
    base, total_steps, warmup_steps, cooldown_steps: see `Schedule`.
    timescale: steps over which the decay falls to 1/sqrt(2) (big_vision default 10_000).
    shift: steps by which the decay is advanced (default 0).

  Example:
    >>> sched = Rsqrt(8e-4, total_steps=1_000_000, warmup_steps=10_000, cooldown_steps=50_000)
    >>> float(sched(20_000))  # 8e-4 / sqrt(2)
    0.000565...
  """

  needs_total_steps = False

  def __init__(self, base: float = 1.0, total_steps: int | None = None, warmup_steps: int = 0,
               cooldown_steps: int = 0, timescale: int = 10_000, shift: int = 0):
    super().__init__(base, total_steps, warmup_steps, cooldown_steps)
    self.timescale = int(timescale)
    self.shift = int(shift)
    if self.timescale <= 0:
      raise ValueError(f"rsqrt: timescale must be > 0, got {timescale}.")

  def decay(self, step):
    decaying = ops.maximum(step - self.warmup_steps, 0.0)  # 0 during warmup: the warmup value above
    return ops.rsqrt(1.0 + (decaying + self.shift) / float(self.timescale))

  def get_config(self) -> dict:
    return {**super().get_config(), "timescale": self.timescale, "shift": self.shift}
