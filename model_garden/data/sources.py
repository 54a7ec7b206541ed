"""Datasets named by spec that are not tfds builders: `image_folder(root='/data/pets')`.

`get_dataset` looks a name up here first (when it is a registered spec) and otherwise treats it as a
tfds name. A source returns unbatched example dicts with encoded `image` bytes, an int64 `label` and a
`tfds_id` naming the example (its file), so the pipeline's decode, corrupt-example handling, seeding and
resume work the same as for tfds.
"""

from __future__ import annotations

import os
from typing import List, Optional, Tuple

import tensorflow as tf

from model_garden.registry import Registry, Spec, parse_spec, spec_call

DATASETS = Registry("dataset")
register = DATASETS.register

_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")


def lookup_source(name: Spec, data_dir: Optional[str] = None):
  """The registered source for a spec like "image_folder(root='...')", or None for a tfds name.

  A mapping spec (`dict(name="semi_supervised", dataset="mg_shapes/px32", fraction=0.1)`, e.g. a config's
  `input.data.name`, whose fields then override from the command line) must name a registered source. A
  source that reads tfds (it takes a `data_dir` argument) and whose spec sets none gets `data_dir`, so a spec
  follows the `data_dir` its pipeline is given, as a plain tfds name does.
  """
  if isinstance(name, str):
    try:
      spec_name, _, kwargs = parse_spec(name)
    except Exception:  # pylint: disable=broad-except  (tfds names such as "cifar10:3.*.*" are no specs)
      return None
    if spec_name not in DATASETS:
      return None
  else:
    spec_name, _, kwargs = spec_call(name)
    DATASETS.lookup(spec_name)  # SpecError with close matches: a mapping is never a tfds name
  if data_dir is not None and "data_dir" not in kwargs and "data_dir" in (DATASETS.keyword_names(spec_name) or ()):
    return DATASETS.get(name, data_dir=data_dir)
  return DATASETS.get(name)


class ImageFolder:
  """Images in `root/<split>/<class name>/*.{jpg,png,...}`; labels are the sorted class folder names.

  Example:
    >>> ds = model_garden.data.get_dataset("image_folder(root='/data/flowers')", "train", batch_size=32,
    ...                                    pp="decode|resize(224)|value_range(-1, 1)|onehot(5)")
  """

  def __init__(self, root: str):
    self.root = root
    if not os.path.isdir(root):
      raise FileNotFoundError(f"image_folder: root {root!r} does not exist. Expected "
                              "root/<split>/<class name>/<image files>.")

  def class_names(self, split: str) -> List[str]:
    split_dir = os.path.join(self.root, split)
    if not os.path.isdir(split_dir):
      found = sorted(d for d in os.listdir(self.root) if os.path.isdir(os.path.join(self.root, d)))
      raise FileNotFoundError(f"image_folder: no split folder {split_dir!r}; splits found: {found}.")
    return sorted(d for d in os.listdir(split_dir) if os.path.isdir(os.path.join(split_dir, d)))

  def files(self, split: str):
    paths, labels = [], []
    for label, name in enumerate(self.class_names(split)):
      folder = os.path.join(self.root, split, name)
      for file_name in sorted(os.listdir(folder)):
        if file_name.lower().endswith(_IMAGE_EXTENSIONS):
          paths.append(os.path.join(folder, file_name))
          labels.append(label)
    if not paths:
      raise FileNotFoundError(f"image_folder: no images ({', '.join(_IMAGE_EXTENSIONS)}) under "
                              f"{os.path.join(self.root, split)}/<class>/.")
    return paths, labels

  def as_dataset(self, split: str, shuffle_files: bool = False, seed: int = 0,
                 shard: Tuple[int, int] = (0, 1)) -> tf.data.Dataset:
    """The split's examples; with shard=(index, count) only every count-th file, read by this host."""
    paths, labels = self.files(split)
    ds = tf.data.Dataset.from_tensor_slices({"tfds_id": paths, "label": tf.constant(labels, tf.int64)})
    if shuffle_files:
      ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=False)
    index, count = shard
    if count > 1:  # After the seeded shuffle, which is the same on every host: disjoint shares.
      ds = ds.shard(count, index)
    return ds.map(lambda ex: {**ex, "image": tf.io.read_file(ex["tfds_id"])},
                  num_parallel_calls=tf.data.AUTOTUNE)


@register("image_folder")
def image_folder(*, root: str) -> ImageFolder:
  """Spec factory: `image_folder(root='/data/pets')`."""
  return ImageFolder(root)
