"""ObjectNet from its manual download, restricted to the 113 classes that overlap ImageNet."""

from __future__ import annotations

import os
from typing import List, Tuple

import tensorflow as tf

from model_garden.data.robustness import class_lists
from model_garden.data.sources import register

DOWNLOAD_HELP = (
    "ObjectNet is a manual download: register at https://objectnet.dev/download.html, download "
    "objectnet-1.0.zip (password-protected; the password is given on that page), unzip it, and pass the "
    "unzipped folder, e.g. objectnet(root='/data/objectnet-1.0'). It must contain images/<class folder>/*.png "
    "(folders such as 'alarm_clock', 'backpack', 'banana'); the mapping JSON files under mappings/ are not "
    "needed - the 113 overlapping classes ship with model_garden (data/robustness/data/objectnet_classes.json).")
_EXTENSIONS = (".png", ".jpg", ".jpeg")


class ObjectNetFolder:
  """ObjectNet (Barbu et al. 2019) test images of the 113 ImageNet-overlapping classes.

  ObjectNet has 313 classes photographed with controlled rotations, backgrounds and viewpoints; 113 of them
  overlap ImageNet-1k (125 ImageNet classes map onto them). Only those folders are read; the label is the
  ObjectNet class id (0..312) and `LabelSpace.for_dataset("objectnet")` maps ImageNet logits onto it. The
  images keep a thin red border: evaluate with the `crop_border(2)` pp op first, as the authors' template
  does. ObjectNet has a single split; "test" is its name here.

  Registered as the dataset spec `objectnet(root=...)`, so `get_dataset` reads it like a tfds dataset:
  examples are {"image": encoded bytes, "label": ObjectNet id, "tfds_id": file path}.

  Args:
    root: the unzipped download (`<root>/images/<folder>/`), or its `images` folder itself.

  Example:
    >>> ds = model_garden.data.get_dataset("objectnet(root='/data/objectnet-1.0')", "test", batch_size=64,
    ...     pp="decode|crop_border(2)|resize_small(256)|central_crop(224)|value_range(-1, 1)", train=False)
  """

  def __init__(self, root: str):
    self.root = root
    self.images_dir = self._find_images_dir(root)

  @staticmethod
  def _find_images_dir(root: str) -> str:
    if not os.path.isdir(root):
      raise FileNotFoundError(f"ObjectNet root {root!r} does not exist. " + DOWNLOAD_HELP)
    folders = {c["folder"] for c in class_lists.objectnet_classes()}
    for candidate in (os.path.join(root, "images"), os.path.join(root, "objectnet-1.0", "images"), root):
      if os.path.isdir(candidate) and folders & set(os.listdir(candidate)):
        return candidate
    raise FileNotFoundError(f"No ObjectNet class folders (e.g. 'alarm_clock') under {root!r} or its images/. "
                            + DOWNLOAD_HELP)

  def files(self) -> Tuple[List[str], List[int]]:
    """(paths, ObjectNet ids) of every image of the overlapping classes, sorted by class then file name."""
    paths, labels = [], []
    missing = []
    for cls in class_lists.objectnet_classes():
      folder = os.path.join(self.images_dir, cls["folder"])
      if not os.path.isdir(folder):
        missing.append(cls["folder"])
        continue
      for name in sorted(os.listdir(folder)):
        if name.lower().endswith(_EXTENSIONS):
          paths.append(os.path.join(folder, name))
          labels.append(int(cls["objectnet_id"]))
    if not paths:
      raise FileNotFoundError(f"No images in the ObjectNet class folders under {self.images_dir}. " + DOWNLOAD_HELP)
    if missing:
      tf.get_logger().warning("ObjectNet: %d of the 113 overlapping class folders are missing under %s (%s...).",
                              len(missing), self.images_dir, ", ".join(missing[:5]))
    return paths, labels

  def as_dataset(self, split: str = "test", shuffle_files: bool = False, seed: int = 0) -> tf.data.Dataset:
    if split not in ("test", "validation", "all"):
      raise ValueError(f"ObjectNet has one split ('test'), got {split!r}.")
    paths, labels = self.files()
    ds = tf.data.Dataset.from_tensor_slices({"tfds_id": paths, "label": tf.constant(labels, tf.int64)})
    if shuffle_files:
      ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=False)
    return ds.map(lambda ex: {**ex, "image": tf.io.read_file(ex["tfds_id"])}, num_parallel_calls=tf.data.AUTOTUNE)


@register("objectnet")
def objectnet(*, root: str) -> ObjectNetFolder:
  """Dataset spec: `objectnet(root='/data/objectnet-1.0')`."""
  return ObjectNetFolder(root)
