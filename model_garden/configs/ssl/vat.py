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
Smoke test (mg_shapes with 10% of its labels, epsilon 40 * 32 / 224 for the same per-pixel size, 6 steps):
  python -m model_garden.train --config=model_garden/configs/ssl/vat.py:runlocal --workdir=/tmp/vat
Arguments: runlocal, entmin (add EntMin with weight 1), batch (labelled per step: 256; runlocal 4), width,
dataset, data_dir.
"""

from model_garden.configs import common
from model_garden.configs.ssl import common as ssl_common

EPSILON = 40.0  # at 224 px


def get_config(arg=None):
  """The config; `arg` is a comma list like "entmin=True" or "runlocal"."""
  arg = ssl_common.parse_args(arg, batch=(256, 4), entmin=False, width=1.0)
  config = ssl_common.semi_supervised_config(arg, batch_size=2 * arg.batch, unlabelled_per_labelled=1,
                                             width=arg.width)
  config.objective = common.objective("vat", vat_weight=0.5, epsilon=EPSILON, xi=1e-6, power_iterations=1,
                                      entmin_weight=1.0 if arg.entmin else 0.0, vat_on_labelled=True,
                                      weight_decay=1e-3)
  ssl_common.s4l_schedule(config, lr=0.03, labels=10, batch=arg.batch)
  if arg.runlocal:
    ssl_common.runlocal(config)
    config.objective.epsilon = EPSILON * 32 / 224  # an L2 norm over the image: the same size per pixel
  return config
