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


@register("concat_onehot")
def concat_onehot(depths, keys, key_result: str = "labels", on: float = 1.0, off: float = 0.0):
  """One-hot encodes each integer label of `keys` with its depth and concatenates them into `key_result`.

  A multi-label target over the union of several label spaces, for sigmoid cross-entropy: e.g. mg_shapes'
  shape and colour, `concat_onehot((8, 10), ('label', 'colour'))`, give 18 outputs, two of them on.
  """
  depths, keys = tuple(depths), tuple(keys)
  if not keys or len(depths) != len(keys) or any(isinstance(d, bool) or not isinstance(d, int) or d < 1
                                                 for d in depths):
    raise ValueError(f"concat_onehot needs one positive int depth per key, e.g. concat_onehot((8, 10), "
                     f"('label', 'colour')); got depths={depths!r}, keys={keys!r}.")

  def op(example):
    missing = [k for k in keys if k not in example]
    if missing:
      raise KeyError(f"concat_onehot: keys {missing} are not in the example; it has {sorted(example)}.")
    example = dict(example)
    example[key_result] = tf.concat(
        [tf.one_hot(tf.cast(example[k], tf.int32), d, on, off) for k, d in zip(keys, depths)], axis=-1)
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
