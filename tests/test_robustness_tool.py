"""tools/robustness.py and tools/evaluate.py end to end: mg_shapes offline and mocked tfds ImageNet variants."""

import csv
import importlib.util
import json
import os
import sys

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

import model_garden.data
from model_garden.data import robustness

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_tool(name):
  """tools/<name>.py as a module under a unique name (tools/ is not a package)."""
  spec = importlib.util.spec_from_file_location(f"model_garden_tools_{name}", os.path.join(ROOT, "tools", f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


evaluate_tool = _load_tool("evaluate")
robustness_tool = _load_tool("robustness")

SHAPES_MODEL = "resnet_small(num_classes=8, widths=(8,), image_size=32)"
IMAGENET_MODEL = "resnet_small(num_classes=1000, widths=(8,), image_size=32)"


def _rows(path):
  with open(path) as f:
    return list(csv.DictReader(f))


def test_robustness_report_on_mg_shapes(tiny_shapes, tmp_path):
  _, data_dir = tiny_shapes
  out = tmp_path / "report"
  code = robustness_tool.main([
      f"--model={SHAPES_MODEL}", f"--output_dir={out}", f"--data_dir={data_dir}", "--no_download",
      "--datasets=mg_shapes/tiny32,mg_shapes_real(config='tiny32')", "--corruption_dataset=mg_shapes/tiny32",
      "--corruptions=gaussian_noise", "--severities=1,3", "--max_examples=16", "--batch_size=16"])
  assert code == 0
  rows = _rows(out / "results.csv")
  corrupted = [r for r in rows if r["corruption"]]
  assert {(r["corruption"], r["severity"]) for r in corrupted} == {("gaussian_noise", "1"), ("gaussian_noise", "3")}
  assert {r["metric"] for r in rows if r["dataset"] == "mg_shapes_real/tiny32"} == {"accuracy", "real_accuracy"}
  assert all(0.0 <= float(r["value"]) <= 1.0 for r in rows)
  markdown = (out / "results.md").read_text()
  assert "| gaussian_noise |" in markdown and "unnormalized_mean_error" in markdown
  for name in ("corruptions.png", "corruptions_grid.png", "datasets.png"):
    with Image.open(out / name) as image:
      assert image.format == "PNG" and image.size[0] > 100
  results = json.loads((out / "results.json").read_text())
  assert results["clean"]["dataset"] == "mg_shapes/tiny32"


def test_corruptions_degrade_with_a_clear_note(tiny_shapes, tmp_path, monkeypatch):
  _, data_dir = tiny_shapes
  monkeypatch.delattr(model_garden.data, "corruptions", raising=False)
  monkeypatch.setitem(sys.modules, "model_garden.data.corruptions", None)  # import fails
  results = robustness_tool.run(SHAPES_MODEL, str(tmp_path), datasets="mg_shapes/tiny32",
                                corruptions="fog", severities=[1], corruption_dataset="mg_shapes/tiny32",
                                data_dir=data_dir, max_examples=8, download=False, log=lambda _: None)
  assert results["datasets"]["mg_shapes/tiny32"]["num_examples"] == 8
  assert not results["corruptions"]
  assert any("model_garden.data.corruptions" in n for n in results["notes"])


def test_robustness_report_on_mocked_imagenet_variants(tmp_path):
  with tfds.testing.mock_data(num_examples=6, data_dir=str(tmp_path / "tfds")):
    results = robustness_tool.run(
        IMAGENET_MODEL, str(tmp_path / "report"), data_dir=str(tmp_path / "tfds"), batch_size=4,
        datasets="imagenet_v2/topimages,imagenet_a,imagenet_real,imagenet_r,objectnet(root='/nonexistent')",
        corruptions="fog", severities=[2], log=lambda _: None)
  assert set(results["datasets"]) == {"imagenet_v2/topimages", "imagenet_a", "imagenet_real", "imagenet_r"}
  assert all(v["num_examples"] == 6 for v in results["datasets"].values())
  assert "real_accuracy" in results["datasets"]["imagenet_real"]
  # Mocked labels are random ImageNet classes, mostly outside ImageNet-A's 200: counted and reported.
  assert results["datasets"]["imagenet_a"].get("num_outside_label_space", 0) >= 1
  assert 0.0 <= results["corruptions"]["fog"][2] <= 1.0  # tfds imagenet2012_corrupted/fog_2
  assert any("objectnet" in n and "objectnet.dev" in n for n in results["notes"])
  assert (tmp_path / "report" / "results.md").exists()


def test_evaluate_tool_on_mocked_real_and_mg_shapes(tiny_shapes, tmp_path, capsys):
  with tfds.testing.mock_data(num_examples=5, data_dir=str(tmp_path / "tfds")):
    code = evaluate_tool.main([f"--model={IMAGENET_MODEL}", "--dataset=imagenet2012_real",
                               f"--data_dir={tmp_path / 'tfds'}", f"--output={tmp_path / 'real.json'}"])
  assert code == 0
  assert "| top-1 |" in capsys.readouterr().out
  results = json.loads((tmp_path / "real.json").read_text())
  assert results["num_examples"] == 5 and {"accuracy", "real_accuracy", "top5", "real_top5"} <= set(results)
  _, data_dir = tiny_shapes
  shapes = evaluate_tool.run(SHAPES_MODEL, "mg_shapes/tiny32", data_dir=data_dir, batch_size=32, download=False)
  assert shapes["num_examples"] == 64 and shapes["num_real_multi"] > 0
  assert shapes["num_real_scored"] + shapes["num_real_empty"] == 64


def test_evaluate_tool_with_real_json(tmp_path):
  """real.json joined to (mocked) imagenet2012 validation examples by file name."""
  real = [[0], [], [5, 7], [0, 3]]
  (tmp_path / "real.json").write_text(json.dumps(real))
  names = ["ILSVRC2012_val_00000004.JPEG", "ILSVRC2012_val_00000002.JPEG", "ILSVRC2012_val_00000003.JPEG"]
  labels = [3, 9, 5]

  def as_dataset(builder, **kwargs):
    del builder, kwargs
    return tf.data.Dataset.from_tensor_slices({"image": tf.zeros([3, 20, 24, 3], tf.uint8),
                                               "label": tf.constant(labels, tf.int64),
                                               "file_name": tf.constant(names)})

  with tfds.testing.mock_data(as_dataset_fn=as_dataset, data_dir=str(tmp_path / "tfds")):
    results = evaluate_tool.run(IMAGENET_MODEL, "imagenet2012", real_json=str(tmp_path / "real.json"),
                                data_dir=str(tmp_path / "tfds"), batch_size=2)
  # A zero-initialised head gives equal logits: every image predicts class 0 (ties go to the lowest index).
  assert results["accuracy"] == 0.0  # labels 3, 9, 5
  assert results["num_real_scored"] == 2 and results["num_real_empty"] == 1  # file 2 has an empty set
  assert results["real_accuracy"] == 0.5 and results["num_real_multi"] == 2  # file 4 accepts class 0
  with pytest.raises(ValueError, match="no ReaL label sets"):
    evaluate_tool.resolve_dataset("imagenet_a", None, None)
  assert robustness.get_ood_dataset("imagenet2012_real").metric == "real"


def test_corruption_summary_uses_the_mce_module():
  from model_garden.evaluation import mce  # pylint: disable=g-import-not-at-top
  table = {c: {s: 0.9 - 0.1 * s - 0.01 * i for s in range(1, 6)} for i, c in enumerate(mce.CORRUPTIONS)}
  notes = []
  summary = robustness_tool.corruption_summary(table, "imagenet_c", 0.8, notes)
  errors = {c: [1.0 - table[c][s] for s in range(1, 6)] for c in table}
  assert summary["mce"] == pytest.approx(mce.mce(errors))
  assert summary["relative_mce"] == pytest.approx(mce.relative_mce(errors, 0.2))
  assert not notes
  partial = robustness_tool.corruption_summary({"fog": {1: 0.5, 3: 0.4}}, "imagenet_c", 0.8, notes)
  assert "mce" not in partial and any("five severities" in n for n in notes)
