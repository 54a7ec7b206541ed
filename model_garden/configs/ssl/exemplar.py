r"""Exemplar pretext training, "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov et al.).

Recipe (google/revisiting-self-supervised `config/exemplar/imagenet.sh`, `self_supervision/exemplar.py`):
ResNet-50 v1 x3 (filters_factor 12) whose 1000-way head is the embedding; per image: grayscale with
probability 0.66, 8 Inception views of 224 px, per-view standardisation; the semi-hard triplet loss with
margin 0.5 and the image as the identity, on embeddings L2-normalised along the batch axis (the released
code's `l2_normalize(logits, axis=0)`, kept here to reproduce the paper; `normalize_axis=-1` is the per-
embedding normalisation). 64 images (512 views) per step; SGD momentum 0.9, lr 0.1 * 64 / 256; 35 epochs of
the 1,231,121-image train split, 5 warmup epochs, x0.1 at epochs 15 and 25; coupled L2 1e-4.
Difference: views are cut from a 256 px centre square (the in-step crop needs a fixed-size batch) instead of
from the whole image.

Expected: ImageNet linear evaluation 46.0% top-1 / 68.8% top-5 (paper, ResNet-50 v1 x3).

Command:
  python -m model_garden.train --config=model_garden/configs/ssl/exemplar.py --workdir=workdirs/exemplar
Smoke test:
  python -m model_garden.train --config=model_garden/configs/ssl/exemplar.py:runlocal --workdir=/tmp/ex
Arguments: runlocal, width, batch, views, dataset, data_dir.
"""

import ml_collections

from model_garden.configs.config_args import parse_arg

TRAIN_EXAMPLES = 1_231_121


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal" or "width=1.0,batch=32"."""
  arg = parse_arg(arg, runlocal=False, width=3.0, batch=64, views=8, dataset="", data_dir="")
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
  config.input.pp = "decode|resize_small(256)|central_crop(256)|value_range(-1, 1)|keep('image')"

  config.model = f"resnet50_v1(width={arg.width}, num_classes=1000)"
  config.objective = (f"exemplar(num_views={arg.views}, margin=0.5, view_size=224, grayscale_probability=0.66, "
                      "normalize_axis=0, weight_decay=1e-4)")

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
  config.export = dict(image_size=224, activation="softmax", class_names=None)
  config.init = ml_collections.config_dict.placeholder(str)
  config.init_skip = ml_collections.config_dict.placeholder(str)

  if arg.runlocal:
    config.input.data = dict(name=arg.dataset or "mg_shapes/px32", split="train")
    config.input.batch_size = 4
    config.input.shuffle_buffer = 64
    config.input.pp = "decode|value_range(-1, 1)|keep('image')"
    config.model = "ssl_resnet_v1(layers=(1, 1, 1, 1), width=0.0625, image_size=32, num_classes=16)"
    config.objective = "exemplar(num_views=4, margin=0.5, grayscale_probability=0.66, normalize_axis=0)"
    config.optimizer.lr = 0.1 * 4 / 256
    config.optimizer.schedule = "piecewise(boundaries=(0.5, 0.75), factor=0.1, warmup_steps=2)"
    config.total_steps = 6
    config.log_steps = 3
    config.checkpoint_steps = 6
    config.export = dict(image_size=32, activation="softmax", class_names=None)
  return config
