r"""Rotation pretext training, "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov et al.).

Recipe (google/revisiting-self-supervised `config/rotation/imagenet.sh`; the paper's best model): RevNet-50 x4
whose 4-way head predicts the rotation; every image of the batch fed at 0/90/180/270 degrees (64 images =
256 network inputs per step); Inception crop 224 + flip; SGD momentum 0.9, lr 0.1 * 64 / 256 = 0.025;
35 epochs of the 1,231,121-image train split (the first 96% of ImageNet train here, as the original's first
984 of 1024 shards; 19,236 steps per epoch), linear warmup over 5 epochs, x0.1 at epochs 15 and 25;
coupled L2 1e-4 on every kernel (the original's l2_regularizer), no decoupled decay.
Not reproduced: slim's Inception colour distortion (model_garden pp has no colour-jitter op).

Expected: ImageNet linear evaluation 55.4% top-1 / 77.9% top-5 (paper, pre_logits of RevNet-50 x4).
Linear evaluation of every endpoint: `model_garden.evaluation.linear_probe.LinearProbe` on the trained
network (see examples/ssl_pretext_linear_eval.ipynb).

Command:
  python -m model_garden.train --config=model_garden/configs/ssl/rotation.py --workdir=workdirs/rotation
Smoke test (mg_shapes, a few steps):
  python -m model_garden.train --config=model_garden/configs/ssl/rotation.py:runlocal --workdir=/tmp/rot
Arguments: runlocal, arch (revnet50 | resnet50_v1 | resnet50_v2 | vgg19_bn), width, batch, dataset, data_dir.
"""

import ml_collections

from model_garden.configs.config_args import parse_arg

TRAIN_EXAMPLES = 1_231_121  # revisiting-self-supervised's "train": ImageNet train minus 50,046 for "val"


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal" or "arch=resnet50_v1,width=2"."""
  arg = parse_arg(arg, runlocal=False, arch="revnet50", width=4.0, batch=64, dataset="", data_dir="")
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.deterministic = False
  config.precision = "float32"
  steps_per_epoch = TRAIN_EXAMPLES // arg.batch

  config.input = ml_collections.ConfigDict()
  config.input.data = dict(name=arg.dataset or "imagenet2012", split=f"train[:{TRAIN_EXAMPLES}]")
  config.input.data_dir = arg.data_dir or None
  config.input.batch_size = arg.batch
  config.input.shuffle_buffer = 50_000
  config.input.cache = False
  config.input.on_corrupt = "error"
  config.input.pp = "decode|inception_crop(224)|flip_lr|value_range(-1, 1)|keep('image')"

  config.model = f"{arg.arch}(width={arg.width}, num_classes=4)"
  config.objective = "rotation(weight_decay=1e-4)"

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "sgd(momentum=0.9)"
  config.optimizer.lr = 0.1 * arg.batch / 256
  config.optimizer.schedule = (f"piecewise(boundaries=({15 / 35}, {25 / 35}), factor=0.1, "
                               f"warmup_steps={5 * steps_per_epoch})")
  config.optimizer.wd = 0.0  # the L2 is coupled, in the objective
  config.optimizer.grad_clip_norm = None

  config.total_steps = 35 * steps_per_epoch
  config.log_steps = steps_per_epoch // 4
  config.total_steps -= config.total_steps % config.log_steps
  config.checkpoint_steps = config.log_steps * 4
  config.keep_checkpoints = 2
  config.eval_steps = 0
  config.evals = ml_collections.ConfigDict()
  config.export = dict(image_size=224, activation="softmax", class_names=["0", "90", "180", "270"])
  config.init = ml_collections.config_dict.placeholder(str)
  config.init_skip = ml_collections.config_dict.placeholder(str)

  if arg.runlocal:
    config.input.data = dict(name=arg.dataset or "mg_shapes/px32", split="train")
    config.input.batch_size = 8
    config.input.shuffle_buffer = 64
    config.input.pp = "decode|flip_lr|value_range(-1, 1)|keep('image')"
    config.model = "ssl_revnet(layers=(1, 1, 1, 1), width=0.0625, image_size=32, num_classes=4)"
    config.optimizer.lr = 0.1 * 8 / 256
    config.optimizer.schedule = "piecewise(boundaries=(0.5, 0.75), factor=0.1, warmup_steps=2)"
    config.total_steps = 6
    config.log_steps = 3
    config.checkpoint_steps = 6
    config.export = dict(image_size=32, activation="softmax", class_names=["0", "90", "180", "270"])
  return config
