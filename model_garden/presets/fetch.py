"""Fetch a catalogue checkpoint (download or local file), convert it, and write it as a preset in the cache.

`fetch_preset(name)` is what `tools/fetch_preset.py NAME` runs: the original file is taken from `source=`, or
from the download folder of the cache (`<cache>/downloads/<bucket path>`), or downloaded there from its public
URL with urllib. Offline the download fails fast and the error names the file, its URL and the two places
it can be put instead. The converter checks every array's shape against the model the catalogue's spec
builds and raises `CheckpointMismatchError` listing what does not fit, so a wrong file never becomes a preset.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import urllib.error
import urllib.request
from typing import Callable, Dict, Optional

from model_garden.presets import catalogue as catalogue_lib
from model_garden.presets.errors import FetchError
from model_garden.presets.preset import cache_root, save_preset
from model_garden.version import __version__

DOWNLOADS = "downloads"
# A dead network should fail in seconds, not hang: urllib's timeout applies to the connect and each read.
DEFAULT_TIMEOUT_S = 20.0
# Zero-shot prompts of the LiT SavedModels: CLIP's prompt templates, as in the LiT model card's evaluation.
LIT_TEMPLATES = "clip_paper"

Downloader = Callable[[str, str], None]


def download_file(url: str, destination: str, *, timeout: float = DEFAULT_TIMEOUT_S,
                  chunk_bytes: int = 1 << 22, progress: Optional[Callable[[int, Optional[int]], None]] = None) -> None:
  """Downloads `url` to `destination` through a `.part` file, so an interrupted download leaves no file."""
  partial = destination + ".part"
  os.makedirs(os.path.dirname(os.path.abspath(destination)), exist_ok=True)
  try:
    with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
      total = response.headers.get("Content-Length")
      total = int(total) if total and total.isdigit() else None
      done = 0
      while True:
        block = response.read(chunk_bytes)
        if not block:
          break
        out.write(block)
        done += len(block)
        if progress is not None:
          progress(done, total)
    if total is not None and done != total:
      raise OSError(f"download of {url} stopped after {done} of {total} bytes")
    os.replace(partial, destination)
  finally:
    if os.path.exists(partial):
      os.remove(partial)


def sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 22), b""):
      digest.update(block)
  return digest.hexdigest()


def download_path(downloads: str, file: Dict) -> str:
  """Where a catalogue file is kept: its bucket path under `downloads` (two files may share a name, e.g. the
  ImageNet-21k and the fine-tuned `ViT-L_32.npz`)."""
  relative = file["gs"][len("gs://"):] if file.get("gs", "").startswith("gs://") else file["file_name"]
  return os.path.join(downloads, *relative.split("/"))


def _obtain(file: Dict, given: Optional[str], downloads: str, download: Downloader, flag: str) -> str:
  """The local path of one catalogue file: `given`, a cached download, or a fresh download."""
  if given:
    path = os.path.abspath(os.path.expanduser(given))
    if not os.path.isfile(path):
      raise FetchError(f"{flag}={given} does not exist. Give the path of {file['file_name']} (from {file['url']}).")
    return path
  path = download_path(downloads, file)
  if os.path.isfile(path):
    return path
  os.makedirs(os.path.dirname(path), exist_ok=True)
  try:
    download(file["url"], path)
  except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as e:
    reason = getattr(e, "reason", None) or e
    raise FetchError(
        f"Could not download {file['file_name']} from {file['url']} ({reason}). Without network access, get the "
        f"file elsewhere (`wget {file['url']}` or `gsutil cp {file['gs']} .`), then either put it at\n"
        f"  {path}\nor pass its path: {flag}=/path/to/{file['file_name']}") from None
  return path


def fetch_preset(name: str, *, cache_dir: Optional[str] = None, source: Optional[str] = None,
                 vocab: Optional[str] = None, download: Optional[Downloader] = None, force: bool = False,
                 saved_model: bool = True, catalogue_path: Optional[str] = None,
                 log: Callable[[str], None] = print) -> str:
  """Makes the preset `name` of the catalogue in the cache (`<cache>/<name>`); returns its directory.

  Args:
    name: a catalogue name (`catalogue.names()`).
    cache_dir: the cache root (default `$MODEL_GARDEN_PRESETS` or ~/.cache/model_garden/presets).
    source: a local copy of the original weights file (skips the download).
    vocab: a local copy of the tokenizer vocabulary (LiT presets).
    download: `fn(url, destination)`; default `download_file` (urllib). Tests pass one that fails.
    force: rebuild a preset that is already in the cache.
    saved_model: also export the serving SavedModel.
    catalogue_path: another catalogue file (tests).
    log: progress messages.

  Raises:
    FetchError: a file can be neither found nor downloaded (the message says where to put it).
    CheckpointMismatchError: the file does not fit the catalogue's spec (every mismatched key is listed).
  """
  item = catalogue_lib.entry(name, catalogue_path)
  root = cache_root(cache_dir)
  destination = os.path.join(root, name)
  if os.path.isdir(destination) and os.listdir(destination) and not force:
    log(f"{name} is already in the cache: {destination} (force=True / --force rebuilds it).")
    return destination
  downloads = os.path.join(root, DOWNLOADS)
  download = download or download_file
  weights = _obtain(catalogue_lib.weights_file(item), source, downloads, download, "--source")
  vocabulary_file = catalogue_lib.vocabulary_file(item)
  vocabulary = _obtain(vocabulary_file, vocab, downloads, download, "--vocab") if vocabulary_file else None

  import model_garden.models  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import  (registers the models)
  from model_garden import convert  # pylint: disable=g-import-not-at-top
  from model_garden import models  # pylint: disable=g-import-not-at-top
  if item["task"] == "image_text":
    from model_garden.convert import lit as _lit  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  log(f"Converting {weights} into {item['spec']} ...")
  model = models.get(item["spec"])
  layout = convert.load_npz_into(model, weights)
  class_names = None
  if item["label_space"] == "imagenet2012" and item["num_classes"] == 1000:
    from model_garden import text  # pylint: disable=g-import-not-at-top
    class_names = text.class_names("imagenet2012", canonical=False)  # CLIP's curated names, in label order.
  metadata = catalogue_lib.preset_metadata(name, item)
  observed = {os.path.basename(weights): sha256(weights)}
  if vocabulary:
    observed[os.path.basename(vocabulary)] = sha256(vocabulary)
  for f in metadata["original_files"]:
    local = weights if f["role"] == "weights" else vocabulary
    f["observed_sha256"] = observed.get(os.path.basename(local)) if local else None
  metadata["converted_with"] = (f"model_garden {__version__} model_garden.convert (layout {layout}) from "
                                f"{os.path.basename(weights)}")
  tokenizer = None
  if item["tokenizer"]:
    tokenizer = {"file": vocabulary, "kind": item["tokenizer"]["kind"], "max_len": item["tokenizer"]["max_len"],
                 "lower": item["tokenizer"].get("lower", True)}
  if os.path.isdir(destination):
    shutil.rmtree(destination)
  save_preset(model, destination, spec=item["spec"], image_size=item["image_size"], metadata=metadata,
              class_names=class_names, tokenizer=tokenizer, resize_method=item["resize_method"],
              templates=LIT_TEMPLATES, saved_model=saved_model)
  log(f"Wrote preset {name}: {destination}")
  return destination
