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

Start from a BiT checkpoint converted to `.keras` (the head is re-initialised: `init_skip='head/.*'`):
  python tools/convert_checkpoint.py --source=BiT-M-R50x1.npz \
      --model="bit(variant='R50x1', num_classes=21843)" --output=bit_m_r50x1.keras
  python -m model_garden.train \
      --config=model_garden/configs/bit/hyperrule.py:dataset=cifar10,model=R50x1,init=bit_m_r50x1.keras \
      --workdir=workdirs/bit_cifar10

Smoke test (a tiny BiT on mg_shapes/px32, 10 steps of batch 8, seconds on a CPU):
  python -m model_garden.train --config=model_garden/configs/bit/hyperrule.py:runlocal --workdir=/tmp/bit_smoke

Expected (paper / big_transfer README, BiT-M-R50x1 at batch 512 with the rule): CIFAR-10 97.2-97.4%,
CIFAR-100 86.4-86.6% top-1; BiT-M-R152x4: CIFAR-10 98.9%, CIFAR-100 92.2%, Pets 94.5%, Flowers 99.3%.
Not reproduced here (no ImageNet-21k weights on this machine); the smoke test only checks that it trains.

Arguments: runlocal, dataset, model (R50x1, R101x3, ...), train_split, test_split, label, num_examples,
num_classes, image_size, batch, init (a .keras file), crop, flip (False for counting / orientation tasks),
scale_steps (scale the steps by 512 / batch, the colab's advice for small batches), base_width and groups
(64 and 32 as released; smaller for tiny models), data_dir.
"""

import dataclasses
import math

import ml_collections

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

  config = ml_collections.ConfigDict()
  config.seed = 0
  config.deterministic = False
  config.precision = "float32"
  config.hyperrule = rule.as_dict()  # For the record (config.json); the trainer reads the keys below.

  labels = f"|onehot({num_classes}, key='{arg.label}')|keep('image', 'labels')"
  config.input = ml_collections.ConfigDict()
  config.input.data = dict(name=arg.dataset, split=arg.train_split)
  config.input.data_dir = arg.data_dir or ml_collections.config_dict.placeholder(str)
  config.input.batch_size = arg.batch
  config.input.shuffle_buffer = min(num_examples, 200_000)  # big_transfer's MAX_IN_MEMORY.
  config.input.cache = num_examples <= 200_000
  config.input.on_corrupt = "error"
  config.input.pp = rule.train_pp + labels

  # base_width and groups shrink the network (tests, demos); official checkpoints have 64 and 32.
  sizes = "" if (arg.base_width, arg.groups) == (64, 32) else f", base_width={arg.base_width}, groups={arg.groups}"
  config.model = f"bit(variant='{arg.model}', num_classes={num_classes}, image_size={rule.crop_size}{sizes})"
  config.objective = rule.objective
  config.optimizer = ml_collections.ConfigDict(rule.optimizer_config())

  config.total_steps = rule.total_steps
  config.log_steps = math.gcd(rule.total_steps, 50)
  config.checkpoint_steps = config.log_steps * max(1, min(rule.total_steps, 1000) // config.log_steps)
  config.keep_checkpoints = 2
  config.eval_steps = 0  # BiT evaluates at the end; the evaluators run once after training.

  config.evals = ml_collections.ConfigDict()
  config.evals.test = dict(type="classification", data=dict(name=arg.dataset, split=arg.test_split),
                           pp=rule.eval_pp + labels)
  config.export = dict(image_size=rule.crop_size, activation="softmax", class_names=None)
  # A converted BiT checkpoint (tools/convert_checkpoint.py); its head is left at the zero initialisation.
  config.init = arg.init or ml_collections.config_dict.placeholder(str)
  config.init_skip = "head/.*"

  if arg.runlocal:
    config.input.shuffle_buffer = 64
    config.log_steps = 5
    config.checkpoint_steps = 10
    config.keep_checkpoints = 1
  return config
