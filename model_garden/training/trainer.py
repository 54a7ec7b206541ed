"""The one training job of every objective: config -> named networks -> objective -> `fit` -> workdir files.

`python -m model_garden.train` is its command line. Steps (`train`):

  1. check the config, set the precision policy and seeds, make the strategy, lock the workdir;
  2. build `config.networks` (one network per name, `training/networks.py`), hand them to the objective
     (`objectives.build`: it declares which networks it takes, which one is evaluated, what is exported),
     load each network's `init` into the network the objective trains;
  3. build the optimizer(s) in the strategy scope: `config.optimizer` for objectives with one, or
     `config.optimizers.<network>` for those with several (a GAN's generator and discriminator); a network
     with `frozen=True` gets no gradients and no optimizer state;
  4. restore the newest intact checkpoint (weights, optimizer state, step) and skip the examples already seen;
  5. `fit` with the NaN guard, checkpoints every `checkpoint_steps`, the evaluators of `config.evals` at their
     own cadences, TensorBoard;
  6. run every evaluator once more, write `results.json` and the objective's exports (`model.keras`, plus
     `export.json` for classifiers and two-tower models, `generator.keras` for GANs with an EMA generator).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from typing import Any, Dict, Optional

import keras
import ml_collections
import tensorflow as tf
from absl import logging

from model_garden import data as mg_data
from model_garden import evaluation, objectives, optimizers
from model_garden import text  # noqa: F401  (registers the text pp ops: tokenize, sample_caption, ...)
from model_garden.registry import SpecError
from model_garden.training import checkpointing, networks as mg_networks
from model_garden.training.progress import StepProgress
from model_garden.training.workdir_lock import WorkdirLock
from model_garden.training.strategy import get_strategy, is_chief

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
REQUIRED_KEYS = ("input", "networks", "objective", "total_steps", "log_steps", "checkpoint_steps")


class ConfigError(ValueError):
  """A training config that cannot run as given; the message names the key and the fix."""


def check_config(config) -> None:
  """Raises ConfigError for a config the trainer cannot run (before anything is built or written)."""
  if "base" in config and ("grid" in config or "cells" in config):
    raise ConfigError("This is a GAN study config (config.base + config.grid): run it with "
                      "`python tools/gan_study.py --config=... --workdir=...`, which trains one GAN per cell.")
  if "model" in config or "models" in config:
    raise ConfigError("config.model / config.models are gone: name the networks in config.networks, e.g. "
                      "config.networks.network = dict(name='resnet_small', num_classes=8) (see "
                      "model_garden/configs/mg_shapes_classification.py).")
  missing = [k for k in REQUIRED_KEYS if k not in config]
  if missing:
    raise ConfigError(f"The config lacks {', '.join('config.' + k for k in missing)}.")
  for key in ("total_steps", "log_steps", "checkpoint_steps"):
    value = config[key]
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
      raise ConfigError(f"config.{key} must be a positive integer, got {value!r}.")
  if config.total_steps % config.log_steps:
    raise ConfigError(f"config.total_steps ({config.total_steps}) must be a multiple of config.log_steps "
                      f"({config.log_steps}): training runs in Keras epochs of log_steps steps.")
  if config.checkpoint_steps % config.log_steps:
    raise ConfigError(f"config.checkpoint_steps ({config.checkpoint_steps}) must be a multiple of "
                      f"config.log_steps ({config.log_steps}): checkpoints are written at epoch ends.")
  for name, ev in (config.get("evals") or {}).items():
    every = (ev.get("every_steps") if hasattr(ev, "get") else 0) or 0
    if every and every % config.log_steps:
      raise ConfigError(f"config.evals.{name}.every_steps ({every}) must be a multiple of config.log_steps "
                        f"({config.log_steps}): evaluators run at epoch ends.")
  jit_compile(config)
  accum = config.get("grad_accum_steps", 1)
  if not isinstance(accum, int) or isinstance(accum, bool) or accum < 1:
    raise ConfigError(f"config.grad_accum_steps must be a positive integer, got {accum!r}.")
  precision = config.get("precision", "float32")
  if precision not in PRECISIONS:
    raise ConfigError(f"config.precision must be one of {PRECISIONS}, got {precision!r}.")
  if config.input.get("batch_size", 0) <= 0:
    raise ConfigError(f"config.input.batch_size must be positive, got {config.input.get('batch_size')!r}.")


def jit_compile(config):
  """config.jit_compile as `compile` takes it: "auto" (Keras' rule: no XLA under tf.distribute or on CPU-only
  hosts), True or False; the command line's strings ("True", "false", ...) are accepted."""
  value = config.get("jit_compile", "auto")
  if isinstance(value, bool):
    return value
  text = str(value).strip().lower()
  if text in ("auto", "true", "false"):
    return {"auto": "auto", "true": True, "false": False}[text]
  raise ConfigError(f"config.jit_compile must be 'auto', True or False, got {value!r}.")


def _apply_memory_options(config, objective) -> None:
  """config.remat on every network that supports it; config.grad_accum_steps on the objective."""
  if config.get("remat", False):
    able = [name for name, net in objective.networks.items() if hasattr(net, "remat")]
    if not able:
      raise ConfigError(f"config.remat=True but none of the networks ({', '.join(objective.networks)}) supports "
                        "rematerialisation (ViT, Mixer, BiT and the text towers do).")
    for name in able:
      objective.networks[name].remat = True
  try:
    objective.set_grad_accum_steps(config.get("grad_accum_steps", 1))
  except ValueError as e:
    raise ConfigError(str(e)) from None


def _frozen_patterns(network: keras.Model):
  """A regex matching every variable path of `network` (its common path prefix, then anything)."""
  paths = [v.path for v in network.weights]
  if not paths:
    return []
  prefix = os.path.commonpath(paths)
  return [re.escape(prefix) + "/.*"]


def make_optimizers(config, objective, frozen_networks) -> Dict[Optional[str], keras.optimizers.Optimizer]:
  """The objective's optimizers: {None: one} from `config.optimizer`, or {name: ...} from `config.optimizers`."""
  frozen = []
  for name in frozen_networks:
    frozen += _frozen_patterns(objective.networks[name])

  def make(opt_config, name):
    opt_config = dict(opt_config.to_dict() if hasattr(opt_config, "to_dict") else opt_config)
    if frozen:
      own = opt_config.get("frozen") or []
      opt_config["frozen"] = ([own] if isinstance(own, str) else list(own)) + frozen
    optimizer = optimizers.make(opt_config, total_steps=objective.optimizer_steps(name, config.total_steps))
    if config.get("precision") == "mixed_float16" and not objective.optimizer_names:
      optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer

  if not objective.optimizer_names:
    if config.get("optimizers"):
      raise ConfigError(f"{type(objective).__name__} trains with one optimizer: set config.optimizer, not "
                        "config.optimizers.")
    if not config.get("optimizer"):
      raise ConfigError("config.optimizer is missing (name, lr, schedule, ...; see model_garden.optimizers.make).")
    return {None: make(config.optimizer, None)}
  given = config.get("optimizers") or {}
  missing = [n for n in objective.optimizer_names if n not in given]
  unexpected = [n for n in given if n not in objective.optimizer_names]
  if missing or unexpected or config.get("optimizer"):
    raise ConfigError(f"{type(objective).__name__} trains {', '.join(objective.optimizer_names)} with one "
                      f"optimizer each: set config.optimizers.<{'|'.join(objective.optimizer_names)}>"
                      + (f" (missing {', '.join(missing)})" if missing else "")
                      + (f" (unknown {', '.join(unexpected)})" if unexpected else "")
                      + ("; config.optimizer is not used" if config.get("optimizer") else "") + ".")
  return {name: make(given[name], name) for name in objective.optimizer_names}


def build_objective(config, strategy=None):
  """Networks, objective and optimizers of `config`, built and initialised (inits loaded) in `strategy`'s scope.

  Returns:
    (objective, {network name: init report}).
  """
  strategy = strategy or tf.distribute.get_strategy()
  entries = {name: mg_networks.split_entry(entry) for name, entry in config.networks.items()}
  with strategy.scope():
    built = mg_networks.build_networks(config.networks)
    objective = objectives.build(config.objective, built)
    reports = {}
    for name, (_, trainer_keys) in entries.items():
      if trainer_keys["init"]:
        reports[name] = mg_networks.initialise(objective.networks[name], trainer_keys["init"],
                                               trainer_keys["init_skip"], what=name)
        logging.info("Initialised network %r from %s.", name, trainer_keys["init"])
    frozen = [name for name, (_, trainer_keys) in entries.items() if trainer_keys["frozen"]]
    _apply_memory_options(config, objective)
    requested = jit_compile(config)
    objective.compile_with(make_optimizers(config, objective, frozen), jit_compile=requested)
    if requested is True and objective.jit_compile is not True:
      # Keras falls back without XLA (with a warning) where a layer says supports_jit=False: on a TPU that step
      # would fail, so a run that asked for XLA stops here.
      raise ConfigError("config.jit_compile=True, but Keras cannot compile this objective's step with XLA (a "
                        "layer has supports_jit=False, or op determinism is enabled): use "
                        "--config.jit_compile=auto or False.")
    objective.build_for_training()
  return objective, reports


def _write_exports(config, objective, workdir: str) -> None:
  for filename, model in objective.exported_models().items():
    checkpointing.atomic_save_model(model, os.path.join(workdir, filename))
  info = dict(config.get("export") or {})
  if objective.export_kind == "classifier":
    network = objective.evaluated_network()
    info.setdefault("image_size", getattr(network, "image_size", None))
    info.setdefault("activation", "sigmoid" if getattr(objective, "loss_type", "") == "sigmoid_xent" else "softmax")
    info.setdefault("class_names", None)
    for key in ("tokenizer", "templates"):
      info.pop(key, None)
    if info["image_size"]:
      from model_garden import export  # pylint: disable=g-import-not-at-top  (export is above training)
      export.write_export_config(workdir, **info)
  elif objective.export_kind == "two_towers":
    from model_garden import export  # pylint: disable=g-import-not-at-top
    network = objective.evaluated_network()
    info.pop("activation", None)
    info.pop("class_names", None)
    info.setdefault("image_size", getattr(network, "image_size", None))
    if info.get("tokenizer"):
      export.write_two_towers_export_config(workdir, **info)


def train(config: ml_collections.ConfigDict, workdir: str, strategy_name: str = "default",
          verbose: int | str = "auto", extra_callbacks=()) -> Dict[str, Any]:
  """Trains `config` in `workdir`, resuming from its newest checkpoint; returns the final results.

  Writes into `workdir`: `checkpoints/` (every `checkpoint_steps`), `tensorboard/`, `config.json`, and at the
  end the objective's exports (`model.keras`, ...), `export.json` (what `python -m model_garden.export`
  needs) and `results.json` (training losses and evaluator numbers).
  """
  check_config(config)
  keras.mixed_precision.set_global_policy(config.get("precision", "float32"))
  keras.utils.set_random_seed(config.get("seed", 0))
  if config.get("deterministic", False):
    tf.config.experimental.enable_op_determinism()
  strategy = get_strategy(strategy_name)
  chief = is_chief(strategy)
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise ConfigError(f"--workdir {workdir} is a file; give a directory (it is created if missing).")
  os.makedirs(workdir, exist_ok=True)
  with contextlib.ExitStack() as stack:
    if chief:  # A second run on this workdir is refused, naming the holder (a stale lock is taken over).
      stack.enter_context(WorkdirLock(workdir))
    return _train_in_workdir(config, workdir, strategy, chief, verbose, extra_callbacks)


def _train_in_workdir(config, workdir: str, strategy, chief: bool, verbose, extra_callbacks) -> Dict[str, Any]:
  if chief:
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json_best_effort(indent=2))

  objective, _ = build_objective(config, strategy)

  ckpt_dir = os.path.join(workdir, "checkpoints")
  if not chief:  # Other workers save too (collective-safe) but into a scratch directory.
    ckpt_dir = os.path.join(workdir, f".worker_scratch_{strategy.cluster_resolver.task_id}")
  checkpointer = checkpointing.TrainCheckpointer(objective, ckpt_dir, config.get("keep_checkpoints", 3))
  start_step = checkpointer.restore_latest()
  if start_step:
    logging.info("Resuming from %s at step %d.", checkpointer.latest, start_step)

  global_batch = config.input.batch_size
  if global_batch % strategy.num_replicas_in_sync:
    raise ConfigError(f"config.input.batch_size ({global_batch}) must divide by the {strategy.num_replicas_in_sync} "
                      "replicas: each gets batch_size / replicas examples per step.")
  host_datasets = []

  def dataset_fn(input_context):
    # Per host: its share of the files, per-replica batches, its share of the examples already seen.
    host_datasets.append(mg_data.get_dataset(
        config.input.data.name, config.input.data.split, batch_size=global_batch, pp=config.input.pp,
        data_dir=config.input.get("data_dir"), train=True, seed=config.get("seed", 0),
        shuffle_buffer=config.input.get("shuffle_buffer", 10_000), skip_examples=start_step * global_batch,
        cache=config.input.get("cache", False), on_corrupt=config.input.get("on_corrupt", "error"),
        input_context=input_context, threadpool_size=config.input.get("threadpool_size"),
        max_intra_op_parallelism=config.input.get("max_intra_op_parallelism"),
        ram_budget_gb=config.input.get("ram_budget_gb")))
    return host_datasets[-1]

  train_ds = strategy.distribute_datasets_from_function(dataset_fn)

  nan_guard = checkpointing.NanGuard(keys=objective.nan_keys)
  callbacks = [nan_guard, checkpointing.CheckpointCallback(checkpointer, config.checkpoint_steps, nan_guard)]
  evaluators = evaluation.build_evaluators(config.get("evals"), data_dir=config.input.get("data_dir"))
  evaluator_callback = evaluation.EvaluatorCallback(evaluators, objective.evaluated_network,
                                                    workdir=workdir if chief else None)
  callbacks.append(evaluator_callback)
  if chief:
    callbacks.append(keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard"), update_freq="epoch"))
  callbacks.extend(extra_callbacks)
  if verbose == "auto":  # Progress in steps, not in Keras' "epochs" of log_steps steps.
    callbacks.append(StepProgress(total_steps=config.total_steps))
    verbose = 0

  epochs = config.total_steps // config.log_steps
  started = time.time()
  history = {}
  if start_step < config.total_steps:
    try:
      history = objective.fit(train_ds, epochs=epochs, steps_per_epoch=config.log_steps,
                              initial_epoch=start_step // config.log_steps, callbacks=callbacks,
                              verbose=verbose, shuffle=False).history
    except tf.errors.InvalidArgumentError as e:
      if "CorruptExampleError" in str(e):
        raise mg_data.CorruptExampleError(_corrupt_message(e)) from None
      raise
  if nan_guard.triggered:
    raise checkpointing.NonFiniteLossError(
        f"Training stopped at step {nan_guard.step}: non-finite loss ({nan_guard.values}). The last good "
        f"checkpoint, {checkpointer.latest}, was kept; a rerun resumes from it. Lower the learning rate "
        "(config.optimizer.lr or config.optimizers.<network>.lr), add grad_clip_norm, or check the data for NaNs.")
  train_seconds = time.time() - started

  step = int(objective.optimizer.iterations.numpy())
  results = {"step": step, "train_seconds": round(train_seconds, 1)}
  if getattr(objective, "d_optimizer", None) is not None:
    results["d_steps"] = int(objective.d_optimizer.iterations.numpy())
  for key, values in history.items():
    if "/" not in key:
      results[f"train/{key}"] = float(values[-1])
  counters = [ds.corrupt_counter for ds in host_datasets if getattr(ds, "corrupt_counter", None) is not None]
  if counters:
    results["train/corrupt_examples_skipped"] = sum(counter.value() for counter in counters)
  already = evaluator_callback.ran_at(step)
  network = objective.evaluated_network() if evaluators else None
  for scheduled in evaluators:
    numbers = already.get(scheduled.name)
    if numbers is None:
      numbers = evaluation.run_evaluator(scheduled, network, step=step, workdir=workdir if chief else None)
    results.update(numbers)
  if chief:
    _write_exports(config, objective, workdir)
    with open(os.path.join(workdir, "results.json"), "w") as f:
      json.dump(results, f, indent=2)
  return results


def _corrupt_message(error: Exception) -> str:
  text = str(error)
  start = text.find("CorruptExampleError")
  return text[start:start + 600].replace("\n", " ") if start >= 0 else text[:600]


__all__ = ["ConfigError", "PRECISIONS", "SpecError", "build_objective", "check_config", "make_optimizers", "train"]
