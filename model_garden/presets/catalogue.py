"""The catalogue of published checkpoints (`catalogue.json`): names, files, specs, accuracies, licences.

One data file lists every checkpoint `tools/fetch_preset.py` can turn into a preset: the ViT AugReg
checkpoints (ImageNet-21k and their ImageNet-1k fine-tunes), the original ViT-L/32, BiT-S / BiT-M (and the
BiT-M ILSVRC-2012 fine-tunes) and LiT. Each entry names the original file with its `gs://` path and its
`https://storage.googleapis.com` URL, the model spec the converter fills, the image size, the published
accuracy with its source, and the licence. Nothing is filled in from memory: a fact the sources do not give
is null with a note (`accuracy_note`, `notes`). `param_count(entry)` computes the parameters of a spec from
the architecture alone, so the catalogue can be checked without allocating ViT-L or BiT-R152x4.

Example:
  >>> from model_garden.presets import catalogue
  >>> catalogue.names()[:2]
  ['bit_m_r101x1', 'bit_m_r101x1_ft_i1k']
  >>> catalogue.entry("vit_augreg_b16_i21k_ft_i1k")["accuracy"]["value"]
  85.49
"""

from __future__ import annotations

import copy
import functools
import json
import os
from typing import Any, Dict, List, Optional

from model_garden.models import two_towers as _two_towers  # noqa: F401  (registers the LiT "two_towers" spec)
from model_garden.models.bert_encoder import VARIANTS as BERT_VARIANTS
from model_garden.models.bit import bit_param_count
from model_garden.models.registry import MODELS
from model_garden.models.vit import decode_variant, vit_param_count
from model_garden.presets.errors import PresetNotFoundError
from model_garden.registry import parse_spec, suggestion

CATALOGUE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "catalogue.json")
TASKS = ("image_classification", "image_text")
FAMILIES = ("vit_augreg", "vit", "bit", "lit")
FILE_ROLES = ("weights", "vocabulary")
GCS_URL = "https://storage.googleapis.com/"
ENTRY_KEYS = ("family", "task", "title", "spec", "image_size", "resize_method", "num_classes", "label_space",
              "tokenizer", "files", "accuracy", "params", "paper", "training_data", "licence", "notes")


@functools.lru_cache(maxsize=4)
def _read(path: str) -> Dict[str, Any]:
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def load_catalogue(path: Optional[str] = None) -> Dict[str, Any]:
  """The whole catalogue (a copy): `{"format_version", "checksums", "sources", "presets": {name: entry}}`."""
  return copy.deepcopy(_read(os.path.abspath(path or CATALOGUE_FILE)))


def names(path: Optional[str] = None) -> List[str]:
  """The preset names, sorted."""
  return sorted(_read(os.path.abspath(path or CATALOGUE_FILE))["presets"])


def entry(name: str, path: Optional[str] = None) -> Dict[str, Any]:
  """The catalogue entry of `name` (a copy).

  Raises:
    PresetNotFoundError: for an unknown name, listing the close matches.
  """
  presets = _read(os.path.abspath(path or CATALOGUE_FILE))["presets"]
  if name not in presets:
    raise PresetNotFoundError(f"No preset {name!r} in the catalogue. {suggestion(name, presets)} "
                              "List them with `python tools/fetch_preset.py --list`.")
  return copy.deepcopy(presets[name])


def weights_file(item: Dict[str, Any]) -> Dict[str, Any]:
  """The entry's file with role "weights"."""
  return next(f for f in item["files"] if f["role"] == "weights")


def vocabulary_file(item: Dict[str, Any]) -> Optional[Dict[str, Any]]:
  """The entry's file with role "vocabulary" (LiT text towers), or None."""
  return next((f for f in item["files"] if f["role"] == "vocabulary"), None)


# -- Parameter counts without building ------------------------------------------------------------------------

def _block_params(width: int, mlp: int) -> int:
  # Two LayerNorms, four attention projections with biases, a two-layer MLP.
  return 2 * 2 * width + 4 * (width * width + width) + (width * mlp + mlp) + (mlp * width + width)


def text_transformer_param_count(*, num_classes: int = 0, variant: Optional[str] = None,
                                 width: Optional[int] = None, depth: Optional[int] = None,
                                 mlp_dim: Optional[int] = None, num_heads: Optional[int] = None,
                                 vocab_size: int = 32_000, max_len: int = 16, pool: str = "last",
                                 dropout: float = 0.0, head_zeroinit: bool = False) -> int:
  """Parameters of `text_transformer(...)` with these keywords, computed without building it."""
  del num_heads, dropout, head_zeroinit
  sizes = decode_variant(variant) if variant else {"width": 512, "depth": 12, "mlp_dim": 2048}
  width, depth, mlp = int(width or sizes["width"]), int(depth or sizes["depth"]), int(mlp_dim or sizes["mlp_dim"])
  count = vocab_size * width + max_len * width + depth * _block_params(width, mlp) + 2 * width
  if pool == "map":
    count += width + 4 * (width * width + width) + 2 * width + (width * mlp + mlp) + (mlp * width + width)
  if num_classes:
    count += width * num_classes + num_classes
  return count


def bert_encoder_param_count(*, num_classes: int = 0, variant: Optional[str] = None, width: Optional[int] = None,
                             depth: Optional[int] = None, mlp_dim: Optional[int] = None,
                             num_heads: Optional[int] = None, vocab_size: int = 30_522, max_len: int = 16,
                             max_positions: int = 512, num_segments: int = 2, dropout: float = 0.0,
                             head_zeroinit: bool = False) -> int:
  """Parameters of `bert_encoder(...)` with these keywords, computed without building it."""
  del num_heads, max_len, dropout, head_zeroinit
  base_width, base_depth, base_mlp, _ = BERT_VARIANTS[variant or "base"]
  width, depth, mlp = int(width or base_width), int(depth or base_depth), int(mlp_dim or base_mlp)
  count = (vocab_size + max_positions + num_segments) * width + 2 * width
  count += depth * _block_params(width, mlp)  # Same pieces as a ViT block: 2 LayerNorms, q/k/v/out, MLP.
  if num_classes:
    count += width * num_classes + num_classes
  return count


_COUNTERS = {"vit": vit_param_count, "bit": bit_param_count, "text_transformer": text_transformer_param_count,
             "bert_encoder": bert_encoder_param_count}


def spec_param_count(spec: str, **overrides) -> int:
  """Parameters of the model `spec` names (vit, bit, text_transformer, bert_encoder, two_towers), unbuilt.

  The spec's arguments are checked against the model factory first, so a typo fails here as it would in
  `models.get(spec)`.
  """
  name, args, kwargs = parse_spec(spec)
  kwargs = {**kwargs, **overrides}
  MODELS.check_arguments(name, args, kwargs)
  if name == "two_towers":
    out_dim = kwargs.get("out_dim", 128)
    image_dim, text_dim = (out_dim, out_dim) if out_dim is None or isinstance(out_dim, int) else tuple(out_dim)
    if kwargs.get("image") is None or kwargs.get("text") is None:
      raise ValueError(f"{spec!r}: counting needs both tower specs (image=..., text=...).")
    count = spec_param_count(kwargs["image"], num_classes=int(image_dim or 0))
    count += spec_param_count(kwargs["text"], num_classes=int(text_dim or 0))
    return count + 1 + (1 if kwargs.get("bias_init") is not None else 0)  # t (and SigLIP's b).
  if name not in _COUNTERS:
    raise ValueError(f"No parameter counter for model {name!r}; known: {', '.join(sorted(_COUNTERS))}.")
  if args:
    raise ValueError(f"{spec!r}: write the arguments as key=value.")
  return _COUNTERS[name](**kwargs)


def param_count(item: Dict[str, Any]) -> int:
  """Parameters of a catalogue entry's model, from its spec (nothing is allocated)."""
  return spec_param_count(item["spec"])


# -- Schema ----------------------------------------------------------------------------------------------------

def validate_entry(name: str, item: Dict[str, Any]) -> List[str]:
  """Problems with one entry, as sentences (empty when it is well formed)."""
  problems = []
  missing = [k for k in ENTRY_KEYS if k not in item]
  if missing:
    problems.append(f"{name}: missing keys {missing}.")
    return problems
  if item["family"] not in FAMILIES:
    problems.append(f"{name}: family {item['family']!r} is not one of {FAMILIES}.")
  if item["task"] not in TASKS:
    problems.append(f"{name}: task {item['task']!r} is not one of {TASKS}.")
  if not isinstance(item["image_size"], int) or item["image_size"] <= 0:
    problems.append(f"{name}: image_size must be a positive int.")
  roles = [f.get("role") for f in item["files"]]
  if roles.count("weights") != 1:
    problems.append(f"{name}: needs exactly one file with role 'weights', has roles {roles}.")
  for f in item["files"]:
    if f.get("role") not in FILE_ROLES:
      problems.append(f"{name}: file role {f.get('role')!r} is not one of {FILE_ROLES}.")
    for key in ("file_name", "gs", "url"):
      if not f.get(key):
        problems.append(f"{name}: file {f.get('file_name')!r} lacks {key!r}.")
    if "sha256" not in f:
      problems.append(f"{name}: file {f.get('file_name')!r} must record sha256 (null when none is published).")
    gs, url, file_name = f.get("gs") or "", f.get("url") or "", f.get("file_name") or ""
    if gs and url and url != GCS_URL + gs[len("gs://"):]:
      problems.append(f"{name}: url {url!r} is not the public URL of {gs!r}.")
    if gs and not gs.endswith("/" + file_name):
      problems.append(f"{name}: gs path {gs!r} does not end with the file name {file_name!r}.")
  if item["task"] == "image_text":
    if not item["tokenizer"] or "vocabulary" not in roles:
      problems.append(f"{name}: an image-text preset needs a tokenizer and a 'vocabulary' file.")
  accuracy = item["accuracy"]
  if accuracy is None:
    if not item.get("accuracy_note"):
      problems.append(f"{name}: accuracy is null without an accuracy_note saying why.")
  else:
    for key in ("value", "metric", "dataset", "how_measured", "source"):
      if accuracy.get(key) in (None, ""):
        problems.append(f"{name}: accuracy lacks {key!r}.")
  licence = item["licence"] or {}
  for key in ("name", "source"):
    if not licence.get(key):
      problems.append(f"{name}: licence lacks {key!r}.")
  try:
    spec_name, _, kwargs = parse_spec(item["spec"])
    MODELS.check_arguments(spec_name, (), kwargs)
    if kwargs.get("image_size", item["image_size"]) != item["image_size"] and spec_name != "two_towers":
      problems.append(f"{name}: spec image_size {kwargs['image_size']} differs from image_size {item['image_size']}.")
    if item["num_classes"] is not None and kwargs.get("num_classes") != item["num_classes"]:
      problems.append(f"{name}: spec num_classes {kwargs.get('num_classes')} differs from {item['num_classes']}.")
  except Exception as e:  # pylint: disable=broad-except  (reported, not raised: the list shows every problem)
    problems.append(f"{name}: spec {item['spec']!r} does not parse: {e}")
  return problems


def validate_catalogue(path: Optional[str] = None) -> List[str]:
  """Problems with every entry of the catalogue (empty when all are well formed)."""
  data = _read(os.path.abspath(path or CATALOGUE_FILE))
  problems = []
  for key in ("format_version", "checksums", "sources", "presets"):
    if key not in data:
      problems.append(f"catalogue: missing top-level key {key!r}.")
  for name, item in sorted(data.get("presets", {}).items()):
    problems += validate_entry(name, item)
  return problems


def preset_metadata(name: str, item: Dict[str, Any]) -> Dict[str, Any]:
  """The model-card fields (`save_preset(metadata=...)`) of a catalogue entry."""
  return {
      "name": name, "title": item["title"], "paper": item["paper"], "training_data": item["training_data"],
      "licence": item["licence"], "accuracy": item["accuracy"], "accuracy_note": item.get("accuracy_note"),
      "params_published": item["params"], "original_files": copy.deepcopy(item["files"]),
      "label_space": item["label_space"], "notes": list(item["notes"]), "catalogue_name": name,
  }
