r"""BiT-S / BiT-M upstream pre-training ("Big Transfer", Kolesnikov et al. 2020, Sec. 3.1 and 4.1).

The paper's recipe for BiT-S (ILSVRC-2012, 1.28M images, 1000 classes) and BiT-M (ImageNet-21k, 14.2M
images, 21,843 classes): a BiT ResNet-v2 (GroupNorm + Weight Standardization), SGD with momentum 0.9,
lr 0.03 x batch / 256 (batch 4096: 0.48), weight decay 1e-4, 5,000 linear warmup steps, 90 epochs with
x0.1 decays after 30, 60 and 80 epochs, softmax cross-entropy, 224 px inception crops with random
horizontal flips (the standard ImageNet augmentation; big_vision's `bit_i1k.py` uses the same ops),
evaluation at 224 px (resize 256, centre crop 224).

Weight decay. The paper's 1e-4 is a coupled L2 penalty (gradient += 1e-4 * w) inside SGD with momentum.
model_garden's `config.optimizer.wd` is big_vision's decoupled, absolute per-step decay (each step
subtracts `s(t) * wd * w`, s(t) the schedule's multiplier). With momentum mu the L2 gradient term is
accumulated over about 1 / (1 - mu) steps, so at a steady state it shrinks the weights by
`lr * s(t) * 1e-4 / (1 - mu)` per step; this config uses that:
    wd = lr * 1e-4 / (1 - 0.9) = 0.03 * batch / 256 * 1e-3      (batch 4096: 4.8e-4)
which is also big_vision's conversion in `bit_i1k.py` (wd 1e-4 * B/256 next to lr 0.1 * B/256). For the
exact coupled form use `classification(weight_decay=1e-4)` as the objective and wd 0 instead.

ImageNet-21k has no tfds builder: for `upstream=M` pass `data=` (a tfds name you prepared, or an image
folder registered as a dataset) and, if it differs from the fall-2011 release, `num_examples=`.

Command (BiT-S-R50x1; a TPU pod or a large GPU cluster):
  python -m model_garden.train --config=model_garden/configs/bit/upstream.py:upstream=S,variant=R50x1 \
      --workdir=gs://BUCKET/bit_s_r50x1 --strategy=tpu

Smoke test (a tiny BiT on mg_shapes/px32 at 32 px, 10 steps of batch 16, seconds on a CPU):
  python -m model_garden.train --config=model_garden/configs/bit/upstream.py:runlocal --workdir=/tmp/bit_up

Expected (paper): BiT-S-R50x1 about 76-77% ILSVRC-2012 top-1 upstream (unverified); the released
checkpoints' transfer numbers are in `hyperrule.py`. Not reproduced here (the data and compute are not
on this machine); the smoke test only checks that the recipe trains.

Arguments: runlocal, upstream (S or M), variant, data, num_classes, num_examples, train_split, val_split,
batch, epochs.
"""

from model_garden.configs import common
from model_garden.configs.config_args import parse_arg

MOMENTUM = 0.9
L2 = 1e-4  # The paper's (coupled) weight decay.
WARMUP_STEPS = 5000
DECAY_EPOCHS = (30, 60, 80)  # Of 90: fractions 1/3, 2/3, 8/9 of the run.
# upstream -> (tfds name, classes, training examples). ImageNet-21k: the fall-2011 release BiT-M used.
UPSTREAMS = {
    "S": ("imagenet2012", 1000, 1_281_167),
    "M": (None, 21_843, 14_197_122),
}


def get_config(arg=None):
  """The config; `arg` is a comma list like "upstream=S,variant=R50x1" or "runlocal"."""
  arg = parse_arg(arg, runlocal=False, upstream="S", variant="R50x1", data="", num_classes=0, num_examples=0,
                  train_split="train", val_split="validation", batch=4096, epochs=90)
  if arg.upstream not in UPSTREAMS:
    raise ValueError(f"upstream must be 'S' (ILSVRC-2012) or 'M' (ImageNet-21k), got {arg.upstream!r}.")
  default_data, default_classes, default_examples = UPSTREAMS[arg.upstream]
  data = arg.data or default_data
  if not data and not arg.runlocal:
    raise ValueError("BiT-M pre-trains on ImageNet-21k, which has no tfds builder: pass data=... (a dataset "
                     "you prepared) and num_examples=... if it is not the 14,197,122-image release.")
  num_classes = arg.num_classes or default_classes
  num_examples = arg.num_examples or default_examples
  log_steps = 50
  # 90 epochs in steps, rounded to whole logging periods (a Keras epoch is log_steps steps).
  total_steps = max(log_steps, round(arg.epochs * num_examples / arg.batch / log_steps) * log_steps)
  lr = 0.03 * arg.batch / 256

  if arg.runlocal:
    # The same recipe on a tiny BiT at 32 px on mg_shapes' 8 shapes: seconds on a CPU.
    data, num_classes, arg.batch = "mg_shapes/px32", 8, 16
  res = 32 if arg.runlocal else 224
  lr = 0.03 * arg.batch / 256
  config = common.base_config(precision="mixed_bfloat16",  # What TPUs do with float32 variables.
                              total_steps=total_steps, log_steps=log_steps, checkpoint_steps=1000,
                              keep_checkpoints=3)

  pp_labels = f"|value_range(-1, 1)|onehot({num_classes})|keep('image', 'labels')"
  config.input = common.input_config(data, arg.train_split, batch_size=arg.batch, shuffle_buffer=250_000,
                                     pp=f"decode|inception_crop({res})|flip_lr" + pp_labels)

  config.networks.network = common.network("bit", variant=arg.variant, num_classes=num_classes, image_size=res)
  config.objective = common.objective("classification")
  # The decays sit at the same fractions of any number of epochs; short runs get a shorter warmup.
  config.optimizer = common.optimizer(
      "sgd", momentum=MOMENTUM, lr=lr,
      schedule=common.schedule("piecewise", warmup_steps=min(WARMUP_STEPS, total_steps // 5),
                               boundaries=tuple(e / 90 for e in DECAY_EPOCHS), factor=0.1),
      wd=lr * L2 / (1 - MOMENTUM),  # See the module docstring.
      wd_mults=[(".*/kernel", 1.0)])  # Convolutions and the head; not the GroupNorms.

  config.evals.val = common.classification_eval(
      data, arg.val_split, pp=f"decode|resize_small({res * 8 // 7})|central_crop({res})" + pp_labels,
      every_steps=5000)
  config.export = dict(class_names=None)

  if arg.runlocal:
    config.precision = "float32"  # CPUs have no fast bfloat16 convolutions.
    config.input.cache = True
    config.networks.network.update(dict(variant="R14x1", base_width=8, groups=4))
    common.runlocal(config, batch_size=16, total_steps=10, log_steps=5)
  return config
