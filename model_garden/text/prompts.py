"""Class names and prompt templates for zero-shot classification, and big_vision's text canonicalisation.

The data lives in `model_garden/data/text_assets/` (one entry per line). Named sets:

  class names: "imagenet" (CLIP's 1000 curated ImageNet names), "mg_shapes" / "mg_shapes_shape" (the 8
    shapes), "mg_shapes_colour" (the 10 colours); or "dataset_info:<feature>" for a tfds ClassLabel.
  templates: "clip_paper" (CLIP's 80 templates + the bare "{}", big_vision's default: 81), "clip_best"
    (7 + "{}"), "class_name_only" ("{}"), "mg_shapes_shape", "mg_shapes_colour".
"""

from __future__ import annotations

import functools
import os
import re
import string
from typing import List, Optional, Sequence, Union

from model_garden.registry import suggestion

ASSETS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "text_assets")

_CLASS_NAME_FILES = {
    "imagenet": "imagenet_clip_class_names.txt",
    "imagenet2012": "imagenet_clip_class_names.txt",
    "mg_shapes": "mg_shapes_shape_names.txt",
    "mg_shapes_shape": "mg_shapes_shape_names.txt",
    "mg_shapes_colour": "mg_shapes_colour_names.txt",
}
# name -> (file or None, add the bare "{}" template as big_vision's sets do)
_TEMPLATE_FILES = {
    "clip_paper": ("clip_paper_templates.txt", True),
    "clip_best": ("clip_best_templates.txt", True),
    "class_name_only": (None, True),
    "mg_shapes": ("mg_shapes_shape_templates.txt", False),
    "mg_shapes_shape": ("mg_shapes_shape_templates.txt", False),
    "mg_shapes_colour": ("mg_shapes_colour_templates.txt", False),
}
VOCAB_FILES = {
    "mg_shapes_sp": "mg_shapes_sentencepiece.model",
    "mg_shapes_wp": "mg_shapes_wordpiece.txt",
}


def asset_path(file_name: str) -> str:
  return os.path.join(ASSETS_DIR, file_name)


@functools.lru_cache(maxsize=None)
def _read_lines(file_name: str) -> tuple:
  with open(asset_path(file_name), encoding="utf-8") as f:
    return tuple(line.rstrip("\n") for line in f if line.strip())


def canonicalize(text: str, keep: Optional[str] = None) -> str:
  """big_vision's zero-shot text canonicalisation: `_` -> space, punctuation removed, lower-case,
  whitespace collapsed. `keep` is an exact string kept intact (e.g. "{}" in templates)."""
  text = text.replace("_", " ")
  drop = str.maketrans("", "", string.punctuation)
  if keep:
    text = keep.join(part.translate(drop) for part in text.split(keep))
  else:
    text = text.translate(drop)
  return re.sub(r"\s+", " ", text.lower()).strip()


def class_names(source: Union[str, Sequence[str]], *, dataset: Optional[str] = None,
                data_dir: Optional[str] = None, canonical: bool = True) -> List[str]:
  """Class names from a named set, a list, or "dataset_info:<feature>" of the tfds `dataset`."""
  if isinstance(source, str):
    if source.startswith("dataset_info:"):
      if not dataset:
        raise ValueError(f"class_names={source!r} needs the tfds dataset name (dataset=...).")
      from model_garden.data.pipeline import get_builder  # pylint: disable=g-import-not-at-top
      feature = source[len("dataset_info:"):]
      features = get_builder(dataset, data_dir=data_dir).info.features
      if feature not in features or not hasattr(features[feature], "names"):
        raise ValueError(f"{dataset} has no ClassLabel feature {feature!r}; features: {sorted(features)}.")
      names = list(features[feature].names)
    elif source in _CLASS_NAME_FILES:
      names = list(_read_lines(_CLASS_NAME_FILES[source]))
    else:
      raise ValueError(f"Unknown class-name set {source!r}. {suggestion(source, _CLASS_NAME_FILES)} Or pass "
                       "a list of names, or 'dataset_info:<feature>'.")
  else:
    names = [str(n) for n in source]
  if not names:
    raise ValueError("The class-name list is empty.")
  # big_vision keeps commas in class names (aliases are comma-separated there).
  return [canonicalize(n, keep=",") for n in names] if canonical else names


def templates(source: Union[str, Sequence[str]], *, canonical: bool = True) -> List[str]:
  """Prompt templates (each with one "{}") from a named set or a list."""
  if isinstance(source, str):
    if source not in _TEMPLATE_FILES:
      raise ValueError(f"Unknown template set {source!r}. {suggestion(source, _TEMPLATE_FILES)} Or pass a "
                       "list of strings with one '{}' each.")
    file_name, bare = _TEMPLATE_FILES[source]
    items = list(_read_lines(file_name)) if file_name else []
    if bare:
      items.append("{}")
  else:
    items = [str(t) for t in source]
  for t in items:
    if t.count("{}") != 1:
      raise ValueError(f"Template {t!r} must contain exactly one '{{}}' where the class name goes.")
  return [canonicalize(t, keep="{}") for t in items] if canonical else items


def vocab_path(name: str) -> str:
  """The path of a shipped vocabulary ("mg_shapes_sp", "mg_shapes_wp") or `name` itself (a file path)."""
  if name in VOCAB_FILES:
    return asset_path(VOCAB_FILES[name])
  return name
