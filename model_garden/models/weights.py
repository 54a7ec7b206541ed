"""Initialise a network from another saved one, by variable path, with a clear mismatch report."""

from __future__ import annotations

import re
from typing import Dict, Optional

import keras

from model_garden.keras_archive import check_keras_archive


class WeightsMismatchError(ValueError):
  """The saved weights do not fit the model: lists missing, unexpected and mis-shaped variables."""


def _relative_path(variable) -> str:
  # Drop the top-level model name: "res_net_small_3/stem/kernel" and "res_net_small/stem/kernel" match.
  return variable.path.split("/", 1)[-1]


def variables_by_path(model: keras.Model) -> Dict[str, keras.Variable]:
  return {_relative_path(v): v for v in model.weights}


def load_weights(model: keras.Model, source, skip: Optional[str] = None, strict: bool = True) -> Dict:
  """Copies weights from `source` (a model or a `.keras` path) into `model`, matching variable paths.

  Args:
    model: the built target network.
    source: a keras.Model or the path of a `.keras` file saved by model_garden.
    skip: regex (re.fullmatch on the relative path) of target variables to leave as initialised, e.g.
      "head/.*" to re-initialise the head on transfer (big_vision's `dont_load`); source variables it
      matches are ignored too (a classifier's head when the target has none).
    strict: raise WeightsMismatchError when any variable is missing, unexpected or mis-shaped.

  Returns:
    {"loaded": [...], "skipped": [...]} relative variable paths.
  """
  if isinstance(source, str):
    check_keras_archive(source)  # one clear error for a missing or truncated file
    source_model = keras.saving.load_model(source, compile=False)
  else:
    source_model = source
  target = variables_by_path(model)
  src = variables_by_path(source_model)
  skipped = [p for p in target if skip and re.fullmatch(skip, p)]
  wanted = {p: v for p, v in target.items() if p not in skipped}
  missing = sorted(p for p in wanted if p not in src)
  # The source's own variables that `skip` matches (a classifier's head) are not wanted either.
  unexpected = sorted(p for p in src if p not in target and not (skip and re.fullmatch(skip, p)))
  misshaped = sorted(f"{p}: saved {tuple(src[p].shape)} vs model {tuple(v.shape)}"
                     for p, v in wanted.items() if p in src and tuple(src[p].shape) != tuple(v.shape))
  if strict and (missing or unexpected or misshaped):
    lines = [f"Weights from {source if isinstance(source, str) else source_model.name} do not fit "
             f"{model.name}."]
    for title, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
      if items:
        lines.append(f"  {title} ({len(items)}): " + ", ".join(items[:20]) + (" ..." if len(items) > 20 else ""))
    lines.append("  Check the model spec matches the one that was saved, or pass skip='regex' for the "
                 "variables to re-initialise (e.g. skip='head/.*').")
    raise WeightsMismatchError("\n".join(lines))
  loaded = []
  for path, variable in wanted.items():
    if path in src and tuple(src[path].shape) == tuple(variable.shape):
      variable.assign(src[path])
      loaded.append(path)
  return {"loaded": loaded, "skipped": skipped}
