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
import collections.abc
import difflib
import inspect
import numbers
import types
import typing
from typing import Any, Callable, Dict, List, Mapping, Tuple, Union

# A spec as a string ("vit(variant='B/16')") or as a mapping ({"name": "vit", "variant": "B/16"}, e.g. an
# ml_collections.ConfigDict, whose fields override from the command line).
Spec = Union[str, Mapping[str, Any]]


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


def format_spec(name: str, args: tuple = (), kwargs: Mapping[str, Any] | None = None) -> str:
  """The spec string of a call: `format_spec("vit", (), {"variant": "B/16"})` -> `"vit(variant='B/16')"`.

  The inverse of `parse_spec` (values are written with `repr`, so `parse_spec(format_spec(...))` gives the
  same name, arguments and keywords back).
  """
  parts = [repr(a) for a in args] + [f"{k}={_plain(v)!r}" for k, v in (kwargs or {}).items()]
  return f"{name}({', '.join(parts)})" if parts else name


def _plain(value):
  """ConfigDict / FieldReference values as plain Python (so they format as literals)."""
  if hasattr(value, "to_dict"):
    return {k: _plain(v) for k, v in value.to_dict().items()}
  if hasattr(value, "get") and type(value).__name__ == "FieldReference":
    return value.get()
  if isinstance(value, list):
    return [_plain(v) for v in value]
  if isinstance(value, tuple):
    return tuple(_plain(v) for v in value)
  return value


def spec_call(spec: Spec) -> Tuple[str, tuple, Dict[str, Any]]:
  """(name, args, kwargs) of a spec string or of a spec mapping.

  A mapping names its factory under "name" and gives the keyword arguments beside it; its name may itself
  be a spec string whose arguments the mapping's keys override: {"name": "sgd(momentum=0.9)", "momentum":
  0.8} is `sgd(momentum=0.8)`.
  """
  if isinstance(spec, str):
    return parse_spec(spec)
  if not isinstance(spec, Mapping) and not hasattr(spec, "to_dict"):
    raise SpecError(f"A spec is a string such as \"vit(variant='B/16')\" or a mapping with a 'name' key, "
                    f"got {spec!r}.")
  items = _plain(spec) if hasattr(spec, "to_dict") else dict(spec)
  if not isinstance(items.get("name"), str) or not items["name"].strip():
    raise SpecError(f"A spec mapping needs a 'name' (the registered factory), got keys {sorted(items)}.")
  name, args, kwargs = parse_spec(items.pop("name"))
  kwargs.update({k: _plain(v) for k, v in items.items()})
  return name, args, kwargs


def spec_to_dict(spec: Spec) -> Dict[str, Any]:
  """A spec as a plain mapping {"name": ..., **keywords} (positional arguments are refused)."""
  name, args, kwargs = spec_call(spec)
  if args:
    raise SpecError(f"Spec {format_spec(name, args, kwargs)!r}: write its arguments as key=value so they have "
                    "names in a config.")
  return {"name": name, **kwargs}


def update_spec(spec: Spec, **changes) -> Spec:
  """`spec` with keyword arguments changed or added, in the form it came (string or dict)."""
  name, args, kwargs = spec_call(spec)
  kwargs.update(changes)
  if isinstance(spec, str):
    return format_spec(name, args, kwargs)
  return {"name": name, **kwargs}


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

  def keyword_names(self, name: str) -> List[str] | None:
    """The keyword arguments the factory `name` accepts, or None when it takes any (`**kwargs`)."""
    factory = self.lookup(name)
    try:
      params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
      return None
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
      return None
    return [n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]

  def check_arguments(self, name: str, args: tuple, kwargs: Dict[str, Any]) -> None:
    """Raises SpecError naming any argument the factory does not accept (with close matches), or a literal
    value whose type the factory's annotation (or, without one, its default) rules out."""
    factory = self.lookup(name)
    try:
      signature = inspect.signature(factory)
    except (TypeError, ValueError):
      return
    params = signature.parameters
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
      accepted = [n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
      for key in kwargs:
        if key not in accepted:
          raise SpecError(f"{self.kind} {name!r} has no argument {key!r}. {suggestion(key, accepted)}")
    try:
      bound = signature.bind(*args, **kwargs)
    except TypeError as e:
      raise SpecError(f"{self.kind} {name!r} called with ({format_spec('', args, kwargs)[1:-1]}): {e}. "
                      f"Signature: {name}{signature}.") from None
    hints = _type_hints(factory)
    for key, value in bound.arguments.items():
      param = params[key]
      if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
        continue
      expected = _type_mismatch(value, hints.get(key, param.annotation), param.default)
      if expected:
        hint = (f" Write {key}={value} without quotes." if isinstance(value, str) and _is_number(value) else "")
        raise SpecError(f"{self.kind} {name!r}: {key}={value!r} is {_article(type(value).__name__)}, but {key} "
                        f"takes {expected}.{hint}")

  def get(self, spec: Spec, **overrides) -> Any:
    """Parses `spec` (a string or a mapping with "name") and calls its factory; `overrides` are keyword
    arguments added to the spec's."""
    name, args, kwargs = spec_call(spec)
    kwargs = {**kwargs, **overrides}
    self.check_arguments(name, args, kwargs)
    return self._entries[name](*args, **kwargs)


# -- Argument types -------------------------------------------------------------------------------------------
# A spec's values are Python literals; those are checked against the factory's annotations (or, where a
# parameter has none, against the kind of its default: a number, a string, a bool, a sequence). Values of other
# types (networks passed as overrides, arrays) and annotations this does not understand are let through.

_LITERAL_TYPES = (type(None), bool, int, float, complex, str, bytes, tuple, list, dict, set, frozenset)


def _type_hints(factory) -> Dict[str, Any]:
  target = factory.__init__ if inspect.isclass(factory) else factory
  try:
    return typing.get_type_hints(target)
  except Exception:  # pylint: disable=broad-except  (an annotation naming what the module does not import)
    return {}


def _is_number(text: str) -> bool:
  try:
    float(text)
  except ValueError:
    return False
  return True


def _article(noun: str) -> str:
  return ("an " if noun[:1] in "aeiou" else "a ") + noun


def _type_mismatch(value, annotation, default) -> str | None:
  """A description of what the parameter takes, if the literal `value` cannot be one; else None."""
  if not isinstance(value, _LITERAL_TYPES) or value is default:
    return None
  if value is None and default is None:
    return None
  if isinstance(annotation, str):
    return None  # An annotation typing.get_type_hints could not resolve.
  if annotation is inspect.Parameter.empty:
    annotation = _kind_of_default(default)
    if annotation is None:
      return None
  if _matches(value, annotation) is False:
    return _describe_type(annotation)
  return None


def _kind_of_default(default):
  if isinstance(default, bool):
    return bool
  if isinstance(default, (int, float)):
    return float  # An int default does not make 0.5 wrong: any real number.
  if isinstance(default, str):
    return str
  if isinstance(default, (tuple, list)):
    return Union[tuple, list]
  return None


def _matches(value, annotation) -> bool | None:
  """True / False when `value` is / is not of `annotation`; None when that cannot be told."""
  if annotation in (Any, object, inspect.Parameter.empty):
    return True
  if annotation is None or annotation is type(None):
    return value is None
  origin = typing.get_origin(annotation)
  args = typing.get_args(annotation)
  if origin is Union or isinstance(annotation, types.UnionType):
    results = [_matches(value, member) for member in args]
    if any(r is True for r in results):
      return True
    return None if any(r is None for r in results) else False
  if origin is typing.Literal:
    return value in args
  if annotation is bool:
    return isinstance(value, bool)
  if annotation is int:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
  if annotation is float:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
  if annotation is str:
    return isinstance(value, str)
  container = origin or annotation
  if not isinstance(container, type):
    return None  # TypeVar, Callable[...], NewType, ...: not checked.
  if issubclass(container, tuple) or container in (collections.abc.Sequence, list, collections.abc.MutableSequence,
                                                    collections.abc.Iterable, collections.abc.Collection):
    if container in (collections.abc.Sequence, collections.abc.Iterable, collections.abc.Collection) and \
        isinstance(value, str):
      return True
    if not isinstance(value, (tuple, list)):
      return False
    if not args:
      return True
    if issubclass(container, tuple) and not (len(args) == 2 and args[1] is Ellipsis):
      if len(args) != len(value):
        return False
      results = [_matches(v, a) for v, a in zip(value, args)]
    else:
      results = [_matches(v, args[0]) for v in value]
    return False if any(r is False for r in results) else (None if any(r is None for r in results) else True)
  if container in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
    if not isinstance(value, dict):
      return False
    if len(args) != 2:
      return True
    results = [_matches(k, args[0]) for k in value] + [_matches(v, args[1]) for v in value.values()]
    return False if any(r is False for r in results) else (None if any(r is None for r in results) else True)
  if container in (set, frozenset, collections.abc.Set):
    return isinstance(value, (set, frozenset, list, tuple))
  if container is collections.abc.Callable:
    return callable(value)
  try:
    return isinstance(value, container)
  except TypeError:
    return None


def _describe_type(annotation) -> str:
  """"an int", "a number", "a Sequence of int", "an int or None", ... (for messages)."""
  name = _type_name(annotation)
  plain = {float: "a number", int: "an int", bool: "a bool (True or False)", str: "a string"}
  if annotation in plain:
    return plain[annotation]
  if name in ("None",) or name.startswith("one of "):
    return name
  if " or " in name and typing.get_args(annotation):
    return " or ".join(_describe_type(a) for a in typing.get_args(annotation))
  return _article(name)


def _type_name(annotation) -> str:
  if annotation is None or annotation is type(None):
    return "None"
  origin = typing.get_origin(annotation)
  args = typing.get_args(annotation)
  if origin is Union or isinstance(annotation, types.UnionType):
    return " or ".join(_type_name(a) for a in args)
  if origin is typing.Literal:
    return "one of " + ", ".join(repr(a) for a in args)
  if origin is not None:
    name = getattr(origin, "__name__", str(origin))
    if not args:
      return name
    if len(args) == 2 and args[1] is Ellipsis or origin is not tuple:
      return f"{name} of {_type_name(args[0])}"
    return f"{name} of ({', '.join(_type_name(a) for a in args)})"
  return getattr(annotation, "__name__", str(annotation))
