r"""MOAM, "Mix Of All Models", the three steps of S4L's best result (Zhai, Oliver, Kolesnikov, Beyer 2019).

  step=1  Rotation + VAT + EntMin + CE (google-research/s4l `config/moam_step_1.sh`, `rotation_vat.py`):
          ResNet-50 v2 x4; 128 labelled + 128 unlabelled images per step, each in its 4 rotations;
          loss = 0.4 * rotation + 0.3 * CE + 0.3 * VAT (epsilon 32, on the rotated unlabelled images) +
          0.3 * EntMin (rotated unlabelled images); SGD momentum 0.9, lr 0.2 * 128 / 256; epochs of
          128,000 / 128 = 1,000 steps: 10 warmup epochs, x0.1 at 100, 150, 190, 200 epochs in all (200,000
          steps); coupled L2 2e-4. Not reproduced: the Polyak average of the weights (EMA with a one-epoch
          half-life) the release evaluates with.
  step=2  Pseudo-label retraining on everything (`pseudo_label.py` recipe with the x4 network): the
          step-1 model labels all of ImageNet train (`write_pseudo_labels`), the 10% keep their true labels.
          Needs `pseudo_labels=FILE`.
  step=3  Fine-tuning of the step-2 model on the 10% labelled subset. Needs `init=STEP2/model.keras`.
          Hyper-parameters (unverified: the paper gives none and the release has no config): lr 0.01 *
          256 / 256, 20 epochs of the subset (10,000 steps) with x0.1 at 50% and 75%, coupled L2 1e-3.

Expected (ImageNet validation, 10% labels, paper): top-5 88.80 / 89.96 / 91.23 after steps 1 / 2 / 3;
top-1 73.21 after step 3. The release's README lists no re-run of MOAM.

One command runs the three steps and the labelling between them: `python tools/moam.py --workdir=...`.
Per step:
  python -m model_garden.train --config=model_garden/configs/ssl/moam.py:step=1 --workdir=workdirs/moam1
Smoke test:
  python tools/moam.py --workdir=/tmp/moam --config_arg=runlocal
Arguments: runlocal, step, pseudo_labels, init, width, dataset, data_dir.
"""

import ml_collections

from model_garden.configs.config_args import parse_arg

TRAIN_EXAMPLES = 1_281_167
LABELLED = 128_000


def get_config(arg=None):
  """The config of one MOAM step; `arg` like "step=2,pseudo_labels=labels.json"."""
  arg = parse_arg(arg, runlocal=False, step=1, pseudo_labels="", init="", width=4.0, dataset="", data_dir="")
  if arg.step not in (1, 2, 3):
    raise ValueError(f"MOAM has steps 1, 2 and 3; got step={arg.step}.")
  if arg.step == 2 and not arg.pseudo_labels:
    raise ValueError("MOAM step 2 trains on pseudo-labels: pass pseudo_labels=FILE (tools/moam.py writes it).")
  if arg.step == 3 and not arg.init:
    raise ValueError("MOAM step 3 fine-tunes the step-2 model: pass init=STEP2_WORKDIR/model.keras.")
  dataset = arg.dataset or ("mg_shapes/px32" if arg.runlocal else "imagenet2012")
  num_classes = 8 if dataset.startswith("mg_shapes") else 1000
  data_dir = f", data_dir='{arg.data_dir}'" if arg.data_dir else ""
  subset = "fraction=0.1" if arg.runlocal else "count_per_class=128"
  aug = "inception_crop(224)|flip_lr|"
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.deterministic = False
  config.precision = "float32"
  config.input = ml_collections.ConfigDict()
  config.input.data_dir = arg.data_dir or None
  config.input.shuffle_buffer = 1
  config.input.cache = False
  config.input.on_corrupt = "error"
  config.model = f"resnet50_v2(width={arg.width}, num_classes={num_classes})"
  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "sgd(momentum=0.9)"
  config.optimizer.wd = 0.0
  config.optimizer.grad_clip_norm = None
  config.init = ml_collections.config_dict.placeholder(str)
  config.init_skip = ml_collections.config_dict.placeholder(str)

  if arg.step == 1:
    batch = 128
    steps_per_epoch = LABELLED // batch
    source = f"semi_supervised(dataset='{dataset}', {subset}, unlabelled_per_labelled=1{data_dir})"
    config.input.batch_size = 2 * batch
    keep = "keep('image', 'labels', 'labelled')"
    config.objective = ("rotation_vat(sup_weight=0.3, vat_weight=0.3, entmin_weight=0.3, vat_epsilon=32.0, "
                        "vat_on_labelled=False, weight_decay=2e-4)")
    config.optimizer.lr = 0.2 * batch / 256
    config.optimizer.schedule = (f"piecewise(boundaries=(0.5, 0.75, 0.95), factor=0.1, "
                                 f"warmup_steps={10 * steps_per_epoch})")
    config.total_steps = 200 * steps_per_epoch
  elif arg.step == 2:
    batch = 256
    steps_per_epoch = TRAIN_EXAMPLES // batch
    source = f"semi_supervised(dataset='{dataset}', {subset}, pseudo_labels='{arg.pseudo_labels}'{data_dir})"
    config.input.batch_size = batch
    keep = "keep('image', 'labels')"
    config.objective = "classification(weight_decay=1e-4)"
    config.optimizer.lr = 0.1 * batch / 256
    config.optimizer.schedule = (f"piecewise(boundaries=(0.3, 0.6, 0.9), factor=0.1, "
                                 f"warmup_steps={5 * steps_per_epoch})")
    config.total_steps = 100 * steps_per_epoch
  else:
    batch = 256
    steps_per_epoch = LABELLED // batch
    source = f"semi_supervised(dataset='{dataset}', {subset}, unlabelled_per_labelled=0{data_dir})"
    config.input.batch_size = batch
    keep = "keep('image', 'labels')"
    config.objective = "classification(weight_decay=1e-3)"
    config.optimizer.lr = 0.01 * batch / 256
    config.optimizer.schedule = "piecewise(boundaries=(0.5, 0.75), factor=0.1)"
    config.total_steps = 20 * steps_per_epoch
    config.init = arg.init
  config.input.data = dict(name=source, split="train")
  config.input.pp = f"decode|{aug}value_range(-1, 1)|onehot({num_classes})|{keep}"
  config.log_steps = steps_per_epoch
  config.checkpoint_steps = steps_per_epoch * 5
  config.keep_checkpoints = 2
  config.eval_steps = 0
  config.export = dict(image_size=224, activation="softmax", class_names=None)
  eval_pp = (f"decode|resize_small(256)|central_crop(224)|value_range(-1, 1)|onehot({num_classes})|"
             "keep('image', 'labels')")
  config.evals = ml_collections.ConfigDict()
  config.evals.test = dict(type="classification", data=dict(name=dataset, split="validation"), pp=eval_pp)
  # What tools/moam.py needs to label the train split with the step-1 model.
  config.label_with = dict(dataset=dataset, split="train", pp="decode|resize_small(256)|central_crop(224)|"
                           "value_range(-1, 1)", data_dir=arg.data_dir or None)

  if arg.runlocal:
    config.input.batch_size = 8
    config.input.pp = f"decode|flip_lr|value_range(-1, 1)|onehot({num_classes})|{keep}"
    config.model = f"ssl_resnet_v2(layers=(1, 1, 1, 1), width=0.0625, image_size=32, num_classes={num_classes})"
    if arg.step == 1:
      config.objective = config.objective.replace("vat_epsilon=32.0", "vat_epsilon=4.6")  # 32 * 32 / 224
    config.optimizer.lr = 0.01
    config.optimizer.schedule = "piecewise(boundaries=(0.5, 0.75), factor=0.1)"
    config.total_steps = 6
    config.log_steps = 3
    config.checkpoint_steps = 6
    eval_pp = f"decode|value_range(-1, 1)|onehot({num_classes})|keep('image', 'labels')"
    config.evals.test = dict(type="classification", data=dict(name=dataset, split="test[:32]"), pp=eval_pp)
    config.export = dict(image_size=32, activation="softmax", class_names=None)
    config.label_with = dict(dataset=dataset, split="train", pp="decode|value_range(-1, 1)",
                             data_dir=arg.data_dir or None)
  return config
