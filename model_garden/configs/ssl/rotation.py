r"""Rotation pretext training, "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov et al.).

Recipe (google/revisiting-self-supervised `config/rotation/imagenet.sh`; the paper's best model): RevNet-50 x4
whose 4-way head predicts the rotation; every image of the batch fed at 0/90/180/270 degrees (64 images =
256 network inputs per step); Inception crop 224 + flip; SGD momentum 0.9, lr 0.1 * 64 / 256 = 0.025;
35 epochs of the 1,231,121-image train split (the first 96% of ImageNet train here, as the original's first
984 of 1024 shards; 19,236 steps per epoch), linear warmup over 5 epochs, x0.1 at epochs 15 and 25;
coupled L2 1e-4 on every kernel (the original's l2_regularizer), no decoupled decay.
Not reproduced: slim's Inception colour distortion (model_garden pp has no colour-jitter op).

Expected: ImageNet linear evaluation 55.4% top-1 / 77.9% top-5 (paper, pre_logits of RevNet-50 x4), with
heads trained on all of train:
  python tools/linear_probe.py --model=workdirs/rotation/model.keras --dataset=imagenet2012 \
      --endpoints=pre_logits --train_split='train[:1231121]' --val_split='train[1231121:]' --test_split=validation \
      --pp="decode|resize_small(256)|central_crop(224)|value_range(-1, 1)|keep('image', 'label')"
The run's own `linear` evaluator is a cheap monitor (logistic regression on pre_logits of the 50,046 held-out
train images, tested on ImageNet validation; see `configs/ssl/common.py linear_eval`).

Command:
  python -m model_garden.train --config=model_garden/configs/ssl/rotation.py --workdir=workdirs/rotation
Smoke test (mg_shapes, 6 steps, a tiny RevNet, a linear probe on 64 images):
  python -m model_garden.train --config=model_garden/configs/ssl/rotation.py:runlocal --workdir=/tmp/rot
Arguments: runlocal, arch (revnet50 | resnet50_v1 | resnet50_v2 | vgg19_bn), width, batch (64; runlocal 8),
dataset, data_dir. Every field overrides from the command line, e.g. `--config.networks.network.width=2.0`.
"""

from model_garden.configs import common
from model_garden.configs.ssl import common as ssl_common


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal" or "arch=resnet50_v1,width=2"."""
  arg = ssl_common.parse_args(arg, batch=(64, 8), arch="revnet50", width=4.0)
  config = ssl_common.pretext_config(arg, crop="inception_crop(224)|flip_lr|", runlocal_crop="flip_lr|",
                                     network=common.network(arg.arch, width=arg.width, num_classes=4))
  config.objective = common.objective("rotation", weight_decay=1e-4)
  config.evals.linear = ssl_common.linear_eval(arg)
  config.export = dict(class_names=["0", "90", "180", "270"])
  if arg.runlocal:
    ssl_common.runlocal(config)
  return config
