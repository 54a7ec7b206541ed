"""Atomic, NaN-safe checkpoints every N steps, and resume from the newest intact one."""

from __future__ import annotations

import glob
import os
import re
from typing import List, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf
from absl import logging
from google.protobuf import message

from model_garden.errors import UserError


class CheckpointMismatchError(ValueError):
  """A checkpoint whose variables do not fit the model being restored."""


# What reading a damaged checkpoint raises: TF's errors (DataLoss, NotFound, ...), the C++ reader's short reads
# (IndexError: "Read less bytes than requested") and an unparsable object graph.
_READ_ERRORS = (tf.errors.OpError, IndexError, message.DecodeError)


class NoIntactCheckpointError(UserError):
  """Every checkpoint of a workdir is truncated, deleted or otherwise unreadable."""


def all_finite(variables) -> bool:
  for v in variables:
    value = v.numpy() if hasattr(v, "numpy") else np.asarray(v)
    if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
      return False
  return True


class TrainCheckpointer:
  """Saves objective + optimizer state in `directory`, keeps the newest `max_to_keep`.

  tf.train.CheckpointManager writes the data files first and then replaces the `checkpoint` index file
  atomically (write to a temporary file, rename), so a process killed mid-save leaves the previous
  checkpoint as the newest one. Saves refuse non-finite weights, so a NaN never replaces the last good
  checkpoint.
  """

  def __init__(self, objective: keras.Model, directory: str, max_to_keep: int = 3, write: bool = True):
    self.objective = objective
    self.directory = directory
    self.write = write
    self.checkpoint = tf.train.Checkpoint(objective=objective, optimizer=objective.optimizer)
    self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=max_to_keep,
                                              checkpoint_name="ckpt")
    self._restored_instead: Optional[str] = None

  @property
  def latest(self) -> Optional[str]:
    """The newest good checkpoint: the one restored when newer ones were unreadable, until the next save."""
    return self._restored_instead or self.manager.latest_checkpoint

  def candidates(self) -> List[str]:
    """The checkpoints in `directory`, newest (highest step) first: those the index file lists, and any other
    `ckpt-N.index` on disk (so a lost or damaged index file does not silently restart training)."""
    paths = set(self.manager.checkpoints)
    if self.manager.latest_checkpoint:
      paths.add(self.manager.latest_checkpoint)
    paths.update(index[:-len(".index")] for index in glob.glob(os.path.join(self.directory, "ckpt-*.index")))
    def number(path):
      match = re.search(r"ckpt-(\d+)$", path)
      return int(match.group(1)) if match else -1
    return sorted(paths, key=number, reverse=True)

  @staticmethod
  def damage(path: str) -> Optional[str]:
    """Why the checkpoint `path` cannot be read (missing files, unreadable index), or None if it looks whole.

    A truncated or corrupted data file shows only when the tensors are read (their checksums are checked
    then): `restore_latest` catches that during the restore itself.
    """
    if not os.path.exists(path + ".index"):
      return f"its index file {os.path.basename(path)}.index is missing"
    if not glob.glob(path + ".data-*"):
      return f"its data files {os.path.basename(path)}.data-* are missing"
    try:
      tf.train.load_checkpoint(path)
    except (tf.errors.OpError, ValueError) as e:
      return f"its index is unreadable ({type(e).__name__}: {_first_line(e)})"
    return None

  def restore_latest(self) -> int:
    """Restores the newest intact checkpoint, if any; returns its step (0 when starting fresh).

    A newer checkpoint that is truncated, deleted or unreadable is skipped with a warning naming it (the next
    save of that step replaces it).

    Raises:
      CheckpointMismatchError: the newest intact checkpoint does not fit the model/optimizer.
      NoIntactCheckpointError: there are checkpoints, but none is intact.
    """
    self._restored_instead = None
    skipped: List[Tuple[str, str]] = []
    for path in self.candidates():
      problem = self.damage(path)
      if problem is None:
        try:
          self.checkpoint.restore(path).assert_existing_objects_matched()
        except (AssertionError, ValueError) as e:
          raise CheckpointMismatchError(
              f"Checkpoint {path} does not fit this model/optimizer (was the config changed since it was "
              f"written? use a new --workdir to start over).\n{self.describe_mismatch(path)}\n"
              f"TensorFlow said: {str(e)[:500]}") from None
        except _READ_ERRORS as e:
          problem = f"its data is truncated or corrupt ({type(e).__name__}: {_first_line(e)})"
      if problem is not None:
        skipped.append((path, problem))
        continue
      step = int(self.objective.optimizer.iterations.numpy())
      if skipped:
        self._restored_instead = path
        for bad, why in skipped:
          logging.warning("Checkpoint %s cannot be restored: %s. Resuming from the newest intact checkpoint, %s "
                          "(step %d), instead.", bad, why, path, step)
      return step
    if not skipped:
      return 0
    listing = "; ".join(f"{os.path.basename(p)}: {why}" for p, why in skipped)
    raise NoIntactCheckpointError(
        f"No intact checkpoint in {self.directory} ({listing}). To start over from step 0, delete {self.directory} "
        "(or use a new --workdir); to resume, put back an intact copy of a checkpoint.")

  def describe_mismatch(self, path: str) -> str:
    """Lists missing, unexpected and mis-shaped variables between `path` and the current objects.

    Only runs on the failure path: it writes the current objects to a scratch checkpoint so both sides
    have the same key names, then compares the two variable maps.
    """
    import tempfile  # pylint: disable=g-import-not-at-top
    saved = tf.train.load_checkpoint(path).get_variable_to_shape_map()
    with tempfile.TemporaryDirectory() as scratch:
      current_path = tf.train.Checkpoint(objective=self.objective, optimizer=self.objective.optimizer).write(
          os.path.join(scratch, "current"))
      current = tf.train.load_checkpoint(current_path).get_variable_to_shape_map()
    optimizer = getattr(self.objective.optimizer, "inner_optimizer", self.objective.optimizer)
    def clean(key):
      # The object graph names each variable by its shortest path, often through the optimizer's lists;
      # show the variable's own path instead.
      key = key.replace("/.ATTRIBUTES/VARIABLE_VALUE", "")
      for prefix, variables in (("optimizer/_trainable_variables/", optimizer._trainable_variables),
                                ("optimizer/_variables/", optimizer.variables)):
        index = key[len(prefix):]
        if key.startswith(prefix) and index.isdigit() and int(index) < len(variables):
          label = "" if prefix.endswith("_trainable_variables/") else "optimizer state "
          return label + variables[int(index)].path
      return key
    skip = ("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter")
    saved = {clean(k): v for k, v in saved.items() if not k.startswith(skip)}
    current = {clean(k): v for k, v in current.items() if not k.startswith(skip)}
    missing = sorted(k for k in current if k not in saved)
    unexpected = sorted(k for k in saved if k not in current)
    misshaped = [f"{k}: checkpoint {tuple(saved[k])} vs model {tuple(current[k])}"
                 for k in sorted(current, key=lambda k: (k.startswith("optimizer"), k))
                 if k in saved and list(saved[k]) != list(current[k])]
    lines = []
    for title, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
      if items:
        lines.append(f"  {title} ({len(items)}): " + "; ".join(items[:15]) + (" ..." if len(items) > 15 else ""))
    return "\n".join(lines) or "  (no variable differs in name or shape)"

  def save(self, step: int) -> Optional[str]:
    if not all_finite(self.objective.variables):
      raise FloatingPointError(f"Refusing to checkpoint step {step}: the weights are not finite. "
                               f"The last good checkpoint stays {self.latest}.")
    path = self.manager.save(checkpoint_number=step)
    self._restored_instead = None
    return path if self.write else None


class CheckpointCallback(keras.callbacks.Callback):
  """Checkpoints at the end of every Keras epoch whose step is a multiple of `every_steps`."""

  def __init__(self, checkpointer: TrainCheckpointer, every_steps: int, nan_guard=None):
    super().__init__()
    self.checkpointer = checkpointer
    self.every_steps = every_steps
    self.nan_guard = nan_guard
    self.last_saved_step = None

  def on_epoch_end(self, epoch, logs=None):
    if self.nan_guard is not None and self.nan_guard.triggered:
      return
    step = int(self.checkpointer.objective.optimizer.iterations.numpy())
    if step % self.every_steps == 0 and step != self.last_saved_step:
      self.checkpointer.save(step)
      self.last_saved_step = step


class NonFiniteLossError(FloatingPointError):
  """Training produced a NaN or infinite loss."""


class NanGuard(keras.callbacks.Callback):
  """Stops training at the first non-finite loss; the trainer then raises NonFiniteLossError."""

  def __init__(self, keys=("loss",)):
    super().__init__()
    self.keys = keys
    self.triggered = False
    self.step = None
    self.values = {}

  def on_train_batch_end(self, batch, logs=None):
    logs = logs or {}
    for key in self.keys:
      if key in logs:
        value = float(np.asarray(logs[key]).reshape(-1)[0])
        if not np.isfinite(value):
          self.triggered = True
          self.step = int(self.model.optimizer.iterations.numpy())
          self.values = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in logs.items()}
          self.model.stop_training = True
          return


def atomic_save_model(model: keras.Model, path: str) -> None:
  """Writes `model` to `path` (.keras) through a temporary file and a rename."""
  tmp = path + ".tmp.keras"
  model.save(tmp)
  os.replace(tmp, path)


def _first_line(error: BaseException) -> str:
  text = getattr(error, "message", None) or str(error)
  return text.strip().splitlines()[0][:300] if text.strip() else type(error).__name__
