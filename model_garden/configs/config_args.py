"""Parses the `:arg` of `--config=FILE.py:arg` ("runlocal,res=64") into a ConfigDict."""

from __future__ import annotations

import ast

import ml_collections

from model_garden.registry import suggestion


def parse_arg(arg: str | None, **defaults) -> ml_collections.ConfigDict:
  """`"runlocal,steps=100"` -> ConfigDict(runlocal=True, steps=100); only keys in `defaults` allowed.

  Values are Python literals (read with ast.literal_eval); a bare word is True; other text is a string.
  """
  result = ml_collections.ConfigDict(dict(defaults))
  for part in filter(None, (p.strip() for p in (arg or "").split(","))):
    key, _, value = part.partition("=")
    key = key.strip()
    if key not in defaults:
      raise KeyError(f"Unknown config argument {key!r}. {suggestion(key, defaults)}")
    if not _:
      parsed = True
    else:
      try:
        parsed = ast.literal_eval(value.strip())
      except (ValueError, SyntaxError):
        parsed = value.strip()
    result[key] = type(defaults[key])(parsed) if defaults[key] is not None and not isinstance(
        defaults[key], bool) else parsed
  return result
