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
Smoke test (mg_shapes with 10% of its labels, 6 steps, a tiny ResNet v2):
  python -m model_garden.train --config=model_garden/configs/ssl/s4l_rotation.py:runlocal --workdir=/tmp/s4l
Arguments: runlocal, labels (10 or 1: percent of ImageNet labels), batch (labelled images per step: 256;
runlocal 4), width, dataset, data_dir.
"""

from model_garden.configs import common
from model_garden.configs.ssl import common as ssl_common


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal" or "labels=1"."""
  arg = ssl_common.parse_args(arg, batch=(256, 4), labels=10, width=1.0)
  ssl_common.check_labels(arg)
  config = ssl_common.semi_supervised_config(arg, batch_size=2 * arg.batch, labels=arg.labels,
                                             unlabelled_per_labelled=1, width=arg.width)
  config.objective = common.objective("s4l_rotation", sup_weight=1.0, rotation_weight=1.0, weight_decay=1e-3)
  ssl_common.s4l_schedule(config, lr=0.03, labels=arg.labels, batch=arg.batch)
  if arg.runlocal:
    ssl_common.runlocal(config)
  return config
