"""Checkpoint conversion machinery shared by all layouts: slots, the converter registry, loading.

A converter looks at a model and a flat checkpoint dict and returns a `Plan`: for every key the model
expects, a `Slot` saying which shape the checkpoint must hold there and how to store it. Comparing the
plan's keys with the checkpoint's gives the missing, unexpected and mis-shaped keys in one error; only
when everything fits is anything written, so a failed load never leaves a half-converted model.
A new layout (e.g. BiT ResNets) is one `@register_converter(ModelClass)` function.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from model_garden.convert.errors import CheckpointMismatchError

Shape = Tuple[int, ...]


@dataclasses.dataclass
class Slot:
  """Where one checkpoint array goes.

  Attributes:
    shape: the shape the checkpoint should hold (shown in errors).
    store: writes a fitting array into the model.
    fits: accepts other shapes too (e.g. any square position-embedding grid); default: `shape` only.
  """
  shape: Shape
  store: Callable[[np.ndarray], None]
  fits: Optional[Callable[[Shape], bool]] = None

  def accepts(self, shape: Shape) -> bool:
    return self.fits(tuple(shape)) if self.fits is not None else tuple(shape) == tuple(self.shape)


def variable_slot(variable, transform: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                  fits: Optional[Callable[[Shape], bool]] = None) -> Slot:
  """A slot storing the array (optionally transformed) into one Keras variable of the same shape."""

  def store(array):
    value = transform(array) if transform is not None else array
    variable.assign(np.asarray(value, dtype=variable.dtype).reshape(variable.shape))

  return Slot(tuple(variable.shape), store, fits)


def stacked_slot(variables: Sequence) -> Slot:
  """A slot for a scan-stacked array: leading axis i goes to `variables[i]` (big_vision `scan=True`)."""
  variables = list(variables)

  def store(array):
    for variable, value in zip(variables, array):
      variable.assign(np.asarray(value, dtype=variable.dtype))

  return Slot((len(variables),) + tuple(variables[0].shape), store)


@dataclasses.dataclass
class Plan:
  """A converter's answer: the detected layout, the slots and the (possibly fixed-up) parameters."""
  layout: str
  slots: Dict[str, Slot]
  params: Dict[str, np.ndarray]
  hints: Callable[[List[str], List[str], Dict[str, Tuple[Shape, Shape]]], List[str]] = lambda *_: []


Converter = Callable[[object, Dict[str, np.ndarray]], Plan]
_CONVERTERS: List[Tuple[type, Converter]] = []


def register_converter(model_class: type):
  """Decorator registering `fn(model, params) -> Plan` for models of `model_class`."""

  def decorator(fn: Converter) -> Converter:
    _CONVERTERS.append((model_class, fn))
    return fn

  return decorator


def converter_for(model) -> Converter:
  for model_class, fn in _CONVERTERS:
    if isinstance(model, model_class):
      return fn
  known = ", ".join(sorted(c.__name__ for c, _ in _CONVERTERS)) or "none"
  raise TypeError(f"No checkpoint converter for {type(model).__name__}; converters exist for: {known}.")


def _describe(model) -> str:
  config = model.get_config() if hasattr(model, "get_config") else {}
  args = [f"{k}={config[k]!r}" for k in ("variant", "num_classes", "pool", "rep_size", "image_size")
          if k in config]
  return f"{type(model).__name__}({', '.join(args)})"


def _skipped(patterns: Sequence[str], keys) -> set:
  compiled = [re.compile(p) for p in patterns]
  skipped = set()
  for pattern in compiled:
    hits = {k for k in keys if pattern.fullmatch(k)}
    if not hits:
      raise ValueError(f"dont_load pattern {pattern.pattern!r} matches no checkpoint or model key "
                       f"(patterns match whole keys, e.g. 'head/.*').")
    skipped |= hits
  return skipped


def load_params_into(model, params: Dict[str, np.ndarray], *, dont_load: Sequence[str] = (),
                     source: str = "checkpoint") -> str:
  """Loads a flat `{"a/b": array}` checkpoint dict into `model`; returns the detected layout's name.

  Args:
    model: a built (or buildable) model with a registered converter.
    params: the checkpoint's parameters, without `params/`-style prefixes (see `npz.select_params`).
    dont_load: regular expressions of keys (full match) to leave at the model's initialisation, in the
      checkpoint and in the model, e.g. `("head/.*",)` to fine-tune with a fresh head.
    source: the checkpoint's name, for error messages.

  Raises:
    CheckpointMismatchError: listing every missing, unexpected and mis-shaped key; nothing is written.
  """
  if not model.built:
    size = getattr(model, "image_size", None) or 224
    model.build((None, size, size, 3))
  plan = converter_for(model)(model, params)
  skipped = _skipped(dont_load, set(plan.slots) | set(plan.params))
  slots = {k: s for k, s in plan.slots.items() if k not in skipped}
  arrays = {k: v for k, v in plan.params.items() if k not in skipped}
  missing = [k for k in slots if k not in arrays]
  unexpected = [k for k in arrays if k not in slots]
  mismatched = {k: (tuple(arrays[k].shape), tuple(slot.shape)) for k, slot in slots.items()
                if k in arrays and not slot.accepts(arrays[k].shape)}
  if missing or unexpected or mismatched:
    raise CheckpointMismatchError(missing, unexpected, mismatched, source=source, model=_describe(model),
                                  layout=plan.layout, hints=plan.hints(missing, unexpected, mismatched))
  for key, slot in slots.items():
    slot.store(arrays[key])
  return plan.layout
