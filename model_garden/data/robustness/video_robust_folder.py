"""ImageNet-Vid-Robust and YTBB-Robust frames with their labels and reviewed neighbourhoods (pm-sets)."""

from __future__ import annotations

import json
import os
from typing import Dict, List

import tensorflow as tf

from model_garden.data.robustness import class_lists
from model_garden.data.sources import register

DOWNLOAD_HELP = (
    "ImageNet-Vid-Robust and YTBB-Robust (Shankar et al., 'Do Image Classifiers Generalize Across Time?') are "
    "downloads from https://modestyachts.github.io/robust-vid/. Unpack one set into a folder holding its frames "
    "(paths as in the metadata keys, e.g. val/ILSVRC2015_val_00000000/000442.JPEG) and two metadata files, in "
    "the folder or its metadata/ subfolder: labels.json ({frame key: [class ids]}) and pmsets.json ({anchor "
    "key: [keys of its reviewed neighbour frames]}). Class ids are the set's own (30 ImageNet-Vid classes, 24 "
    "YTBB classes; see data/robustness/data/video_classes.json).")


class VideoRobustFolder:
  """A video robustness set on disk: frames, per-frame label sets and each anchor's reviewed neighbours.

  The two sets of "Do Image Classifiers Generalize Across Time?" (Shankar et al. 2021; used as
  ImageNet-Vid-W and YouTube-BB-W by Djolonga et al. 2021): 1,109 (ImageNet-Vid-Robust) and 2,030
  (YTBB-Robust) anchor frames, each with up to 20 neighbours within 10 frames that reviewers judged similar.
  Score with `model_garden.evaluation.video_pmk.pm_k_accuracy(reader.anchors, predictions, reader.labels,
  k=10, neighbours=reader.pmsets)` after mapping ImageNet logits with `LabelSpace.for_dataset(name)`.

  Registered as `imagenet_vid_robust(root=...)` and `ytbb_robust(root=...)`; `get_dataset` yields every
  frame once: {"image": bytes, "frame_key": its key, "label": its first label id, "tfds_id": path}.

  Args:
    root: the unpacked set (see `DOWNLOAD_HELP` for the layout).
    name: "imagenet_vid_robust" or "ytbb_robust" (selects the class list).

  Example:
    >>> reader = VideoRobustFolder("/data/imagenet-vid-robust", "imagenet_vid_robust")
    >>> len(reader.anchors), len(reader.frame_keys())
  """

  def __init__(self, root: str, name: str = "imagenet_vid_robust"):
    if name not in class_lists.VIDEO_SETS:
      raise ValueError(f"Unknown video set {name!r}; known: {list(class_lists.VIDEO_SETS)}.")
    if not os.path.isdir(root):
      raise FileNotFoundError(f"{name}: root {root!r} does not exist. " + DOWNLOAD_HELP)
    self.root = root
    self.name = name
    self.labels: Dict[str, List[int]] = {k: [int(c) for c in v] for k, v in self._metadata("labels.json").items()}
    self.pmsets: Dict[str, List[str]] = {k: list(v) for k, v in self._metadata("pmsets.json").items()}
    self.anchors: List[str] = sorted(self.pmsets)
    num_classes = len(class_lists.video_class_names(name))
    bad = [k for k, v in self.labels.items() if any(not 0 <= c < num_classes for c in v)]
    if bad:
      raise ValueError(f"{name}: labels.json gives {bad[0]!r} the classes {self.labels[bad[0]]}, outside "
                       f"[0, {num_classes}) - is this the metadata of the other set?")
    unlabelled = [a for a in self.anchors if not self.labels.get(a)]
    if unlabelled:
      raise ValueError(f"{name}: {len(unlabelled)} anchors have no labels in labels.json (e.g. {unlabelled[0]!r}).")

  def _metadata(self, file_name: str) -> Dict:
    for folder in (self.root, os.path.join(self.root, "metadata")):
      path = os.path.join(folder, file_name)
      if os.path.exists(path):
        with open(path) as f:
          return json.load(f)
    raise FileNotFoundError(f"{self.name}: no {file_name} in {self.root} or its metadata/. " + DOWNLOAD_HELP)

  def frame_keys(self) -> List[str]:
    """Every frame to predict once: the anchors and their neighbours, sorted."""
    keys = set(self.anchors)
    for members in self.pmsets.values():
      keys.update(members)
    return sorted(keys)

  def as_dataset(self, split: str = "test", shuffle_files: bool = False, seed: int = 0) -> tf.data.Dataset:
    if split not in ("test", "validation", "all"):
      raise ValueError(f"{self.name} has one split ('test'), got {split!r}.")
    keys = self.frame_keys()
    paths = [os.path.join(self.root, k) for k in keys]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
      raise FileNotFoundError(f"{self.name}: {len(missing)} of {len(paths)} frames are missing, e.g. {missing[0]}. "
                              + DOWNLOAD_HELP)
    first = [self.labels.get(k, self.labels.get(self._anchor_of(k), [-1]))[0] for k in keys]
    ds = tf.data.Dataset.from_tensor_slices({"tfds_id": paths, "frame_key": keys,
                                             "label": tf.constant(first, tf.int64)})
    if shuffle_files:
      ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=False)
    return ds.map(lambda ex: {**ex, "image": tf.io.read_file(ex["tfds_id"])}, num_parallel_calls=tf.data.AUTOTUNE)

  def _anchor_of(self, key: str) -> str:
    if not hasattr(self, "_anchor_index"):
      self._anchor_index = {m: a for a, members in self.pmsets.items() for m in members}
    return self._anchor_index.get(key, key)


@register("imagenet_vid_robust")
def imagenet_vid_robust(*, root: str) -> VideoRobustFolder:
  """Dataset spec: `imagenet_vid_robust(root='/data/imagenet-vid-robust')`."""
  return VideoRobustFolder(root, "imagenet_vid_robust")


@register("ytbb_robust")
def ytbb_robust(*, root: str) -> VideoRobustFolder:
  """Dataset spec: `ytbb_robust(root='/data/ytbb-robust')`."""
  return VideoRobustFolder(root, "ytbb_robust")
