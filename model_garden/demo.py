r"""`make demo`: train on the embedded mg_shapes dataset, evaluate, export a SavedModel, print JSON.

  python -m model_garden.demo --workdir=workdirs/demo [--steps=600]

The last line printed is a JSON object with the figures (test accuracy, steps, seconds, paths).
"""

import json
import os
import time

from absl import app, flags

import model_garden  # noqa: F401
from model_garden.configs import mg_shapes_classification
from model_garden.training import train

_WORKDIR = flags.DEFINE_string("workdir", "workdirs/demo", "Where checkpoints, model and SavedModel go.")
_STEPS = flags.DEFINE_integer("steps", 600, "Training steps (a multiple of 50).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "tfds data_dir (default ~/tensorflow_datasets).")


def main(argv):
  del argv
  from model_garden import export  # pylint: disable=g-import-not-at-top
  started = time.time()
  config = mg_shapes_classification.get_config(f"steps={_STEPS.value}")
  config.input.data_dir = _DATA_DIR.value
  results = train(config, _WORKDIR.value, verbose=2)
  saved_model = os.path.join(_WORKDIR.value, "saved_model")
  export.export_workdir(_WORKDIR.value, saved_model, overwrite=True)
  figures = {
      "demo": "mg_shapes shape classification",
      "model": config.model,
      "steps": results["step"],
      "test_accuracy": round(results["test/accuracy"], 4),
      "validation_accuracy": round(results["val/accuracy"], 4),
      "train_seconds": results["train_seconds"],
      "total_seconds": round(time.time() - started, 1),
      "saved_model": saved_model,
  }
  print(f"Test accuracy: {figures['test_accuracy']:.4f}. SavedModel written to {saved_model}.")
  print(json.dumps(figures))


if __name__ == "__main__":
  app.run(main)
