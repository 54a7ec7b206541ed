"""Jigsaw puzzles: which of a fixed set of permutations shuffled the 3x3 patches (Noroozi & Favaro 2016)."""

from __future__ import annotations

import functools
import itertools

import keras
import numpy as np
import tensorflow as tf

from model_garden.objectives.objective import register
from model_garden.objectives import common, randomness
from model_garden.objectives.ssl.patch_task import PatchTask


@functools.lru_cache(maxsize=8)
def _maximal_hamming_permutations(count: int, size: int) -> np.ndarray:
  everything = np.array(list(itertools.permutations(range(size))), dtype=np.int8)
  if count > len(everything):
    raise ValueError(f"Only {len(everything)} permutations of {size} cells exist; asked for {count}.")
  chosen = [0]  # the identity: the greedy search is then deterministic
  min_distance = np.sum(everything != everything[0], axis=1).astype(np.int32)
  total_distance = min_distance.astype(np.int64)
  for _ in range(count - 1):
    # Maximise the distance to the closest chosen permutation; break ties by the summed distance to all
    # chosen ones, then by the lowest index (argmax returns the first maximum).
    score = min_distance.astype(np.int64) * (size * count + 1) + total_distance
    nxt = int(np.argmax(score))
    chosen.append(nxt)
    distance = np.sum(everything != everything[nxt], axis=1)
    min_distance = np.minimum(min_distance, distance)
    total_distance += distance
  return everything[chosen].astype(np.int32)


def jigsaw_permutations(count: int = 100, size: int = 9) -> np.ndarray:
  """`count` permutations of `size` cells far apart in Hamming distance, generated deterministically.

  Noroozi & Favaro (2016) pick the puzzle permutations greedily for maximal Hamming distance and ship them
  as a file (`permutations_100_max.bin` in the original code). This generates an equivalent set instead:
  start from the identity, repeatedly add the permutation whose distance to the closest chosen one is
  largest (ties: largest summed distance, then the first in lexicographic order). The 100 permutations of 9
  cells have a minimum pairwise Hamming distance of 6 and a mean of 8.08 (every pair differs in at
  least 6 of the 9 positions; the first ones differ in all 9).

  Returns:
    int32 [count, size]; row j puts cell `perm[j, t]` at position t.
  """
  return _maximal_hamming_permutations(int(count), int(size)).copy()


@keras.saving.register_keras_serializable("model_garden")
class Jigsaw(PatchTask):
  """Classifies which permutation ordered the embeddings of an image's 3x3 patches.

  "Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles" (Noroozi & Favaro 2016) in
  the recipe of "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov, Zhai, Beyer 2019;
  google/revisiting-self-supervised `self_supervision/jigsaw.py`): see `PatchTask` for patches, trunk and
  head. The trunk embeds each patch once; the permutations act on the embeddings, so every image yields one
  example per permutation. In training, each batch draws `permutation_subset` (8) of the
  `num_permutations` (100) permutations, shared by all its images (the original's "method 2"); the label
  is the permutation's index. Evaluation uses all permutations.

  Args:
    network: the patch trunk, e.g. "resnet50_v1(width=2, root_stride=1, strides=(2, 2, 1), image_size=64,
      num_classes=1000)".
    num_permutations: size of the permutation set (`jigsaw_permutations`).
    permutation_subset: permutations drawn per training batch.
    grid, patch_size, grayscale_probability, standardize, hidden, dropout, embedding_dim, weight_decay,
      head_weight_decay, seed: see `PatchTask`.

  Example:
    >>> objective = model_garden.objectives.get("jigsaw(permutation_subset=8)", network=trunk)
  """

  def __init__(self, network, num_permutations: int = 100, permutation_subset: int = 8, grid: int = 3,
               **kwargs):
    self.num_permutations = int(num_permutations)
    self.permutation_subset = int(permutation_subset)
    if not 1 <= self.permutation_subset <= self.num_permutations:
      raise ValueError(f"permutation_subset must be in [1, num_permutations={num_permutations}], got "
                       f"{permutation_subset}.")
    super().__init__(network, num_task_classes=self.num_permutations, tuple_size=int(grid) ** 2, grid=grid,
                     **kwargs)
    self.permutations = jigsaw_permutations(self.num_permutations, self.grid ** 2)

  def tuples(self, training):
    perms = tf.constant(self.permutations)
    labels = tf.range(self.num_permutations, dtype=tf.int32)
    if training and self.permutation_subset < self.num_permutations:
      draw = randomness.uniform([self.num_permutations], common.next_seed(self.seed_generator, "perm"))
      labels = tf.argsort(draw)[:self.permutation_subset]
      perms = tf.gather(perms, labels)
    return perms, labels

  def get_config(self):
    config = super().get_config()
    config.update({"num_permutations": self.num_permutations, "permutation_subset": self.permutation_subset})
    return config


@register("jigsaw")
def jigsaw(*, network, num_permutations: int = 100, permutation_subset: int = 8, grid: int = 3,
           patch_size: int = 64, grayscale_probability: float = 0.66, standardize: bool = True,
           hidden: int = 4096, dropout: float = 0.5, embedding_dim: int = 1000, weight_decay: float = 1e-4,
           head_weight_decay: float = 5e-4, seed: int = 0) -> Jigsaw:
  """Spec factory: `jigsaw(num_permutations=100, permutation_subset=8, patch_size=64)`."""
  return Jigsaw(network, num_permutations=num_permutations, permutation_subset=permutation_subset, grid=grid,
                patch_size=patch_size, grayscale_probability=grayscale_probability, standardize=standardize,
                hidden=hidden, dropout=dropout, embedding_dim=embedding_dim, weight_decay=weight_decay,
                head_weight_decay=head_weight_decay, seed=seed)
