"""String specs and the registries they name.

One syntax names every pluggable thing in model_garden: models, preprocessing ops, objectives, datasets
and evaluators. A spec is a name, optionally called with literal arguments::

    "vit(variant='B/16', num_classes=1000)"
    "inception_crop(224)"
    "mg_shapes"

Specs are parsed with :mod:`ast` and arguments are read with :func:`ast.literal_eval`: nothing in a spec is
ever executed. An unknown name or keyword raises :class:`SpecError` listing the close matches.
"""

from __future__ import annotations

import ast
import difflib
import inspect
from typing import Any, Callable, Dict, List, Tuple


class SpecError(ValueError):
  """A spec string that does not parse, or names something that is not registered."""


def close_matches(word: str, candidates, n: int = 3) -> List[str]:
  """The registered names nearest to `word`, best first (for 'did you mean' messages)."""
  candidates = sorted(candidates)
  matches = difflib.get_close_matches(word, candidates, n=n, cutoff=0.5)
  prefix = [c for c in candidates if c.startswith(word[:3]) and c not in matches] if word else []
  return (matches + prefix)[:n]


def suggestion(word: str, candidates) -> str:
  matches = close_matches(word, candidates)
  if matches:
    return "Did you mean " + " or ".join(repr(m) for m in matches) + "?"
  return "Known: " + ", ".join(sorted(candidates)) + "."


def parse_spec(spec: str) -> Tuple[str, tuple, Dict[str, Any]]:
  """Splits `"name(a, k=v)"` into `("name", (a,), {"k": v})` without evaluating code."""
  if not isinstance(spec, str) or not spec.strip():
    raise SpecError(f"A spec must be a non-empty string such as \"vit(variant='B/16')\", got {spec!r}.")
  text = spec.strip()
  try:
    node = ast.parse(text, mode="eval").body
  except SyntaxError as e:
    raise SpecError(f"Spec {spec!r} does not parse ({e.msg}). Expected name(key=value, ...) with "
                    "Python literals as values, e.g. \"vit(variant='B/16', num_classes=10)\".") from None
  if isinstance(node, (ast.Name, ast.Attribute)):
    return ast.unparse(node), (), {}
  if not isinstance(node, ast.Call) or not isinstance(node.func, (ast.Name, ast.Attribute)):
    raise SpecError(f"Spec {spec!r} must be a name or a call like name(key=value).")
  name = ast.unparse(node.func)

  def literal(value_node, what):
    try:
      return ast.literal_eval(value_node)
    except ValueError:
      raise SpecError(f"In spec {spec!r}, {what} `{ast.unparse(value_node)}` is not a Python literal "
                      "(numbers, strings, tuples, lists, dicts, True/False/None). Quote strings: "
                      f"'{ast.unparse(value_node)}'.") from None

  args = tuple(literal(a, "argument") for a in node.args)
  kwargs = {}
  for kw in node.keywords:
    if kw.arg is None:
      raise SpecError(f"Spec {spec!r}: `**` expansion is not allowed; write key=value pairs.")
    kwargs[kw.arg] = literal(kw.value, f"the value of {kw.arg}")
  return name, args, kwargs


class Registry:
  """A named collection of factories that specs can call.

  Example:
    >>> ops = Registry("preprocessing op")
    >>> @ops.register("scale")
    ... def scale(factor=2.0):
    ...   return lambda x: x * factor
    >>> ops.get("scale(factor=3.0)")(2.0)
    6.0
  """

  def __init__(self, kind: str):
    self.kind = kind
    self._entries: Dict[str, Callable[..., Any]] = {}

  def register(self, name: str | None = None, *, replace: bool = False):
    """Decorator registering a factory (function or class) under `name` (default: its __name__)."""

    def decorator(factory):
      key = name or factory.__name__
      if key in self._entries and not replace and self._entries[key] is not factory:
        raise ValueError(f"{self.kind} {key!r} is already registered to {self._entries[key]!r}.")
      self._entries[key] = factory
      return factory

    return decorator

  def names(self) -> List[str]:
    return sorted(self._entries)

  def __contains__(self, name: str) -> bool:
    return name in self._entries

  def lookup(self, name: str) -> Callable[..., Any]:
    """The factory registered under `name`, or a SpecError listing the close matches."""
    if name not in self._entries:
      raise SpecError(f"Unknown {self.kind} {name!r}. {suggestion(name, self._entries)}")
    return self._entries[name]

  def check_arguments(self, name: str, args: tuple, kwargs: Dict[str, Any]) -> None:
    """Raises SpecError naming any argument the factory does not accept, with close matches."""
    factory = self.lookup(name)
    try:
      signature = inspect.signature(factory)
    except (TypeError, ValueError):
      return
    params = signature.parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
      return
    accepted = [n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for key in kwargs:
      if key not in accepted:
        raise SpecError(f"{self.kind} {name!r} has no argument {key!r}. {suggestion(key, accepted)}")
    try:
      signature.bind(*args, **kwargs)
    except TypeError as e:
      raise SpecError(f"{self.kind} {name!r} called with ({_describe(args, kwargs)}): {e}. "
                      f"Signature: {name}{signature}.") from None

  def get(self, spec: str, **overrides) -> Any:
    """Parses `spec` and calls its factory; `overrides` are keyword arguments added to the spec's."""
    name, args, kwargs = parse_spec(spec)
    kwargs = {**kwargs, **overrides}
    self.check_arguments(name, args, kwargs)
    return self._entries[name](*args, **kwargs)


def _describe(args, kwargs) -> str:
  parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
  return ", ".join(parts)
