"""Zero-shot and retrieval evaluation during `model.fit`, as big_vision runs its image-text evaluators."""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Tuple

import keras
from absl import logging


class ZeroShotCallback(keras.callbacks.Callback):
  """Runs image-text evaluators (`ZeroShotEvaluator`, `RetrievalEvaluator`) every `every_steps` steps.

  LiT (Zhai et al. 2022) tracks zero-shot accuracy and retrieval while the text tower trains; this is that
  hook for Keras. At the end of an epoch whose optimizer step is a multiple of `every_steps`, each evaluator
  runs on the two-tower `network` and its numbers go into the epoch logs as `{prefix}{name}/{metric}`
  (TensorBoard and History callbacks listed after this one record them) and into `history`.

  Args:
    evaluators: {name: evaluator}; each has `run(network) -> dict`.
    network: the `TwoTowers` being trained (the fitted objective wraps it).
    every_steps: period in optimizer steps (make `steps_per_epoch` divide it); 0 or None disables it.
    prefix: prepended to the keys.

  Example:
    >>> zs = ZeroShotEvaluator(data={"name": "mg_shapes/px32", "split": "test"}, pp_img=..., pp_txt=...,
    ...                        class_names="mg_shapes_shape", templates="mg_shapes_shape")
    >>> objective.fit(ds, epochs=20, steps_per_epoch=50,
    ...               callbacks=[ZeroShotCallback({"shapes": zs}, lit, every_steps=500)])
  """

  def __init__(self, evaluators: Mapping[str, object], network, every_steps: Optional[int], prefix: str = ""):
    super().__init__()
    self.evaluators = dict(evaluators)
    self.network = network
    self.every_steps = int(every_steps or 0)
    self.prefix = prefix
    self.history: List[Tuple[int, Dict[str, float]]] = []
    self._batches_seen = 0

  def on_train_batch_end(self, batch, logs=None):
    self._batches_seen += 1

  def _step(self) -> int:
    optimizer = getattr(self.model, "optimizer", None)
    if optimizer is not None and getattr(optimizer, "iterations", None) is not None:
      return int(optimizer.iterations.numpy())
    return self._batches_seen

  def on_epoch_end(self, epoch, logs=None):
    step = self._step()
    if not self.every_steps or step % self.every_steps:
      return
    results = {}
    for name, evaluator in self.evaluators.items():
      for metric, value in evaluator.run(self.network).items():
        results[f"{self.prefix}{name}/{metric}"] = float(value)
    self.history.append((step, results))
    for key, value in sorted(results.items()):
      logging.info("step %d: %s = %.4f", step, key, value)
      if logs is not None:
        logs[key] = value
