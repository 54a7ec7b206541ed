"""The papers' configs: recipe numbers, valid network/objective/optimizer/evaluator blocks, the pseudo-label
teacher, and tools/moam.py's three steps. (Every config's runlocal through the CLI: test_config_runlocal_ssl.py.)"""

import importlib
import json
import os
import sys

import keras
import ml_collections
import numpy as np
import pytest

import model_garden  # noqa: F401  (registers models, objectives, evaluators, the semi_supervised source)
from model_garden import evaluation, models, objectives, optimizers, training
from model_garden.training import networks as mg_networks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = ["rotation", "exemplar", "jigsaw", "relative_patch_location", "s4l_rotation", "s4l_exemplar",
           "supervised", "vat", "pseudo_label", "moam"]
EXTRA = {"pseudo_label": "pseudo_labels=/tmp/labels.json", "moam": "step=1"}


def _config(name, arg=""):
  module = importlib.import_module(f"model_garden.configs.ssl.{name}")
  return module.get_config(",".join(a for a in (arg, EXTRA.get(name, "")) if a))


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("arg", ["", "runlocal"])
def test_config_blocks_are_valid(name, arg):
  config = _config(name, arg)
  training.check_config(config)
  assert isinstance(config.objective, ml_collections.ConfigDict)  # fields, not spec strings
  assert set(config.networks) == set(objectives.network_names(config.objective))
  for entry in config.networks.values():
    spec, _ = mg_networks.split_entry(entry)
    models.MODELS.check_arguments(spec["name"], (), {k: v for k, v in spec.items() if k != "name"})
  kwargs = {k: v for k, v in config.objective.items() if k != "name"}
  objectives.OBJECTIVES.check_arguments(config.objective.name, (), {**kwargs, **{n: None for n in config.networks}})
  optimizers.make(config.optimizer, total_steps=config.total_steps)
  evaluation.build_evaluators(config.evals, data_dir=config.input.get("data_dir"))
  for key in ("model", "init", "eval_steps"):
    assert key not in config
  assert set(config.export) == {"class_names"}
  assert not config.input.cache or not config.input.data["name"].startswith("semi_supervised")


def test_recipe_numbers():
  rot = _config("rotation")
  assert (rot.networks.network.name, rot.networks.network.width, rot.networks.network.num_classes) == (
      "revnet50", 4.0, 4)
  assert rot.optimizer.lr == pytest.approx(0.025) and rot.optimizer.momentum == 0.9
  assert rot.total_steps == 35 * (1_231_121 // 64) and rot.log_steps == 1_231_121 // 64 // 4
  assert rot.optimizer.schedule.warmup_steps == 5 * (1_231_121 // 64)
  assert rot.optimizer.schedule.boundaries == pytest.approx((15 / 35, 25 / 35))
  assert rot.input.data.split == "train[:1231121]"
  assert rot.evals.linear.data.train_split == "train[1231121:]"
  s4l = _config("s4l_rotation")
  assert (s4l.input.batch_size, s4l.total_steps, s4l.optimizer.lr) == (512, 100_000, 0.03)
  assert "count_per_class=128" in s4l.input.data["name"] and s4l.objective.weight_decay == 1e-3
  assert s4l.optimizer.schedule.boundaries == pytest.approx((0.7, 0.8, 0.9))
  assert _config("s4l_rotation", "labels=1").total_steps == 200 * 50
  sup1 = _config("supervised", "labels=1")
  assert sup1.total_steps == 50_000 and sup1.objective.weight_decay == 0.01
  assert sup1.optimizer.lr == pytest.approx(0.01) and sup1.checkpoint_steps == 20 * 50
  moam = _config("moam")
  assert (moam.networks.network.name, moam.networks.network.width) == ("resnet50_v2", 4.0)
  assert moam.total_steps == 200_000 and moam.optimizer.lr == pytest.approx(0.1)
  assert moam.objective.vat_epsilon == 32.0 and moam.optimizer.schedule.warmup_steps == 10_000
  assert _config("moam", "runlocal").objective.vat_epsilon == pytest.approx(32.0 * 32 / 224)
  step3 = importlib.import_module("model_garden.configs.ssl.moam").get_config("step=3,init=/w/step2/model.keras")
  assert step3.networks.network.init == "/w/step2/model.keras" and step3.total_steps == 20 * 500
  vat = _config("vat", "entmin=True")
  assert vat.objective.epsilon == 40.0 and vat.objective.entmin_weight == 1.0
  assert _config("vat", "runlocal").objective.epsilon == pytest.approx(40.0 * 32 / 224)
  ex = _config("exemplar")
  assert ex.objective.num_views == 8 and ex.objective.normalize_axis == 0
  assert ex.networks.network.get("image_size", 224) == 224  # the view size: the network's image_size
  jig = _config("jigsaw")
  assert (jig.objective.num_permutations, jig.objective.patch_size, jig.objective.hidden) == (100, 64, 4096)
  assert jig.networks.network.strides == (2, 2, 1) and jig.networks.network.image_size == 64
  with pytest.raises(ValueError, match="pseudo_labels=FILE"):
    importlib.import_module("model_garden.configs.ssl.moam").get_config("step=2")


def test_runlocal_networks_are_tiny_twins():
  rot = _config("rotation", "runlocal,arch=resnet50_v1,batch=2")
  assert rot.input.batch_size == 2 and rot.input.data.name == "mg_shapes/px32"
  assert dict(rot.networks.network) == dict(name="ssl_resnet_v1", width=0.0625, num_classes=4, layers=(1, 1, 1, 1),
                                            image_size=32, init="", init_skip="", frozen=False)
  rpl = _config("relative_patch_location", "runlocal")
  assert (rpl.networks.network.image_size, rpl.networks.network.strides, rpl.objective.patch_size) == (
      8, (2, 2, 1), 8)


def test_pseudo_label_arguments():
  module = importlib.import_module("model_garden.configs.ssl.pseudo_label")
  with pytest.raises(ValueError, match="pseudo_labels=FILE .* or teacher=MODEL.keras"):
    module.get_config("")
  with pytest.raises(ValueError, match="not both"):
    module.get_config("teacher=t.keras,pseudo_labels=l.json")
  offline = module.get_config("pseudo_labels=l.json")
  assert offline.objective.name == "classification" and set(offline.networks) == {"network"}
  assert "pseudo_labels='l.json'" in offline.input.data.name
  online = module.get_config("teacher=t.keras")
  assert online.objective.name == "pseudo_label"
  assert (online.networks.teacher.name, online.networks.teacher.init) == ("", "t.keras")
  tiny = module.get_config("runlocal")
  assert tiny.networks.teacher.init == "" and tiny.networks.teacher.name == tiny.networks.network.name


def test_pseudo_label_teacher_file_is_loaded_by_the_trainer(tmp_path):
  keras.utils.set_random_seed(1)
  saved = models.get("ssl_resnet_v2(layers=(1, 1, 1, 1), width=0.0625, image_size=32, num_classes=8)")
  path = str(tmp_path / "teacher.keras")
  saved.save(path)
  config = importlib.import_module("model_garden.configs.ssl.pseudo_label").get_config(f"runlocal,teacher={path}")
  objective, reports = training.build_objective(config)
  teacher = objective.networks["teacher"]
  assert reports["teacher"]["source"] == path and type(teacher) is type(saved)
  for mine, theirs in zip(teacher.weights, saved.weights):
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
  assert not teacher.trainable and not any(v is w for v in objective.trainable_variables for w in teacher.weights)


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
  with open(os.path.join(workdir, "step3", "config.json")) as f:
    assert json.load(f)["networks"]["network"]["init"] == os.path.join(workdir, "step2", "model.keras")
  assert moam_tool.run(workdir, f"runlocal,dataset=mg_shapes/tiny32,data_dir={data_dir}", verbose=0) == summary
