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
Smoke test (the labelled 10% of mg_shapes, 6 steps, a tiny ResNet v2):
  python -m model_garden.train --config=model_garden/configs/ssl/supervised.py:runlocal --workdir=/tmp/sup
Arguments: runlocal, labels (10 or 1), batch (256; runlocal 8), width, dataset, data_dir.
"""

from model_garden.configs import common
from model_garden.configs.ssl import common as ssl_common

# labels (%) -> (lr at batch 256, coupled L2, epochs in all)
RECIPES = {10: (0.1, 1e-3, 200), 1: (0.01, 1e-2, 1000)}


def get_config(arg=None):
  """The config; `arg` is a comma list like "labels=1" or "runlocal"."""
  arg = ssl_common.parse_args(arg, batch=(256, 8), labels=10, width=1.0)
  ssl_common.check_labels(arg)
  lr, weight_decay, epochs = RECIPES[arg.labels]
  config = ssl_common.semi_supervised_config(arg, batch_size=arg.batch, labels=arg.labels, width=arg.width)
  config.objective = common.objective("classification", weight_decay=weight_decay)
  ssl_common.s4l_schedule(config, lr=lr * arg.batch / 256, labels=arg.labels, batch=arg.batch, end_epochs=epochs,
                          checkpoint_epochs=20)
  if arg.runlocal:
    ssl_common.runlocal(config)
  return config
