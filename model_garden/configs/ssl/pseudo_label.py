r"""Pseudo-label training, "S4L: Self-Supervised Semi-Supervised Learning" (Zhai et al. 2019).

Recipe (google-research/s4l `config/pseudo_labels.sh`, `pseudo_labeling/generate_labels.py`): label all of
ImageNet train with the 10%-supervised model (evaluation preprocessing), keep the true label for the 10%
subset, and train ResNet-50 v2 x1 on all 1,281,167 images with those labels: 256 images per step, Inception
crop 224 + flip, SGD momentum 0.9, lr 0.1 * 256 / 256, 5 warmup epochs and x0.1 at 30, 60, 90 of 100 epochs
(500,400 steps), coupled L2 1e-4.

Two ways to give the labels (exactly one):
  pseudo_labels=FILE   the paper's: a {tfds_id: label} file from
                       `model_garden.data.semi_supervised.write_pseudo_labels` (tools/moam.py writes one);
                       the objective is plain `classification` on `semi_supervised(..., pseudo_labels=FILE)`.
  teacher=MODEL.keras  labels online: the `pseudo_label` objective asks a frozen teacher for the unlabelled
                       half of each 1:1 labelled/unlabelled batch (it sees the augmented images). The teacher
                       is the network `config.networks.teacher` with `name=""` (its architecture comes from
                       the file) and `init=MODEL.keras`, which the trainer loads; e.g. the `model.keras` of
                       `configs/ssl/supervised.py`.

Expected (ImageNet validation top-5, 10% labels): 82.41 (paper) / 82.86, top-1 60.24 (repo re-run).

Command (after `python -m model_garden.train --config=model_garden/configs/ssl/supervised.py:labels=10
--workdir=workdirs/sup10`):
  python -m model_garden.train --config=model_garden/configs/ssl/pseudo_label.py:teacher=workdirs/sup10/model.keras \
      --workdir=workdirs/pseudo_label
Smoke test (runlocal needs neither: the teacher is a tiny randomly initialised network built from the config
itself, `config.networks.teacher` with no `init`, the same tiny ResNet v2 as the student; 6 steps):
  python -m model_garden.train --config=model_garden/configs/ssl/pseudo_label.py:runlocal --workdir=/tmp/pl
Arguments: runlocal, pseudo_labels, teacher, batch (256; runlocal 8), width, dataset, data_dir.
"""

from model_garden.configs import common
from model_garden.configs.ssl import common as ssl_common


def get_config(arg=None):
  """The config; `arg` is a comma list like "teacher=workdirs/sup10/model.keras" or "runlocal"."""
  arg = ssl_common.parse_args(arg, batch=(256, 8), pseudo_labels="", teacher="", width=1.0)
  if arg.pseudo_labels and arg.teacher:
    raise ValueError("Give one of pseudo_labels=FILE (labels written by write_pseudo_labels) and "
                     "teacher=MODEL.keras (online labelling), not both.")
  if not (arg.pseudo_labels or arg.teacher or arg.runlocal):
    raise ValueError("pseudo_label.py needs pseudo_labels=FILE (labels written by write_pseudo_labels) or "
                     "teacher=MODEL.keras (online labelling by a trained classifier, e.g. configs/ssl/supervised.py's "
                     "model.keras); only runlocal makes a random teacher.")
  config = ssl_common.semi_supervised_config(arg, batch_size=arg.batch, pseudo_labels=arg.pseudo_labels,
                                             unlabelled_per_labelled=0 if arg.pseudo_labels else 1, width=arg.width)
  ssl_common.pseudo_label_recipe(config, objective="classification" if arg.pseudo_labels else "pseudo_label",
                                 batch=arg.batch)
  if not arg.pseudo_labels:
    config.networks.teacher = (common.network("", init=arg.teacher) if arg.teacher
                               else common.network(**config.networks.network.to_dict()))
  if arg.runlocal:
    ssl_common.runlocal(config)
  return config
