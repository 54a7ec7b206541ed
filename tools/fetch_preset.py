r"""Downloads (or takes a local copy of) a published checkpoint, converts it and writes it as a preset.

Usage:
  python tools/fetch_preset.py --list                                  # the catalogue
  python tools/fetch_preset.py vit_augreg_b16_i21k_ft_i1k              # download, convert, write the preset
  python tools/fetch_preset.py bit_m_r50x1 --source=~/BiT-M-R50x1.npz  # offline: convert a local copy
  python tools/fetch_preset.py lit_b16b_2 --source=LiT-B16B_2.npz --vocab=LiT-B16B_2.txt

The preset lands in `--cache_dir` (default $MODEL_GARDEN_PRESETS or ~/.cache/model_garden/presets) as
`<cache>/<name>`, where `model_garden.from_preset(name)` finds it. Downloads go to `<cache>/downloads/` and
are reused. Without network access the tool stops at once and says which file to fetch and where to put it.
The converter checks every array's shape against the catalogue's model spec; a file that does not fit is
rejected with the list of mismatched keys.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _list(out=print) -> None:
  from model_garden.presets import catalogue  # pylint: disable=import-outside-toplevel
  for name in catalogue.names():
    item = catalogue.entry(name)
    accuracy = item["accuracy"]
    acc = f"{accuracy['value']}% {accuracy['dataset']}" if accuracy else "-"
    out(f"{name:30s} {item['image_size']:>4d}px  {acc:38s} {catalogue.weights_file(item)['file_name']}")


def _stderr(message: str) -> None:
  print(message, file=sys.stderr)


def run(argv: Optional[Sequence[str]] = None, *, download=None, out=print, err=_stderr) -> int:
  """The command line; returns the exit status (tests call it with an injected `download`)."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("name", nargs="?", help="Catalogue name (see --list).")
  parser.add_argument("--list", action="store_true", help="List the catalogue and exit.")
  parser.add_argument("--cache_dir", default=None, help="Preset cache root (default $MODEL_GARDEN_PRESETS or "
                                                        "~/.cache/model_garden/presets).")
  parser.add_argument("--source", default=None, help="Local copy of the original weights (.npz); no download.")
  parser.add_argument("--vocab", default=None, help="Local copy of the tokenizer vocabulary (LiT presets).")
  parser.add_argument("--force", action="store_true", help="Rebuild a preset that is already cached.")
  parser.add_argument("--no_saved_model", action="store_true", help="Skip the serving SavedModel export.")
  parser.add_argument("--catalogue", default=None, help=argparse.SUPPRESS)  # Tests: another catalogue file.
  parser.add_argument("--verbose", action="store_true", help="Show the traceback of every error and the INFO logs.")
  args = parser.parse_args(argv)
  if args.list:
    _list(out)
    return 0
  if not args.name:
    parser.error("give a preset NAME (see --list).")
  from model_garden.convert import CheckpointMismatchError  # pylint: disable=import-outside-toplevel
  # pylint: disable-next=import-outside-toplevel
  from model_garden.presets import FetchError, PresetNotFoundError, fetch_preset
  try:
    path = fetch_preset(args.name, cache_dir=args.cache_dir, source=args.source, vocab=args.vocab,
                        download=download, force=args.force, saved_model=not args.no_saved_model,
                        catalogue_path=args.catalogue, log=out)
  except (FetchError, PresetNotFoundError, CheckpointMismatchError) as e:
    # The messages name the file, the place to put it or the mismatched keys; a traceback would bury that.
    err(f"error: {e}")
    return 1
  out(f"Load it with: model_garden.from_preset({args.name!r}" +
      (f", cache_dir={args.cache_dir!r})" if args.cache_dir else ")") + f"  # {path}")
  return 0


if __name__ == "__main__":
  import _command  # pylint: disable=g-import-not-at-top  (tools/_command.py)
  sys.exit(_command.guard(run))
