"""How a robustness dataset's labels relate to the logits of an ImageNet classifier."""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import tensorflow as tf

from model_garden.data.robustness import class_lists

KINDS = ("identity", "subset", "grouped")


class LabelSpace:
  """Maps a classifier's logits into a dataset's label space, and predicts labels there.

  Three relations cover the datasets of "On Robustness and Transferability of Convolutional Neural
  Networks" (Djolonga et al. 2021) and its predecessors:

  - identity: the dataset uses the model's classes (ImageNet-V2, ImageNet-C, ReaL; mg_shapes offline).
  - subset: the dataset holds only some of the model's classes and labels them with the model's indices
    (ImageNet-A and ImageNet-R: 200 ImageNet classes each). Predictions are restricted to the subset, as
    hendrycks' eval.py (`output[:, indices_in_1k]`) and robustness_metrics (`use_dataset_labelset=True`:
    gather, then renormalise the probabilities - a softmax of the gathered logits is exactly that) do.
    Predicted labels are mapped back to ImageNet indices, so they compare with the tfds labels directly.
  - grouped: each dataset class merges several model classes (ObjectNet: 125 ImageNet classes onto 113
    ObjectNet classes; ImageNet-Vid-Robust: 288 onto 30; YTBB-Robust: 231 onto 19 of 24). A class's logit is
    the max of its members' logits (imagenet-testbed's `merge_op='max'`), so the argmax is the best member
    ImageNet class, mapped to its group; classes with no member get -inf and are never predicted
    (imagenet-testbed fills them with 0, which can beat all-negative logits - a quirk not copied). With
    `restrict=False` the argmax runs over all model classes and a class outside every group predicts -1
    (always wrong), as the ObjectNet authors' scoring template does.

  Args:
    name: display name.
    kind: "identity", "subset" or "grouped".
    num_model_classes: the logits' width the space expects (1000 for ImageNet models).
    classes: subset only: the model indices in the subset, ascending.
    groups: grouped only: {dataset class: [model indices]}.
    num_classes: grouped only: the number of dataset classes (ids in [0, num_classes)).
    restrict: grouped only: restrict the argmax to grouped model classes (default) or not.

  Example:
    >>> space = LabelSpace.for_dataset("imagenet_a")
    >>> space.predict(logits_1000)          # (batch, 1) ImageNet indices, always among the 200
    >>> space.dataset_logits(logits_1000)   # (batch, 200), columns in `space.column_labels` order
  """

  def __init__(self, name: str, kind: str, num_model_classes: int, classes: Optional[Sequence[int]] = None,
               groups: Optional[Dict[int, Sequence[int]]] = None, num_classes: Optional[int] = None,
               restrict: bool = True):
    if kind not in KINDS:
      raise ValueError(f"LabelSpace kind must be one of {KINDS}, got {kind!r}.")
    self.name = name
    self.kind = kind
    self.num_model_classes = int(num_model_classes)
    self.restrict = bool(restrict)
    self.classes = None
    self.groups = None
    if kind == "identity":
      self.num_classes = self.num_model_classes
      self.column_labels = np.arange(self.num_classes, dtype=np.int64)
    elif kind == "subset":
      if classes is None or not len(classes):
        raise ValueError(f"LabelSpace {name!r}: a subset needs classes=[model indices].")
      classes = np.asarray(classes, np.int64)
      if np.any(np.diff(classes) <= 0) or classes.min() < 0 or classes.max() >= self.num_model_classes:
        raise ValueError(f"LabelSpace {name!r}: subset classes must be ascending, distinct and in "
                         f"[0, {self.num_model_classes}).")
      self.classes = classes
      self.num_classes = len(classes)
      self.column_labels = classes
    else:
      if not groups or num_classes is None:
        raise ValueError(f"LabelSpace {name!r}: a grouped space needs groups={{class: [model indices]}} and "
                         "num_classes.")
      self.groups = {int(k): [int(i) for i in v] for k, v in groups.items()}
      self.num_classes = int(num_classes)
      members = [i for v in self.groups.values() for i in v]
      if len(members) != len(set(members)):
        raise ValueError(f"LabelSpace {name!r}: a model class belongs to two groups.")
      if min(self.groups) < 0 or max(self.groups) >= self.num_classes:
        raise ValueError(f"LabelSpace {name!r}: group ids must be in [0, {self.num_classes}).")
      if members and (min(members) < 0 or max(members) >= self.num_model_classes):
        raise ValueError(f"LabelSpace {name!r}: member indices must be in [0, {self.num_model_classes}).")
      self.column_labels = np.arange(self.num_classes, dtype=np.int64)
      width = max(len(v) for v in self.groups.values())
      # Padded member table; the pad points at an extra -inf column appended to the logits.
      table = np.full([self.num_classes, width], self.num_model_classes, np.int64)
      for group, idx in self.groups.items():
        table[group, :len(idx)] = idx
      self._member_table = table
      model_to_group = np.full([self.num_model_classes], -1, np.int64)
      for group, idx in self.groups.items():
        model_to_group[idx] = group
      self.model_to_group = model_to_group

  # -- Constructors -----------------------------------------------------------------------------------------
  @classmethod
  def identity(cls, num_classes: int, name: str = "identity") -> "LabelSpace":
    return cls(name, "identity", num_classes)

  @classmethod
  def for_dataset(cls, name: str, restrict: bool = True) -> "LabelSpace":
    """The label space of a named dataset family.

    Args:
      name: "imagenet" (also ImageNet-V2, -C, ReaL), "imagenet_a", "imagenet_r", "objectnet",
        "imagenet_vid_robust" or "ytbb_robust".
      restrict: grouped spaces only (see the class docstring).
    """
    n = class_lists.NUM_IMAGENET_CLASSES
    if name == "imagenet":
      return cls(name, "identity", n)
    if name in ("imagenet_a", "imagenet_r"):
      return cls(name, "subset", n, classes=class_lists.subset_classes(name))
    if name == "objectnet":
      return cls(name, "grouped", n, groups=class_lists.objectnet_groups(),
                 num_classes=class_lists.num_objectnet_classes(), restrict=restrict)
    if name in class_lists.VIDEO_SETS:
      return cls(name, "grouped", n, groups=class_lists.video_groups(name),
                 num_classes=len(class_lists.video_class_names(name)), restrict=restrict)
    raise ValueError(f"No label space for {name!r}; known: imagenet, imagenet_a, imagenet_r, objectnet, "
                     f"{', '.join(class_lists.VIDEO_SETS)}.")

  # -- Mapping ----------------------------------------------------------------------------------------------
  def _check(self, logits) -> tf.Tensor:
    logits = tf.convert_to_tensor(logits)
    if not logits.dtype.is_floating:
      logits = tf.cast(logits, tf.float32)
    width = logits.shape[-1]
    if width is not None and width != self.num_model_classes:
      raise ValueError(
          f"{self.name}: the label space expects {self.num_model_classes}-way logits (an ImageNet-1k head for "
          f"the ImageNet variants), got {width}. Evaluate a model whose head matches, e.g. a checkpoint "
          "fine-tuned on ImageNet-1k, or use the identity space of your dataset.")
    return logits

  def dataset_logits(self, logits) -> tf.Tensor:
    """(batch, num_classes) logits in the dataset's class order (`column_labels` names each column)."""
    logits = self._check(logits)
    if self.kind == "identity":
      return logits
    if self.kind == "subset":
      return tf.gather(logits, self.classes, axis=-1)
    pad = tf.fill(tf.concat([tf.shape(logits)[:-1], [1]], 0), tf.constant(-np.inf, logits.dtype))
    extended = tf.concat([logits, pad], axis=-1)
    return tf.reduce_max(tf.gather(extended, self._member_table, axis=-1), axis=-1)

  def predict(self, logits, k: int = 1) -> tf.Tensor:
    """(batch, k) int64 top-k labels in the dataset's label space (ImageNet indices for a subset)."""
    if self.kind == "grouped" and not self.restrict:
      top = tf.math.top_k(self._check(logits), k=k).indices
      return tf.gather(tf.constant(self.model_to_group), top)
    top = tf.math.top_k(self.dataset_logits(logits), k=k).indices
    return tf.gather(tf.constant(self.column_labels), top)

  def to_columns(self, labels) -> tf.Tensor:
    """Dataset labels as column positions of `dataset_logits` (-1 for a label outside the space)."""
    labels = tf.cast(tf.convert_to_tensor(labels), tf.int64)
    if self.kind != "subset":
      inside = (labels >= 0) & (labels < self.num_classes)
      return tf.where(inside, labels, tf.constant(-1, tf.int64))
    lookup = np.full([self.num_model_classes], -1, np.int64)
    lookup[self.classes] = np.arange(len(self.classes))
    inside = (labels >= 0) & (labels < self.num_model_classes)
    return tf.where(inside, tf.gather(tf.constant(lookup), tf.clip_by_value(labels, 0, self.num_model_classes - 1)),
                    tf.constant(-1, tf.int64))

  def __repr__(self):
    return f"LabelSpace({self.name!r}, {self.kind}, {self.num_model_classes} -> {self.num_classes})"
