"""Ops on labels and dict keys."""

from __future__ import annotations

import tensorflow as tf

from model_garden.data.preprocess import register


@register("onehot")
def onehot(depth: int, key: str = "label", key_result: str = "labels", on: float = 1.0, off: float = 0.0,
           multi: bool = False):
  """One-hot encodes integer labels `key` into `key_result` (float32, size `depth`).

  With `multi=True` a vector of label ids becomes a multi-hot vector (for sigmoid cross-entropy).
  """
  def op(example):
    example = dict(example)
    labels = tf.cast(example[key], tf.int32)
    if multi:
      hot = tf.reduce_max(tf.one_hot(labels, depth, on, off), axis=0)
    else:
      hot = tf.one_hot(labels, depth, on, off)
    example[key_result] = hot
    return example
  return op


@register("keep")
def keep(*keys: str):
  """Keeps only `keys` (and the private `_`-prefixed bookkeeping keys)."""
  def op(example):
    missing = [k for k in keys if k not in example]
    if missing:
      raise KeyError(f"keep{tuple(keys)}: keys {missing} are not in the example; it has {sorted(example)}.")
    return {k: v for k, v in example.items() if k in keys or k.startswith("_")}
  return op


@register("drop")
def drop(*keys: str):
  """Removes `keys`."""
  def op(example):
    return {k: v for k, v in example.items() if k not in keys}
  return op


@register("copy")
def copy(inkey: str, outkey: str):
  """Copies `inkey` to `outkey`."""
  def op(example):
    example = dict(example)
    example[outkey] = example[inkey]
    return example
  return op
