"""Every config of configs/ssl/ runs its `runlocal` through the command line, on its default dataset.

`python -m model_garden.train --config=model_garden/configs/ssl/<name>.py:runlocal --workdir=DIR` as the
docstrings give it: the same flags (absl + ml_collections' config file flag) and the same `main`, run for every
config in one subprocess to import TensorFlow once (each run parses the command line anew). The default
dataset is the embedded mg_shapes/px32 in ~/tensorflow_datasets (or $TFDS_DATA_DIR), prepared on first use.
"""

import json
import math
import os

import pytest

from runlocal_driver import result_of, run_runlocal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = ["exemplar", "jigsaw", "moam", "pseudo_label", "relative_patch_location", "rotation", "s4l_exemplar",
           "s4l_rotation", "supervised", "vat"]
PRETEXT = {"exemplar", "jigsaw", "relative_patch_location", "rotation"}  # export the network, no export.json
LINEAR_PROBED = {"exemplar", "rotation"}
OBJECTIVES = {"moam": "rotation_vat", "supervised": "classification"}  # the others: the config's name
# One run also overrides fields from the command line, as the docstrings say every field can be.
OVERRIDES = {"rotation": "--config.networks.network.width=0.125 --config.objective.weight_decay=0.0"}
EXTRA_METRICS = {"exemplar": "train/retrieval_accuracy", "moam": "train/vat", "pseudo_label": "train/agreement",
                 "rotation": "train/accuracy", "s4l_exemplar": "train/retrieval_accuracy",
                 "s4l_rotation": "train/pretext_accuracy", "vat": "train/vat"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """{config name: (workdir, results)} of one subprocess running every runlocal command line."""
  base = tmp_path_factory.mktemp("runlocal_ssl")
  workdirs = {name: str(base / name) for name in CONFIGS}
  commands = {name: f"model_garden.train --config=model_garden/configs/ssl/{name}.py:runlocal "
                    f"--workdir={workdirs[name]} {OVERRIDES.get(name, '')}".strip() for name in CONFIGS}
  return run_runlocal(commands, workdirs)


@pytest.mark.parametrize("name", CONFIGS)
def test_runlocal_cli(runs, name):
  workdir, numbers = result_of(runs, name)
  assert numbers["step"] == 6
  assert math.isfinite(numbers["train/loss"]) and numbers["train/loss"] > 0
  if name in EXTRA_METRICS:
    assert EXTRA_METRICS[name] in numbers
  assert os.path.exists(os.path.join(workdir, "model.keras"))
  assert os.path.exists(os.path.join(workdir, "export.json")) == (name not in PRETEXT)
  if name in LINEAR_PROBED:
    assert 0.0 <= numbers["linear/pre_logits/test_accuracy"] <= 1.0
  if name not in PRETEXT:  # the class accuracy on the first 64 validation images
    assert numbers["test/num_examples"] == 64 and 0.0 <= numbers["test/accuracy"] <= 1.0
  with open(os.path.join(workdir, "config.json")) as f:
    config = json.load(f)
  assert config["input"]["data"]["name"].count("mg_shapes/px32") == 1
  assert config["objective"]["name"] == OBJECTIVES.get(name, name)
  if name == "rotation":
    assert config["networks"]["network"]["width"] == 0.125 and config["objective"]["weight_decay"] == 0.0


def test_every_run_passed(runs):
  proc, _ = runs
  assert proc.returncode == 0 and "FAILED []" in proc.stdout, proc.stderr[-6000:]
