r"""Pseudo-label training, "S4L: Self-Supervised Semi-Supervised Learning" (Zhai et al. 2019).

Recipe (google-research/s4l `config/pseudo_labels.sh`, `pseudo_labeling/generate_labels.py`): label all of
ImageNet train with the 10%-supervised model (evaluation preprocessing), keep the true label for the 10%
subset, and train ResNet-50 v2 x1 on all 1,281,167 images with those labels: 256 images per step, Inception
crop 224 + flip, SGD momentum 0.9, lr 0.1 * 256 / 256, 5 warmup epochs and x0.1 at 30, 60, 90 of 100 epochs
(500,400 steps), coupled L2 1e-4.

Two ways to give the labels:
  pseudo_labels=FILE  the paper's: a {tfds_id: label} file from
                      `model_garden.data.semi_supervised.write_pseudo_labels` (tools/moam.py writes one);
                      the objective is plain `classification` on `semi_supervised(..., pseudo_labels=FILE)`.
  teacher=MODEL.keras labels online: the `pseudo_label` objective asks a frozen teacher for the unlabelled
                      half of each 1:1 labelled/unlabelled batch (it sees augmented images).

Expected (ImageNet validation top-5, 10% labels): 82.41 (paper) / 82.86, top-1 60.24 (repo re-run).

Command:
  python -m model_garden.train \
      --config=model_garden/configs/ssl/pseudo_label.py:pseudo_labels=workdirs/labels.json --workdir=...
Smoke test (needs a label file or a teacher):
  python -m model_garden.train --config=model_garden/configs/ssl/pseudo_label.py:runlocal,teacher=T.keras ...
Arguments: runlocal, pseudo_labels, teacher, batch, width, dataset, data_dir.
"""

import ml_collections

from model_garden.configs.config_args import parse_arg

TRAIN_EXAMPLES = 1_281_167


def get_config(arg=None):
  """The config; `arg` is a comma list like "pseudo_labels=/path/labels.json"."""
  arg = parse_arg(arg, runlocal=False, pseudo_labels="", teacher="", batch=256, width=1.0, dataset="",
                  data_dir="")
  if bool(arg.pseudo_labels) == bool(arg.teacher):
    raise ValueError("Give exactly one of pseudo_labels=FILE (labels written by write_pseudo_labels) and "
                     "teacher=MODEL.keras (online labelling).")
  dataset = arg.dataset or ("mg_shapes/px32" if arg.runlocal else "imagenet2012")
  num_classes = 8 if dataset.startswith("mg_shapes") else 1000
  data_dir = f", data_dir='{arg.data_dir}'" if arg.data_dir else ""
  subset = "fraction=0.1" if arg.runlocal else "count_per_class=128"
  batch = 8 if arg.runlocal else arg.batch
  steps_per_epoch = max(1, TRAIN_EXAMPLES // batch)

  config = ml_collections.ConfigDict()
  config.seed = 0
  config.deterministic = False
  config.precision = "float32"
  config.input = ml_collections.ConfigDict()
  if arg.pseudo_labels:
    source = f"semi_supervised(dataset='{dataset}', {subset}, pseudo_labels='{arg.pseudo_labels}'{data_dir})"
    config.objective = "classification(weight_decay=1e-4)"
    keep = "keep('image', 'labels')"
  else:
    source = f"semi_supervised(dataset='{dataset}', {subset}, unlabelled_per_labelled=1{data_dir})"
    config.objective = f"pseudo_label(teacher='{arg.teacher}', weight_decay=1e-4)"
    keep = "keep('image', 'labels', 'labelled')"
  config.input.data = dict(name=source, split="train")
  config.input.data_dir = arg.data_dir or None
  config.input.batch_size = batch
  config.input.shuffle_buffer = 1
  config.input.cache = False
  config.input.on_corrupt = "error"
  config.input.pp = f"decode|inception_crop(224)|flip_lr|value_range(-1, 1)|onehot({num_classes})|{keep}"

  config.model = f"resnet50_v2(width={arg.width}, num_classes={num_classes})"

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "sgd(momentum=0.9)"
  config.optimizer.lr = 0.1 * batch / 256
  config.optimizer.schedule = f"piecewise(boundaries=(0.3, 0.6, 0.9), factor=0.1, warmup_steps={5 * steps_per_epoch})"
  config.optimizer.wd = 0.0
  config.optimizer.grad_clip_norm = None

  config.total_steps = 100 * steps_per_epoch
  config.log_steps = steps_per_epoch
  config.checkpoint_steps = steps_per_epoch * 5
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
    config.input.pp = f"decode|flip_lr|value_range(-1, 1)|onehot({num_classes})|{keep}"
    config.model = f"ssl_resnet_v2(layers=(1, 1, 1, 1), width=0.0625, image_size=32, num_classes={num_classes})"
    config.optimizer.schedule = "piecewise(boundaries=(0.3, 0.6, 0.9), factor=0.1, warmup_steps=2)"
    config.total_steps = 6
    config.log_steps = 3
    config.checkpoint_steps = 6
    eval_pp = f"decode|value_range(-1, 1)|onehot({num_classes})|keep('image', 'labels')"
    config.evals.test = dict(type="classification", data=dict(name=dataset, split="test[:32]"), pp=eval_pp)
    config.export = dict(image_size=32, activation="softmax", class_names=None)
  return config
