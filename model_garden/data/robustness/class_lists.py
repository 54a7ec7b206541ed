"""The ImageNet class lists of the robustness datasets, read from the JSON files in `data/`.

Each list is a fact taken from the dataset authors' code (the `source` field of each file names it):

  imagenet_a_classes.json   the 200 ImageNet-1k indices ImageNet-A uses (hendrycks/natural-adv-examples
                            eval.py; identical to robustness_metrics' _IMAGENET_A_LABELSET).
  imagenet_r_classes.json   the 200 indices of ImageNet-R (hendrycks/imagenet-r eval.py; identical to
                            robustness_metrics' _IMAGENET_R_LABELSET), with their WordNet ids.
  objectnet_classes.json    the 113 ObjectNet classes that overlap ImageNet, each with its ObjectNet id (of
                            313), display name, image folder and the ImageNet indices (125 in all) mapped to it
                            (abarbu/objectnet-template-tensorflow mapping files, by the ObjectNet authors).
  video_classes.json        ImageNet-Vid-Robust's 30 and YTBB-Robust's 24 classes with the ImageNet indices
                            merged into each (modestyachts/imagenet-testbed metadata).

ImageNet indices are positions in the sorted-WordNet-id order that tfds `imagenet2012` and every standard
ImageNet checkpoint use.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Dict, List

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
NUM_IMAGENET_CLASSES = 1000
VIDEO_SETS = ("imagenet_vid_robust", "ytbb_robust")


@functools.lru_cache(maxsize=None)
def load_json(file_name: str) -> Dict:
  """The parsed JSON file `data/<file_name>` of this package (cached)."""
  path = os.path.join(DATA_DIR, file_name)
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"The class list {path} is missing from the installed package. Reinstall model_garden with its "
        "package data (setup.py package_data must include 'data/robustness/data/*.json').")
  with open(path) as f:
    return json.load(f)


def _indices(file_name: str) -> np.ndarray:
  indices = np.asarray(load_json(file_name)["imagenet_indices"], np.int64)
  indices.setflags(write=False)
  return indices


def imagenet_a_classes() -> np.ndarray:
  """The 200 ImageNet indices of ImageNet-A, ascending: subset position i is ImageNet class [i]."""
  return _indices("imagenet_a_classes.json")


def imagenet_r_classes() -> np.ndarray:
  """The 200 ImageNet indices of ImageNet-R, ascending."""
  return _indices("imagenet_r_classes.json")


def subset_classes(name: str) -> np.ndarray:
  """The ImageNet indices of a 200-class subset dataset: "imagenet_a" or "imagenet_r"."""
  lists = {"imagenet_a": imagenet_a_classes, "imagenet_r": imagenet_r_classes}
  if name not in lists:
    raise ValueError(f"No class subset for {name!r}; known: {sorted(lists)}.")
  return lists[name]()


def objectnet_classes() -> List[Dict]:
  """The 113 ImageNet-overlapping ObjectNet classes: dicts with objectnet_id, name, folder, imagenet_indices."""
  return list(load_json("objectnet_classes.json")["classes"])


def objectnet_groups() -> Dict[int, List[int]]:
  """{ObjectNet id: [ImageNet indices]} for the 113 overlapping classes (125 ImageNet indices in all)."""
  return {int(c["objectnet_id"]): [int(i) for i in c["imagenet_indices"]] for c in objectnet_classes()}


def num_objectnet_classes() -> int:
  """All ObjectNet classes (313); ids of the overlapping 113 are in [0, 313)."""
  return int(load_json("objectnet_classes.json")["num_objectnet_classes"])


def video_class_names(name: str) -> List[str]:
  """Class names of "imagenet_vid_robust" (30) or "ytbb_robust" (24), by class index."""
  return list(_video(name)["names"])


def video_groups(name: str) -> Dict[int, List[int]]:
  """{video class: [ImageNet indices]} of "imagenet_vid_robust" or "ytbb_robust".

  Every ImageNet-Vid class has ImageNet classes; 5 YTBB classes (cow, giraffe, skateboard, toilet, none) have
  none and can never be predicted from an ImageNet classifier.
  """
  return {int(k): [int(i) for i in v] for k, v in _video(name)["imagenet_indices"].items()}


def _video(name: str) -> Dict:
  if name not in VIDEO_SETS:
    raise ValueError(f"Unknown video set {name!r}; known: {list(VIDEO_SETS)}.")
  return load_json("video_classes.json")[name]
