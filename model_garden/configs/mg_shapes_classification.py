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

Expected: test accuracy 0.97 after 600 steps of batch 64 (measured 2026-12-04: 0.975, validation 0.974, 41-44 s of
training on 2 cores; 0.9025 before the parallel input pipeline, which reads the shuffled examples in another order).
Arguments: runlocal, res (32/64/224 pick the dataset config), steps, batch. Every field overrides from the
command line, e.g. `--config.networks.network.widths='(8, 16)'` or `--config.optimizer.lr=0.1`.
"""

from model_garden.configs import common
from model_garden.configs.config_args import parse_arg

NUM_CLASSES = 8


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal,steps=300"."""
  arg = parse_arg(arg, runlocal=False, res=32, steps=600, batch=64)
  config = common.base_config(total_steps=arg.steps, log_steps=50, checkpoint_steps=200)
  data = f"mg_shapes/px{arg.res}"
  config.input = common.input_config(
      data, "train", batch_size=arg.batch, cache=True,
      pp=f"decode|random_crop({arg.res})|flip_lr|value_range(-1, 1)|onehot({NUM_CLASSES})|keep('image', 'labels')")

  config.networks.network = common.network("resnet_small", num_classes=NUM_CLASSES, image_size=arg.res,
                                           widths=(16, 32, 64))
  config.objective = common.objective("classification", loss="softmax_xent", label_smoothing=0.1)
  config.optimizer = common.optimizer(
      "sgd", momentum=0.9, lr=0.05, schedule=common.schedule("cosine", warmup_steps=50),
      wd=5e-5,  # absolute per-step decay (big_vision), = 1e-3 L2 at lr 0.05
      wd_mults=[(".*kernel", 1.0)], grad_clip_norm=1.0)

  eval_pp = f"decode|value_range(-1, 1)|onehot({NUM_CLASSES})|keep('image', 'labels')"
  config.evals.val = common.classification_eval(data, "validation", pp=eval_pp)
  config.evals.test = common.classification_eval(data, "test", pp=eval_pp)
  config.export = dict(class_names=None)

  if arg.runlocal:
    common.runlocal(config, total_steps=20, log_steps=5)
    config.checkpoint_steps = 10
    config.keep_checkpoints = 2
    config.networks.network.widths = (8, 16)
  return config
