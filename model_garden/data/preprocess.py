"""Preprocessing strings: `"decode|inception_crop(224)|flip_lr|value_range(-1, 1)|onehot(10)"`.

As in big_vision, a pipeline is a `|`-separated list of op specs. Each op spec names a registered factory
(`PP_OPS`) whose call returns a function from an example dict to an example dict. Random ops are
stateless: each draws from the example's `_rng` seed (attached by the input pipeline from the global seed
and the example's position in the stream), so a resumed run sees exactly the augmentations an
uninterrupted one would have seen.
"""

from __future__ import annotations

import zlib
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import tensorflow as tf

from model_garden.registry import Registry, SpecError

PP_OPS = Registry("preprocessing op")
register = PP_OPS.register

RNG_KEY = "_rng"

Example = Dict[str, tf.Tensor]


class PreprocessConfigError(SpecError):
  """A preprocessing op that cannot apply to the data it is given (e.g. a crop larger than the images).

  Raised while the pipeline is built, from the static shapes of the data, so it is reported once with the
  op and the sizes instead of as a corrupt example deep in a tf.data trace.
  """


def split_pp(pp: str) -> List[str]:
  """Splits a pp string on top-level `|` (a `|` inside quotes or brackets stays)."""
  parts, depth, quote, current = [], 0, None, []
  for ch in pp:
    if quote:
      quote = None if ch == quote else quote
    elif ch in "'\"":
      quote = ch
    elif ch in "([{":
      depth += 1
    elif ch in ")]}":
      depth -= 1
    elif ch == "|" and depth == 0:
      parts.append("".join(current))
      current = []
      continue
    current.append(ch)
  parts.append("".join(current))
  return [p.strip() for p in parts if p.strip()]


def get_preprocess_fn(pp: str | None, static_shapes: Optional[Mapping[str, Sequence[Optional[int]]]] = None
                      ) -> Callable[[Example], Example]:
  """Builds one function applying every op of `pp` in order; an empty pp is the identity.

  Args:
    pp: the preprocessing string.
    static_shapes: {key: shape} the data is known to have once decoded (None for an unknown dimension),
      e.g. {"image": (32, 32, None)} for a tfds image feature of 32x32 images read still encoded. The
      first time `key` holds a non-string tensor, its shape is asserted (`tf.ensure_shape`), so later
      ops see the sizes while the pipeline is traced and one that cannot apply raises
      `PreprocessConfigError` then.

  Raises (when called, e.g. while tf.data traces it):
    PreprocessConfigError: naming the op spec, its position in `pp`, and what does not fit.
  """
  specs = split_pp(pp or "")
  ops = [PP_OPS.get(spec) for spec in specs]
  pending = dict(static_shapes or {})

  def preprocess(example: Example) -> Example:
    example = dict(example)
    waiting = dict(pending)
    _assert_static_shapes(example, waiting)
    for index, (spec, op) in enumerate(zip(specs, ops)):
      try:
        example = op(example)
      except PreprocessConfigError as e:
        raise PreprocessConfigError(
            f"Preprocessing op {spec!r} (op {index + 1} of {pp!r}) cannot apply to this data: {e}") from None
      _assert_static_shapes(example, waiting)
    return example

  return preprocess


def _assert_static_shapes(example: Example, waiting: Dict[str, Sequence[Optional[int]]]) -> None:
  """Gives each waiting key its known shape the first time it holds decoded (non-string) values."""
  for key in [k for k in waiting if isinstance(example.get(k), tf.Tensor) and example[k].dtype != tf.string]:
    example[key] = tf.ensure_shape(example[key], [d if d is None else int(d) for d in waiting.pop(key)])


def op_rng(example: Example, salt: str) -> tf.Tensor:
  """A stateless seed for one op on one example: the example's `_rng` folded with the op's name."""
  if RNG_KEY not in example:
    raise SpecError(
        f"The random preprocessing op '{salt}' needs a per-example seed under '{RNG_KEY}'. Build the dataset "
        "with model_garden.data.get_dataset (which attaches one), or add example['_rng'] = a [2] int64 seed.")
  # crc32, not hash(): str hashes change between processes and a resumed run must draw the same numbers.
  salt_int = tf.constant(zlib.crc32(salt.encode()), tf.int64)
  return tf.random.experimental.stateless_fold_in(tf.cast(example[RNG_KEY], tf.int64), salt_int)
