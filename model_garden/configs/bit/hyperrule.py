r"""Fine-tuning a BiT model on any tfds dataset with BiT-HyperRule ("Big Transfer", Kolesnikov et al. 2020).

Every hyperparameter comes from `model_garden.transfer.hyperrule(num_examples, image_size, batch)`:
resize 160 / random crop 128 for images below 96x96 pixels, else 512 / 480, a random horizontal flip,
test images resized straight to the crop size; 500, 10k or 20k steps (below 20k, 500k examples, or more)
with linear warmup and x0.1 decays at the rule's points; MixUp alpha 0.1 from 20k examples; SGD momentum
0.9 at lr 0.003 x batch / 512, no weight decay; softmax cross-entropy; a zero-initialised head.

The number of training examples, of classes and the image size are read from the prepared tfds dataset
(`tfds.builder(dataset).info`); pass `num_examples`, `num_classes` and `image_size` to skip that (needed
for datasets whose images vary in size: BiT used 224 for pets, flowers and ImageNet). A dataset that is not
prepared raises `DatasetUnavailableError` saying how to prepare it (configs never download).

Start from a BiT checkpoint: the official `.npz` (converted on the fly) or a converted `.keras` (the head
is re-initialised: `init_skip='head/.*'`):
  python -m model_garden.train \
      --config=model_garden/configs/bit/hyperrule.py:dataset=cifar10,model=R50x1,init=BiT-M-R50x1.npz \
      --workdir=workdirs/bit_cifar10

Smoke test (a tiny BiT on mg_shapes/px32, 10 steps of batch 8, seconds on a CPU):
  python -m model_garden.train --config=model_garden/configs/bit/hyperrule.py:runlocal --workdir=/tmp/bit_smoke

Expected (paper / big_transfer README, BiT-M-R50x1 at batch 512 with the rule): CIFAR-10 97.2-97.4%,
CIFAR-100 86.4-86.6% top-1; BiT-M-R152x4: CIFAR-10 98.9%, CIFAR-100 92.2%, Pets 94.5%, Flowers 99.3%.
Not reproduced here (no ImageNet-21k weights on this machine); the smoke test only checks that it trains.

Arguments: runlocal, dataset, model (R50x1, R101x3, ...), train_split, test_split, label, num_examples,
num_classes, image_size, batch, init (.npz or .keras), crop, flip (False for counting / orientation tasks),
scale_steps (scale the steps by 512 / batch, the colab's advice for small batches), base_width and groups
(64 and 32 as released; smaller for tiny models), data_dir.
"""

import dataclasses
import math

from model_garden.configs import common
from model_garden.configs.config_args import parse_arg
from model_garden.transfer.bit_hyperrule import hyperrule


def dataset_facts(name: str, split: str, label: str = "label", data_dir: str | None = None):
  """(num_examples of `split`, num_classes of `label`, (height, width) or None) from a prepared tfds dataset.

  Raises:
    DatasetUnavailableError: the dataset is not prepared in `data_dir` (nothing is downloaded).
  """
  from model_garden.data.pipeline import DatasetUnavailableError, get_builder  # pylint: disable=g-import-not-at-top
  try:
    builder = get_builder(name, data_dir=data_dir, download=False)
  except DatasetUnavailableError as e:
    raise DatasetUnavailableError(
        f"{e} Or give the facts BiT-HyperRule needs as config arguments: num_examples=...,num_classes=...,"
        "image_size=...") from None
  info = builder.info
  num_examples = int(info.splits[split].num_examples)
  feature = info.features[label] if label in info.features else None
  num_classes = int(getattr(feature, "num_classes", 0) or 0)
  shape = getattr(info.features["image"], "shape", None) if "image" in info.features else None
  hw = tuple(shape[:2]) if shape is not None and None not in tuple(shape[:2]) else None
  return num_examples, num_classes, hw


def get_config(arg=None):
  """The config; `arg` is a comma list like "dataset=cifar10,model=R50x1" or "runlocal"."""
  arg = parse_arg(arg, runlocal=False, dataset="cifar10", model="R50x1", train_split="train", test_split="test",
                  label="label", num_examples=0, num_classes=0, image_size=0, batch=512, init="", crop=True,
                  flip=True, scale_steps=False, base_width=64, groups=32, data_dir="")
  if arg.runlocal:
    # mg_shapes/px32 (10,000 train images of 32 px, 8 shapes): the facts are known, no tfds lookup.
    arg.dataset, arg.test_split, arg.label = "mg_shapes/px32", "test[:64]", "label"
    arg.num_examples, arg.num_classes, arg.image_size = 10_000, 8, 32
    arg.model, arg.base_width, arg.groups, arg.batch = "R14x1", 8, 4, 8
  num_examples, num_classes, image_size = arg.num_examples, arg.num_classes, arg.image_size
  if not (num_examples and num_classes and image_size):
    facts = dataset_facts(arg.dataset, arg.train_split, arg.label, arg.data_dir or None)
    num_examples = num_examples or facts[0]
    num_classes = num_classes or facts[1]
    image_size = image_size or facts[2]
    if not num_classes:
      raise ValueError(f"{arg.dataset}: feature {arg.label!r} is not a ClassLabel; pass num_classes=...")
    if not image_size:
      raise ValueError(f"{arg.dataset} has images of varying size: pass a typical one as image_size=... "
                       "(BiT used 224 for pets, flowers and ImageNet).")

  rule = hyperrule(num_examples, image_size, arg.batch, crop=arg.crop, flip=arg.flip, scale_steps=arg.scale_steps)
  if arg.runlocal:
    rule = dataclasses.replace(rule, total_steps=10, warmup_steps=2, decay_steps=(4, 6, 8))

  log_steps = math.gcd(rule.total_steps, 50)
  config = common.base_config(total_steps=rule.total_steps, log_steps=log_steps,
                              checkpoint_steps=log_steps * max(1, min(rule.total_steps, 1000) // log_steps))
  config.hyperrule = rule.as_dict()  # For the record (config.json); the trainer reads the keys below.

  labels = f"|onehot({num_classes}, key='{arg.label}')|keep('image', 'labels')"
  config.input = common.input_config(
      arg.dataset, arg.train_split, batch_size=arg.batch, data_dir=arg.data_dir or None,
      shuffle_buffer=min(num_examples, 200_000),  # big_transfer's MAX_IN_MEMORY.
      cache=num_examples <= 200_000, pp=rule.train_pp + labels)

  # A converted BiT checkpoint (.keras from tools/convert_checkpoint.py, or the official .npz directly); its
  # head is left at the zero initialisation. base_width and groups shrink the network (tests, demos);
  # official checkpoints have 64 and 32.
  config.networks.network = common.network(
      "bit", variant=arg.model, num_classes=num_classes, image_size=rule.crop_size, base_width=arg.base_width,
      groups=arg.groups, init=arg.init, init_skip="head/.*")
  config.objective = common.objective(**rule.objective)
  optimizer = rule.optimizer_config()
  config.optimizer = common.optimizer(**{**optimizer, "schedule": common.schedule(**optimizer["schedule"])})

  # BiT evaluates at the end; the evaluators run once after training.
  config.evals.test = common.classification_eval(arg.dataset, arg.test_split, pp=rule.eval_pp + labels)
  config.export = dict(class_names=None)

  if arg.runlocal:
    config.input.shuffle_buffer = 64
    config.log_steps = 5
    config.checkpoint_steps = 10
    config.keep_checkpoints = 1
  return config
