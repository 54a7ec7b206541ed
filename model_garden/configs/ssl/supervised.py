r"""Supervised baselines on 10% and 1% of the labels, "S4L: Self-Supervised Semi-Supervised Learning".

Recipe (google-research/s4l `config/supervised_imagenet_10p.sh`, `supervised_imagenet_1p.sh`): ResNet-50 v2
x1 trained on the labelled subset only (10% = 128 per class, 1% = 13 per class), 256 images per step,
Inception crop 224 + flip, SGD momentum 0.9, epochs of the labelled subset:
  10%: lr 0.1, coupled L2 1e-3, 5 warmup epochs, x0.1 at 140, 160, 180, 200 epochs in all (100,000 steps);
  1%:  lr 0.01, coupled L2 1e-2, 5 warmup epochs, x0.1 at 700, 800, 900, 1000 epochs in all (50,000 steps;
       the released config adds HSV noise, which model_garden pp does not have).

Expected (ImageNet validation top-5): 10%: 80.43 (paper) / 80.42, top-1 56.36 (repo re-run);
1%: 48.43 (paper) / 48.31, top-1 25.09 (repo re-run).

Command:
  python -m model_garden.train --config=model_garden/configs/ssl/supervised.py:labels=10 --workdir=workdirs/sup10
Smoke test:
  python -m model_garden.train --config=model_garden/configs/ssl/supervised.py:runlocal --workdir=/tmp/sup
Arguments: runlocal, labels (10 or 1), batch, width, dataset, data_dir.
"""

import ml_collections

from model_garden.configs.config_args import parse_arg

# labels (%) -> (count per class, lr, weight decay, (warmup, decays..., end) in epochs)
RECIPES = {10: (128, 0.1, 1e-3, (5, 140, 160, 180, 200)), 1: (13, 0.01, 1e-2, (5, 700, 800, 900, 1000))}


def get_config(arg=None):
  """The config; `arg` is a comma list like "labels=1" or "runlocal"."""
  arg = parse_arg(arg, runlocal=False, labels=10, batch=256, width=1.0, dataset="", data_dir="")
  if arg.labels not in RECIPES:
    raise ValueError(f"labels must be 10 or 1 (percent of ImageNet labels), got {arg.labels}.")
  count, lr, weight_decay, epochs = RECIPES[arg.labels]
  dataset = arg.dataset or ("mg_shapes/px32" if arg.runlocal else "imagenet2012")
  num_classes = 8 if dataset.startswith("mg_shapes") else 1000
  data_dir = f", data_dir='{arg.data_dir}'" if arg.data_dir else ""
  subset = "fraction=0.1" if arg.runlocal else f"count_per_class={count}"
  batch = 8 if arg.runlocal else arg.batch
  steps_per_epoch = max(1, count * 1000 // batch)
  warmup, *decays, end = epochs

  config = ml_collections.ConfigDict()
  config.seed = 0
  config.deterministic = False
  config.precision = "float32"
  config.input = ml_collections.ConfigDict()
  config.input.data = dict(
      name=f"semi_supervised(dataset='{dataset}', {subset}, unlabelled_per_labelled=0{data_dir})",
      split="train")
  config.input.data_dir = arg.data_dir or None
  config.input.batch_size = batch
  config.input.shuffle_buffer = 1
  config.input.cache = False
  config.input.on_corrupt = "error"
  config.input.pp = (f"decode|inception_crop(224)|flip_lr|value_range(-1, 1)|onehot({num_classes})|"
                     "keep('image', 'labels')")

  config.model = f"resnet50_v2(width={arg.width}, num_classes={num_classes})"
  config.objective = f"classification(weight_decay={weight_decay})"

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "sgd(momentum=0.9)"
  config.optimizer.lr = lr * batch / 256
  boundaries = tuple(d / end for d in decays)
  config.optimizer.schedule = (f"piecewise(boundaries={boundaries}, factor=0.1, "
                               f"warmup_steps={warmup * steps_per_epoch})")
  config.optimizer.wd = 0.0
  config.optimizer.grad_clip_norm = None

  config.total_steps = end * steps_per_epoch
  config.log_steps = steps_per_epoch * 5
  config.checkpoint_steps = steps_per_epoch * 20
  config.keep_checkpoints = 2
  config.eval_steps = 0
  eval_pp = (f"decode|resize_small(256)|central_crop(224)|value_range(-1, 1)|onehot({num_classes})|"
             "keep('image', 'labels')")
  config.evals = ml_collections.ConfigDict()
  config.evals.test = dict(type="classification", data=dict(name=dataset, split="validation"), pp=eval_pp)
  config.export = dict(image_size=224, activation="softmax", class_names=None)
  config.init = ml_collections.config_dict.placeholder(str)
  config.init_skip = ml_collections.config_dict.placeholder(str)

  if arg.runlocal:
    config.input.pp = f"decode|flip_lr|value_range(-1, 1)|onehot({num_classes})|keep('image', 'labels')"
    config.model = f"ssl_resnet_v2(layers=(1, 1, 1, 1), width=0.0625, image_size=32, num_classes={num_classes})"
    config.optimizer.schedule = "piecewise(boundaries=(0.7, 0.8, 0.9), factor=0.1, warmup_steps=2)"
    config.total_steps = 6
    config.log_steps = 3
    config.checkpoint_steps = 6
    eval_pp = f"decode|value_range(-1, 1)|onehot({num_classes})|keep('image', 'labels')"
    config.evals.test = dict(type="classification", data=dict(name=dataset, split="test[:32]"), pp=eval_pp)
    config.export = dict(image_size=32, activation="softmax", class_names=None)
  return config
