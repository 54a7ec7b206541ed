"""The error raised when a checkpoint's arrays do not fit a model."""

from __future__ import annotations

from typing import Dict, Iterable, Optional, Sequence, Tuple

_SHOWN = 25  # Keys listed per kind; a depth mismatch alone can involve hundreds.


def _listing(keys: Sequence[str]) -> str:
  shown = [f"    {k}" for k in keys[:_SHOWN]]
  if len(keys) > _SHOWN:
    shown.append(f"    ... and {len(keys) - _SHOWN} more")
  return "\n".join(shown)


class CheckpointMismatchError(ValueError):
  """A checkpoint does not fit the model it is loaded into.

  Attributes:
    missing: keys the model needs that the checkpoint lacks.
    unexpected: keys in the checkpoint that the model has no place for.
    mismatched: key -> (checkpoint shape, model shape) for arrays of the wrong shape.
    layout: the checkpoint layout that was detected (e.g. "big_vision").
    hints: suggested fixes (spec arguments, `dont_load` patterns).
  """

  def __init__(self, missing: Iterable[str] = (), unexpected: Iterable[str] = (),
               mismatched: Optional[Dict[str, Tuple[tuple, tuple]]] = None, *, source: str = "checkpoint",
               model: str = "model", layout: str = "", hints: Sequence[str] = ()):
    self.missing = sorted(missing)
    self.unexpected = sorted(unexpected)
    self.mismatched = dict(sorted((mismatched or {}).items()))
    self.layout = layout
    self.hints = list(hints)
    layout_text = f" (read as the {layout} layout)" if layout else ""
    lines = [f"{source}{layout_text} does not fit {model}:"]
    if self.missing:
      lines.append(f"  {len(self.missing)} missing key(s), needed by the model but not in the checkpoint:")
      lines.append(_listing(self.missing))
    if self.unexpected:
      lines.append(f"  {len(self.unexpected)} unexpected key(s), in the checkpoint but not in the model:")
      lines.append(_listing(self.unexpected))
    if self.mismatched:
      lines.append(f"  {len(self.mismatched)} mis-shaped key(s):")
      lines.append(_listing([f"{k}: checkpoint {tuple(got)}, model {tuple(want)}"
                             for k, (got, want) in self.mismatched.items()]))
    if self.hints:
      lines.append("  Hints:")
      lines.extend(f"    - {hint}" for hint in self.hints)
    super().__init__("\n".join(lines))
