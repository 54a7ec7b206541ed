r"""MOAM, "Mix Of All Models", the three steps of S4L's best result (Zhai, Oliver, Kolesnikov, Beyer 2019).

  step=1  Rotation + VAT + EntMin + CE (google-research/s4l `config/moam_step_1.sh`, `rotation_vat.py`):
          ResNet-50 v2 x4; 128 labelled + 128 unlabelled images per step, each in its 4 rotations;
          loss = 0.4 * rotation + 0.3 * CE + 0.3 * VAT (epsilon 32, on the rotated unlabelled images) +
          0.3 * EntMin (rotated unlabelled images); SGD momentum 0.9, lr 0.2 * 128 / 256; epochs of
          128,000 / 128 = 1,000 steps: 10 warmup epochs, x0.1 at 100, 150, 190, 200 epochs in all (200,000
          steps); coupled L2 2e-4. Not reproduced: the Polyak average of the weights (EMA with a one-epoch
          half-life) the release evaluates with.
  step=2  Pseudo-label retraining on everything (`pseudo_label.py` recipe with the x4 network): the
          step-1 model labels all of ImageNet train (`write_pseudo_labels`), the 10% keep their true labels.
          Needs `pseudo_labels=FILE`.
  step=3  Fine-tuning of the step-2 model on the 10% labelled subset. Needs `init=STEP2/model.keras`
          (`config.networks.network.init`, loaded by the trainer).
          Hyper-parameters (unverified: the paper gives none and the release has no config): lr 0.01 *
          256 / 256, 20 epochs of the subset (10,000 steps) with x0.1 at 50% and 75%, coupled L2 1e-3.

Expected (ImageNet validation, 10% labels, paper): top-5 88.80 / 89.96 / 91.23 after steps 1 / 2 / 3;
top-1 73.21 after step 3. The release's README lists no re-run of MOAM.

One command runs the three steps and the labelling between them: `python tools/moam.py --workdir=...`.
Per step:
  python -m model_garden.train --config=model_garden/configs/ssl/moam.py:step=1 --workdir=workdirs/moam1
Smoke test (mg_shapes with 10% of its labels, 6 steps per step, tiny ResNets v2; VAT epsilon 32 * 32 / 224):
  python tools/moam.py --workdir=/tmp/moam --config_arg=runlocal
  python -m model_garden.train --config=model_garden/configs/ssl/moam.py:runlocal --workdir=/tmp/moam1
Arguments: runlocal, step, pseudo_labels, init, width, dataset, data_dir. `config.label_with` tells
tools/moam.py how to label the train split with the step-1 model.
"""

from model_garden.configs import common
from model_garden.configs.ssl import common as ssl_common

LABELLED = 128_000
VAT_EPSILON = 32.0  # at 224 px


def get_config(arg=None):
  """The config of one MOAM step; `arg` like "step=2,pseudo_labels=labels.json"."""
  arg = ssl_common.parse_args(arg, step=1, pseudo_labels="", init="", width=4.0)
  if arg.step not in (1, 2, 3):
    raise ValueError(f"MOAM has steps 1, 2 and 3; got step={arg.step}.")
  if arg.step == 2 and not arg.pseudo_labels:
    raise ValueError("MOAM step 2 trains on pseudo-labels: pass pseudo_labels=FILE (tools/moam.py writes it).")
  if arg.step == 3 and not arg.init:
    raise ValueError("MOAM step 3 fine-tunes the step-2 model: pass init=STEP2_WORKDIR/model.keras.")
  labelled_batch, batch = (4, 8) if arg.runlocal else (128, 256)
  if arg.step == 1:
    config = ssl_common.semi_supervised_config(arg, batch_size=2 * labelled_batch, unlabelled_per_labelled=1,
                                               width=arg.width)
    config.objective = common.objective("rotation_vat", sup_weight=0.3, vat_weight=0.3, entmin_weight=0.3,
                                        vat_epsilon=VAT_EPSILON, vat_on_labelled=False, weight_decay=2e-4)
    ssl_common.sgd_epochs(config, lr=0.2 * labelled_batch / 256, examples=LABELLED, batch=labelled_batch,
                          epochs=200, warmup_epochs=10, decay_epochs=(100, 150, 190))
  elif arg.step == 2:
    config = ssl_common.semi_supervised_config(arg, batch_size=batch, pseudo_labels=arg.pseudo_labels,
                                               width=arg.width)
    ssl_common.pseudo_label_recipe(config, objective="classification", batch=batch)
  else:
    config = ssl_common.semi_supervised_config(arg, batch_size=batch, width=arg.width)
    config.objective = common.objective("classification", weight_decay=1e-3)
    ssl_common.sgd_epochs(config, lr=0.01 * batch / 256, examples=LABELLED, batch=batch, epochs=20, warmup_epochs=0,
                          decay_epochs=(10, 15))
    config.networks.network.init = arg.init
  # What tools/moam.py needs to label the train split with the step-1 model (the evaluation view).
  crop = "" if arg.runlocal else ssl_common.EVAL_CROP
  config.label_with = dict(dataset=ssl_common.dataset(arg), split="train", pp=f"decode|{crop}value_range(-1, 1)",
                           data_dir=arg.data_dir or None)
  if arg.runlocal:
    ssl_common.runlocal(config)
    if arg.step == 1:
      config.objective.vat_epsilon = VAT_EPSILON * 32 / 224  # an L2 norm over the image: the same size per pixel
  return config
