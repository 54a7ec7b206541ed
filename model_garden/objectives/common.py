"""Pieces shared by objectives: stateless seeds, label conversions, masked means, accuracy, coupled L2.

Each is a pure function of tensors (and of an explicit seed), tested on its own against a hand or NumPy
computation.
"""

from __future__ import annotations

import re
import zlib
from typing import Iterable

import keras
import tensorflow as tf

from model_garden.objectives import randomness


# -- Randomness ---------------------------------------------------------------------------------------
def next_seed(seed_generator: keras.random.SeedGenerator, salt: str) -> tf.Tensor:
  """A fresh stateless seed ([2] int64, canonical: see `randomness`) from an objective's checkpointed generator,
  folded with `salt`.

  The generator's state is a variable of the objective, so a resumed run replays the same draws.
  """
  return randomness.fold_in(seed_generator.next(), zlib.crc32(salt.encode()))


# -- Labels and reductions ----------------------------------------------------------------------------
def class_indices(labels) -> tf.Tensor:
  """int32 class ids from integer labels or one-hot / soft label vectors (argmax)."""
  labels = tf.convert_to_tensor(labels)
  if labels.shape.rank == 2:
    return tf.argmax(labels, axis=-1, output_type=tf.int32)
  return tf.cast(labels, tf.int32)


def sparse_xent(labels, logits) -> tf.Tensor:
  """Per-example softmax cross-entropy; labels are int ids (negative ids are fine when masked out)."""
  logits = tf.cast(logits, tf.float32)
  safe = tf.maximum(tf.cast(labels, tf.int32), 0)
  return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)


def masked_mean(values, mask) -> tf.Tensor:
  """sum(mask * values) / max(sum(mask), 1): the mean over the selected examples, 0 if none."""
  mask = tf.cast(mask, tf.float32)
  values = tf.cast(values, tf.float32)
  return tf.reduce_sum(mask * values) / tf.maximum(tf.reduce_sum(mask), 1.0)


def accuracy(labels, logits, mask=None) -> tf.Tensor:
  hit = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(labels, tf.int32)), tf.float32)
  return tf.reduce_mean(hit) if mask is None else masked_mean(hit, mask)


def labelled_mask(batch, batch_size) -> tf.Tensor:
  """float32 [B]: `batch["labelled"]` (the semi-supervised data layout) or all ones if absent."""
  if "labelled" in batch:
    return tf.cast(tf.reshape(batch["labelled"], [-1]), tf.float32)
  return tf.ones([batch_size], tf.float32)


def l2_penalty(variables: Iterable, weight_decay: float, decay_regex: str) -> tf.Tensor:
  """`weight_decay / 2 * sum(w^2)` over variables whose path matches `decay_regex` (re.search).

  The coupled L2 of the original TF1 code (`tf.contrib.layers.l2_regularizer(scale)` = scale * l2_loss),
  added to the loss so it passes through momentum exactly as there.
  """
  if not weight_decay:
    return tf.constant(0.0)
  decayed = [v for v in variables if re.search(decay_regex, v.path)]
  if not decayed:
    return tf.constant(0.0)
  return 0.5 * weight_decay * tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in decayed])
