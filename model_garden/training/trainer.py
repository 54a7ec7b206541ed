"""Config -> objective -> model.fit, with checkpoints, resume, a NaN guard, evaluation and export files.

The whole training job of every objective. `python -m model_garden.train` is its command line.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, Optional

import keras
import ml_collections
import tensorflow as tf
from absl import logging

from model_garden import data as mg_data
from model_garden import evaluation, export, models, objectives, optimizers
from model_garden.training import checkpointing
from model_garden.training.strategy import get_strategy, is_chief

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


class EvaluatorCallback(keras.callbacks.Callback):
  """Runs the config's evaluators every `every_steps` and adds `{name}/{metric}` to the epoch logs."""

  def __init__(self, evaluators: Dict[str, Any], network: keras.Model, every_steps: int):
    super().__init__()
    self.evaluators, self.network, self.every_steps = evaluators, network, every_steps

  def on_epoch_end(self, epoch, logs=None):
    step = int(self.model.optimizer.iterations.numpy())
    if logs is None or not self.every_steps or step % self.every_steps:
      return
    for name, evaluator in self.evaluators.items():
      for metric, value in evaluator.run(self.network).items():
        logs[f"{name}/{metric}"] = value


def build_evaluators(config) -> Dict[str, Any]:
  evaluators = {}
  for name, ev_config in (config.get("evals") or {}).items():
    kwargs = dict(ev_config)
    kind = kwargs.pop("type")
    kwargs.setdefault("data_dir", config.input.get("data_dir"))
    evaluators[name] = evaluation.EVALUATORS.get(kind, **kwargs)
  return evaluators


def _set_precision(precision: str):
  if precision not in PRECISIONS:
    raise ValueError(f"config.precision must be one of {PRECISIONS}, got {precision!r}.")
  keras.mixed_precision.set_global_policy(precision)


def _check_schedule(config):
  if config.total_steps % config.log_steps:
    raise ValueError(f"config.total_steps ({config.total_steps}) must be a multiple of config.log_steps "
                     f"({config.log_steps}): a Keras epoch is log_steps steps.")
  if config.checkpoint_steps % config.log_steps:
    raise ValueError(f"config.checkpoint_steps ({config.checkpoint_steps}) must be a multiple of "
                     f"config.log_steps ({config.log_steps}): checkpoints are written at epoch ends.")


def train(config: ml_collections.ConfigDict, workdir: str, strategy_name: str = "default",
          verbose: int | str = "auto", extra_callbacks=()) -> Dict[str, Any]:
  """Trains `config` in `workdir`, resuming from its newest checkpoint; returns the final results.

  Writes into `workdir`: `checkpoints/` (every `checkpoint_steps`), `tensorboard/`, `config.json`,
  and at the end `model.keras` (the trained network), `export.json` (what `python -m
  model_garden.export` needs) and `results.json` (evaluator numbers).
  """
  if config.get("models"):  # GANs: two networks and two optimizers (config.models, config.optimizers).
    from model_garden.training.gan_trainer import train_gan  # pylint: disable=g-import-not-at-top
    return train_gan(config, workdir, strategy_name=strategy_name, verbose=verbose,
                     extra_callbacks=extra_callbacks)
  _check_schedule(config)
  _set_precision(config.get("precision", "float32"))
  keras.utils.set_random_seed(config.seed)
  if config.get("deterministic", False):
    tf.config.experimental.enable_op_determinism()
  strategy = get_strategy(strategy_name)
  chief = is_chief(strategy)
  os.makedirs(workdir, exist_ok=True)
  if chief:
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json_best_effort(indent=2))

  with strategy.scope():
    network = models.get(config.model)
    objective = objectives.get(config.objective, network=network)
    optimizer = optimizers.make(config.optimizer, total_steps=config.total_steps)
    if config.get("precision") == "mixed_float16":
      optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    objective.compile(optimizer=optimizer)
    size = network.image_size or 224
    objective.build_for_training((None, size, size, 3))

  ckpt_dir = os.path.join(workdir, "checkpoints")
  if not chief:  # Other workers save too (collective-safe) but into a scratch directory.
    ckpt_dir = os.path.join(workdir, f".worker_scratch_{strategy.cluster_resolver.task_id}")
  checkpointer = checkpointing.TrainCheckpointer(objective, ckpt_dir, config.get("keep_checkpoints", 3))
  start_step = checkpointer.restore_latest()
  if start_step:
    logging.info("Resuming from %s at step %d.", checkpointer.latest, start_step)
  elif config.get("init"):
    # Transfer: start from a saved network, re-initialising what `init_skip` matches (e.g. "head/.*").
    models.load_weights(network, config.init, skip=config.get("init_skip"))

  global_batch = config.input.batch_size
  train_ds = mg_data.get_dataset(
      config.input.data.name, config.input.data.split, batch_size=global_batch, pp=config.input.pp,
      data_dir=config.input.get("data_dir"), train=True, seed=config.seed,
      shuffle_buffer=config.input.get("shuffle_buffer", 10_000), skip_examples=start_step * global_batch,
      cache=config.input.get("cache", False), on_corrupt=config.input.get("on_corrupt", "error"))

  nan_guard = checkpointing.NanGuard()
  callbacks = [nan_guard, checkpointing.CheckpointCallback(checkpointer, config.checkpoint_steps, nan_guard)]
  evaluators = build_evaluators(config)
  if config.get("eval_steps"):
    callbacks.append(EvaluatorCallback(evaluators, network, config.eval_steps))
  if chief:
    callbacks.append(keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard"), update_freq="epoch"))
  callbacks.extend(extra_callbacks)

  epochs = config.total_steps // config.log_steps
  started = time.time()
  history = {}
  if start_step < config.total_steps:
    try:
      history = objective.fit(train_ds, epochs=epochs, steps_per_epoch=config.log_steps,
                              initial_epoch=start_step // config.log_steps, callbacks=callbacks,
                              verbose=verbose).history
    except tf.errors.InvalidArgumentError as e:
      if "CorruptExampleError" in str(e):
        raise mg_data.CorruptExampleError(_corrupt_message(e)) from None
      raise
  if nan_guard.triggered:
    raise checkpointing.NonFiniteLossError(
        f"Training stopped at step {nan_guard.step}: non-finite loss ({nan_guard.values}). The last good "
        f"checkpoint, {checkpointer.latest}, was kept; a rerun resumes from it. Lower "
        "config.optimizer.lr, add config.optimizer.grad_clip_norm, or check the data for NaNs.")
  train_seconds = time.time() - started

  results = {"step": int(objective.optimizer.iterations.numpy()), "train_seconds": round(train_seconds, 1)}
  for key, values in history.items():
    results[f"train/{key}"] = float(values[-1])
  if getattr(train_ds, "corrupt_counter", None) is not None:
    results["train/corrupt_examples_skipped"] = train_ds.corrupt_counter.value()
  for name, evaluator in evaluators.items():
    for metric, value in evaluator.run(network).items():
      results[f"{name}/{metric}"] = value
  if chief:
    checkpointing.atomic_save_model(network, os.path.join(workdir, "model.keras"))
    export_info = dict(config.get("export") or {})
    export_info.setdefault("image_size", size)
    export_info.setdefault("activation", "sigmoid" if "sigmoid" in config.objective else "softmax")
    export.write_export_config(workdir, **export_info)
    with open(os.path.join(workdir, "results.json"), "w") as f:
      json.dump(results, f, indent=2)
  return results


def _corrupt_message(error: Exception) -> str:
  text = str(error)
  start = text.find("CorruptExampleError")
  return text[start:start + 600].replace("\n", " ") if start >= 0 else text[:600]
