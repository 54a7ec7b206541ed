r"""S4L-Rotation, "S4L: Self-Supervised Semi-Supervised Learning" (Zhai, Oliver, Kolesnikov, Beyer 2019).

Recipe (google-research/s4l `config/s4l_rotation.sh`, `semi_supervised/rotation.py`): ResNet-50 v2 x1 with
a 1000-way class head and a 4-way rotation head on pre_logits; 256 labelled (10% = 128 per class) + 256
unlabelled (all of ImageNet train) images per step, each fed in its 4 rotations (2048 network inputs);
loss = CE on the rotated labelled images + 1.0 * mean(rotation CE on unlabelled, on labelled); Inception
crop 224 + flip; SGD momentum 0.9, lr 0.03 (not batch-scaled); epochs count labelled examples (128,000 /
256 = 500 steps): 5 warmup epochs, x0.1 at 140, 160, 180, 200 epochs in all (100,000 steps); coupled L2 1e-3.

Expected (ImageNet validation, 10% labels): 83.82% top-5 (paper) / 83.85% top-5, 61.37% top-1 (repo re-run).

Data: `semi_supervised(...)` interleaves one labelled and one unlabelled example (model_garden.data.
semi_supervised); `shuffle_buffer = 1` keeps every batch exactly half labelled; `cache` must stay False.

Command:
  python -m model_garden.train --config=model_garden/configs/ssl/s4l_rotation.py --workdir=workdirs/s4l_rot
Smoke test:
  python -m model_garden.train --config=model_garden/configs/ssl/s4l_rotation.py:runlocal --workdir=/tmp/s4l
Arguments: runlocal, labels (10 or 1: percent of ImageNet labels), batch (labelled images per step),
  width, dataset, data_dir.
"""

import ml_collections

from model_garden.configs.config_args import parse_arg

COUNT_PER_CLASS = {10: 128, 1: 13}  # S4L's label maps: label_map_count_{128000,13000}_index_0


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal" or "labels=1"."""
  arg = parse_arg(arg, runlocal=False, labels=10, batch=256, width=1.0, dataset="", data_dir="")
  if arg.labels not in COUNT_PER_CLASS:
    raise ValueError(f"labels must be 10 or 1 (percent of ImageNet labels), got {arg.labels}.")
  dataset = arg.dataset or ("mg_shapes/px32" if arg.runlocal else "imagenet2012")
  num_classes = 8 if dataset.startswith("mg_shapes") else 1000
  data_dir = f", data_dir='{arg.data_dir}'" if arg.data_dir else ""
  subset = "fraction=0.1" if arg.runlocal else f"count_per_class={COUNT_PER_CLASS[arg.labels]}"
  batch = 4 if arg.runlocal else arg.batch
  steps_per_epoch = max(1, COUNT_PER_CLASS[arg.labels] * 1000 // batch)

  config = ml_collections.ConfigDict()
  config.seed = 0
  config.deterministic = False
  config.precision = "float32"
  config.input = ml_collections.ConfigDict()
  config.input.data = dict(
      name=f"semi_supervised(dataset='{dataset}', {subset}, unlabelled_per_labelled=1{data_dir})",
      split="train")
  config.input.data_dir = arg.data_dir or None
  config.input.batch_size = 2 * batch
  config.input.shuffle_buffer = 1  # the source shuffles; this keeps the exact 1:1 interleaving
  config.input.cache = False  # the stream is infinite
  config.input.on_corrupt = "error"
  config.input.pp = (f"decode|inception_crop(224)|flip_lr|value_range(-1, 1)|onehot({num_classes})|"
                     "keep('image', 'labels', 'labelled')")

  config.model = f"resnet50_v2(width={arg.width}, num_classes={num_classes})"
  config.objective = "s4l_rotation(sup_weight=1.0, rotation_weight=1.0, weight_decay=1e-3)"

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "sgd(momentum=0.9)"
  config.optimizer.lr = 0.03
  config.optimizer.schedule = f"piecewise(boundaries=(0.7, 0.8, 0.9), factor=0.1, warmup_steps={5 * steps_per_epoch})"
  config.optimizer.wd = 0.0
  config.optimizer.grad_clip_norm = None

  config.total_steps = 200 * steps_per_epoch
  config.log_steps = steps_per_epoch * 5
  config.checkpoint_steps = steps_per_epoch * 10
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
    config.input.pp = (f"decode|flip_lr|value_range(-1, 1)|onehot({num_classes})|"
                       "keep('image', 'labels', 'labelled')")
    config.model = f"ssl_resnet_v2(layers=(1, 1, 1, 1), width=0.0625, image_size=32, num_classes={num_classes})"
    config.optimizer.schedule = "piecewise(boundaries=(0.7, 0.8, 0.9), factor=0.1, warmup_steps=2)"
    config.total_steps = 6
    config.log_steps = 3
    config.checkpoint_steps = 6
    eval_pp = f"decode|value_range(-1, 1)|onehot({num_classes})|keep('image', 'labels')"
    config.evals.test = dict(type="classification", data=dict(name=dataset, split="test[:32]"), pp=eval_pp)
    config.export = dict(image_size=32, activation="softmax", class_names=None)
  return config
