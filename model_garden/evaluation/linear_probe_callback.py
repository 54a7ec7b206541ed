"""Linear probes during `model.fit`: the self-supervision papers' linear evaluation, every N steps."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import keras
from absl import logging


class LinearProbeCallback(keras.callbacks.Callback):
  """Runs a `LinearProbe` every `every_steps` training steps and adds its numbers to the epoch logs.

  Tracks how linearly separable each endpoint's representation becomes during (self-)supervised
  training, as "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov et al. 2019) evaluates
  every layer. It runs at the end of an epoch whose optimizer step count is a multiple of `every_steps` (make
  `steps_per_epoch` divide it) and writes `{prefix}{key}` into `logs`, so History and TensorBoard callbacks
  listed after it record `linear_probe/best_test_accuracy`, `linear_probe/pre_logits/test_accuracy`, ...
  The best endpoint's name of each run is kept in `history`.

  Args:
    probe: a `LinearProbe` (anything with `probe(network) -> report` and `run(network) -> dict`).
    network: the `ImageModel` whose intermediates are probed (the fitted model may wrap it).
    every_steps: evaluation period in optimizer steps; 0 or None disables it.
    prefix: prepended to each key.

  Example:
    >>> probe = LinearProbe(dict(name="mg_shapes/px32", train_split="train[:2000]", val_split="validation",
    ...                          test_split="test"), endpoints=("block2", "pre_logits"), steps=200)
    >>> model.fit(ds, epochs=10, steps_per_epoch=100,
    ...           callbacks=[LinearProbeCallback(probe, network, every_steps=500)])
  """

  def __init__(self, probe, network, every_steps: Optional[int], prefix: str = "linear_probe/"):
    super().__init__()
    self.probe = probe
    self.network = network
    self.every_steps = int(every_steps or 0)
    self.prefix = prefix
    self.history: List[Tuple[int, Dict]] = []  # (step, full report) of every run.
    self._batches_seen = 0

  def on_train_batch_end(self, batch, logs=None):
    self._batches_seen += 1  # Step count for a model compiled without an optimizer.

  def _step(self) -> int:
    optimizer = getattr(self.model, "optimizer", None)
    if optimizer is not None and getattr(optimizer, "iterations", None) is not None:
      return int(optimizer.iterations.numpy())
    return self._batches_seen

  def on_epoch_end(self, epoch, logs=None):
    step = self._step()
    if not self.every_steps or step % self.every_steps:
      return
    report = self.probe.probe(self.network)
    self.history.append((step, report))
    numbers = {"best_test_accuracy": report["best_test_accuracy"], "best_val_accuracy": report["best_val_accuracy"]}
    for name, entry in report["endpoints"].items():
      numbers[f"{name}/test_accuracy"] = entry["test_accuracy"]
      numbers[f"{name}/val_accuracy"] = entry["val_accuracy"]
    logging.info("step %d: linear probe best endpoint %s", step, report["best_endpoint"])
    for key, value in sorted(numbers.items()):
      logging.info("step %d: %s%s = %.4f", step, self.prefix, key, value)
      if logs is not None:
        logs[f"{self.prefix}{key}"] = float(value)
