"""The trainer-to-exporter contract: what a training workdir holds and how it becomes a SavedModel.

A workdir that can be exported holds two files, both written by `python -m model_garden.train`:

  DIR/model.keras   the trained network (`model_garden.load_model`, or `keras.saving.load_model` after
                    `import model_garden`);
  DIR/export.json   a classifier's: {"image_size": int, "class_names": [str, ...] | null,
                                     "activation": "softmax" | "sigmoid"}
                    and optionally "resize_method" (default "bilinear", the eval resize's method);
                    a two-tower (LiT) model's: {"kind": "two_towers", "image_size": int,
                                                "tokenizer": vocabulary, "templates": prompt set}.

`write_export_config` / `write_two_towers_export_config` write the JSON (for the trainer); `export_workdir`
reads both and exports (a classifier SavedModel, or the LiT SavedModel of `export/lit_serving.py`).
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any, Dict, Optional, Sequence

import model_garden.models  # noqa: F401  Registers the networks' serialisables that load_model needs.
from model_garden import saving
from model_garden.export import serving

MODEL_FILE = "model.keras"
CONFIG_FILE = "export.json"
_REQUIRED_KEYS = ("image_size", "class_names", "activation")
TWO_TOWERS = "two_towers"
_WRITER = "python -m model_garden.train --workdir={workdir} ..."


def write_export_config(workdir, *, image_size: int, class_names: Optional[Sequence[str]] = None,
                        activation: str = "softmax", resize_method: str = "bilinear") -> str:
  """Writes `workdir/export.json`, the serving facts a `model.keras` file does not carry.

  Args:
    workdir: the training workdir (created if missing).
    image_size: the side the network was trained and evaluated at.
    class_names: the label names in label order, or None.
    activation: "softmax" or "sigmoid", matching the training loss.
    resize_method: the `tf.image.resize` method of the eval preprocessing.

  Returns:
    The path of the written file.

  Example:
    >>> model.save(os.path.join(workdir, "model.keras"))
    >>> write_export_config(workdir, image_size=32, class_names=["circle", "square"])
  """
  config = {"image_size": image_size, "class_names": list(class_names) if class_names is not None else None,
            "activation": activation, "resize_method": resize_method}
  serving.check_arguments(image_size, config["class_names"], activation, resize_method)
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, CONFIG_FILE)
  with open(path, "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
  return path


def write_two_towers_export_config(workdir, *, image_size: int, tokenizer: str,
                                   templates: str = "class_name_only", resize_method: str = "bilinear") -> str:
  """Writes `workdir/export.json` of a two-tower (LiT) run: what `export_lit` needs beside `model.keras`.

  Args:
    workdir: the training workdir.
    image_size: the image tower's input side.
    tokenizer: the training vocabulary (a `.model` / vocab file path, or a shipped name like "mg_shapes_sp").
    templates: the zero-shot prompt templates the SavedModel's `zero_shot` signature uses.
    resize_method: the `tf.image.resize` method of the eval preprocessing.
  """
  config = {"kind": TWO_TOWERS, "image_size": int(image_size), "tokenizer": str(tokenizer),
            "templates": templates, "resize_method": resize_method}
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, CONFIG_FILE)
  with open(path, "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
  return path


def _require(path: pathlib.Path, workdir: pathlib.Path, what: str) -> None:
  if not path.is_file():
    raise FileNotFoundError(
        f"{path} not found: the export needs the {what}, which the trainer writes at the end of "
        f"training. Run {_WRITER.format(workdir=workdir)} first (or point --workdir at a finished run).")


def read_export_config(workdir) -> Dict[str, Any]:
  """Reads and checks `workdir/export.json`; raises FileNotFoundError or ValueError with the fix."""
  workdir = pathlib.Path(workdir)
  path = workdir / CONFIG_FILE
  _require(path, workdir, "serving config (image_size, class_names, activation)")
  try:
    config = json.loads(path.read_text())
  except json.JSONDecodeError as e:
    raise ValueError(f"{path} is not valid JSON ({e}).") from None
  if not isinstance(config, dict):
    raise ValueError(f"{path} must hold a JSON object with keys {_REQUIRED_KEYS}, got {config!r}.")
  if config.get("kind") == TWO_TOWERS:
    missing = [k for k in ("image_size", "tokenizer") if k not in config]
    if missing:
      raise ValueError(f"{path} (a two-tower export) lacks the keys {missing}.")
    config.setdefault("templates", "class_name_only")
    config.setdefault("resize_method", "bilinear")
    return config
  missing = [k for k in _REQUIRED_KEYS if k not in config]
  if missing:
    raise ValueError(f"{path} lacks the keys {missing}; expected {_REQUIRED_KEYS} (class_names may be "
                     "null).")
  config.setdefault("resize_method", "bilinear")
  try:
    serving.check_arguments(config["image_size"], config["class_names"], config["activation"],
                             config["resize_method"])
  except ValueError as e:
    raise ValueError(f"{path}: {e}") from None
  return config


def export_workdir(workdir, output, version: Optional[int] = None, overwrite: bool = False,
                   verbose: bool = False) -> str:
  """Exports the network of a finished training workdir as a SavedModel.

  Args:
    workdir: a directory holding `model.keras` and `export.json` (see the module docstring).
    output: the SavedModel directory or, with `version`, the TF-Serving model base path.
    version: when given, writes into `output/<version>/`, the layout TF-Serving loads.
    overwrite: allow writing into a non-empty directory (a served version should never change under
      a running server, so this is off by default).
    verbose: print Keras's listing of the endpoints.

  Returns:
    The directory the SavedModel was written to.

  Raises:
    FileNotFoundError: a workdir file is missing; the message names it and the command that writes it.
    ValueError: export.json is malformed, or the target directory is not empty.

  Example:
    >>> export_workdir("workdirs/demo", "/tmp/serving/demo", version=1)
    '/tmp/serving/demo/1'
  """
  workdir = pathlib.Path(workdir)
  if not workdir.is_dir():
    raise FileNotFoundError(f"Workdir {workdir} does not exist. Run {_WRITER.format(workdir=workdir)} "
                            "first: it writes model.keras and export.json there.")
  model_path = workdir / MODEL_FILE
  _require(model_path, workdir, "trained network")
  config = read_export_config(workdir)
  if version is not None:
    if int(version) < 0:
      raise ValueError(f"version must be a non-negative integer, got {version}.")
    target = pathlib.Path(output) / str(int(version))
  else:
    target = pathlib.Path(output)
  if target.exists() and any(target.iterdir()) and not overwrite:
    raise ValueError(f"{target} is not empty; choose a new --version (TF-Serving versions should not "
                     "change once served) or pass --overwrite.")
  model = saving.load_model(model_path, compile=True)  # One clear error for a truncated or foreign file.
  if config.get("kind") == TWO_TOWERS:
    from model_garden.export.lit_serving import export_lit  # pylint: disable=g-import-not-at-top
    return export_lit(model, target, tokenizer=config["tokenizer"], templates=config["templates"],
                      image_size=config["image_size"], resize_method=config["resize_method"], verbose=verbose)
  return serving.export_classifier(model, target, image_size=config["image_size"],
                                   class_names=config["class_names"], activation=config["activation"],
                                   resize_method=config["resize_method"], verbose=verbose)
