"""`optimizer_state_bytes(opt)`: the memory an optimizer's state takes."""

from __future__ import annotations

import math

import keras


def optimizer_state_bytes(optimizer) -> int:
  """Bytes of all of `optimizer.variables` (slots, counters; a LossScaleOptimizer's and its inner's).

  The optimizer must be built. Used by tools/benchmark.py and to check that AdafactorBV's state is a
  fraction of Adam's.
  """
  total = 0
  for variable in optimizer.variables:
    itemsize = _itemsize(keras.backend.standardize_dtype(variable.dtype))
    total += math.prod(int(d) for d in variable.shape) * itemsize
  return total


def _itemsize(dtype: str) -> int:
  if dtype == "bool":
    return 1
  digits = "".join(c for c in dtype if c.isdigit())
  return int(digits) // 8 if digits else 4
