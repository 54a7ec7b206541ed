"""The VTAB-1k protocol end to end on mock data: sweep -> select on val200 -> retrain -> test; resume; report."""

import importlib.util
import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

import model_garden
from model_garden.registry import spec_to_dict
from model_garden.training import network_spec
from model_garden.data import DatasetUnavailableError
from model_garden.data.vtab import TASKS, mock_vtab_data
from model_garden.registry import SpecError
from model_garden.transfer import vtab, vtab_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = "resnet_small(widths=(8,))"
TASK_NAMES = ("cifar100", "clevr_count", "dsprites_orientation")
NUM_EXAMPLES = 20  # per split; eval batch 8 -> a last batch of 4 that must not be dropped
SETTINGS = dict(lrs=(0.1, 0.01), steps=(3,), batch_size=8, image_size=16, eval_batch_size=8)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
  """A tiny 'pre-trained' network with a 7-class head, saved as .keras (the --init of every run)."""
  path = str(tmp_path_factory.mktemp("upstream") / "model.keras")
  net = model_garden.models.get("resnet_small(widths=(8,), num_classes=7, image_size=16)")
  for v in net.weights:
    v.assign(np.full(v.shape, 0.01, np.float32))
  net.save(path)
  return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory, upstream):
  workdir = str(tmp_path_factory.mktemp("vtab"))
  with mock_vtab_data(num_examples=NUM_EXAMPLES):
    report = vtab.run_vtab(MODEL, ",".join(TASK_NAMES), workdir, init=upstream, **SETTINGS)
  return workdir, report


def test_protocol_end_to_end(finished, upstream):
  workdir, report = finished
  assert [r["task"] for r in report["results"]] == list(TASK_NAMES) and not report["unavailable"]
  for result in report["results"]:
    task = TASKS[result["task"]]
    assert [(s["lr"], s["steps"]) for s in result["sweep"]] == [(0.1, 3), (0.01, 3)]
    assert all(s["val_examples"] == NUM_EXAMPLES for s in result["sweep"])
    best = vtab.select_best(result["sweep"])
    assert (result["best"]["lr"], result["best"]["steps"]) == (best["lr"], best["steps"])
    assert 0.0 <= result["accuracy"] <= 1.0
    assert result["test_examples"] == NUM_EXAMPLES  # drop_remainder=False: 8 + 8 + 4
    assert result["expected_test_examples"] == {"cifar100": 10000, "clevr_count": 15000,
                                                "dsprites_orientation": 73728}[task.name]
    with open(os.path.join(workdir, task.name, "result.json")) as f:
      assert json.load(f)["accuracy"] == result["accuracy"]

    # The final run: train800val200, the task's head size, init without the head, test split.
    final_dir = os.path.join(workdir, task.name, result["run"])
    with open(os.path.join(final_dir, "config.json")) as f:
      config = json.load(f)
    assert config["input"]["data"] == {"name": task.builder, "split": task.splits["train800val200"]}
    assert config["evals"]["test"]["data"]["split"] == task.splits["test"]
    network = config["networks"]["network"]
    assert spec_to_dict(network_spec(network)) == {"name": "resnet_small", "widths": [8],
                                                   "num_classes": task.num_classes, "image_size": 16}
    assert network["init"] == upstream and network["init_skip"] == "head/.*"
    assert config["optimizer"]["name"] == "sgd" and config["optimizer"]["momentum"] == 0.9
    assert config["optimizer"]["wd"] == 0.0
    assert config["total_steps"] == result["best"]["steps"] and config["input"]["batch_size"] == 8
    net = keras.saving.load_model(os.path.join(final_dir, "model.keras"), compile=False)
    assert tuple(net.head.kernel.shape) == (8, task.num_classes)
    # The backbone started from `upstream` (all 0.01) and moved only a little in 3 small steps.
    assert abs(float(np.mean(net.stem.kernel.numpy())) - 0.01) < 0.01
    # Disk: checkpoints and sweep models are removed once their results are in.
    assert not os.path.exists(os.path.join(final_dir, "checkpoints"))
    for entry in result["sweep"]:
      run_dir = os.path.join(workdir, task.name, entry["run"])
      assert os.path.exists(os.path.join(run_dir, "results.json"))
      assert not os.path.exists(os.path.join(run_dir, "model.keras"))


def test_report_files(finished):
  workdir, report = finished
  accuracies = {r["task"]: r["accuracy"] for r in report["results"]}
  summary = report["summary"]
  assert summary["natural"] == pytest.approx(accuracies["cifar100"])
  assert summary["structured"] == pytest.approx((accuracies["clevr_count"] + accuracies["dsprites_orientation"]) / 2)
  assert summary["vtab"] == pytest.approx(sum(accuracies.values()) / 3)
  assert summary["specialized"] is None and not summary["complete"]
  table = open(os.path.join(workdir, "report.md")).read()
  assert "Clevr-Count (`clevr_count`)" in table and "**VTAB mean** (3/19 tasks)" in table
  rows = open(os.path.join(workdir, "report.csv")).read().splitlines()
  assert rows[0].startswith("task,display_name,group,accuracy") and rows[-1].startswith("mean/vtab,")
  with Image.open(os.path.join(workdir, "report.png")) as png:
    assert png.format == "PNG" and png.size[0] >= 320


def test_rerun_reads_finished_runs_and_refuses_changed_settings(finished, upstream, monkeypatch):
  workdir, report = finished

  def no_training(*args, **kwargs):
    raise AssertionError("a finished run was trained again")
  monkeypatch.setattr(model_garden.training, "train", no_training)
  with mock_vtab_data(num_examples=NUM_EXAMPLES):
    again = vtab.run_vtab(MODEL, ",".join(TASK_NAMES), workdir, init=upstream, **SETTINGS)
    assert [r["accuracy"] for r in again["results"]] == [r["accuracy"] for r in report["results"]]
    with pytest.raises(ValueError, match="other settings .*model"):
      vtab.run_vtab("resnet_small(widths=(4,))", "cifar100", workdir, init=upstream, **SETTINGS)


def test_interrupted_run_is_continued_in_its_directory(tmp_path, monkeypatch):
  """A run directory without results.json is handed to the trainer again (which resumes its checkpoint)."""
  calls = []

  def fake_train(config, workdir, **kwargs):
    calls.append(workdir)
    split = config.evals.to_dict()
    key = "val" if "val" in split else "test"
    return {f"{key}/accuracy": 0.5 if config.optimizer.lr == 0.01 else 0.25, f"{key}/num_examples": 200}
  monkeypatch.setattr(model_garden.training, "train", fake_train)
  monkeypatch.setattr(vtab, "prepare_task", lambda *a, **k: None)
  protocol = vtab.VtabProtocol(lrs=(0.1, 0.01), steps=(5,), batch_size=8, image_size=16)
  result = protocol.run_task(MODEL, "dtd", str(tmp_path))
  assert result["best"]["lr"] == 0.01 and result["run"] == "final_lr=0.01_steps=5"
  assert [os.path.relpath(c, tmp_path) for c in calls] == [
      "dtd/sweep/lr=0.1_steps=5", "dtd/sweep/lr=0.01_steps=5", "dtd/final_lr=0.01_steps=5"]
  # No results.json was written (as if killed): the rerun calls the trainer on the same directories.
  calls.clear()
  protocol.run_task(MODEL, "dtd", str(tmp_path))
  assert len(calls) == 3
  assert json.load(open(tmp_path / "dtd/sweep/lr=0.1_steps=5/vtab_run.json"))["lr"] == 0.1


def test_unavailable_task_is_reported_and_others_run(tmp_path, monkeypatch):
  def unavailable(task, **kwargs):
    raise DatasetUnavailableError(f"VTAB task {task.name!r} needs a manual download")
  monkeypatch.setattr(vtab, "prepare_task", unavailable)
  report = vtab.VtabProtocol(lrs=(0.1,), steps=(2,), batch_size=8, image_size=16).run(
      MODEL, "resisc45", str(tmp_path))
  assert list(report["unavailable"]) == ["resisc45"] and report["results"] == []
  assert "`resisc45`: dataset unavailable" in open(tmp_path / "report.md").read()


def test_run_config_follows_the_protocol():
  protocol = vtab.VtabProtocol()
  config = protocol.run_config("resnet_small()", "cifar100", lr=0.01, steps=2500, split="train800",
                               evals={"val": "val200"})
  assert config.input.data.to_dict() == {"name": "cifar100:3.*.*", "split": "train[:800]"}
  assert config.input.batch_size == 512 and config.optimizer.lr == 0.01
  assert config.input.pp == ("decode(channels=3)|vtab_label('cifar100')|resize(224)|value_range(-1, 1)|"
                             "onehot(100)|keep('image', 'labels')")
  assert config.optimizer.schedule.to_dict() == {"name": "piecewise", "boundaries": (0.3, 0.6, 0.9),
                                                 "factor": 0.1, "warmup_steps": 125}
  assert config.total_steps % config.log_steps == 0 and config.checkpoint_steps % config.log_steps == 0
  assert config.evals.val.data.split == "train[45000:45200]"
  assert spec_to_dict(network_spec(config.networks.network)) == {"name": "resnet_small", "num_classes": 100,
                                                                 "image_size": 224}
  assert config.networks.network.init_skip == "head/.*"
  model_garden.optimizers.make(config.optimizer, total_steps=2500)  # the config is valid
  schedule = model_garden.optimizers.make_schedule(config.optimizer.schedule, lr=0.01, total_steps=2500)
  lrs = [float(schedule(step)) for step in (0, 125, 749, 750, 1500, 2250, 2499)]
  np.testing.assert_allclose(lrs, [0.0, 0.01, 0.01, 1e-3, 1e-4, 1e-5, 1e-5], rtol=1e-5)
  with pytest.raises(ValueError, match="no VTAB split"):
    vtab.VtabProtocol(val_split="val300")


def test_task_model_spec():
  assert vtab.task_model_spec("resnet_small(widths=(8,), num_classes=3)", 16, 32) == (
      "resnet_small(widths=(8,), num_classes=16, image_size=32)")
  assert vtab.task_model_spec("resnet_small(image_size=32)", 4, 32) == "resnet_small(image_size=32, num_classes=4)"
  with pytest.raises(SpecError, match="image_size=64"):
    vtab.task_model_spec("resnet_small(image_size=64)", 4, 224)
  with pytest.raises(SpecError):
    vtab.task_model_spec("resnet_small(widthz=(8,))", 4, 32)


def test_zero_head_and_select_best():
  net = model_garden.models.get("resnet_small(widths=(8,), num_classes=5, image_size=16)")
  net.head.kernel.assign(np.ones((8, 5), np.float32))
  assert sorted(vtab.zero_head(net)) == ["head/bias", "head/kernel"]
  assert not np.any(net.head.kernel.numpy())
  with pytest.raises(ValueError, match="head regex"):
    vtab.zero_head(net, "classifier/.*")
  sweep = [{"val_accuracy": 0.5, "lr": 0.1}, {"val_accuracy": 0.7, "lr": 0.01}, {"val_accuracy": 0.7, "lr": 0.001}]
  assert vtab.select_best(sweep)["lr"] == 0.01  # ties go to the earlier setting


def test_summary_of_a_complete_run_and_extra_tasks():
  results = [{"task": t.name, "display_name": t.display_name, "group": t.group, "accuracy": 0.5,
              "best": {"lr": 0.1, "steps": 2500, "val_accuracy": 0.5}, "test_examples": 1}
             for t in TASKS.values()]
  results[0]["accuracy"] = 1.0  # caltech101
  results.append({"task": "mg_shapes_count", "display_name": "Shapes-Count", "group": "extra", "accuracy": 0.0,
                  "best": {"lr": 0.1, "steps": 10, "val_accuracy": 0.0}, "test_examples": 1})
  summary = vtab_report.summarize(results)
  assert summary["complete"] and summary["counts"]["vtab"] == [19, 19]
  assert summary["natural"] == pytest.approx((1.0 + 6 * 0.5) / 7)
  assert summary["vtab"] == pytest.approx((1.0 + 18 * 0.5) / 19)  # the extra task is not in VTAB's mean
  assert summary["extra"] == 0.0
  table = vtab_report.markdown_table({"results": results, "summary": summary})
  assert "**VTAB mean** | **52.6**" in table and "(7/7" not in table


def test_tool_reports_a_finished_workdir(finished, upstream, capsys, monkeypatch):
  workdir, _ = finished
  spec = importlib.util.spec_from_file_location("model_garden_tools_vtab", os.path.join(ROOT, "tools", "vtab.py"))
  tool = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(tool)
  monkeypatch.setattr(model_garden.training, "train", None)  # everything is finished: nothing may train
  code = tool.main([f"--model={MODEL}", f"--init={upstream}", f"--tasks={','.join(TASK_NAMES)}",
                    f"--workdir={workdir}", "--lrs=0.1,0.01", "--steps=3", "--batch=8", "--image_size=16",
                    "--eval_batch=8", f"--mock_data={NUM_EXAMPLES}"])
  out = capsys.readouterr().out
  assert code == 0 and "| structured | Clevr-Count (`clevr_count`) |" in out and "png:" in out
