"""Regex parameter groups: which variables are frozen, and their lr and weight-decay multipliers.

This is big_vision's convention (`config.schedule`/`lr_mults`/`wd_mults`, matched with `re.fullmatch`, first
match wins) applied to Keras variable paths.

Path convention. A Keras 3 variable's `.path` starts with the outermost model's name, e.g.
`vi_t/encoder_block_0/attention/query/kernel`, while big_vision's parameter names do not
(`Transformer/encoderblock_0/...`, LiT's `img/...`). A pattern therefore matches a variable when it
fully matches either its whole path or its path without the first component
(`encoder_block_0/attention/query/kernel`). So `"img/.*"`, `".*head/kernel"` and `"lit/img/.*"` all do
what they say. Variables without `.path` (raw `tf.Variable`s) use their `.name` without the `:0`.
"""

from __future__ import annotations

import re
from typing import Iterable, List, Sequence, Tuple

from model_garden.registry import SpecError

# big_vision's default: decay only the kernels (not biases, norms, embeddings, tokens).
DEFAULT_WD_MULTS = ((".*/kernel", 1.0),)


def variable_path(variable) -> str:
  """The name patterns are matched against: the Keras `.path`, else the TF name without `:0`."""
  path = getattr(variable, "path", None)
  if not path:
    path = getattr(variable, "name", "")
    path = path[:-2] if path.endswith(":0") else path
  return path


def _candidates(path: str) -> Tuple[str, ...]:
  head, sep, rest = path.partition("/")
  return (path, rest) if sep else (path,)


class ParamGroups:
  """Assigns each variable its frozen flag, learning-rate multiplier and weight-decay multiplier.

  Follows big_vision (`big_vision/optax.py::make`, Zhai et al. 2021 "Scaling Vision Transformers"):
  patterns are matched with `re.fullmatch` (see the module docstring for the path convention) and the first
  matching pair wins.

  Args:
    frozen: a regex or a list of regexes; matching variables are not trained and get no optimizer state
      (LiT: `"img/.*"`).
    lr_mults: `[(regex, multiplier), ...]`; the optimizer's update (not the weight decay) is multiplied by
      the first match's multiplier; unmatched variables get 1. Multipliers must be > 0 (use `frozen`).
    wd_mults: `[(regex, multiplier), ...]`; the decoupled weight decay is multiplied by the first match's
      multiplier; unmatched variables get no decay. Default `[(".*/kernel", 1.0)]`; the ViT-g recipe uses
      `[(".*head/kernel", 100.0), (".*/kernel", 1.0)]`.

  Example:
    >>> groups = ParamGroups(frozen="img/.*", wd_mults=[(".*head/kernel", 100.0), (".*/kernel", 1.0)])
    >>> groups.wd_mult("lit/txt/head/kernel"), groups.is_frozen("lit/img/embedding/kernel")
    (100.0, True)
  """

  def __init__(self, frozen=None, lr_mults=None, wd_mults=DEFAULT_WD_MULTS):
    self.frozen = _as_patterns(frozen, "frozen")
    self.lr_mults = _as_pairs(lr_mults, "lr_mults")
    self.wd_mults = _as_pairs(wd_mults, "wd_mults")
    for pattern, mult in self.lr_mults:
      if mult <= 0:
        raise SpecError(f"lr_mults: multiplier {mult} for {pattern!r} must be > 0; freeze variables with "
                        f"`frozen={pattern!r}` instead.")
    for pattern, mult in self.wd_mults:
      if mult < 0:
        raise SpecError(f"wd_mults: multiplier {mult} for {pattern!r} must be >= 0.")
    self._compiled = {p: re.compile(p) for p in self.frozen + [p for p, _ in self.lr_mults + self.wd_mults]}

  def matches(self, pattern: str, variable) -> bool:
    path = variable if isinstance(variable, str) else variable_path(variable)
    return any(self._compiled[pattern].fullmatch(c) for c in _candidates(path))

  def is_frozen(self, variable) -> bool:
    return any(self.matches(p, variable) for p in self.frozen)

  def lr_mult(self, variable) -> float:
    return self._first(self.lr_mults, variable, 1.0)

  def wd_mult(self, variable) -> float:
    return self._first(self.wd_mults, variable, 0.0)

  def unmatched(self, patterns: Iterable[str], variables: Sequence) -> List[str]:
    """The patterns among `patterns` that match none of `variables` (usually a typo or a path mismatch)."""
    return [p for p in patterns if not any(self.matches(p, v) for v in variables)]

  def get_config(self) -> dict:
    return {"frozen": list(self.frozen), "lr_mults": [list(pm) for pm in self.lr_mults],
            "wd_mults": [list(pm) for pm in self.wd_mults]}

  def _first(self, pairs, variable, default: float) -> float:
    for pattern, mult in pairs:
      if self.matches(pattern, variable):
        return mult
    return default


def _as_patterns(value, what: str) -> List[str]:
  if value is None:
    return []
  patterns = [value] if isinstance(value, str) else list(value)
  for p in patterns:
    _check_pattern(p, what)
  return patterns


def _as_pairs(value, what: str) -> List[Tuple[str, float]]:
  if value is None:
    return []
  items = list(value.items()) if hasattr(value, "items") else list(value)
  pairs = []
  for item in items:
    if isinstance(item, str) or len(item) != 2:
      raise SpecError(f"{what} must be a list of (regex, multiplier) pairs, e.g. [('.*head/kernel', 100.0), "
                      f"('.*/kernel', 1.0)]; got the item {item!r}.")
    pattern, mult = item
    _check_pattern(pattern, what)
    pairs.append((pattern, float(mult)))
  return pairs


def _check_pattern(pattern, what: str) -> None:
  if not isinstance(pattern, str):
    raise SpecError(f"{what}: {pattern!r} is not a regex string.")
  if pattern.startswith("/"):
    # Like big_vision: paths never start with a slash, so such a pattern can never match.
    raise SpecError(f"{what}: pattern {pattern!r} starts with '/', but variable paths never do.")
  try:
    re.compile(pattern)
  except re.error as e:
    raise SpecError(f"{what}: {pattern!r} is not a valid regex ({e}).") from None
