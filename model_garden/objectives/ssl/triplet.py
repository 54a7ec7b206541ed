"""Triplet losses of the Exemplar objectives: semi-hard (Schroff et al. 2015) and batch-hard (Hermans et al.)."""

from __future__ import annotations

import tensorflow as tf


def pairwise_squared_distances(embeddings) -> tf.Tensor:
  """||a - b||^2 for every pair, clipped at 0, with an exact zero diagonal."""
  embeddings = tf.cast(embeddings, tf.float32)
  sq = tf.reduce_sum(tf.square(embeddings), axis=-1)
  d = sq[:, None] + sq[None, :] - 2.0 * tf.matmul(embeddings, embeddings, transpose_b=True)
  d = tf.maximum(d, 0.0)
  return d * (1.0 - tf.eye(tf.shape(d)[0]))


def triplet_semihard_loss(labels, embeddings, margin: float = 1.0) -> tf.Tensor:
  """The semi-hard triplet loss of FaceNet (Schroff et al. 2015), as `tf.contrib.losses.metric_learning`.

  The loss the Exemplar recipe of "Revisiting Self-Supervised Visual Representation Learning" calls, with
  the same definition: squared Euclidean distances D; for every anchor a and positive p (same label,
  p != a) the negative is the closest one farther than the positive (min D[a, n] with D[a, n] > D[a, p]),
  or, when no negative is farther, the farthest negative (max D[a, n]); the loss is the mean over all
  (a, p) pairs of max(margin + D[a, p] - D[a, n], 0).

  Computed with a per-anchor sort and a search rather than contrib's [N*N, N] tile, so memory is O(N^2).

  Args:
    labels: int [N] identities.
    embeddings: float [N, D].
    margin: the margin (0.5 in the Exemplar recipe).

  Returns:
    The scalar loss.
  """
  labels = tf.reshape(labels, [-1])
  d = pairwise_squared_distances(embeddings)
  same = tf.equal(labels[:, None], labels[None, :])
  n = tf.shape(d)[0]
  positive = tf.logical_and(same, tf.logical_not(tf.eye(n, dtype=tf.bool)))
  negative = tf.logical_not(same)
  inf = tf.fill(tf.shape(d), float("inf"))
  sorted_negatives = tf.sort(tf.where(negative, d, inf), axis=1)  # ascending, +inf past the negatives
  num_negatives = tf.reduce_sum(tf.cast(negative, tf.int32), axis=1)
  # Index of the first negative strictly farther than each positive candidate.
  first_farther = tf.searchsorted(sorted_negatives, d, side="right")
  outside = tf.gather(sorted_negatives, tf.minimum(first_farther, n - 1), batch_dims=1)
  farthest = tf.gather(sorted_negatives, tf.maximum(num_negatives - 1, 0)[:, None], batch_dims=1)
  chosen = tf.where(first_farther < num_negatives[:, None], outside, farthest)
  per_pair = tf.maximum(margin + d - chosen, 0.0)
  positive = tf.cast(positive, tf.float32)
  return tf.reduce_sum(per_pair * positive) / tf.maximum(tf.reduce_sum(positive), 1.0)


def batch_hard_soft_margin(embeddings, labels, groups=None) -> tf.Tensor:
  """Per-anchor batch-hard soft-margin triplet loss (Hermans et al. 2017), S4L-Exemplar's loss.

  softplus(max_p ||a - p|| - min_n ||a - n||) with Euclidean distances (sqrt of max(d^2, 1e-12), as
  google-research/s4l `batch_hard`'s stable norm), hardest positive and hardest negative, margin 0.

  Args:
    embeddings: float [N, D] (S4L L2-normalises them first).
    labels: int [N] identities.
    groups: optional int [N]; negatives are then restricted to the anchor's group (S4L computes the loss
      separately on the labelled and the unlabelled branch).

  Returns:
    float [N], the loss of each anchor.
  """
  dist = tf.sqrt(tf.maximum(pairwise_squared_distances(embeddings), 1e-12))
  labels = tf.reshape(labels, [-1])
  same = tf.equal(labels[:, None], labels[None, :])
  n = tf.shape(dist)[0]
  positive = tf.logical_and(same, tf.logical_not(tf.eye(n, dtype=tf.bool)))
  negative = tf.logical_not(same)
  if groups is not None:
    groups = tf.reshape(groups, [-1])
    negative = tf.logical_and(negative, tf.equal(groups[:, None], groups[None, :]))
  inf = tf.fill(tf.shape(dist), float("inf"))
  hardest_positive = tf.reduce_max(tf.where(positive, dist, -inf), axis=1)
  hardest_negative = tf.reduce_min(tf.where(negative, dist, inf), axis=1)
  return tf.nn.softplus(hardest_positive - hardest_negative)
