"""Training progress in steps: one line per `log_steps`, instead of Keras' per-"epoch" progress bars.

The trainer runs `fit` in Keras epochs of `log_steps` steps (so that callbacks fire every `log_steps`), which
Keras' progress bar shows as "Epoch 3/12" although nobody asked for epochs. `StepProgress` (with `fit(...,
verbose=0)`) prints instead, at the end of each of those epochs:

  step 150/600 - loss 0.9134 - accuracy 0.6875 - test/accuracy 0.7031 - 2.4 s (48 ms/step) - ETA 0:00:21

Values are the epoch's logs (the means over its steps, plus any evaluator numbers added to the logs); the time
is the epoch's wall time and the ETA extrapolates the mean step time of this process's epochs (resumed runs
count from their first step).
"""

from __future__ import annotations

import datetime
import sys
import time
from typing import Optional, TextIO

import keras
import numpy as np


def format_value(value) -> str:
  """A log value as a short number: 4 significant digits, or the value itself when it is not a number."""
  try:
    number = float(np.asarray(value).reshape(-1)[0])
  except (TypeError, ValueError, IndexError):
    return str(value)
  return f"{number:.4g}"


class StepProgress(keras.callbacks.Callback):
  """Prints "step S/T - key value ... - time (ms/step) - ETA" at the end of every Keras epoch.

  Args:
    total_steps: the run's last step; default: epochs x steps per epoch of the `fit` call.
    stream: where to print (default: sys.stdout at print time, so pytest's capture sees it).
    keys: the log keys to show, in order; default: every key, losses first.

  Example:
    >>> objective.fit(dataset, epochs=12, steps_per_epoch=50, verbose=0, callbacks=[StepProgress()])
    step 50/600 - loss 1.873 - accuracy 0.3125 - 4.1 s (82 ms/step) - ETA 0:00:45
    ...
  """

  def __init__(self, total_steps: Optional[int] = None, stream: Optional[TextIO] = None, keys=None):
    super().__init__()
    self.total_steps = total_steps
    self.stream = stream
    self.keys = tuple(keys) if keys is not None else None
    self._epoch_started = None
    self._seconds = 0.0
    self._steps_timed = 0

  def _steps_per_epoch(self) -> int:
    steps = (self.params or {}).get("steps")
    if not steps:
      raise ValueError("StepProgress needs fit(..., steps_per_epoch=N) (or a dataset of known length) to count "
                       "steps.")
    return int(steps)

  def on_train_begin(self, logs=None):
    self._seconds, self._steps_timed = 0.0, 0

  def on_epoch_begin(self, epoch, logs=None):
    self._epoch_started = time.perf_counter()

  def on_epoch_end(self, epoch, logs=None):
    steps = self._steps_per_epoch()
    step = (epoch + 1) * steps
    total = self.total_steps or int((self.params or {}).get("epochs", epoch + 1)) * steps
    seconds = time.perf_counter() - (self._epoch_started or time.perf_counter())
    self._seconds += seconds
    self._steps_timed += steps
    per_step = self._seconds / self._steps_timed
    parts = [f"step {step}/{total}"]
    logs = dict(logs or {})
    keys = self.keys if self.keys is not None else sorted(logs, key=lambda k: (k != "loss", "/" in k, k))
    parts += [f"{key} {format_value(logs[key])}" for key in keys if key in logs]
    parts.append(f"{seconds:.1f} s ({1000 * seconds / steps:.0f} ms/step)")
    if step < total:
      parts.append(f"ETA {datetime.timedelta(seconds=round(per_step * (total - step)))}")
    print(" - ".join(parts), file=self.stream or sys.stdout, flush=True)
