"""`Cosine`: half-cosine decay to 0 after the warmup."""

from __future__ import annotations

import math

import keras
from keras import ops

from model_garden.optimizers.registry import SCHEDULES
from model_garden.optimizers.schedules.schedule import Schedule


@SCHEDULES.register("cosine")
@keras.saving.register_keras_serializable("model_garden")
class Cosine(Schedule):
  """Linear warmup then `0.5 * (1 + cos(pi * progress))`, as big_vision's `decay_type="cosine"`.

  `progress = clip((step - warmup_steps) / (total_steps - warmup_steps), 0, 1)` (Loshchilov & Hutter 2017,
  "SGDR", without restarts). big_vision's transfer configs use it (e.g. lr 0.03, 500 warmup steps).

  Args:
    base, total_steps, warmup_steps, cooldown_steps: see `Schedule`.

  Example:
    >>> float(Cosine(0.03, total_steps=1000, warmup_steps=100)(550))  # half-way: base / 2
    0.015...
  """

  def decay(self, step):
    return 0.5 * (1.0 + ops.cos(math.pi * self.progress(step)))
