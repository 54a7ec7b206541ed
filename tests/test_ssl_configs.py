"""The papers' configs: recipe numbers, valid specs, and `runlocal` runs through the trainer and tools/moam.py."""

import importlib
import json
import os
import sys

import pytest

import model_garden.models.ssl  # noqa: F401  (registers the networks)
import model_garden.objectives.ssl  # noqa: F401  (registers the objectives)
import model_garden.data.semi_supervised  # noqa: F401  (registers the semi_supervised source)
from model_garden import models, objectives, optimizers
from model_garden.registry import parse_spec
from model_garden.training import trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = ["rotation", "exemplar", "jigsaw", "relative_patch_location", "s4l_rotation", "s4l_exemplar",
           "supervised", "vat", "pseudo_label", "moam"]
EXTRA = {"pseudo_label": "pseudo_labels=/tmp/labels.json", "moam": "step=1"}


def _config(name, arg=""):
  module = importlib.import_module(f"model_garden.configs.ssl.{name}")
  return module.get_config(",".join(a for a in (arg, EXTRA.get(name, "")) if a))


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("arg", ["", "runlocal"])
def test_config_specs_are_valid(name, arg):
  config = _config(name, arg)
  trainer._check_schedule(config)  # pylint: disable=protected-access
  spec_name, args, kwargs = parse_spec(config.model)
  models.MODELS.check_arguments(spec_name, args, kwargs)
  spec_name, args, kwargs = parse_spec(config.objective)
  objectives.OBJECTIVES.check_arguments(spec_name, args, {**kwargs, "network": None})
  optimizers.make(config.optimizer, total_steps=config.total_steps)
  assert not config.input.cache or not config.input.data["name"].startswith("semi_supervised")


def test_recipe_numbers():
  rot = _config("rotation")
  assert rot.model == "revnet50(width=4.0, num_classes=4)" and rot.optimizer.lr == pytest.approx(0.025)
  assert rot.total_steps == 35 * (1_231_121 // 64)
  s4l = _config("s4l_rotation")
  assert (s4l.input.batch_size, s4l.total_steps, s4l.optimizer.lr) == (512, 100_000, 0.03)
  assert "count_per_class=128" in s4l.input.data["name"] and "weight_decay=1e-3" in s4l.objective
  assert _config("s4l_rotation", "labels=1").total_steps == 200 * 50
  sup1 = _config("supervised", "labels=1")
  assert sup1.total_steps == 50_000 and "weight_decay=0.01" in sup1.objective
  moam = _config("moam")
  assert moam.model == "resnet50_v2(width=4.0, num_classes=1000)" and moam.total_steps == 200_000
  assert "vat_epsilon=32.0" in moam.objective and moam.optimizer.lr == pytest.approx(0.1)
  vat = _config("vat", "entmin=True")
  assert "epsilon=40.0" in vat.objective and "entmin_weight=1.0" in vat.objective
  with pytest.raises(ValueError, match="pseudo_labels=FILE"):
    importlib.import_module("model_garden.configs.ssl.moam").get_config("step=2")


def _runlocal(name, tiny_shapes, tmp_path, extra=""):
  _, data_dir = tiny_shapes
  config = _config(name, f"runlocal,dataset=mg_shapes/tiny32,data_dir={data_dir}{extra}")
  return trainer.train(config, str(tmp_path / name), verbose=0)


def test_s4l_rotation_runlocal(tiny_shapes, tmp_path):
  results = _runlocal("s4l_rotation", tiny_shapes, tmp_path)
  assert results["step"] == 6 and 0.0 <= results["test/accuracy"] <= 1.0
  assert "train/pretext_accuracy" in results
  assert os.path.exists(tmp_path / "s4l_rotation" / "model.keras")


def test_jigsaw_runlocal(tiny_shapes, tmp_path):
  results = _runlocal("jigsaw", tiny_shapes, tmp_path)
  assert results["step"] == 6 and "train/accuracy" in results


def test_moam_tool_runs_three_steps(tiny_shapes, tmp_path):
  sys.path.insert(0, os.path.join(ROOT, "tools"))
  try:
    moam_tool = importlib.import_module("moam")
  finally:
    sys.path.pop(0)
  _, data_dir = tiny_shapes
  workdir = str(tmp_path / "moam")
  summary = moam_tool.run(workdir, f"runlocal,dataset=mg_shapes/tiny32,data_dir={data_dir}", verbose=0)
  assert set(summary) == {"step1", "step2", "step3"}
  with open(os.path.join(workdir, "pseudo_labels.json")) as f:
    assert len(json.load(f)["labels"]) == 256
  for step in (1, 2, 3):
    assert os.path.exists(os.path.join(workdir, f"step{step}", "model.keras"))
  assert moam_tool.run(workdir, f"runlocal,dataset=mg_shapes/tiny32,data_dir={data_dir}", verbose=0) == summary
