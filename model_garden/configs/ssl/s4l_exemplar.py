r"""S4L-Exemplar, "S4L: Self-Supervised Semi-Supervised Learning" (Zhai, Oliver, Kolesnikov, Beyer 2019).

Recipe (google-research/s4l `config/s4l_exemplar.sh`, `semi_supervised/exemplar.py`): ResNet-50 v2 x1 with
a 1000-way class head and a 1000-d embedding head on pre_logits; 512 labelled (10% = 128 per class) + 512
unlabelled images per step, 8 Inception views of 224 px each (8,192 network inputs) with brightness /
saturation noise and flips; loss = CE on every labelled view + 1.0 * batch-hard soft-margin triplet loss on
L2-normalised embeddings (mean of its value on the unlabelled and on the labelled part); SGD momentum 0.9,
lr 0.1; epochs of 128,000 / 512 = 250 steps: 10 warmup epochs, x0.1 at 140, 160, 180, 200 in all
(50,000 steps); coupled L2 1e-3. Views are cut from a 256 px centre square (the in-step crops need a
fixed-size batch) instead of the whole image; HSV noise is approximated by brightness and saturation jitter.

Expected (ImageNet validation, 10% labels): 83.72% top-5 (paper) / 83.71% top-5, 62.17% top-1 (repo re-run).

Command:
  python -m model_garden.train --config=model_garden/configs/ssl/s4l_exemplar.py --workdir=workdirs/s4l_ex
Smoke test:
  python -m model_garden.train --config=model_garden/configs/ssl/s4l_exemplar.py:runlocal --workdir=/tmp/s4le
Arguments: runlocal, labels (10 or 1), batch (labelled images per step), width, dataset, data_dir.
"""

import ml_collections

from model_garden.configs.config_args import parse_arg

COUNT_PER_CLASS = {10: 128, 1: 13}


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal"."""
  arg = parse_arg(arg, runlocal=False, labels=10, batch=512, width=1.0, dataset="", data_dir="")
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
  config.input.shuffle_buffer = 1
  config.input.cache = False
  config.input.on_corrupt = "error"
  config.input.pp = (f"decode|resize_small(256)|central_crop(256)|value_range(-1, 1)|onehot({num_classes})|"
                     "keep('image', 'labels', 'labelled')")

  config.model = f"resnet50_v2(width={arg.width}, num_classes={num_classes})"
  config.objective = ("s4l_exemplar(sup_weight=1.0, triplet_weight=1.0, num_views=8, embedding_dim=1000, "
                      "view_size=224, weight_decay=1e-3)")

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "sgd(momentum=0.9)"
  config.optimizer.lr = 0.1
  config.optimizer.schedule = f"piecewise(boundaries=(0.7, 0.8, 0.9), factor=0.1, warmup_steps={10 * steps_per_epoch})"
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
    config.input.pp = f"decode|value_range(-1, 1)|onehot({num_classes})|keep('image', 'labels', 'labelled')"
    config.model = f"ssl_resnet_v2(layers=(1, 1, 1, 1), width=0.0625, image_size=32, num_classes={num_classes})"
    config.objective = "s4l_exemplar(num_views=3, embedding_dim=16, weight_decay=1e-3)"
    config.optimizer.lr = 0.01
    config.optimizer.schedule = "piecewise(boundaries=(0.7, 0.8, 0.9), factor=0.1, warmup_steps=2)"
    config.total_steps = 6
    config.log_steps = 3
    config.checkpoint_steps = 6
    eval_pp = f"decode|value_range(-1, 1)|onehot({num_classes})|keep('image', 'labels')"
    config.evals.test = dict(type="classification", data=dict(name=dataset, split="test[:32]"), pp=eval_pp)
    config.export = dict(image_size=32, activation="softmax", class_names=None)
  return config
