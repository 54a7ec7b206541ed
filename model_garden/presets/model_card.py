"""A preset's model card: `metadata.json` (machine-readable) and `README.md` rendered from it.

The card states where the weights come from (paper, original file and its location), what they were trained
on, under which licence the original weights were published, the accuracy to expect and how it was measured,
and the preprocessing the network needs. Fields the sources do not give stay null, with a note saying so;
`validate_metadata` lists what a card still lacks before it is published.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping, Optional

METADATA_FILE = "metadata.json"
README_FILE = "README.md"

# Keys a caller may give in `metadata=`; everything else in a card is computed from the model.
USER_KEYS = ("name", "title", "description", "paper", "training_data", "licence", "accuracy", "accuracy_note",
             "params_published", "original_files", "label_space", "notes", "catalogue_name", "converted_with")


def _licence(value) -> Optional[Dict[str, Any]]:
  if value is None:
    return None
  if isinstance(value, str):
    return {"name": value}
  if isinstance(value, Mapping) and value.get("name"):
    return dict(value)
  raise ValueError(f"metadata['licence'] must be a licence name such as 'Apache-2.0' or a dict with 'name', got "
                   f"{value!r}.")


def make_metadata(metadata: Optional[Mapping[str, Any]], *, name: str, spec: str, task: str, model_class: str,
                  params: int, preprocessing: Mapping[str, Any], num_classes: Optional[int],
                  model_garden_version: str) -> Dict[str, Any]:
  """The full card: the caller's `metadata` (paper, data, licence, accuracy, ...) plus the computed facts.

  Args:
    metadata: what the caller knows, keys from `USER_KEYS` (unknown keys raise, so typos do not vanish):
      `paper` ({"title", "url"}), `training_data` (str), `licence` ("Apache-2.0" or {"name", "source",
      "note", "kaggle_license_name"}), `accuracy` ({"value", "metric", "dataset", "how_measured", "source"} or
      None with an `accuracy_note`), `original_files` (list of {"file_name", "gs", "url", "sha256"}), `notes`.
    name: the preset's name (default of `metadata["name"]`).
    spec, task, model_class, params, preprocessing, num_classes, model_garden_version: computed by
      `save_preset`.
  """
  metadata = dict(metadata or {})
  unknown = sorted(set(metadata) - set(USER_KEYS))
  if unknown:
    raise ValueError(f"Unknown model-card keys {unknown}; the card takes {', '.join(USER_KEYS)}.")
  card = {
      "name": metadata.get("name") or name,
      "title": metadata.get("title") or metadata.get("name") or name,
      "description": metadata.get("description"),
      "task": task,
      "spec": spec,
      "architecture": {"class": model_class, "params": int(params)},
      "num_classes": num_classes,
      "label_space": metadata.get("label_space"),
      "preprocessing": copy.deepcopy(dict(preprocessing)),
      "paper": metadata.get("paper"),
      "training_data": metadata.get("training_data"),
      "licence": _licence(metadata.get("licence")),
      "accuracy": metadata.get("accuracy"),
      "accuracy_note": metadata.get("accuracy_note"),
      "params_published": metadata.get("params_published"),
      "original_files": list(metadata.get("original_files") or []),
      "catalogue_name": metadata.get("catalogue_name"),
      "converted_with": metadata.get("converted_with"),
      "notes": list(metadata.get("notes") or []),
      "model_garden_version": model_garden_version,
  }
  return card


def validate_metadata(card: Mapping[str, Any]) -> List[str]:
  """What the card lacks for publishing, as sentences naming the key to fill (empty when complete)."""
  problems = []
  if not card.get("licence") or not card["licence"].get("name"):
    problems.append("licence: name the licence of the original weights (metadata={'licence': 'Apache-2.0'}).")
  if not card.get("training_data"):
    problems.append("training_data: say what the weights were trained on.")
  if not card.get("paper") and not card.get("original_files"):
    problems.append("paper / original_files: give the source paper or the original checkpoint files.")
  accuracy = card.get("accuracy")
  if accuracy is None:
    if not card.get("accuracy_note"):
      problems.append("accuracy: give {'value', 'metric', 'dataset', 'how_measured', 'source'}, or None with an "
                      "accuracy_note saying why there is none.")
  else:
    for key in ("value", "dataset", "how_measured"):
      if accuracy.get(key) in (None, ""):
        problems.append(f"accuracy.{key}: missing (how the expected accuracy was measured must be stated).")
  return problems


def _fmt(value) -> str:
  return "unknown" if value in (None, "", []) else str(value)


def render_readme(card: Mapping[str, Any]) -> str:
  """The README.md of a preset: what it is, how to load and serve it, and where its numbers come from."""
  name = card["name"]
  pre = card.get("preprocessing") or {}
  lines = [f"# {card.get('title') or name}", ""]
  if card.get("description"):
    lines += [card["description"], ""]
  serving = card.get("saved_model")
  lines += [
      f"A model_garden preset (`{name}`): Keras 3 weights, the model config, its preprocessing and a model card"
      + (", and a TensorFlow SavedModel for serving." if serving else " (no SavedModel was exported)."), "",
      "| | |", "|---|---|",
      f"| model spec | `{card.get('spec')}` |",
      f"| architecture | {card['architecture']['class']}, {card['architecture']['params']:,} parameters |",
      f"| task | {card.get('task')} |",
      f"| classes | {_fmt(card.get('num_classes'))}"
      + (f" ({card['label_space']})" if card.get("label_space") else "") + " |",
      f"| input | {pre.get('image_size')}x{pre.get('image_size')} RGB, values in [-1, 1] "
      f"(resize: {pre.get('resize_method')}, no antialias, then x / 127.5 - 1) |",
  ]
  tokenizer = pre.get("tokenizer")
  if tokenizer:
    lines.append(f"| text | {tokenizer.get('kind')} tokenizer, {tokenizer.get('max_len')} tokens "
                 f"(`{tokenizer.get('file')}`) |")
  lines += ["", "## Use", "", "```python", "import model_garden",
            f'model = model_garden.from_preset("{name}")   # or the path of this directory / .tar.gz', "```", ""]
  if serving:
    lines += [f"Serving without model_garden: the SavedModel in `{serving}/` decodes and preprocesses images "
              "itself.", "", "```python", "import keras",
              f'layer = keras.layers.TFSMLayer("{serving}", call_endpoint="serving_default")', "```", ""]
  if serving and card.get("task") == "image_text":
    lines += ["The text signatures tokenize in the graph: `import tensorflow_text` before loading the SavedModel.",
              ""]
  lines += ["## Source", ""]
  paper = card.get("paper") or {}
  lines.append(f"- Paper: {paper.get('title', 'unknown')}" + (f" ({paper['url']})" if paper.get("url") else ""))
  for f in card.get("original_files") or []:
    where = f.get("url") or f.get("gs") or "location unknown"
    lines.append(f"- Original file ({f.get('role', 'weights')}): `{f.get('file_name')}` — {where}"
                 + (f" (gs: `{f['gs']}`)" if f.get("gs") and f.get("url") else ""))
    published = f.get("sha256")
    observed = f.get("observed_sha256")
    lines.append(f"  - sha256: published {published or 'none'}; observed when converted: {observed or 'n/a'}")
  if card.get("converted_with"):
    lines.append(f"- Converted with: {card['converted_with']}")
  lines += ["", "## Training data", "", _fmt(card.get("training_data")), "", "## Expected accuracy", ""]
  accuracy = card.get("accuracy")
  if accuracy:
    lines.append(f"{accuracy.get('value')} {accuracy.get('metric', '')} on {accuracy.get('dataset')}"
                 + (f" at {accuracy['resolution']} px" if accuracy.get("resolution") else "") + ".")
    lines += ["", f"How it was measured: {_fmt(accuracy.get('how_measured'))}", "",
              f"Source: {_fmt(accuracy.get('source'))}"]
  else:
    lines.append("None published. " + _fmt(card.get("accuracy_note")))
  lines += ["", "## Licence", ""]
  licence = card.get("licence") or {}
  lines.append(f"Original weights: {_fmt(licence.get('name'))}."
               + (f" Source: {licence['source']}." if licence.get("source") else ""))
  if licence.get("note"):
    lines += ["", licence["note"]]
  if card.get("notes"):
    lines += ["", "## Notes", ""] + [f"- {note}" for note in card["notes"]]
  lines += ["", f"Written by model_garden {card.get('model_garden_version')}.", ""]
  return "\n".join(lines)
