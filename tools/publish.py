r"""Publishes a preset to Kaggle Models with kagglehub, after checking it; `--dry_run` only checks and lists.

Usage:
  python tools/publish.py --preset=~/.cache/model_garden/presets/vit_augreg_b16_i21k_ft_i1k \
      --handle=OWNER/vit-augreg/keras/b16-i21k-ft-i1k --dry_run
  python tools/publish.py --preset=my_preset.tar.gz --handle=OWNER/my-model/keras/v1 \
      --version_notes="fine-tuned on pets"

The handle is Kaggle's OWNER/MODEL/FRAMEWORK/VARIATION (no version: Kaggle numbers versions itself). The
preset is validated first: every file present, the model loads, the model card names a licence, training
data and expected accuracy, and the SavedModel loads and agrees with the Keras model. The licence sent to
Kaggle is the card's (`licence.kaggle_license_name`, else its name) unless --license_name is given.
Uploading needs Kaggle credentials (`kagglehub.login()`, ~/.kaggle/kaggle.json or KAGGLE_USERNAME/KAGGLE_KEY)
and `pip install kagglehub` (installed with model_garden's dev extra through keras-hub).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, Optional, Sequence

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HANDLE_PARTS = ("OWNER", "MODEL", "FRAMEWORK", "VARIATION")


def check_handle(handle: str) -> Dict[str, str]:
  """Splits OWNER/MODEL/FRAMEWORK/VARIATION, or raises ValueError saying what is wrong."""
  parts = handle.strip("/").split("/") if handle else []
  if len(parts) == 5 and parts[4].isdigit():
    raise ValueError(f"--handle {handle!r} includes a version ({parts[4]}); give OWNER/MODEL/FRAMEWORK/VARIATION "
                     "and Kaggle adds the next version.")
  if len(parts) != 4 or not all(parts):
    raise ValueError(f"--handle must be OWNER/MODEL/FRAMEWORK/VARIATION (e.g. me/vit-augreg/keras/b16), got "
                     f"{handle!r}.")
  return dict(zip(HANDLE_PARTS, parts))


def _human(size: int) -> str:
  for unit in ("B", "KiB", "MiB", "GiB"):
    if size < 1024 or unit == "GiB":
      return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
    size /= 1024.0
  return str(size)


def import_kagglehub():
  """kagglehub, imported only when uploading."""
  try:
    import kagglehub  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise ImportError("Uploading needs kagglehub: `pip install kagglehub` (model_garden's dev extra installs it "
                      "with keras-hub). --dry_run works without it.") from None
  return kagglehub


def plan(preset: str, handle: str, *, license_name: Optional[str] = None,
         version_notes: Optional[str] = None) -> Dict[str, Any]:
  """Validates the preset and returns what would be uploaded (raises ValueError on an invalid handle)."""
  from model_garden.presets import validate_preset  # pylint: disable=import-outside-toplevel
  parts = check_handle(handle)
  report = validate_preset(preset)
  # The card as loaded with the model, or, when the model does not load (e.g. its weights are missing), as
  # written in metadata.json: a broken preset must not also be reported as having no licence.
  card = report["metadata"] or _read_card(report["path"])
  licence = card.get("licence") or {}
  if isinstance(licence, str):
    licence = {"name": licence}
  licence_name = license_name or licence.get("kaggle_license_name") or licence.get("name")
  notes = version_notes or (f"{card.get('title') or card.get('name')}: model_garden "
                            f"{card.get('model_garden_version')} preset" if card else "")
  problems = list(report["problems"])
  if not licence_name and (card or not any("metadata.json" in p for p in problems)):
    problems.append("no licence: set it in the model card or pass --license_name.")
  framework = parts["FRAMEWORK"].lower()
  if framework not in ("keras", "tensorflow2", "tensorflow", "other"):
    problems.append(f"framework {parts['FRAMEWORK']!r}: a model_garden preset is Keras weights plus a TF "
                    "SavedModel; use 'keras' (or 'tensorFlow2').")
  return {"handle": handle, "parts": parts, "preset": report["path"], "license_name": licence_name,
          "version_notes": notes, "files": report["files"], "total_bytes": report["total_bytes"],
          "model_class": report["model_class"], "params": report["params"], "saved_model": report["saved_model"],
          "problems": problems}


def _read_card(path: str) -> Dict[str, Any]:
  """metadata.json of the preset directory `path` as written, or {} when it is missing or unreadable."""
  import json  # pylint: disable=import-outside-toplevel
  try:
    with open(os.path.join(path, "metadata.json")) as f:
      card = json.load(f)
  except (OSError, ValueError):
    return {}
  return card if isinstance(card, dict) else {}


def _network_error(error: BaseException) -> bool:
  """Whether `error` says the network or Kaggle's server could not be reached (requests, urllib3, sockets)."""
  if isinstance(error, (ConnectionError, TimeoutError)):
    return True
  for cls in type(error).__mro__:
    module = cls.__module__.split(".")[0]
    if module in ("requests", "urllib3", "socket") and any(
        word in cls.__name__ for word in ("Connection", "Timeout", "Proxy", "SSL", "NameResolution", "gaierror")):
      return True
  return False


def describe(upload: Dict[str, Any]) -> str:
  lines = [f"handle:        {upload['handle']}",
           f"preset:        {upload['preset']}",
           f"model:         {upload['model_class']} ({upload['params'] or 0:,} parameters)",
           f"licence:       {upload['license_name']}",
           f"version notes: {upload['version_notes']}"]
  if upload["saved_model"]:
    lines.append(f"saved_model:   signatures {', '.join(upload['saved_model']['signatures'])}; agrees with Keras "
                 f"(max abs diff {upload['saved_model']['max_abs_diff']:.2g})")
  lines.append(f"files ({len(upload['files'])}, {_human(upload['total_bytes'])} in all):")
  lines += [f"  {_human(f['bytes']):>10}  {f['path']}" for f in upload["files"]]
  if upload["problems"]:
    lines.append("problems:")
    lines += [f"  - {p}" for p in upload["problems"]]
  return "\n".join(lines)


def _stderr(message: str) -> None:
  print(message, file=sys.stderr)


def run(argv: Optional[Sequence[str]] = None, *, out=print, err=_stderr) -> int:
  """The command line; returns the exit status."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--preset", required=True, help="Preset directory, .tar.gz, or cached catalogue name.")
  parser.add_argument("--handle", required=True, help="Kaggle OWNER/MODEL/FRAMEWORK/VARIATION.")
  parser.add_argument("--license_name", default=None, help="Kaggle licence name (default: the model card's).")
  parser.add_argument("--version_notes", default=None)
  parser.add_argument("--dry_run", action="store_true", help="Validate and list what would be uploaded.")
  parser.add_argument("--verbose", action="store_true", help="Show the traceback of every error and the INFO logs.")
  args = parser.parse_args(argv)
  try:
    upload = plan(args.preset, args.handle, license_name=args.license_name, version_notes=args.version_notes)
  except Exception as e:  # pylint: disable=broad-except  (bad handle or path: one line says which)
    err(f"error: {e}")
    return 2
  out(("DRY RUN: nothing is uploaded.\n" if args.dry_run else "") + describe(upload))
  if upload["problems"]:
    err(f"error: the preset is not ready to publish ({len(upload['problems'])} problem(s) above).")
    return 1
  if args.dry_run:
    out(f"Would call kagglehub.model_upload({args.handle!r}, {upload['preset']!r}, "
        f"license_name={upload['license_name']!r}, version_notes={upload['version_notes']!r}).")
    return 0
  try:
    kagglehub = import_kagglehub()
  except ImportError as e:
    err(f"error: {e}")
    return 1
  # `preset` is a directory: validation unpacked an archive, and Kaggle uploads directories.
  try:
    kagglehub.model_upload(args.handle, upload["preset"], license_name=upload["license_name"],
                           version_notes=upload["version_notes"])
  except Exception as e:  # pylint: disable=broad-except
    if not _network_error(e):
      raise
    first = (str(e).strip().splitlines() or [""])[0][:200]
    err(f"error: could not reach Kaggle to upload ({type(e).__name__}: {first}). Check the network connection "
        "(and HTTPS_PROXY if you use one) and rerun; --dry_run validates the preset offline.")
    return 1
  out(f"Uploaded to https://www.kaggle.com/models/{'/'.join(args.handle.split('/')[:2])}")
  return 0


if __name__ == "__main__":
  import _command  # pylint: disable=g-import-not-at-top  (tools/_command.py)
  sys.exit(_command.guard(run))
