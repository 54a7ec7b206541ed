r"""VAT and VAT+EntMin baselines, "S4L: Self-Supervised Semi-Supervised Learning" (Zhai et al. 2019).

Recipe (google-research/s4l `config/vat.sh`, `config/vat_entmin.sh`, `semi_supervised/vat.py`): ResNet-50 v2
x1; 256 labelled (10% = 128 per class) + 256 unlabelled images per step; loss = CE(labelled) + 0.5 * VAT +
entmin * EntMin, VAT and EntMin on labelled and unlabelled images (`--apply_vat_to_labeled`), one power
iteration, xi 1e-6, epsilon 40 (L2 over the image, inputs in [-1, 1]), perturbed passes not updating
BatchNorm statistics; entmin 0 (VAT) or 1.0 (VAT+EntMin); Inception crop 224 + flip; SGD momentum 0.9,
lr 0.03; 5 warmup epochs, x0.1 at 140, 160, 180, 200 epochs of 500 steps (100,000 steps); coupled L2 1e-3.

Expected (ImageNet validation, 10% labels, top-5): VAT 82.78 (paper) / 82.71, top-1 59.98 (repo re-run);
VAT+EntMin 83.39 (paper) / 83.28, top-1 60.87.

Command:
  python -m model_garden.train --config=model_garden/configs/ssl/vat.py:entmin=True --workdir=workdirs/vat_em
Smoke test:
  python -m model_garden.train --config=model_garden/configs/ssl/vat.py:runlocal --workdir=/tmp/vat
Arguments: runlocal, entmin (add EntMin with weight 1), batch (labelled per step), width, dataset, data_dir.
"""

import ml_collections

from model_garden.configs.config_args import parse_arg


def get_config(arg=None):
  """The config; `arg` is a comma list like "entmin=True" or "runlocal"."""
  arg = parse_arg(arg, runlocal=False, entmin=False, batch=256, width=1.0, dataset="", data_dir="")
  dataset = arg.dataset or ("mg_shapes/px32" if arg.runlocal else "imagenet2012")
  num_classes = 8 if dataset.startswith("mg_shapes") else 1000
  data_dir = f", data_dir='{arg.data_dir}'" if arg.data_dir else ""
  subset = "fraction=0.1" if arg.runlocal else "count_per_class=128"
  batch = 4 if arg.runlocal else arg.batch
  steps_per_epoch = max(1, 128_000 // batch)

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
  config.input.pp = (f"decode|inception_crop(224)|flip_lr|value_range(-1, 1)|onehot({num_classes})|"
                     "keep('image', 'labels', 'labelled')")

  config.model = f"resnet50_v2(width={arg.width}, num_classes={num_classes})"
  entmin_weight = 1.0 if arg.entmin else 0.0
  config.objective = (f"vat(vat_weight=0.5, epsilon=40.0, xi=1e-6, power_iterations=1, "
                      f"entmin_weight={entmin_weight}, vat_on_labelled=True, weight_decay=1e-3)")

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
    config.objective = config.objective.replace("epsilon=40.0", "epsilon=5.7")  # same per-pixel size: 40 * 32 / 224
    config.optimizer.schedule = "piecewise(boundaries=(0.7, 0.8, 0.9), factor=0.1, warmup_steps=2)"
    config.total_steps = 6
    config.log_steps = 3
    config.checkpoint_steps = 6
    eval_pp = f"decode|value_range(-1, 1)|onehot({num_classes})|keep('image', 'labels')"
    config.evals.test = dict(type="classification", data=dict(name=dataset, split="test[:32]"), pp=eval_pp)
    config.export = dict(image_size=32, activation="softmax", class_names=None)
  return config
