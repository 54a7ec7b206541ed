r"""Relative Patch Location pretext training, "Revisiting Self-Supervised Visual Representation Learning".

Recipe (google/revisiting-self-supervised `config/relative_patch_location/imagenet.sh`,
`self_supervision/relative_patch_location.py`): the Jigsaw recipe's data and trunk (ResNet-50 v1 x2,
64 px-patch variant; resize 292, random crop 255, grayscale p=0.66, 3x3 cells of 85 px, 64 px patches
with 21 px jitter, per-patch standardisation), with the 8 (neighbour, centre) pairs of every image
classified 8-way by the fc4096-BN-ReLU-dropout-fc8 head; 128 images per step, SGD momentum 0.9,
lr 0.1 * 128 / 256; 35 epochs of 1,231,121 images, 5 warmup epochs, x0.1 at 15 and 25; coupled L2 1e-4
(trunk) and 5e-4 (head).

Expected: ImageNet linear evaluation 51.4% top-1 / 74.0% top-5 (paper, ResNet-50 v1 x2), with patch
representations averaged over a 3x3 grid of a 192 px crop (wrap the trained trunk in
`model_garden.models.ssl.PatchAverage`, as examples/ssl_pretext_linear_eval.ipynb does); the run itself has
no evaluator.

Command:
  python -m model_garden.train --config=model_garden/configs/ssl/relative_patch_location.py \
      --workdir=workdirs/relative_patch_location
Smoke test (mg_shapes: 30 px crops, 8 px patches, 6 steps):
  python -m model_garden.train --config=model_garden/configs/ssl/relative_patch_location.py:runlocal \
      --workdir=/tmp/rpl
Arguments: runlocal, width, batch (128; runlocal 4), dataset, data_dir.
"""

from model_garden.configs import common
from model_garden.configs.ssl import common as ssl_common


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal"."""
  arg = ssl_common.parse_args(arg, batch=(128, 4), width=2.0)
  return ssl_common.patch_config(arg, common.objective("relative_patch_location"))
