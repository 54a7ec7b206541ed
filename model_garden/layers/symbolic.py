"""Shapes without FLOPs and layer walks, through Keras' public API only.

`output_spec(fn, *args)` runs `fn` on symbolic `keras.KerasTensor`s and returns the symbolic result (shapes and
dtypes, no computation): models use it to create their weights in `build` and objectives to read an endpoint's
width. It goes through the public `Layer.compute_output_spec`, so no `keras.src` import is needed.
`all_layers(model)` lists every layer nested in a model (`Model.layers` only lists the direct children).
"""

from __future__ import annotations

from typing import Callable, List

import keras


class _Traced(keras.layers.Layer):
  """A layer whose call is `fn`; only its (public) `compute_output_spec` is used."""

  def __init__(self, fn: Callable):
    super().__init__(name="traced")
    self.fn = fn
    self.error = None

  def call(self, *args, **kwargs):
    try:
      return self.fn(*args, **kwargs)
    except Exception as e:  # Kept to re-raise as it is: Keras wraps it in a longer message.
      self.error = e
      raise


def output_spec(fn: Callable, *args, **kwargs):
  """`fn(*args)` on symbolic inputs (`keras.KerasTensor`s): the output's shapes and dtypes, nothing computed.

  Example:
    >>> spec = output_spec(lambda x: network.intermediates(x)["pre_logits"], keras.KerasTensor((1, 32, 32, 3)))
    >>> spec.shape   # (1, 64)
  """
  traced = _Traced(fn)
  try:
    return traced.compute_output_spec(*args, **kwargs)
  except Exception:  # pylint: disable=broad-except
    if traced.error is not None:
      raise traced.error.with_traceback(traced.error.__traceback__) from None
    raise


def all_layers(model: keras.layers.Layer, include_self: bool = False) -> List[keras.layers.Layer]:
  """Every layer inside `model`, depth first, each once (attributes, lists, tuples and dicts of layers)."""
  seen, out = set(), []

  def children(layer):
    found = []
    for value in vars(layer).values():
      items = value if isinstance(value, (list, tuple)) else (
          value.values() if isinstance(value, dict) else (value,))
      found.extend(v for v in items if isinstance(v, keras.layers.Layer))
    return found

  def visit(layer):
    if id(layer) in seen:
      return
    seen.add(id(layer))
    out.append(layer)
    for child in children(layer):
      visit(child)

  visit(model)
  return out if include_self else out[1:]
