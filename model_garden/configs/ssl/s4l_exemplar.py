r"""S4L-Exemplar, "S4L: Self-Supervised Semi-Supervised Learning" (Zhai, Oliver, Kolesnikov, Beyer 2019).

Recipe (google-research/s4l `config/s4l_exemplar.sh`, `semi_supervised/exemplar.py`): ResNet-50 v2 x1 with
a 1000-way class head and a 1000-d embedding head on pre_logits; 512 labelled (10% = 128 per class) + 512
unlabelled images per step, 8 Inception views of the network's image_size (224 px) each (8,192 network
inputs) with brightness / saturation noise and flips; loss = CE on every labelled view + 1.0 * batch-hard
soft-margin triplet loss on L2-normalised embeddings (mean of its value on the unlabelled and on the labelled
part); SGD momentum 0.9, lr 0.1; epochs of 128,000 / 512 = 250 steps: 10 warmup epochs, x0.1 at 140, 160,
180, 200 in all (50,000 steps); coupled L2 1e-3. Views are cut from a 256 px centre square (the in-step
crops need a fixed-size batch) instead of the whole image; HSV noise is approximated by brightness and
saturation jitter.

Expected (ImageNet validation, 10% labels): 83.72% top-5 (paper) / 83.71% top-5, 62.17% top-1 (repo re-run).

Command:
  python -m model_garden.train --config=model_garden/configs/ssl/s4l_exemplar.py --workdir=workdirs/s4l_ex
Smoke test (mg_shapes with 10% of its labels, 3 views of 32 px, a 16-d embedding, 6 steps):
  python -m model_garden.train --config=model_garden/configs/ssl/s4l_exemplar.py:runlocal --workdir=/tmp/s4le
Arguments: runlocal, labels (10 or 1), batch (labelled images per step: 512; runlocal 4), width, dataset,
data_dir.
"""

from model_garden.configs import common
from model_garden.configs.ssl import common as ssl_common


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal"."""
  arg = ssl_common.parse_args(arg, batch=(512, 4), labels=10, width=1.0)
  ssl_common.check_labels(arg)
  # The views are cut in the step from a 256 px centre square (no Inception crop or flip in the pipeline).
  config = ssl_common.semi_supervised_config(arg, batch_size=2 * arg.batch, labels=arg.labels,
                                             unlabelled_per_labelled=1, width=arg.width,
                                             crop="resize_small(256)|central_crop(256)|", runlocal_crop="")
  config.objective = common.objective("s4l_exemplar", sup_weight=1.0, triplet_weight=1.0, num_views=8,
                                      embedding_dim=1000, weight_decay=1e-3)
  ssl_common.s4l_schedule(config, lr=0.1, labels=arg.labels, batch=arg.batch, warmup_epochs=10)
  if arg.runlocal:
    ssl_common.runlocal(config)
    config.objective.update(dict(num_views=3, embedding_dim=16))
  return config
