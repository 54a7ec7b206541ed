r"""Exemplar pretext training, "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov et al.).

Recipe (google/revisiting-self-supervised `config/exemplar/imagenet.sh`, `self_supervision/exemplar.py`):
ResNet-50 v1 x3 (filters_factor 12) whose 1000-way head is the embedding; per image: grayscale with
probability 0.66, 8 Inception views of the network's image_size (224 px), per-view standardisation; the
semi-hard triplet loss with margin 0.5 and the image as the identity, on embeddings L2-normalised along the
batch axis (the released code's `l2_normalize(logits, axis=0)`, kept here to reproduce the paper;
`--config.objective.normalize_axis=-1` is the per-embedding normalisation). 64 images (512 views) per step;
SGD momentum 0.9, lr 0.1 * 64 / 256; 35 epochs of the 1,231,121-image train split, 5 warmup epochs, x0.1 at
epochs 15 and 25; coupled L2 1e-4.
Difference: views are cut from a 256 px centre square (the in-step crop needs a fixed-size batch) instead of
from the whole image.

Expected: ImageNet linear evaluation 46.0% top-1 / 68.8% top-5 (paper, ResNet-50 v1 x3). The run's `linear`
evaluator is a cheap monitor of pre_logits (see `configs/ssl/common.py linear_eval`).

Command:
  python -m model_garden.train --config=model_garden/configs/ssl/exemplar.py --workdir=workdirs/exemplar
Smoke test (mg_shapes, 6 steps, a tiny ResNet with a 16-d embedding, 32 px views):
  python -m model_garden.train --config=model_garden/configs/ssl/exemplar.py:runlocal --workdir=/tmp/ex
Arguments: runlocal, width, batch (64; runlocal 4), views, dataset, data_dir.
"""

from model_garden.configs import common
from model_garden.configs.ssl import common as ssl_common


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal" or "width=1.0,batch=32"."""
  arg = ssl_common.parse_args(arg, batch=(64, 4), width=3.0, views=8)
  config = ssl_common.pretext_config(arg, crop="resize_small(256)|central_crop(256)|", runlocal_crop="",
                                     network=common.network("resnet50_v1", width=arg.width, num_classes=1000))
  config.objective = common.objective("exemplar", num_views=arg.views, margin=0.5, grayscale_probability=0.66,
                                      normalize_axis=0, weight_decay=1e-4)
  config.evals.linear = ssl_common.linear_eval(arg)
  if arg.runlocal:
    ssl_common.runlocal(config, num_classes=16)
  return config
