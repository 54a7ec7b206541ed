r"""Converts an official `.npz` checkpoint (ViT, MLP-Mixer) into a `.keras` file.

Usage:
  python tools/convert_checkpoint.py --source=ViT-B_16.npz \
      --model="vit(variant='B/16', num_classes=21843, pool='tok', rep_size=768)" --output=vit_b16.keras

The `.keras` file loads anywhere model_garden is installed:
  import keras, model_garden
  model = keras.saving.load_model("vit_b16.keras")

`--dont_load='head/.*'` keeps a freshly initialised head (e.g. to fine-tune with another class count);
`--source=file.npz:img` picks the image tower of a two-tower (LiT) file.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from absl import app, flags



def define_flags():
  """Defines the command-line flags (only when run as a script, so tests can import `run`)."""
  flags.DEFINE_string("source", None, "The .npz checkpoint (file.npz:subtree selects a sub-tree).")
  flags.DEFINE_string("model", None, "Model spec, e.g. \"vit(variant='B/16', num_classes=1000, pool='tok')\".")
  flags.DEFINE_string("output", None, "Where to write the .keras file.")
  flags.DEFINE_multi_string("dont_load", [], "Regular expressions of checkpoint keys to leave as initialised.")


def run(source: str, model_spec: str, output: str, dont_load: Sequence[str] = ()) -> str:
  """Converts `source` into the model `model_spec` and saves it to `output`; returns a one-line summary."""
  os.environ.setdefault("KERAS_BACKEND", "tensorflow")
  import model_garden  # pylint: disable=import-outside-toplevel,unused-import  (registers serialisables)
  from model_garden import convert  # pylint: disable=import-outside-toplevel

  if not output.endswith(".keras"):
    raise ValueError(f"--output must end with .keras, got {output!r}.")
  model = convert.convert(source, model_spec, dont_load=tuple(dont_load))
  directory = os.path.dirname(os.path.abspath(output))
  os.makedirs(directory, exist_ok=True)
  model.save(output)
  return f"Wrote {output}: {type(model).__name__} with {model.count_params():,} parameters from {source}."


def main(argv):
  del argv
  for name in ("source", "model", "output"):
    if not getattr(flags.FLAGS, name):
      raise app.UsageError(f"--{name} is required.")
  from model_garden.convert import CheckpointMismatchError  # pylint: disable=import-outside-toplevel

  try:
    print(run(flags.FLAGS.source, flags.FLAGS.model, flags.FLAGS.output, flags.FLAGS.dont_load))
  except CheckpointMismatchError as e:
    sys.exit(f"error: {e}")  # The message lists the keys and the fix; a traceback would bury it.


if __name__ == "__main__":
  import _command  # pylint: disable=g-import-not-at-top  (tools/_command.py)
  define_flags()
  _command.run(main)
