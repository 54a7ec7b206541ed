"""`Schedule`: the base of big_vision's learning-rate schedules (warmup and cooldown on any decay)."""

from __future__ import annotations

import keras
from keras import ops


class Schedule(keras.optimizers.schedules.LearningRateSchedule):
  """`base * decay(step) * warmup(step) * cooldown(step)`, as big_vision's create_learning_rate_schedule.

  The decay shape comes from the subclass; on top of any decay (big_vision `utils.py`):
    warmup(step) = min(1, step / warmup_steps)                     (linear from 0; 1 if warmup_steps=0)
    cooldown(step) = clip((total_steps - step) / cooldown_steps, 0, 1)   (linear to 0 at total_steps)
  Steps count optimizer updates from 0, so the first update uses `schedule(0)` (0 under a warmup), as
  optax's `scale_by_schedule` does. `multiplier(step)` is the schedule without `base`; the optimizers
  scale the decoupled weight decay by it.

  Args:
    base: the peak learning rate (`config.optimizer.lr`).
    total_steps: the number of optimizer steps of the run (needed by decays and cooldowns).
    warmup_steps: steps of linear warmup from 0.
    cooldown_steps: steps of linear cooldown to 0 at the end of the run.

  Example (a subclass only supplies the decay shape):
    >>> class Exponential(Schedule):
    ...   def decay(self, step):
    ...     return ops.exp(-self.progress(step))
    >>> float(Exponential(0.1, total_steps=100, warmup_steps=10)(5))
    0.05
  """

  needs_total_steps = True

  def __init__(self, base: float = 1.0, total_steps: int | None = None, warmup_steps: int = 0,
               cooldown_steps: int = 0):
    self.base = float(base)
    self.total_steps = None if total_steps is None else int(total_steps)
    self.warmup_steps = int(warmup_steps or 0)
    self.cooldown_steps = int(cooldown_steps or 0)
    name = type(self).__name__.lower()
    if self.warmup_steps < 0 or self.cooldown_steps < 0:
      raise ValueError(f"{name}: warmup_steps and cooldown_steps must be >= 0.")
    if self.total_steps is None:
      if self.needs_total_steps or self.cooldown_steps:
        raise ValueError(f"{name} schedule needs total_steps (pass make(..., total_steps=N)).")
      return
    # big_vision asserts the same, but lets 0- and 1-step debug runs through.
    if self.total_steps > 1 and self.warmup_steps >= self.total_steps:
      raise ValueError(f"{name}: warmup_steps={self.warmup_steps} must be < total_steps={self.total_steps}.")
    if self.cooldown_steps > max(self.total_steps, 1):
      raise ValueError(f"{name}: cooldown_steps={self.cooldown_steps} exceeds total_steps={self.total_steps}.")

  def decay(self, step):
    """The decay shape at float32 `step`, 1 at its start (before warmup and cooldown)."""
    raise NotImplementedError

  def progress(self, step):
    """Fraction of the post-warmup steps done, clipped to [0, 1] (big_vision's `progress`)."""
    span = float(max(self.total_steps - self.warmup_steps, 1))
    return ops.clip((step - self.warmup_steps) / span, 0.0, 1.0)

  def multiplier(self, step):
    """The schedule at `step` without `base`: the factor that scales both lr and weight decay."""
    step = ops.cast(step, "float32")
    mult = ops.cast(self.decay(step), "float32")
    if self.warmup_steps:
      mult = mult * ops.minimum(1.0, step / float(self.warmup_steps))
    if self.cooldown_steps:
      # Clipped at 0 (big_vision is not) so steps past total_steps never get a negative rate.
      mult = mult * ops.clip((self.total_steps - step) / float(self.cooldown_steps), 0.0, 1.0)
    return mult

  def __call__(self, step):
    return self.base * self.multiplier(step)

  def get_config(self) -> dict:
    return {"base": self.base, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps,
            "cooldown_steps": self.cooldown_steps}
