r"""Relative Patch Location pretext training, "Revisiting Self-Supervised Visual Representation Learning".

Recipe (google/revisiting-self-supervised `config/relative_patch_location/imagenet.sh`,
`self_supervision/relative_patch_location.py`): the Jigsaw recipe's data and trunk (ResNet-50 v1 x2,
64 px-patch variant; resize 292, random crop 255, grayscale p=0.66, 3x3 cells of 85 px, 64 px patches
with 21 px jitter, per-patch standardisation), with the 8 (neighbour, centre) pairs of every image
classified 8-way by the fc4096-BN-ReLU-dropout-fc8 head; 128 images per step, SGD momentum 0.9,
lr 0.1 * 128 / 256; 35 epochs of 1,231,121 images, 5 warmup epochs, x0.1 at 15 and 25; coupled L2 1e-4
(trunk) and 5e-4 (head).

Expected: ImageNet linear evaluation 51.4% top-1 / 74.0% top-5 (paper, ResNet-50 v1 x2), with patch
representations averaged over a 3x3 grid of a 192 px crop (`model_garden.models.ssl.PatchAverage`).

Command:
  python -m model_garden.train --config=model_garden/configs/ssl/relative_patch_location.py --workdir=...
Smoke test:
  python -m model_garden.train --config=model_garden/configs/ssl/relative_patch_location.py:runlocal \
      --workdir=/tmp/rpl
Arguments: runlocal, width, batch, dataset, data_dir.
"""

import ml_collections

from model_garden.configs.config_args import parse_arg

TRAIN_EXAMPLES = 1_231_121
PATCH_TRUNK = "resnet50_v1(width={width}, root_stride=1, strides=(2, 2, 1), image_size=64, num_classes=1000)"


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal"."""
  arg = parse_arg(arg, runlocal=False, width=2.0, batch=128, dataset="", data_dir="")
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
  config.input.pp = "decode|resize(292)|random_crop(255)|value_range(-1, 1)|keep('image')"

  config.model = PATCH_TRUNK.format(width=arg.width)
  config.objective = ("relative_patch_location(patch_size=64, grayscale_probability=0.66, weight_decay=1e-4, "
                      "head_weight_decay=5e-4)")

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "sgd(momentum=0.9)"
  config.optimizer.lr = 0.1 * arg.batch / 256
  config.optimizer.schedule = (f"piecewise(boundaries=({15 / 35}, {25 / 35}), factor=0.1, "
                               f"warmup_steps={5 * steps_per_epoch})")
  config.optimizer.wd = 0.0
  config.optimizer.grad_clip_norm = None

  config.total_steps = 35 * steps_per_epoch
  config.log_steps = steps_per_epoch // 4
  config.total_steps -= config.total_steps % config.log_steps
  config.checkpoint_steps = config.log_steps * 4
  config.keep_checkpoints = 2
  config.eval_steps = 0
  config.evals = ml_collections.ConfigDict()
  config.export = dict(image_size=64, activation="softmax", class_names=None)
  config.init = ml_collections.config_dict.placeholder(str)
  config.init_skip = ml_collections.config_dict.placeholder(str)

  if arg.runlocal:
    config.input.data = dict(name=arg.dataset or "mg_shapes/px32", split="train")
    config.input.batch_size = 4
    config.input.shuffle_buffer = 64
    config.input.pp = "decode|random_crop(30)|value_range(-1, 1)|keep('image')"
    config.model = ("ssl_resnet_v1(layers=(1, 1, 1, 1), width=0.0625, root_stride=1, strides=(2, 2, 1), "
                    "image_size=8, num_classes=16)")
    config.objective = "relative_patch_location(patch_size=8, hidden=32, grayscale_probability=0.66)"
    config.optimizer.lr = 0.1 * 4 / 256
    config.optimizer.schedule = "piecewise(boundaries=(0.5, 0.75), factor=0.1, warmup_steps=2)"
    config.total_steps = 6
    config.log_steps = 3
    config.checkpoint_steps = 6
    config.export = dict(image_size=8, activation="softmax", class_names=None)
  return config
