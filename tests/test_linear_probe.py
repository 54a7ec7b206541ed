"""Linear probes: endpoint selection on constructed features, mg_shapes features, the callback and the tool."""

import importlib.util
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from model_garden.evaluation import linear_probe as lp
from model_garden.evaluation.common import EvaluatorCallback, ScheduledEvaluator
from model_garden.models.image_model import ImageModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SPEC = importlib.util.spec_from_file_location("model_garden_tools_linear_probe",
                                               os.path.join(ROOT, "tools", "linear_probe.py"))
linear_probe_tool = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(linear_probe_tool)


def _split(rng, num, centres, informative_scale):
  labels = rng.integers(0, len(centres), num)
  good = centres[labels] * informative_scale + rng.normal(size=(num, centres.shape[1]))
  noise = rng.normal(size=(num, 6))
  return {"good": good.astype(np.float32), "noise": noise.astype(np.float32)}, labels


def test_selects_the_better_endpoint_on_a_constructed_case():
  rng = np.random.default_rng(0)
  centres = rng.normal(size=(4, 10))
  train, val, test = (_split(rng, n, centres, 2.0) for n in (200, 100, 100))
  result = lp.probe_features(train, val, test, 4, l2_regs=(1e-4, 1e-2, 10.0), steps=200, batch_size=64,
                             learning_rate=0.05)
  assert result["best_endpoint"] == "good"
  assert result["endpoints"]["good"]["test_accuracy"] > 0.85
  assert result["endpoints"]["noise"]["test_accuracy"] < 0.5
  assert len(result["endpoints"]["good"]["val_accuracy_per_l2"]) == 3
  assert result["endpoints"]["good"]["best_l2"] in (1e-4, 1e-2)  # 10.0 shrinks the weights to near zero


def test_heads_trained_together_equal_heads_trained_alone():
  rng = np.random.default_rng(1)
  feats = {"a": rng.normal(size=(50, 5)).astype(np.float32), "b": rng.normal(size=(50, 3)).astype(np.float32)}
  labels = rng.integers(0, 3, 50)
  together = lp.train_heads(feats, labels, 3, l2_regs=(0.0, 0.1), steps=30, batch_size=16)
  alone = lp.train_heads({"a": feats["a"]}, labels, 3, l2_regs=(0.1,), steps=30, batch_size=16)
  np.testing.assert_allclose(together["a"]["kernel"][1], alone["a"]["kernel"][0], rtol=1e-4, atol=1e-6)
  assert together["b"]["kernel"].shape == (2, 3, 3)
  with pytest.raises(ValueError, match="Labels"):
    lp.train_heads(feats, labels + 5, 3)


class EdgeHistogramNet(ImageModel):
  """A fixed, weightless feature extractor with a shape-informative and a shape-blind endpoint.

  `edges`: per-pixel magnitude of the gray-level gradient split into 12 orientation bins (a map the probe
  global-average pools into a histogram of edge orientations: squares, diamonds, circles and stars differ);
  `colour`: the image itself (pooled: the mean colour, which carries no shape information).
  """

  def forward(self, images, training=False):
    gray = tf.reduce_mean(images, axis=-1, keepdims=True)
    sobel = tf.image.sobel_edges(gray)[..., 0, :]
    dy, dx = sobel[..., 0], sobel[..., 1]
    magnitude = tf.sqrt(dx * dx + dy * dy + 1e-8)
    angle = tf.math.floormod(tf.math.atan2(dy, dx), np.pi)
    bins = tf.one_hot(tf.cast(tf.floor(angle / np.pi * 12), tf.int32) % 12, 12) * magnitude[..., None]
    pooled = tf.reduce_mean(bins, axis=[1, 2])
    return pooled, {"edges": bins, "colour": images}


def test_probe_beats_chance_on_mg_shapes(tiny_shapes):
  _, data_dir = tiny_shapes
  probe = lp.LinearProbe(dict(name="mg_shapes/tiny32", train_split="train", val_split="validation",
                              test_split="test", data_dir=data_dir), endpoints=("colour", "edges"), steps=300,
                         batch_size=256, learning_rate=0.05, l2_regs=(1e-3, 1e-2))
  net = EdgeHistogramNet(image_size=32)
  result = probe.probe(net)
  assert result["num_classes"] == 8 and result["num_train"] == 256 and result["num_test"] == 64
  assert result["best_endpoint"] == "edges"
  assert result["best_test_accuracy"] > 0.35  # chance is 1/8
  numbers = probe.run(net)
  assert set(numbers) >= {"best_test_accuracy", "edges/test_accuracy", "colour/val_accuracy", "edges/best_l2"}


class _FixedProbe:
  def __init__(self):
    self.calls = 0

  def run(self, network):
    self.calls += 1
    return {"best_test_accuracy": 0.5, "best_val_accuracy": 0.6, "pre_logits/test_accuracy": 0.5,
            "pre_logits/val_accuracy": 0.6}


def test_callback_adds_numbers_every_n_steps():
  model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
  model.compile(optimizer="sgd", loss="mse")
  probe = _FixedProbe()
  callback = EvaluatorCallback([ScheduledEvaluator("linear_probe", probe, every_steps=4)], model)
  history = model.fit(np.zeros([8, 3]), np.zeros([8, 2]), batch_size=4, epochs=4, verbose=0,
                      callbacks=[callback])
  assert probe.calls == 2 and [step for step, _, _ in callback.history] == [4, 8]
  assert history.history["linear_probe/best_test_accuracy"][-1] == 0.5
  assert "linear_probe/pre_logits/val_accuracy" in history.history


def test_tool_runs_end_to_end(tiny_shapes, tmp_path, capsys):
  _, data_dir = tiny_shapes
  out = tmp_path / "probe.json"
  code = linear_probe_tool.main([
      "--model=resnet_small(num_classes=8, widths=(8, 16), image_size=32)", "--dataset=mg_shapes/tiny32",
      f"--data_dir={data_dir}", "--endpoints=block1,pre_logits", "--val_split=", "--steps=20", "--l2=1e-3,1e-1",
      "--max_train_examples=128", "--max_eval_examples=32", "--no_download", f"--output={out}"])
  assert code == 0
  assert "best layer:" in capsys.readouterr().out
  report = json.loads(out.read_text())
  assert set(report["endpoints"]) == {"block1", "pre_logits"}
  assert report["num_train"] + report["num_val"] == 128 and report["num_test"] == 32
