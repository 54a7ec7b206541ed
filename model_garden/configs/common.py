"""Shared pieces of the training configs: the config skeleton, networks, optimizers, evaluators, runlocal.

Configs are Python files with `get_config(arg)` returning an `ml_collections.ConfigDict`; these helpers
build its blocks so that every config has the same keys, and every field overrides from the command line
(`--config.networks.network.depth=2`, `--config.optimizer.momentum=0.95`, `--config.evals.test.every_steps=100`).

  config = common.base_config()                              # seed, precision, input, step counts
  config.input = common.input_config("mg_shapes/px32", "train", pp=..., batch_size=64)
  config.networks.network = common.network("resnet_small", num_classes=8, image_size=32)
  config.objective = common.objective("classification", label_smoothing=0.1)
  config.optimizer = common.optimizer("sgd", lr=0.05, momentum=0.9, schedule=common.schedule("cosine", 50))
  config.evals.test = common.classification_eval("mg_shapes/px32", "test", pp=...)
  if arg.runlocal: common.runlocal(config)                  # seconds: tiny batch, a few steps, small evals

Only `configs/config_args.py` and this module may be imported by configs (configs stay light: no TensorFlow).
"""

from __future__ import annotations

from typing import Any, Optional

import ml_collections

PLACEHOLDER_STR = ml_collections.config_dict.placeholder(str)


def base_config(*, seed: int = 0, precision: str = "float32", total_steps: int = 1000, log_steps: int = 50,
                checkpoint_steps: int = 200, keep_checkpoints: int = 2) -> ml_collections.ConfigDict:
  """The keys every training config has, with empty `networks` and `evals` to fill in."""
  config = ml_collections.ConfigDict()
  config.seed = seed
  config.deterministic = False
  config.precision = precision
  config.networks = ml_collections.ConfigDict()
  config.evals = ml_collections.ConfigDict()
  config.total_steps = total_steps
  config.log_steps = log_steps
  config.checkpoint_steps = checkpoint_steps
  config.keep_checkpoints = keep_checkpoints
  # Accelerator knobs: XLA ("auto" = Keras' rule, "true", "false"), rematerialisation of every encoder block /
  # residual stage of the networks that support it, and micro-batches per step (one update per step).
  config.jit_compile = "auto"
  config.remat = False
  config.grad_accum_steps = 1
  return config


def input_config(name: str, split: str, *, pp: str, batch_size: int, shuffle_buffer: int = 10_000,
                 cache: bool = False, data_dir: Optional[str] = None,
                 on_corrupt: str = "error") -> ml_collections.ConfigDict:
  """`config.input`: the training data (tfds name or dataset spec), preprocessing and global batch."""
  block = ml_collections.ConfigDict()
  block.data = ml_collections.ConfigDict(dict(name=name, split=split))
  block.data_dir = data_dir or PLACEHOLDER_STR  # None: $TFDS_DATA_DIR or ~/tensorflow_datasets
  block.batch_size = batch_size
  block.shuffle_buffer = shuffle_buffer
  block.cache = cache
  block.on_corrupt = on_corrupt  # "error" (name the example), "skip" (drop and count), "off" (no guard)
  block.pp = pp
  # tf.data options as big_vision sets them (None: tf.data's defaults): private threadpool size, max intra-op
  # parallelism of one op, and the RAM budget of autotuning.
  block.threadpool_size = ml_collections.config_dict.placeholder(int)
  block.max_intra_op_parallelism = ml_collections.config_dict.placeholder(int)
  block.ram_budget_gb = ml_collections.config_dict.placeholder(float)
  return block


def network(name: str, *, init: str = "", init_skip: str = "", frozen: bool = False,
            **kwargs: Any) -> ml_collections.ConfigDict:
  """A `config.networks` entry: the registered model `name` with its arguments, and where weights come from.

  `init` (a .keras / .weights.h5 / .npz file, or a preset; "" = random), `init_skip` (regex of variables to
  leave as initialised), `frozen` (no gradients, no optimizer state): see `model_garden.training.networks`.
  `name=""` takes the architecture from `init`.
  """
  return ml_collections.ConfigDict(dict(name=name, **kwargs, init=init, init_skip=init_skip, frozen=frozen))


def objective(name: str, **kwargs: Any) -> ml_collections.ConfigDict:
  """`config.objective`: the registered objective and its arguments (its networks come from config.networks)."""
  return ml_collections.ConfigDict(dict(name=name, **kwargs))


def schedule(name: str = "constant", warmup_steps: int = 0, **kwargs: Any) -> ml_collections.ConfigDict:
  """An lr schedule block (`cosine`, `rsqrt`, `linear`, `piecewise`, `constant`)."""
  return ml_collections.ConfigDict(dict(name=name, warmup_steps=warmup_steps, **kwargs))


def optimizer(name: str, *, lr: float, schedule: Any = "constant", wd: float = 0.0, wd_mults=None,
              grad_clip_norm: Optional[float] = None, **kwargs: Any) -> ml_collections.ConfigDict:
  """An optimizer block: the update rule `name` with its arguments (momentum, b1, ...) beside lr, schedule,
  big_vision's decoupled `wd` and `wd_mults`, and global-norm clipping (see `model_garden.optimizers.make`)."""
  block = ml_collections.ConfigDict(dict(name=name, lr=lr, **kwargs))
  block.schedule = schedule
  block.wd = wd
  if wd_mults is not None:
    block.wd_mults = list(wd_mults)
  block.grad_clip_norm = grad_clip_norm if grad_clip_norm is not None else ml_collections.config_dict.placeholder(
      float)
  return block


def classification_eval(name: str, split: str, *, pp: str, every_steps: int = 0,
                        **kwargs: Any) -> ml_collections.ConfigDict:
  """A `classification` evaluator (accuracy, loss) on a tfds split, run every `every_steps` (0: at the end)."""
  return ml_collections.ConfigDict(dict(type="classification", every_steps=every_steps,
                                        data=dict(name=name, split=split), pp=pp, **kwargs))


def runlocal(config: ml_collections.ConfigDict, *, batch_size: int = 16, total_steps: int = 10, log_steps: int = 5,
             eval_examples: int = 64) -> ml_collections.ConfigDict:
  """Shrinks `config` in place to a smoke test of seconds: a small batch and shuffle buffer, a few steps, one
  checkpoint, short warmups, the first `eval_examples` of every evaluator's split (and at most that many for linear
  probes), evaluators only at the end."""
  config.input.batch_size = batch_size
  config.input.shuffle_buffer = min(config.input.get("shuffle_buffer", 64), 64)
  config.total_steps = total_steps
  config.log_steps = log_steps
  config.checkpoint_steps = total_steps
  config.keep_checkpoints = 1
  for opt in _optimizer_blocks(config):
    if isinstance(opt.get("schedule"), ml_collections.ConfigDict) and opt.schedule.get("warmup_steps"):
      opt.schedule.warmup_steps = min(opt.schedule.warmup_steps, 2)
  for ev in config.evals.values():
    if ev.get("every_steps"):
      ev.every_steps = 0
    data = ev.get("data")
    if data is not None and "split" in data and "[" not in data["split"]:
      data["split"] = f"{data['split']}[:{eval_examples}]"
    if ev.get("type") == "linear_probe":  # Its splits are train/val/test inside `data`: cap what it reads.
      ev.update(dict(max_train_examples=eval_examples, max_eval_examples=eval_examples, steps=20))
  return config


def _optimizer_blocks(config):
  if config.get("optimizer"):
    yield config.optimizer
  for block in (config.get("optimizers") or {}).values():
    if block:
      yield block
