"""Few-shot linear evaluation during `model.fit`, as big_vision runs fewshot_lsr every N steps."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import keras
from absl import logging


class FewShotCallback(keras.callbacks.Callback):
  """Runs a `FewShotEvaluator` every `every_steps` training steps and adds its numbers to the epoch logs.

  "Scaling Vision Transformers" (Zhai et al. 2021) tracks few-shot linear accuracy of the pre-logits during
  pre-training (big_vision runs fewshot_lsr every 10k steps); this is that hook for Keras. It runs at the
  end of an epoch whose optimizer step count is a multiple of `every_steps` (so make `steps_per_epoch`
  divide `every_steps`), writes `{prefix}{key}` into `logs` - the TensorBoard and History callbacks listed
  *after* it record them - and logs them with absl.

  Args:
    evaluator: anything with `run(network) -> dict`, typically a `FewShotEvaluator`.
    network: the `ImageModel` whose intermediates are read (the fitted model may wrap it).
    every_steps: evaluation period in optimizer steps; 0 or None disables it.
    prefix: prepended to each key (TensorBoard groups `fewshot/...` in one section).

  Example:
    >>> ev = FewShotEvaluator(datasets={"mg_shapes": ("mg_shapes/px32", "train[:2000]", "test")},
    ...                       shots=(1, 10))
    >>> model.fit(ds, epochs=10, steps_per_epoch=100,
    ...           callbacks=[FewShotCallback(ev, network, every_steps=500),
    ...                      keras.callbacks.TensorBoard(logdir)])
  """

  def __init__(self, evaluator, network, every_steps: Optional[int], prefix: str = "fewshot/"):
    super().__init__()
    self.evaluator = evaluator
    self.network = network
    self.every_steps = int(every_steps or 0)
    self.prefix = prefix
    self.history: List[Tuple[int, Dict[str, float]]] = []  # (step, results) of every run, for inspection.
    self._batches_seen = 0

  def on_train_batch_end(self, batch, logs=None):
    self._batches_seen += 1  # Fallback step count for a model compiled without an optimizer.

  def _step(self) -> int:
    optimizer = getattr(self.model, "optimizer", None)
    if optimizer is not None and getattr(optimizer, "iterations", None) is not None:
      return int(optimizer.iterations.numpy())
    return self._batches_seen

  def on_epoch_end(self, epoch, logs=None):
    step = self._step()
    if not self.every_steps or step % self.every_steps:
      return
    results = self.evaluator.run(self.network)
    self.history.append((step, dict(results)))
    for key, value in sorted(results.items()):
      logging.info("step %d: %s%s = %.4f", step, self.prefix, key, value)
      if logs is not None:
        logs[f"{self.prefix}{key}"] = float(value)
