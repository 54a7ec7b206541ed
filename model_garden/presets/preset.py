"""Presets: a network with its weights, preprocessing, model card and serving SavedModel, in one directory.

A preset is a directory (or a `.tar.gz` of one) holding

  config.json          the model spec string and the Keras config (`get_config`) the model is rebuilt from
  model.weights.h5     the weights (Keras `save_weights`)
  preprocessing.json   image size, value range [-1, 1], resize method; the tokenizer for text towers
  assets/              class_names.txt (one name per line, in label order); the tokenizer vocabulary
  saved_model/         a TF SavedModel that decodes and preprocesses images itself (`model_garden.export`)
  metadata.json        the model card's data: paper, original files, training data, licence, accuracy
  README.md            the model card rendered from metadata.json

`save_preset` writes one, `load_preset` reads it back (`from_preset` returns just the model); both round
trip exactly. A catalogue name (`model_garden/presets/catalogue.json`) resolves to the local cache,
`$MODEL_GARDEN_PRESETS/<name>` or `~/.cache/model_garden/presets/<name>`, which `tools/fetch_preset.py NAME`
fills.

Example:
  >>> net = model_garden.models.get("vit(variant='Ti/16', num_classes=3, image_size=32, patch_size=8)")
  >>> save_preset(net, "/tmp/my_vit", spec="vit(variant='Ti/16', ...)", image_size=32,
  ...             metadata={"licence": "Apache-2.0", "training_data": "...", "accuracy": None,
  ...                       "accuracy_note": "untrained"}, class_names=["a", "b", "c"])
  >>> model = model_garden.from_preset("/tmp/my_vit")
  >>> model = model_garden.from_preset("vit_augreg_b16_i21k_ft_i1k")   # after tools/fetch_preset.py
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import keras
import numpy as np

from model_garden import backends
from model_garden.export.preprocessing import RESIZE_METHODS, preprocess_images
from model_garden.models.registry import MODELS
from model_garden.presets import catalogue as catalogue_lib
from model_garden.presets import model_card
from model_garden.presets.errors import PresetFormatError, PresetNotFoundError
from model_garden.registry import parse_spec, suggestion
from model_garden.version import __version__

FORMAT = "model_garden.preset"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
PREPROCESSING_FILE = "preprocessing.json"
ASSETS_DIR = "assets"
CLASS_NAMES_FILE = "assets/class_names.txt"
SAVED_MODEL_DIR = "saved_model"
REQUIRED_FILES = (CONFIG_FILE, WEIGHTS_FILE, PREPROCESSING_FILE, model_card.METADATA_FILE, model_card.README_FILE)
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
CACHE_ENV = "MODEL_GARDEN_PRESETS"
DEFAULT_CACHE = os.path.join("~", ".cache", "model_garden", "presets")
VALUE_RANGE = (-1.0, 1.0)
IMAGE_CLASSIFICATION, IMAGE_TEXT = "image_classification", "image_text"


def cache_root(cache_dir: Optional[str] = None) -> str:
  """Where catalogue presets live: `cache_dir`, else `$MODEL_GARDEN_PRESETS`, else ~/.cache/model_garden/presets."""
  return os.path.abspath(os.path.expanduser(cache_dir or os.environ.get(CACHE_ENV) or DEFAULT_CACHE))


def preprocess_uint8(images, image_size: int, resize_method: str = "bilinear"):
  """The serving preprocessing (`model_garden.export.preprocess_uint8`) on the running Keras backend."""
  return preprocess_images(images, image_size, resize_method)


def _is_two_towers(model) -> bool:
  return all(hasattr(model, a) for a in ("embed_images", "embed_texts", "max_len"))


def _ensure_built(model: keras.Model, image_size: int) -> None:
  if _is_two_towers(model):
    model.build()
  elif not model.built:
    model(np.zeros((1, image_size, image_size, 3), np.float32), training=False)


# -- Tokenizer ---------------------------------------------------------------------------------------------

def _tokenizer_info(tokenizer, assets: str, default_max_len: Optional[int]) -> Dict[str, Any]:
  """Writes the tokenizer's vocabulary into `assets` and returns its preprocessing.json entry."""
  from model_garden import text  # pylint: disable=g-import-not-at-top  (tensorflow_text only when needed)
  os.makedirs(assets, exist_ok=True)
  if isinstance(tokenizer, text.SentencePieceTokenizer):
    with open(os.path.join(assets, "tokenizer.model"), "wb") as f:
      f.write(tokenizer.model_bytes)
    return {"kind": "sentencepiece", "file": f"{ASSETS_DIR}/tokenizer.model", "max_len": tokenizer.max_len,
            "eos": tokenizer.eos, "pad_value": tokenizer.pad_value, "lower": tokenizer.lower,
            "add_bos": tokenizer.add_bos}
  if isinstance(tokenizer, text.WordPieceTokenizer):
    with open(os.path.join(assets, "vocab.txt"), "w", encoding="utf-8") as f:
      f.write("\n".join(tokenizer.tokens) + "\n")
    return {"kind": "wordpiece", "file": f"{ASSETS_DIR}/vocab.txt", "max_len": tokenizer.max_len,
            "lower": tokenizer.lower_case}
  if isinstance(tokenizer, (str, os.PathLike)):
    tokenizer = {"file": os.fspath(tokenizer)}
  if not isinstance(tokenizer, Mapping) or "file" not in tokenizer:
    raise ValueError("tokenizer must be a SentencePieceTokenizer / WordPieceTokenizer, a vocabulary file (path or "
                     "shipped name such as 'mg_shapes_sp'), or a dict {'file': ..., 'kind': ..., 'max_len': ...}; "
                     f"got {tokenizer!r}.")
  source = text.vocab_path(os.fspath(tokenizer["file"]))
  if not os.path.isfile(source):
    raise FileNotFoundError(f"Tokenizer vocabulary {source!r} does not exist.")
  kind = tokenizer.get("kind") or text.tokenizer_kind(source)
  max_len = tokenizer.get("max_len") or default_max_len
  if not max_len:
    raise ValueError("The tokenizer's max_len is unknown: pass tokenizer={'file': ..., 'max_len': N}.")
  name = "tokenizer.model" if kind == "sentencepiece" else "vocab.txt"
  shutil.copyfile(source, os.path.join(assets, name))
  info = {"kind": kind, "file": f"{ASSETS_DIR}/{name}", "max_len": int(max_len),
          "lower": bool(tokenizer.get("lower", True))}
  if kind == "sentencepiece":
    info.update({"eos": tokenizer.get("eos", "sticky"), "pad_value": tokenizer.get("pad_value"),
                 "add_bos": bool(tokenizer.get("add_bos", False))})
  return info


def make_tokenizer(info: Mapping[str, Any], root: str):
  """The tokenizer a preset's `preprocessing.json` describes, reading its vocabulary from `root`."""
  from model_garden import text  # pylint: disable=g-import-not-at-top
  path = os.path.join(root, info["file"])
  if info["kind"] == "sentencepiece":
    return text.SentencePieceTokenizer(path, info["max_len"], eos=info.get("eos", "sticky"),
                                       pad_value=info.get("pad_value"), lower=info.get("lower", True),
                                       add_bos=info.get("add_bos", False))
  if info["kind"] == "wordpiece":
    return text.WordPieceTokenizer(path, info["max_len"], lower_case=info.get("lower", True))
  raise PresetFormatError(f"Unknown tokenizer kind {info['kind']!r} in {PREPROCESSING_FILE}; expected "
                          "'sentencepiece' or 'wordpiece'.")


# -- Save --------------------------------------------------------------------------------------------------

def _check_spec(spec: str) -> None:
  name, args, kwargs = parse_spec(spec)
  MODELS.check_arguments(name, args, kwargs)


def _write_json(path: str, value) -> None:
  with open(path, "w", encoding="utf-8") as f:
    json.dump(value, f, indent=2, sort_keys=False)
    f.write("\n")


def _write_directory(model, root, *, spec, image_size, metadata, class_names, tokenizer, resize_method,
                     templates, saved_model) -> None:
  two_towers = _is_two_towers(model)
  _ensure_built(model, image_size)
  task = IMAGE_TEXT if two_towers else IMAGE_CLASSIFICATION
  num_classes = None
  if not two_towers:
    num_classes = int(model(np.zeros((1, image_size, image_size, 3), np.float32), training=False).shape[-1])
    if class_names is not None and len(class_names) != num_classes:
      raise ValueError(f"{len(class_names)} class_names for a model with {num_classes} outputs; give one name per "
                       "class, in label order.")
  elif class_names is not None:
    raise ValueError("class_names are for classifiers; a two-tower model takes class names per request "
                     "(its SavedModel's zero_shot signature).")
  if two_towers and tokenizer is None:
    raise ValueError("A two-tower (image-text) preset needs its tokenizer: tokenizer='vocab.model', a "
                     "SentencePieceTokenizer / WordPieceTokenizer, or {'file': ..., 'max_len': ...}.")
  os.makedirs(root, exist_ok=True)
  assets = os.path.join(root, ASSETS_DIR)
  preprocessing = {"image_size": int(image_size), "value_range": list(VALUE_RANGE), "resize_method": resize_method,
                   "antialias": False,
                   "recipe": "uint8 RGB -> float32 -> tf.image.resize((S, S), method, antialias=False) -> "
                             "x / 127.5 - 1",
                   "tokenizer": None, "class_names_file": None}
  tokenizer_object = None
  if tokenizer is not None:
    preprocessing["tokenizer"] = _tokenizer_info(tokenizer, assets, getattr(model, "max_len", None))
    tokenizer_object = make_tokenizer(preprocessing["tokenizer"], root)
  if class_names is not None:
    os.makedirs(assets, exist_ok=True)
    names = [str(n) for n in class_names]
    if any("\n" in n for n in names):
      raise ValueError("class_names must not contain newlines (they are stored one per line).")
    with open(os.path.join(root, CLASS_NAMES_FILE), "w", encoding="utf-8") as f:
      f.write("\n".join(names) + "\n")
    preprocessing["class_names_file"] = CLASS_NAMES_FILE
  config = {"format": FORMAT, "format_version": FORMAT_VERSION, "spec": spec, "task": task,
            "model_class": type(model).__name__, "model": keras.saving.serialize_keras_object(model),
            "model_garden_version": __version__, "keras_version": keras.__version__}
  _write_json(os.path.join(root, CONFIG_FILE), config)
  _write_json(os.path.join(root, PREPROCESSING_FILE), preprocessing)
  model.save_weights(os.path.join(root, WEIGHTS_FILE))
  if saved_model:
    target = os.path.join(root, SAVED_MODEL_DIR)
    if two_towers:
      from model_garden.export.lit_serving import export_lit  # pylint: disable=g-import-not-at-top
      export_lit(model, target, tokenizer=tokenizer_object, templates=templates, image_size=image_size,
                 resize_method=resize_method)
    else:
      from model_garden.export.serving import export_classifier  # pylint: disable=g-import-not-at-top
      export_classifier(model, target, image_size=image_size, class_names=class_names, resize_method=resize_method)
  card = model_card.make_metadata(metadata, name=os.path.basename(os.path.normpath(root)), spec=spec, task=task,
                                  model_class=type(model).__name__, params=model.count_params(),
                                  preprocessing=preprocessing, num_classes=num_classes,
                                  model_garden_version=__version__)
  card["saved_model"] = SAVED_MODEL_DIR if saved_model else None
  _write_json(os.path.join(root, model_card.METADATA_FILE), card)
  with open(os.path.join(root, model_card.README_FILE), "w", encoding="utf-8") as f:
    f.write(model_card.render_readme(card))


def save_preset(model: keras.Model, path, *, spec: str, image_size: int, metadata: Optional[Mapping] = None,
                class_names: Optional[Sequence[str]] = None, tokenizer=None, resize_method: str = "bilinear",
                templates: Union[str, Sequence[str]] = "class_name_only", saved_model: bool = True,
                overwrite: bool = False) -> str:
  """Writes `model` as a preset directory, or as a `.tar.gz` archive when `path` ends with `.tar.gz`/`.tgz`.

  Args:
    model: a classifier (`ImageModel` or any model mapping [-1, 1] images to logits) or a two-tower model.
    path: the preset directory (created; must be empty unless `overwrite`) or archive.
    spec: the model spec string it was built from (recorded; the model is rebuilt from its Keras config).
    image_size: the side the network expects.
    metadata: the model card's fields (see `model_card.make_metadata`): licence, training_data, paper,
      accuracy (or None with accuracy_note), original_files, notes, ...
    class_names: one name per logit, in label order (classifiers).
    tokenizer: the text tokenizer (two-tower models): a tokenizer object, a vocabulary path or shipped name,
      or {"file", "kind", "max_len", "lower", "eos", "pad_value"}; its vocabulary is copied into assets/.
    resize_method: `tf.image.resize` method of the preprocessing (and of the SavedModel).
    templates: zero-shot prompt templates of a two-tower SavedModel ("class_name_only", "clip_paper", ...).
    saved_model: also export `saved_model/` (needed for publishing; False is faster for scratch presets).
    overwrite: replace an existing non-empty directory / archive.

  Returns:
    The path written.
  """
  _check_spec(spec)
  if saved_model:
    backends.require_tensorflow("save_preset(saved_model=True) (a TF SavedModel); pass saved_model=False")
  if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size <= 0:
    raise ValueError(f"image_size must be a positive int, got {image_size!r}.")
  if resize_method not in RESIZE_METHODS:
    raise ValueError(f"resize_method must be one of {RESIZE_METHODS}, got {resize_method!r}.")
  path = os.path.abspath(os.path.expanduser(os.fspath(path)))
  archive = path.endswith(ARCHIVE_SUFFIXES)
  if os.path.exists(path) and (archive or os.listdir(path)) and not overwrite:
    raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it.")
  kwargs = dict(spec=spec, image_size=image_size, metadata=metadata, class_names=class_names, tokenizer=tokenizer,
                resize_method=resize_method, templates=templates, saved_model=saved_model)
  if not archive:
    if os.path.exists(path):
      shutil.rmtree(path)
    _write_directory(model, path, **kwargs)
    return path
  stem = os.path.basename(path)
  for suffix in ARCHIVE_SUFFIXES:
    if stem.endswith(suffix):
      stem = stem[:-len(suffix)]
  with tempfile.TemporaryDirectory(prefix="model_garden_preset_") as scratch:
    root = os.path.join(scratch, stem)
    _write_directory(model, root, **kwargs)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = path + ".partial"
    with tarfile.open(partial, "w:gz") as tar:
      tar.add(root, arcname=stem)
    os.replace(partial, path)  # A killed write leaves no truncated archive under the real name.
  return path


# -- Resolve and load ----------------------------------------------------------------------------------------

def _find_root(directory: str) -> str:
  if os.path.isfile(os.path.join(directory, CONFIG_FILE)):
    return directory
  children = [os.path.join(directory, c) for c in sorted(os.listdir(directory))]
  roots = [c for c in children if os.path.isfile(os.path.join(c, CONFIG_FILE))]
  if len(roots) != 1:
    raise PresetFormatError(f"{directory} is not a preset: no {CONFIG_FILE} at its top or in exactly one "
                            "sub-directory.")
  return roots[0]


def extract_archive(archive: str, extract_dir: Optional[str] = None) -> str:
  """Unpacks a preset archive (refusing links and paths outside the target) and returns the preset root."""
  target = extract_dir or tempfile.mkdtemp(prefix="model_garden_preset_")
  os.makedirs(target, exist_ok=True)
  try:
    with tarfile.open(archive, "r:*") as tar:
      tar.extractall(target, filter="data")  # Rejects absolute paths, '..' and links leaving the target.
  except (tarfile.TarError, EOFError) as e:
    raise PresetFormatError(f"{archive} is not a readable .tar.gz preset archive ({e}).") from None
  return _find_root(target)


def resolve(name_or_path, *, cache_dir: Optional[str] = None, extract_dir: Optional[str] = None) -> str:
  """The preset directory that `name_or_path` names: a directory, a `.tar.gz`, or a catalogue / cache name.

  Raises:
    PresetNotFoundError: a path that does not exist, a catalogue name not fetched yet (the message gives the
      `tools/fetch_preset.py` command), or an unknown name (with close matches).
  """
  text = os.fspath(name_or_path)
  path = os.path.expanduser(text)
  if os.path.isdir(path):
    return _find_root(path)
  if os.path.isfile(path):
    if path.endswith(ARCHIVE_SUFFIXES):
      return extract_archive(path, extract_dir)
    raise PresetNotFoundError(f"{text} is a file but not a preset archive (.tar.gz / .tgz).")
  if os.sep in text or text.startswith((".", "~")) or text.endswith(ARCHIVE_SUFFIXES):
    raise PresetNotFoundError(f"No preset directory or archive at {text!r}.")
  root = cache_root(cache_dir)
  cached = os.path.join(root, text)
  if os.path.isdir(cached):
    return _find_root(cached)
  known = catalogue_lib.names()
  if text in known:
    flag = f" --cache_dir={cache_dir}" if cache_dir else ""
    raise PresetNotFoundError(
        f"Preset {text!r} is in the catalogue but not in the local cache ({cached}). Download and convert it "
        f"once with:\n  python tools/fetch_preset.py {text}{flag}\n(from Python: "
        f"model_garden.presets.fetch_preset({text!r})). Offline, place the original file as the tool explains, or "
        f"set ${CACHE_ENV} to a cache that has it.")
  cached_names = sorted(os.listdir(root)) if os.path.isdir(root) else []
  raise PresetNotFoundError(f"No preset {text!r}: it is not a directory or .tar.gz, not in the cache {root}, and "
                            f"not in the catalogue. {suggestion(text, known + cached_names)}")


def _read_json(root: str, name: str) -> Dict[str, Any]:
  path = os.path.join(root, name)
  if not os.path.isfile(path):
    raise PresetFormatError(f"Preset {root} has no {name}; it is incomplete (re-create it with save_preset).")
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def _rebuild(config: Mapping[str, Any], preprocessing: Mapping[str, Any], root: str) -> keras.Model:
  if config.get("format") != FORMAT:
    raise PresetFormatError(f"{root}/{CONFIG_FILE} is not a model_garden preset config (format "
                            f"{config.get('format')!r}).")
  if int(config.get("format_version", 0)) > FORMAT_VERSION:
    raise PresetFormatError(f"{root} has preset format version {config['format_version']}; this model_garden "
                            f"({__version__}) reads up to {FORMAT_VERSION}. Upgrade model_garden.")
  import model_garden.models  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import  (registers serialisables)
  model = keras.saving.deserialize_keras_object(config["model"])
  _ensure_built(model, int(preprocessing["image_size"]))
  weights = os.path.join(root, WEIGHTS_FILE)
  if not os.path.isfile(weights):
    raise PresetFormatError(f"Preset {root} has no {WEIGHTS_FILE}.")
  model.load_weights(weights)
  return model


class Preset:
  """A loaded preset: the model, its preprocessing, class names, tokenizer and model card.

  Presets bundle what a pretrained network needs to be used without its training code, in the spirit of
  keras-hub's and timm's pretrained presets; the weights come from the papers' official checkpoints
  (ViT, "An Image is Worth 16x16 Words", Dosovitskiy et al. 2021; AugReg, Steiner et al. 2022; BiT,
  Kolesnikov et al. 2020; LiT, Zhai et al. 2022) through `model_garden.convert`.

  Attributes:
    path: the preset directory.
    model: the Keras model (weights loaded).
    spec: the model spec string recorded at save time.
    task: "image_classification" or "image_text".
    preprocessing: the preprocessing.json dict (image_size, value_range, resize_method, tokenizer, ...).
    metadata: the model card dict (metadata.json).
    class_names: the label names (classifiers that have them), else None.

  Example:
    >>> preset = load_preset("vit_augreg_b16_i21k_ft_i1k")
    >>> preset.classify(uint8_images, top_k=3)        # [[("tabby cat", 0.71), ...], ...]
    >>> preset.model.fit(...)                           # a plain Keras model
  """

  def __init__(self, path: str, model: keras.Model, config: Mapping[str, Any], preprocessing: Mapping[str, Any],
               metadata: Mapping[str, Any], class_names: Optional[List[str]]):
    self.path = path
    self.model = model
    self.config = dict(config)
    self.spec = config["spec"]
    self.task = config["task"]
    self.preprocessing = dict(preprocessing)
    self.metadata = dict(metadata)
    self.class_names = class_names

  @property
  def image_size(self) -> int:
    return int(self.preprocessing["image_size"])

  @property
  def saved_model_path(self) -> Optional[str]:
    path = os.path.join(self.path, SAVED_MODEL_DIR)
    return path if os.path.isdir(path) else None

  def preprocess(self, images):
    """uint8 RGB images ([H, W, 3] or [N, H, W, 3], any size) -> float32 [N?, S, S, 3] in [-1, 1]."""
    return preprocess_uint8(images, self.image_size, self.preprocessing["resize_method"])

  def tokenizer(self):
    """The text tokenizer of an image-text preset (strings -> int32 ids [N, max_len])."""
    info = self.preprocessing.get("tokenizer")
    if not info:
      raise ValueError(f"Preset {self.path} has no tokenizer (it is a {self.task} preset).")
    return make_tokenizer(info, self.path)

  def classify(self, images, top_k: int = 5) -> List[List[tuple]]:
    """Top-k (class name or index, softmax probability) for each uint8 image of a classifier preset."""
    if self.task != IMAGE_CLASSIFICATION:
      raise ValueError("classify() is for classifier presets; an image-text preset classifies zero-shot through "
                       "its SavedModel's zero_shot signature or model_garden.evaluation.")
    batch = np.asarray(images)
    if batch.ndim == 3:
      batch = batch[None]
    logits = keras.ops.convert_to_numpy(self.model(self.preprocess(batch), training=False)).astype(np.float64)
    logits -= logits.max(axis=-1, keepdims=True)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    results = []
    for row in probabilities:
      top = np.argsort(-row)[:top_k]
      results.append([(self.class_names[i] if self.class_names else int(i), float(row[i])) for i in top])
    return results

  def __repr__(self) -> str:
    return (f"Preset({self.metadata.get('name')!r}, {self.config.get('model_class')}, task={self.task}, "
            f"image_size={self.image_size}, path={self.path!r})")


def load_preset(name_or_path, *, cache_dir: Optional[str] = None, extract_dir: Optional[str] = None) -> Preset:
  """Loads a preset directory, `.tar.gz` archive, or catalogue name (from the local cache)."""
  root = resolve(name_or_path, cache_dir=cache_dir, extract_dir=extract_dir)
  config = _read_json(root, CONFIG_FILE)
  preprocessing = _read_json(root, PREPROCESSING_FILE)
  metadata = _read_json(root, model_card.METADATA_FILE)
  model = _rebuild(config, preprocessing, root)
  class_names = None
  if preprocessing.get("class_names_file"):
    with open(os.path.join(root, preprocessing["class_names_file"]), encoding="utf-8") as f:
      class_names = f.read().split("\n")[:-1]
  return Preset(root, model, config, preprocessing, metadata, class_names)


def from_preset(name_or_path, *, cache_dir: Optional[str] = None) -> keras.Model:
  """The Keras model of a preset (directory, `.tar.gz`, or catalogue name), weights loaded.

  A catalogue name such as "vit_augreg_b16_i21k_ft_i1k" is read from the local cache
  (`$MODEL_GARDEN_PRESETS/<name>` or `~/.cache/model_garden/presets/<name>`); when it is not there the error
  says to run `python tools/fetch_preset.py NAME`. Use `load_preset` for the preprocessing, class names and
  tokenizer as well.
  """
  return load_preset(name_or_path, cache_dir=cache_dir).model


# -- Validate ------------------------------------------------------------------------------------------------

def list_files(root: str) -> List[Dict[str, Any]]:
  """Every file under `root` with its size in bytes, relative paths sorted."""
  files = []
  for directory, _, names in os.walk(root):
    for name in names:
      full = os.path.join(directory, name)
      files.append({"path": os.path.relpath(full, root), "bytes": os.path.getsize(full)})
  return sorted(files, key=lambda f: f["path"])


def _check_saved_model(preset: Preset) -> Dict[str, Any]:
  tf = backends.require_tensorflow("Checking a preset's SavedModel")
  if preset.task == IMAGE_TEXT:
    import tensorflow_text  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import  (tokenizer ops)
  served = tf.saved_model.load(preset.saved_model_path)
  signatures = sorted(served.signatures)
  rng = np.random.default_rng(0)
  size = preset.image_size
  images = rng.integers(0, 256, (2, size + 3, size + 5, 3)).astype(np.uint8)
  inputs = preset.preprocess(images)
  if preset.task == IMAGE_TEXT:
    expected = np.asarray(preset.model.embed_images(inputs))
    got = served.signatures["embed_images_uint8"](images=tf.constant(images))["embeddings"].numpy()
  else:
    expected = np.asarray(preset.model(inputs, training=False))
    got = served.signatures["serve_uint8"](images=tf.constant(images))["logits"].numpy()
  return {"signatures": signatures, "max_abs_diff": float(np.max(np.abs(expected - got)))}


def validate_preset(name_or_path, *, cache_dir: Optional[str] = None, check_saved_model: bool = True,
                    atol: float = 1e-3) -> Dict[str, Any]:
  """Checks a preset before it is published: files present, model loads, SavedModel loads and agrees.

  Returns:
    {"path", "files": [{"path", "bytes"}], "total_bytes", "model_class", "params", "licence", "metadata",
     "saved_model": {"signatures", "max_abs_diff"} or None, "problems": [sentences; empty when valid]}.
  """
  root = resolve(name_or_path, cache_dir=cache_dir)
  problems = [f"missing {name}" for name in REQUIRED_FILES if not os.path.isfile(os.path.join(root, name))]
  has_saved_model = os.path.isfile(os.path.join(root, SAVED_MODEL_DIR, "saved_model.pb"))
  if not has_saved_model:
    problems.append(f"missing {SAVED_MODEL_DIR}/saved_model.pb (save_preset(..., saved_model=True)).")
  report: Dict[str, Any] = {"path": root, "files": list_files(root), "model_class": None, "params": None,
                            "licence": None, "metadata": None, "saved_model": None}
  report["total_bytes"] = sum(f["bytes"] for f in report["files"])
  if not problems or all(p.startswith(f"missing {SAVED_MODEL_DIR}") for p in problems):
    try:
      preset = load_preset(root)
    except Exception as e:  # pylint: disable=broad-except  (reported as a problem of the preset)
      problems.append(f"the model does not load: {type(e).__name__}: {e}")
    else:
      report["model_class"] = preset.config.get("model_class")
      report["params"] = preset.model.count_params()
      report["licence"] = (preset.metadata.get("licence") or {}).get("name")
      report["metadata"] = preset.metadata
      problems += [f"model card: {p}" for p in model_card.validate_metadata(preset.metadata)]
      tokenizer = preset.preprocessing.get("tokenizer")
      if tokenizer and not os.path.isfile(os.path.join(root, tokenizer["file"])):
        problems.append(f"missing tokenizer vocabulary {tokenizer['file']}.")
      if check_saved_model and has_saved_model:
        try:
          report["saved_model"] = _check_saved_model(preset)
        except Exception as e:  # pylint: disable=broad-except
          problems.append(f"the SavedModel does not load or run: {type(e).__name__}: {e}")
        else:
          if report["saved_model"]["max_abs_diff"] > atol:
            problems.append(f"the SavedModel disagrees with the Keras model (max abs diff "
                            f"{report['saved_model']['max_abs_diff']:.3g} > {atol}).")
  report["problems"] = problems
  return report
