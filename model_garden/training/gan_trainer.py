"""The training job of a GAN config: two networks, two optimizers, samples, FID; resume as `trainer.train`.

A GAN config differs from a classification config by three keys (see model_garden/configs/gan/):

  config.models = {"generator": "<spec>", "discriminator": "<spec>"}   # instead of config.model
  config.optimizers = {"d": {...}, "g": {...}}                          # instead of config.optimizer
  config.objective = "gan(loss=..., penalty=..., n_disc=...)"

plus optional `config.samples` (grids of samples: `every_steps`, `num_samples`) and
`config.standing_stats_samples` (re-estimate the sampling generator's batch-norm statistics before the final
evaluation and the saved model). Everything else (input, schedule, checkpoints, resume, NaN guard,
TensorBoard, evaluators) is the classification trainer's. `trainer.train` hands configs with
`config.models` to `train_gan`.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict

import keras
import ml_collections
import tensorflow as tf
from absl import logging

from model_garden import data as mg_data
from model_garden.evaluation import gan_evaluator  # noqa: F401  (registers the gan_metrics evaluator)
from model_garden.evaluation.gan_samples import GanSamplesCallback
from model_garden.objectives.gan import GAN
from model_garden.training import checkpointing
from model_garden.training import trainer as base_trainer
from model_garden.training.strategy import get_strategy, is_chief


def build_gan(config, strategy=None) -> GAN:
  """The compiled, built GAN objective of `config`, inside `strategy`'s scope (default: the current one)."""
  strategy = strategy or tf.distribute.get_strategy()
  with strategy.scope():
    objective = GAN.from_config_dict(config)
    objective.build_for_training()
  return objective


def train_gan(config: ml_collections.ConfigDict, workdir: str, strategy_name: str = "default",
              verbose: int | str = "auto", extra_callbacks=()) -> Dict[str, Any]:
  """Trains the GAN of `config` in `workdir`, resuming from its newest checkpoint; returns the results.

  Writes `checkpoints/`, `tensorboard/`, `samples/step_*.png`, `config.json`, and at the end `model.keras`
  (the sampling generator: the EMA generator if the GAN keeps one, with standing statistics if
  `config.standing_stats_samples`), `generator.keras` (the trained generator, when it differs) and
  `results.json`. One step is n_disc discriminator updates and one generator update on
  `config.input.batch_size` real images (n_disc slices); `total_steps` counts generator steps.
  """
  base_trainer._check_schedule(config)  # pylint: disable=protected-access
  base_trainer._set_precision(config.get("precision", "float32"))  # pylint: disable=protected-access
  keras.utils.set_random_seed(config.seed)
  if config.get("deterministic", False):
    tf.config.experimental.enable_op_determinism()
  strategy = get_strategy(strategy_name)
  chief = is_chief(strategy)
  os.makedirs(workdir, exist_ok=True)
  if chief:
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json_best_effort(indent=2))

  objective = build_gan(config, strategy)

  ckpt_dir = os.path.join(workdir, "checkpoints")
  if not chief:
    ckpt_dir = os.path.join(workdir, f".worker_scratch_{strategy.cluster_resolver.task_id}")
  checkpointer = checkpointing.TrainCheckpointer(objective, ckpt_dir, config.get("keep_checkpoints", 3))
  start_step = checkpointer.restore_latest()
  if start_step:
    logging.info("Resuming from %s at step %d.", checkpointer.latest, start_step)

  global_batch = config.input.batch_size
  train_ds = mg_data.get_dataset(
      config.input.data.name, config.input.data.split, batch_size=global_batch, pp=config.input.pp,
      data_dir=config.input.get("data_dir"), train=True, seed=config.seed,
      shuffle_buffer=config.input.get("shuffle_buffer", 10_000), skip_examples=start_step * global_batch,
      cache=config.input.get("cache", False), on_corrupt=config.input.get("on_corrupt", "error"))

  nan_guard = checkpointing.NanGuard(keys=("d_loss", "g_loss"))
  callbacks = [nan_guard, checkpointing.CheckpointCallback(checkpointer, config.checkpoint_steps, nan_guard)]
  evaluators = base_trainer.build_evaluators(config)
  if config.get("eval_steps"):
    callbacks.append(base_trainer.EvaluatorCallback(evaluators, objective.sampling_generator(), config.eval_steps))
  if chief:
    samples = dict(config.get("samples") or {})
    if samples.get("every_steps", 0) >= 0:
      callbacks.append(GanSamplesCallback(workdir, os.path.join(workdir, "tensorboard"),
                                          num_samples=samples.get("num_samples", 64),
                                          every_steps=samples.get("every_steps", 0), seed=config.seed))
    callbacks.append(keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard"), update_freq="epoch"))
  callbacks.extend(extra_callbacks)

  started = time.time()
  history = {}
  if start_step < config.total_steps:
    try:
      history = objective.fit(train_ds, epochs=config.total_steps // config.log_steps,
                              steps_per_epoch=config.log_steps, initial_epoch=start_step // config.log_steps,
                              callbacks=callbacks, verbose=verbose).history
    except tf.errors.InvalidArgumentError as e:
      if "CorruptExampleError" in str(e):
        message = base_trainer._corrupt_message(e)  # pylint: disable=protected-access
        raise mg_data.CorruptExampleError(message) from None
      raise
  if nan_guard.triggered:
    raise checkpointing.NonFiniteLossError(
        f"Training stopped at generator step {nan_guard.step}: non-finite loss ({nan_guard.values}). The last "
        f"good checkpoint, {checkpointer.latest}, was kept; a rerun resumes from it. Lower the learning "
        "rates in config.optimizers, add grad_clip_norm, or use spectral norm in the discriminator.")
  results = {"step": int(objective.optimizer.iterations.numpy()),
             "d_steps": int(objective.d_optimizer.iterations.numpy()),
             "train_seconds": round(time.time() - started, 1)}
  for key, values in history.items():
    results[f"train/{key}"] = float(values[-1])
  sampler = objective.sampling_generator(standing_stats_samples=config.get("standing_stats_samples", 0))
  for name, evaluator in evaluators.items():
    for metric, value in evaluator.run(sampler).items():
      results[f"{name}/{metric}"] = value
  if chief:
    checkpointing.atomic_save_model(sampler, os.path.join(workdir, "model.keras"))
    if sampler is not objective.generator:
      checkpointing.atomic_save_model(objective.generator, os.path.join(workdir, "generator.keras"))
    with open(os.path.join(workdir, "results.json"), "w") as f:
      json.dump(results, f, indent=2)
  return results

