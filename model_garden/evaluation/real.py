"""ReaL accuracy: ImageNet validation scored against the "Reassessed Labels" of Beyer et al. 2020.

"Are we done with ImageNet?" (Beyer, Hénaff, Kolesnikov, Zhai, van den Oord 2020) re-annotated the 50,000
ImageNet validation images with the *set* of classes human raters accept. A prediction is correct when it is
anywhere in the image's set; 3,163 images got an empty set and are left out of both numerator and
denominator, so 46,837 images are scored. Top-k (timm's `real_labels.py`): correct when any of the top k
predictions is in the set.

Reference formulas matched (google-research/reassessed-imagenet README, timm `real_labels.py`):
  top-1: mean([argmax(logits[i]) in real[i] for i if real[i]])
  top-k: mean([any(p in real[i] for p in topk(logits[i])) for i if real[i]])

Label sources:
  - tfds `imagenet2012_real` (split `validation`, features `image`, `original_label`, `real_label`: a
    variable-length sequence; needs the manual download of `ILSVRC2012_img_val.tar`): `real_dataset`.
  - the original `real.json` (a list of 50,000 lists in validation-file order, ILSVRC2012_val_00000001.JPEG
    first): `load_real_json` + `real_labels_for_file_names`, joined to tfds `imagenet2012` validation examples
    by their `file_name`.

The streaming Keras metric with the same semantics is `model_garden.evaluation.real_metric.RealAccuracy`.
"""

from __future__ import annotations

import json
import os
import re
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

NUM_VALIDATION_IMAGES = 50_000
NUM_CLASSES = 1000
REAL_JSON_URL = "https://github.com/google-research/reassessed-imagenet/blob/master/real.json"
_VAL_FILE = re.compile(r"ILSVRC2012_val_(\d{8})(?:\.JPEG)?$", re.IGNORECASE)

LabelSets = Union[Sequence[Sequence[int]], np.ndarray]


# -- Pure metric --------------------------------------------------------------------------------------------

def _as_multihot(real_labels: LabelSets, num_classes: int) -> np.ndarray:
  """Label lists (or a multi-hot array) -> bool (N, num_classes)."""
  if isinstance(real_labels, np.ndarray) and real_labels.ndim == 2 and real_labels.dtype != object:
    if real_labels.shape[1] != num_classes:
      raise ValueError(f"Multi-hot ReaL labels have {real_labels.shape[1]} columns but the logits have "
                       f"{num_classes}.")
    return real_labels > 0
  hot = np.zeros([len(real_labels), num_classes], bool)
  for i, labels in enumerate(real_labels):
    ids = np.asarray(list(labels), np.int64).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
      raise ValueError(f"ReaL label set {i} holds {ids.tolist()}, outside [0, {num_classes}) (the logits' width).")
    hot[i, ids] = True
  return hot


def real_correct(logits, real_labels: LabelSets, k: int = 1):
  """Per-image (correct, scored) booleans of ReaL top-k.

  Args:
    logits: (N, C) scores (logits or probabilities; only their order matters).
    real_labels: N label lists (lists of class ids; an empty list means "no valid label"), or a
      multi-hot (N, C) array.
    k: a prediction counts when any of its top `k` classes is in the image's set.

  Returns:
    (correct, scored): bool arrays of shape (N,); `correct` is False wherever `scored` is.
  """
  logits = np.asarray(logits)
  if logits.ndim != 2:
    raise ValueError(f"logits must be (N, num_classes), got shape {logits.shape}.")
  if len(real_labels) != len(logits):
    raise ValueError(f"{len(logits)} logits rows but {len(real_labels)} ReaL label sets; they must pair up "
                     "(one set per image, in the same order).")
  if not 1 <= k <= logits.shape[1]:
    raise ValueError(f"k must be in [1, {logits.shape[1]}], got {k}.")
  hot = _as_multihot(real_labels, logits.shape[1])
  # argsort of -logits is stable: ties go to the lower class index, as np.argmax and tf.math.top_k do.
  top = np.argsort(-logits, axis=1, kind="stable")[:, :k]
  correct = np.take_along_axis(hot, top, axis=1).any(axis=1)
  scored = hot.any(axis=1)
  return correct & scored, scored


def real_accuracy(logits, real_labels: LabelSets, k: int = 1) -> float:
  """ReaL top-k accuracy: images with an empty label set count in neither numerator nor denominator.

  Args:
    logits: (N, C) scores.
    real_labels: N lists of acceptable class ids (possibly empty), or a multi-hot (N, C) array.
    k: top-k (1 for the paper's headline number).

  Returns:
    The fraction of scored images whose top-k predictions hit their label set.

  Example:
    >>> real_accuracy([[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]], [[1], [1], []])
    0.5
  """
  correct, scored = real_correct(logits, real_labels, k)
  if not scored.any():
    raise ValueError("Every ReaL label set is empty: there is no image to score. Check that the label sets "
                     "are paired with the right images (real.json holds 46,837 non-empty sets of 50,000).")
  return float(correct.sum() / scored.sum())


# -- real.json ----------------------------------------------------------------------------------------------

def load_real_json(path: str, num_classes: int = NUM_CLASSES, expect_all: bool = True) -> List[List[int]]:
  """Reads the original `real.json`: one list of class ids per validation image, in file-name order.

  Args:
    path: the file (from google-research/reassessed-imagenet).
    num_classes: ids must lie in [0, num_classes).
    expect_all: require exactly 50,000 lists (the whole validation set).
  """
  if not os.path.exists(path):
    raise FileNotFoundError(f"ReaL labels {path!r} not found. Download real.json from {REAL_JSON_URL} "
                            "(no registration needed) and pass its path.")
  with open(path) as f:
    real = json.load(f)
  if not isinstance(real, list) or not all(isinstance(r, list) for r in real):
    raise ValueError(f"{path}: expected a JSON list of lists of class ids (real.json's format).")
  if expect_all and len(real) != NUM_VALIDATION_IMAGES:
    raise ValueError(f"{path}: holds {len(real)} label lists, expected {NUM_VALIDATION_IMAGES} (one per "
                     "ImageNet validation image). Pass expect_all=False for a partial file.")
  for i, labels in enumerate(real):
    if any(not isinstance(c, int) or not 0 <= c < num_classes for c in labels):
      raise ValueError(f"{path}: entry {i} ({labels}) holds a value that is not a class id in "
                       f"[0, {num_classes}).")
  return real


def validation_index(file_name) -> int:
  """0-based index of an ImageNet validation file: "ILSVRC2012_val_00000001.JPEG" -> 0."""
  if isinstance(file_name, bytes):
    file_name = file_name.decode()
  match = _VAL_FILE.search(os.path.basename(str(file_name)))
  if not match:
    raise ValueError(f"{file_name!r} is not an ImageNet validation file name (ILSVRC2012_val_000xxxxx.JPEG); "
                     "real.json can only be joined to ImageNet validation examples.")
  return int(match.group(1)) - 1


def real_labels_for_file_names(real: Sequence[Sequence[int]], file_names: Iterable) -> List[List[int]]:
  """The ReaL sets of the given validation files (tfds `imagenet2012` examples carry `file_name`)."""
  out = []
  for name in file_names:
    index = validation_index(name)
    if index >= len(real):
      raise ValueError(f"{name!r} is validation image {index + 1} but the ReaL list has {len(real)} entries.")
    out.append(list(real[index]))
  return out


def padded_label_sets(real_labels: Sequence[Sequence[int]], pad: int = -1,
                      width: Optional[int] = None) -> np.ndarray:
  """Label lists -> an int64 (N, width) array padded with `pad` (the metric's "padded" input form)."""
  width = width or max([len(r) for r in real_labels] + [1])
  out = np.full([len(real_labels), width], pad, np.int64)
  for i, labels in enumerate(real_labels):
    if len(labels) > width:
      raise ValueError(f"Label set {i} has {len(labels)} labels, more than width={width}.")
    out[i, :len(labels)] = labels
  return out


# -- Datasets and a whole evaluation ------------------------------------------------------------------------

def real_pp(image_size: int = 224, crop_fraction: float = 0.875) -> str:
  """The evaluation pp of `imagenet2012_real`: resize-small, central crop, [-1, 1], multi-hot `real_label`."""
  return (f"decode|resize_small({int(round(image_size / crop_fraction))})|central_crop({image_size})|"
          f"value_range(-1, 1)|labelset({NUM_CLASSES}, key='real_label', key_result='real_label')|"
          "copy('original_label', 'label')|keep('image', 'label', 'real_label')")


def real_dataset(batch_size: int, pp: Optional[str] = None, split: str = "validation",
                 data_dir: Optional[str] = None, download: bool = True, image_size: int = 224):
  """Batches of tfds `imagenet2012_real`: `image`, `label` (original) and `real_label` (multi-hot, 1000).

  The tfds builder needs a manual download; a clear error names the file and folder when it is missing.
  """
  from model_garden.data import DatasetUnavailableError, get_dataset  # pylint: disable=g-import-not-at-top
  import model_garden.data.robustness.ops  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  try:
    return get_dataset("imagenet2012_real", split, batch_size=batch_size, pp=pp or real_pp(image_size),
                       data_dir=data_dir, train=False, download=download)
  except DatasetUnavailableError as e:
    raise DatasetUnavailableError(
        "ReaL labels through tfds 'imagenet2012_real' need the ImageNet validation images: put "
        "ILSVRC2012_img_val.tar (from https://image-net.org/download-images, registration required) in "
        "<data_dir>/downloads/manual/ and rerun. Alternatively pass the original real.json "
        f"({REAL_JSON_URL}) with a prepared tfds 'imagenet2012' validation split "
        "(tools/evaluate.py --real_json=...). Details: " + str(e)) from e


def evaluate_real(predict: Callable, dataset: Iterable[Dict], ks: Sequence[int] = (1, 5),
                  label_key: str = "label", real_key: str = "real_label",
                  real: Optional[Sequence[Sequence[int]]] = None,
                  max_examples: Optional[int] = None) -> Dict[str, float]:
  """Original-label and ReaL top-k accuracy of `predict` over `dataset`, side by side.

  Args:
    predict: images -> logits (e.g. a network or a tf.function around it).
    dataset: batches with `image`, the original integer label `label_key`, and either a multi-hot
      `real_key` or (with `real`) a `file_name` to look the ReaL set up by.
    ks: the top-k values to report (k larger than the number of classes is skipped).
    real: the real.json lists, when batches carry `file_name` instead of `real_key`.
    max_examples: stop after this many examples.

  Returns:
    {"accuracy", "real_accuracy", "top{k}", "real_top{k}" for k > 1, "num_examples", "num_real_scored",
     "num_real_empty", "num_real_multi" (images with two or more acceptable labels)}.
  """
  ks = tuple(sorted(set(int(k) for k in ks)))
  hits = {k: 0 for k in ks}
  real_hits = {k: 0 for k in ks}
  total = scored_total = multi = 0
  width = None
  for batch in dataset:
    logits = np.asarray(predict(batch["image"]), np.float32)
    width = logits.shape[1]
    labels = np.asarray(batch[label_key]).reshape(-1)
    if real is not None:
      if "file_name" not in batch:
        raise KeyError("evaluate_real with real=... needs `file_name` in every batch (keep it in the pp).")
      sets = real_labels_for_file_names(real, np.asarray(batch["file_name"]).tolist())
      hot = _as_multihot(sets, width)
    elif real_key in batch:
      hot = np.asarray(batch[real_key]) > 0
    else:
      raise KeyError(f"Batch has no {real_key!r} (multi-hot ReaL labels) and no real.json was given; keys: "
                     f"{sorted(batch)}.")
    if max_examples is not None:
      keep = max(0, min(len(labels), max_examples - total))
      logits, labels, hot = logits[:keep], labels[:keep], hot[:keep]
    if not len(labels):
      break
    top = np.argsort(-logits, axis=1, kind="stable")[:, :max(k for k in ks if k <= width)]
    scored = hot.any(axis=1)
    for k in ks:
      if k > width:
        continue
      hits[k] += int(np.sum(np.any(top[:, :k] == labels[:, None], axis=1)))
      real_hits[k] += int(np.sum(np.take_along_axis(hot, top[:, :k], axis=1).any(axis=1) & scored))
    total += len(labels)
    scored_total += int(scored.sum())
    multi += int(np.sum(hot.sum(axis=1) >= 2))
    if max_examples is not None and total >= max_examples:
      break
  if not total:
    raise ValueError("The ReaL evaluation dataset is empty.")
  results = {}
  for k in ks:
    if width is not None and k > width:
      continue
    name, real_name = ("accuracy", "real_accuracy") if k == 1 else (f"top{k}", f"real_top{k}")
    results[name] = hits[k] / total
    results[real_name] = real_hits[k] / scored_total if scored_total else float("nan")
  results.update({"num_examples": total, "num_real_scored": scored_total,
                  "num_real_empty": total - scored_total, "num_real_multi": multi})
  return results
