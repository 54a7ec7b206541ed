r"""Supervised classification of the 8 shapes of the embedded `mg_shapes` dataset (the `make demo` job).

A small pre-activation ResNet with GroupNorm (widths 16/32/64), SGD with momentum, cosine schedule, on
32 px images.

Command:
  python -m model_garden.train \
      --config=model_garden/configs/mg_shapes_classification.py \
      --workdir=workdirs/mg_shapes_cls

Smoke test (a few steps, seconds):
  python -m model_garden.train \
      --config=model_garden/configs/mg_shapes_classification.py:runlocal --workdir=/tmp/smoke

Expected: test accuracy 0.90 after 600 steps of batch 64 (measured: 0.9025, 88 s of training on 2 cores).
Arguments: runlocal, res (32/64/224 pick the dataset config), steps, batch.
"""

import ml_collections

from model_garden.configs.config_args import parse_arg

NUM_CLASSES = 8


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal,steps=300"."""
  arg = parse_arg(arg, runlocal=False, res=32, steps=600, batch=64)
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.deterministic = False
  config.precision = "float32"

  config.input = ml_collections.ConfigDict()
  config.input.data = dict(name=f"mg_shapes/px{arg.res}", split="train")
  config.input.data_dir = ml_collections.config_dict.placeholder(str)  # None: ~/tensorflow_datasets
  config.input.batch_size = arg.batch
  config.input.shuffle_buffer = 10_000
  config.input.cache = True
  config.input.on_corrupt = "error"
  config.input.pp = (f"decode|random_crop({arg.res})|flip_lr|value_range(-1, 1)|"
                     f"onehot({NUM_CLASSES})|keep('image', 'labels')")

  config.model = f"resnet_small(num_classes={NUM_CLASSES}, image_size={arg.res}, widths=(16, 32, 64))"
  config.objective = "classification(loss='softmax_xent', label_smoothing=0.1)"

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "sgd(momentum=0.9)"
  config.optimizer.lr = 0.05
  config.optimizer.schedule = "cosine(warmup_steps=50)"
  config.optimizer.wd = 5e-5  # absolute per-step decay (big_vision), = 1e-3 L2 at lr 0.05
  config.optimizer.wd_mults = [(".*kernel", 1.0)]
  config.optimizer.grad_clip_norm = 1.0

  config.total_steps = arg.steps
  config.log_steps = 50
  config.checkpoint_steps = 200
  config.keep_checkpoints = 2
  config.eval_steps = 0

  eval_pp = f"decode|value_range(-1, 1)|onehot({NUM_CLASSES})|keep('image', 'labels')"
  config.evals = ml_collections.ConfigDict()
  config.evals.val = dict(type="classification", data=dict(name=f"mg_shapes/px{arg.res}",
                                                             split="validation"), pp=eval_pp)
  config.evals.test = dict(type="classification", data=dict(name=f"mg_shapes/px{arg.res}", split="test"),
                           pp=eval_pp)
  config.export = dict(image_size=arg.res, activation="softmax", class_names=None)
  config.init = ml_collections.config_dict.placeholder(str)  # a .keras file to start from
  config.init_skip = ml_collections.config_dict.placeholder(str)  # regex of variables not loaded

  if arg.runlocal:
    config.input.batch_size = 16
    config.input.shuffle_buffer = 64
    config.total_steps = 20
    config.log_steps = 5
    config.checkpoint_steps = 10
    config.model = f"resnet_small(num_classes={NUM_CLASSES}, image_size={arg.res}, widths=(8, 16))"
    config.optimizer.schedule = "cosine(warmup_steps=2)"
    for ev in config.evals.values():
      ev.data["split"] = ev.data["split"] + "[:64]"
  return config
