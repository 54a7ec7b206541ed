"""VTAB's seven splits as tfds slicing strings, following google-research/task_adaptation's data classes.

Every VTAB dataset defines the same split names:

  train, val, trainval, test   the full-data protocol splits;
  train800, val200             VTAB-1k's hyperparameter selection: train on train800, score on val200;
  train800val200               VTAB-1k's final training set (1000 examples), evaluated on test.

Datasets with an official validation split use it (`val200 = validation[:200]`); the others carve `val`
out of the tfds train split at a fixed percentage, so their strings need the tfds split sizes (the callers
pass the sizes recorded in the task table). Integer percentages follow task_adaptation exactly:
`count = percent * num_examples // 100`.
"""

from __future__ import annotations

from typing import Dict, Mapping

import tensorflow_datasets as tfds

SPLIT_NAMES = ("train", "val", "trainval", "test", "train800", "val200", "train800val200")


def percent_of_train(num_train: int, train_percent: int, test: str = "test") -> Dict[str, str]:
  """`train` = the first `train_percent`% of tfds train, `val` = the rest (CIFAR, SVHN, Caltech101 and
  CLEVR: 90; Pets: 80). `test` names the tfds split used as test (CLEVR: "validation")."""
  n = train_percent * num_train // 100
  return {
      "train": f"train[:{n}]",
      "val": f"train[{n}:]",
      "trainval": "train",
      "test": test,
      "train800": "train[:800]",
      "val200": f"train[{n}:{n + 200}]",
      "train800val200": f"train[:800]+train[{n}:{n + 200}]",
  }


def official() -> Dict[str, str]:
  """The tfds train/validation/test splits (DTD, Flowers102, SUN397, Camelyon, Retinopathy, DMLab, KITTI)."""
  return {
      "train": "train",
      "val": "validation",
      "trainval": "train+validation",
      "test": "test",
      "train800": "train[:800]",
      "val200": "validation[:200]",
      "train800val200": "train[:800]+validation[:200]",
  }


def three_way(num_train: int, train_percent: int, val_percent: int) -> Dict[str, str]:
  """train/val/test = consecutive `train_percent`/`val_percent`/rest % slices of a train-only tfds
  dataset (EuroSAT, Resisc45: 60/20/20; dSprites: 80/10/10)."""
  n_train = train_percent * num_train // 100
  n_val = val_percent * num_train // 100
  end = n_train + n_val
  return {
      "train": f"train[:{n_train}]",
      "val": f"train[{n_train}:{end}]",
      "trainval": f"train[:{end}]",
      "test": f"train[{end}:]",
      "train800": "train[:800]",
      "val200": f"train[{n_train}:{n_train + 200}]",
      "train800val200": f"train[:800]+train[{n_train}:{n_train + 200}]",
  }


def test_as_val(val_percent: int = 50) -> Dict[str, str]:
  """smallNORB: `val` = the first half of tfds test, `test` = the second half, `val200 = test[:200]`."""
  return {
      "train": "train",
      "val": f"test[:{val_percent}%]",
      "trainval": f"train+test[:{val_percent}%]",
      "test": f"test[{val_percent}%:]",
      "train800": "train[:800]",
      "val200": "test[:200]",
      "train800val200": "train[:800]+test[:200]",
  }


def split_ranges(spec: str, split_sizes: Mapping[str, int]):
  """`[(tfds split, start, stop), ...]` that tfds reads for slicing string `spec`, given the split sizes.

  Uses tfds's own parser, so it fails exactly where tfds would (e.g. a slice past the end of a split).

  Example:
    >>> split_ranges("train[:800]+train[45000:45200]", {"train": 50000})
    [('train', 0, 800), ('train', 45000, 45200)]
  """
  infos = {}
  for name in _split_names(spec):
    if name not in split_sizes:
      raise KeyError(f"Slicing string {spec!r} reads split {name!r}, whose size is not given "
                     f"(known: {sorted(split_sizes)}).")
    infos[name] = tfds.core.SplitInfo(name=name, shard_lengths=[int(split_sizes[name])], num_bytes=0)
  ranges = []
  for instruction in tfds.core.ReadInstruction.from_spec(spec).to_absolute(infos):
    size = int(split_sizes[instruction.splitname])
    start = 0 if instruction.from_ is None else int(instruction.from_)
    stop = size if instruction.to is None else int(instruction.to)
    ranges.append((instruction.splitname, start, stop))
  return ranges


def num_examples(spec: str, split_sizes: Mapping[str, int]) -> int:
  """How many examples tfds reads for slicing string `spec` ("train[:800]+validation[:200]" -> 1000)."""
  return sum(stop - start for _, start, stop in split_ranges(spec, split_sizes))


def _split_names(spec: str):
  return [part.split("[")[0].strip() for part in spec.split("+")]
