"""Evaluators during and after training, each with its own type, cadence and prefix.

A config names its evaluators as big_vision's `evaluators/common.py` does:

    config.evals.val = dict(type="classification", every_steps=500, data=..., pp=...)
    config.evals.fewshot = dict(type="fewshot", every_steps=10_000, prefix="fewshot/", datasets=...)

`type` is the registered evaluator, `every_steps` its period in training steps (0: only at the end of the
run), `prefix` what its numbers are logged under (default `"<name>/"`); every other key is an argument of
the evaluator. `build_evaluators` makes them, `EvaluatorCallback` runs each at its own cadence during `fit`
(at the ends of Keras epochs, so make `log_steps` divide each `every_steps`), and `run_evaluator` runs one
(the trainer runs them all once more at the end).

An evaluator is anything with `run(network) -> {metric: number}`; one that also takes `step` or `workdir`
keywords in `run` (e.g. `gan_samples`, which writes image grids) receives them.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

import keras
from absl import logging

from model_garden.evaluation.registry import EVALUATORS
from model_garden.registry import SpecError, suggestion

SCHEDULE_KEYS = ("type", "every_steps", "prefix")


@dataclasses.dataclass
class ScheduledEvaluator:
  """An evaluator with its name, period in steps (0: only at the end) and log prefix (default "<name>/")."""
  name: str
  evaluator: Any
  every_steps: int = 0
  prefix: Optional[str] = None

  def __post_init__(self):
    if self.prefix is None:
      self.prefix = f"{self.name}/"

  def due(self, step: int) -> bool:
    return bool(self.every_steps) and step % self.every_steps == 0


def build_evaluators(evals: Optional[Mapping[str, Any]], **defaults) -> List[ScheduledEvaluator]:
  """The evaluators of `config.evals`; `defaults` (e.g. data_dir) fill arguments the evaluator takes.

  Raises:
    SpecError: an entry without `type`, an unknown type or argument (with close matches).
  """
  scheduled = []
  for name, entry in (evals or {}).items():
    kwargs = dict(entry.to_dict() if hasattr(entry, "to_dict") else entry)
    if "type" not in kwargs:
      raise SpecError(f"config.evals.{name} needs a `type` (one of {', '.join(EVALUATORS.names())}).")
    kind = kwargs.pop("type")
    every_steps = int(kwargs.pop("every_steps", 0) or 0)
    prefix = kwargs.pop("prefix", None)
    if every_steps < 0:
      raise SpecError(f"config.evals.{name}.every_steps must be >= 0 (0: only at the end), got {every_steps}.")
    accepted = EVALUATORS.keyword_names(kind)
    for key, value in defaults.items():
      if value is None or key in kwargs:
        continue
      if accepted is None or key in accepted:
        kwargs[key] = value
      elif isinstance(kwargs.get("data"), dict) and key not in kwargs["data"]:
        kwargs["data"] = {**kwargs["data"], key: value}  # Evaluators that read e.g. data_dir inside `data`.
    if accepted is not None:
      for key in kwargs:
        if key not in accepted:
          raise SpecError(f"config.evals.{name}: evaluator {kind!r} has no argument {key!r}. "
                          f"{suggestion(key, list(accepted) + list(SCHEDULE_KEYS))}")
    evaluator = EVALUATORS.get(kind, **kwargs)
    scheduled.append(ScheduledEvaluator(name, evaluator, every_steps, prefix))
  return scheduled


def run_evaluator(scheduled: ScheduledEvaluator, network, *, step: Optional[int] = None,
                  workdir: Optional[str] = None) -> Dict[str, float]:
  """Runs one evaluator on `network`; returns its numbers under `prefix + metric`."""
  run = scheduled.evaluator.run
  context = {}
  try:
    params = inspect.signature(run).parameters
  except (TypeError, ValueError):
    params = {}
  if "step" in params:
    context["step"] = step
  if "workdir" in params:
    context["workdir"] = workdir
  results = run(network, **context) or {}
  return {f"{scheduled.prefix}{key}": value for key, value in results.items()}


class EvaluatorCallback(keras.callbacks.Callback):
  """Runs each evaluator at the end of every Keras epoch whose training step is a multiple of its period.

  Numbers go into the epoch `logs` (so History and TensorBoard callbacks listed after this one record them),
  into absl's log, and into `history` as (step, {key: value}).

  Args:
    evaluators: `ScheduledEvaluator`s (from `build_evaluators`), or {name: evaluator} run every `every_steps`.
    network: the network the evaluators read, or a function returning it (a GAN's sampling generator).
    every_steps: the period of evaluators given as a plain {name: evaluator} dict.
    workdir: passed to evaluators whose `run` takes it.

  Example:
    >>> evaluators = build_evaluators({"fewshot": dict(type="fewshot", every_steps=500, datasets=...)})
    >>> objective.fit(ds, epochs=10, steps_per_epoch=100, callbacks=[EvaluatorCallback(evaluators, net)])
  """

  def __init__(self, evaluators: Union[List[ScheduledEvaluator], Mapping[str, Any]],
               network: Union[keras.Model, Callable[[], Any]], every_steps: int = 0,
               workdir: Optional[str] = None):
    super().__init__()
    if isinstance(evaluators, Mapping):
      evaluators = [ScheduledEvaluator(name, ev, int(every_steps or 0)) for name, ev in evaluators.items()]
    self.evaluators = list(evaluators)
    self.network = network
    self.workdir = workdir
    self.history: List[tuple] = []
    self._batches_seen = 0

  def _network(self):
    return self.network() if callable(self.network) and not isinstance(self.network, keras.Model) else (
        self.network)

  def on_train_batch_end(self, batch, logs=None):
    self._batches_seen += 1  # The step of a model fitted without an optimizer.

  def _step(self) -> int:
    optimizer = getattr(self.model, "optimizer", None)
    if optimizer is not None and getattr(optimizer, "iterations", None) is not None:
      return int(optimizer.iterations.numpy())
    return self._batches_seen

  def ran_at(self, step: int) -> Dict[str, Dict[str, float]]:
    """{evaluator name: its numbers} of the evaluators that ran at `step`."""
    return {name: numbers for ran_step, name, numbers in self.history if ran_step == step}

  def on_epoch_end(self, epoch, logs=None):
    step = self._step()
    due = [s for s in self.evaluators if s.due(step)]
    if not due:
      return
    network = self._network()
    for scheduled in due:
      numbers = run_evaluator(scheduled, network, step=step, workdir=self.workdir)
      self.history.append((step, scheduled.name, numbers))
      for key, value in sorted(numbers.items()):
        logging.info("step %d: %s = %s", step, key, value)
        if logs is not None:
          logs[key] = float(value)
