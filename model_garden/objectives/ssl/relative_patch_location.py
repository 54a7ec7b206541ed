"""Relative Patch Location: where is a neighbouring patch relative to the centre one (Doersch et al. 2015)."""

from __future__ import annotations

import keras
import tensorflow as tf

from model_garden.objectives.objective import register
from model_garden.objectives.ssl.patch_task import PatchTask


@keras.saving.register_keras_serializable("model_garden")
class RelativePatchLocation(PatchTask):
  """Classifies which of the 8 neighbours of the centre patch a patch is.

  "Unsupervised Visual Representation Learning by Context Prediction" (Doersch et al. 2015) in the recipe of
  "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov, Zhai, Beyer 2019;
  google/revisiting-self-supervised `self_supervision/relative_patch_location.py`): on the 3x3 grid of
  `PatchTask`, every image yields the 8 pairs (neighbour i, centre 4) for i in 0..8, i != 4, each the
  concatenation [embedding of neighbour, embedding of centre]; the label is the neighbour's rank among
  (0, 1, 2, 3, 5, 6, 7, 8), i.e. 0 = top-left, 3 = left, 4 = right, 7 = bottom-right.

  Args:
    network: the patch trunk (e.g. "resnet50_v1(width=2, root_stride=1, strides=(2, 2, 1), image_size=64,
      num_classes=1000)").
    grid must be 3 (the centre cell is 4); other arguments: see `PatchTask`.

  Example:
    >>> objective = model_garden.objectives.get("relative_patch_location()", network=trunk)
  """

  def __init__(self, network, **kwargs):
    if int(kwargs.pop("grid", 3)) != 3:
      raise ValueError("relative_patch_location is defined on a 3x3 grid (centre cell 4); grid must be 3.")
    super().__init__(network, num_task_classes=8, tuple_size=2, grid=3, **kwargs)

  def tuples(self, training):
    del training
    neighbours = tf.constant([i for i in range(9) if i != 4], tf.int32)
    pairs = tf.stack([neighbours, tf.fill([8], 4)], axis=1)
    return pairs, tf.range(8, dtype=tf.int32)

  def get_config(self):
    config = super().get_config()
    config.pop("grid", None)
    return config


@register("relative_patch_location")
def relative_patch_location(*, network, patch_size: int = 64, grayscale_probability: float = 0.66,
                            standardize: bool = True, hidden: int = 4096, dropout: float = 0.5,
                            embedding_dim: int = 1000, weight_decay: float = 1e-4,
                            head_weight_decay: float = 5e-4, seed: int = 0) -> RelativePatchLocation:
  """Spec factory: `relative_patch_location(patch_size=64)`."""
  return RelativePatchLocation(network, patch_size=patch_size, grayscale_probability=grayscale_probability,
                               standardize=standardize, hidden=hidden, dropout=dropout,
                               embedding_dim=embedding_dim, weight_decay=weight_decay,
                               head_weight_decay=head_weight_decay, seed=seed)
