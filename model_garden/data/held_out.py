"""Held-out label combinations: a tfds split without some combinations of labels, or with only them.

Zero-shot transfer is measured honestly only on what training never showed. mg_shapes labels every image
with a shape and a colour; holding some (shape, colour) pairs out of every training stage and testing on
them asks whether a model composes what it learned apart (a red star, having seen red things and stars but
never a red star). The registered source keeps the examples whose labels are not among `combinations`
(`part='seen'`) or only those (`part='held_out'`):

  get_dataset("held_out_combinations(dataset='mg_shapes/px32', combinations=(('star', 'red'),), part='seen')",
              "train[:2000]", batch_size=128, pp="decode|value_range(-1, 1)|...")

The split is sliced before filtering (`train[:2000]` holds fewer than 2000 seen examples). Without a
`data_dir` in the spec, the pipeline's `data_dir` is used (see `sources.lookup_source`).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from model_garden.data.pipeline import get_builder
from model_garden.data.sources import register

PARTS = ("seen", "held_out")


def combination_codes(values: Sequence[np.ndarray], depths: Sequence[int]) -> np.ndarray:
  """One int per example for its tuple of label ids (mixed radix, first key most significant)."""
  code = np.zeros(np.shape(values[0]), np.int64)
  for value, depth in zip(values, depths):
    code = code * depth + np.asarray(value, np.int64)
  return code


class HeldOutCombinations:
  """A tfds split filtered by label combinations (see the module docstring).

  Args:
    dataset: tfds name, e.g. "mg_shapes/px32".
    combinations: tuples of one label per key, as class names or ids, e.g. (("star", "red"), (0, 3)).
    keys: the ClassLabel features the tuples name, in order.
    part: "seen" (every example except the combinations) or "held_out" (only them).
    data_dir: tfds data_dir.
  """

  def __init__(self, dataset: str, combinations: Sequence[Sequence], keys: Sequence[str] = ("label", "colour"),
               part: str = "seen", data_dir: Optional[str] = None):
    if part not in PARTS:
      raise ValueError(f"held_out_combinations: part must be one of {PARTS}, got {part!r}.")
    keys = tuple(keys)
    combinations = tuple(tuple(c) for c in combinations)
    if not keys or not combinations or any(len(c) != len(keys) for c in combinations):
      raise ValueError(f"held_out_combinations needs at least one combination with one label per key {keys}, "
                       f"e.g. combinations=(('star', 'red'),); got {combinations!r}.")
    self.dataset, self.keys, self.part, self.data_dir = dataset, keys, part, data_dir
    self.combinations = combinations
    self._codes: Optional[Tuple[Tuple[int, ...], np.ndarray]] = None

  def _builder(self):
    return get_builder(self.dataset, data_dir=self.data_dir)

  def depths_and_codes(self) -> Tuple[Tuple[int, ...], np.ndarray]:
    """The number of classes of each key and the sorted codes of the held-out combinations."""
    if self._codes is None:
      features = self._builder().info.features
      depths, ids = [], [[] for _ in self.combinations]
      for k, key in enumerate(self.keys):
        feature = features[key] if key in features else None
        if not isinstance(feature, tfds.features.ClassLabel):
          raise ValueError(f"held_out_combinations: {key!r} is not a ClassLabel feature of {self.dataset} "
                           f"(its features: {sorted(features)}).")
        depths.append(feature.num_classes)
        for i, combination in enumerate(self.combinations):
          value = combination[k]
          if isinstance(value, str):
            if value not in feature.names:
              raise ValueError(f"held_out_combinations: {value!r} is no {key} of {self.dataset}; its names: "
                               f"{feature.names}.")
            value = feature.str2int(value)
          if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < feature.num_classes:
            raise ValueError(f"held_out_combinations: {combination[k]!r} is no {key} id of {self.dataset} "
                             f"(0..{feature.num_classes - 1}).")
          ids[i].append(value)
      codes = combination_codes([np.array(v) for v in zip(*ids)], depths)
      self._codes = (tuple(depths), np.unique(codes))
    return self._codes

  def as_dataset(self, split: str, shuffle_files: bool = False, seed: int = 0) -> tf.data.Dataset:
    depths, codes = self.depths_and_codes()
    builder = self._builder()
    ds = builder.as_dataset(split=split, shuffle_files=shuffle_files,
                            decoders={"image": tfds.decode.SkipDecoding()},
                            read_config=tfds.ReadConfig(shuffle_seed=seed, add_tfds_id=True))
    held = tf.constant(codes, tf.int64)
    keep_held_out = self.part == "held_out"

    def keep(example):
      code = tf.constant(0, tf.int64)
      for key, depth in zip(self.keys, depths):
        code = code * depth + tf.cast(example[key], tf.int64)
      return tf.equal(tf.reduce_any(tf.equal(code, held)), keep_held_out)

    return ds.filter(keep)


@register("held_out_combinations")
def held_out_combinations(*, dataset: str, combinations: Sequence[Sequence], keys: Sequence[str] = ("label", "colour"),
                          part: str = "seen", data_dir: Optional[str] = None) -> HeldOutCombinations:
  """Spec factory: `held_out_combinations(dataset='mg_shapes/px32', combinations=(('star', 'red'),))`."""
  return HeldOutCombinations(dataset, combinations, keys=keys, part=part, data_dir=data_dir)
