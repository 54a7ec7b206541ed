"""Few-shot linear evaluator: ridge math against numpy, shot selection, accuracy on mg_shapes, callback."""

import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from model_garden.evaluation import EVALUATORS
from model_garden.evaluation import fewshot as fs
from model_garden.evaluation.common import EvaluatorCallback, ScheduledEvaluator
from model_garden.models.image_model import ImageModel
from model_garden.registry import SpecError


def _solve(x, y, lam):
  return np.linalg.solve(x.T @ x + lam * np.eye(x.shape[1]), x.T @ y)


@pytest.mark.parametrize("num_points,dim", [(40, 7), (6, 30)])  # N > D uses X^T X, N < D uses X X^T.
def test_ridge_eig_fit_matches_solve(num_points, dim):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(num_points, dim))
  y = rng.normal(size=(num_points, 3))
  regs = (1e-2, 1.0, 2.0 ** 10)
  weights = fs.ridge_eig_fit(x, y, regs)
  assert weights.shape == (3, dim, 3)
  for w, lam in zip(weights, regs):
    np.testing.assert_allclose(w, _solve(x, y, lam), rtol=1e-7, atol=1e-9)
  lhs, eigs, rhs = fs.ridge_eig_decompose(x, y)
  k = min(num_points, dim)
  assert eigs.shape == (k,) and lhs.shape == (dim, k) and rhs.shape == (k, 3)


def test_fewshot_accuracy_matches_direct_solution(monkeypatch):
  rng = np.random.default_rng(1)
  centres = rng.normal(size=(4, 20)) * 3
  y_train, y_test = np.repeat(np.arange(4), 3), rng.integers(0, 4, 50)
  x_train = centres[y_train] + rng.normal(size=(12, 20))
  x_test = centres[y_test] + rng.normal(size=(50, 20))
  regs = (0.1, 1024.0)
  acc = fs.fewshot_accuracy(x_train, y_train, x_test, y_test, 4, regs)
  # The same classifier written out: standardise by the shots' statistics, bias column 100, +-1 targets.
  mean, std = x_train.mean(0), x_train.std(0) + 1e-5
  xa = np.c_[(x_train - mean) / std, np.full(12, 100.0)]
  xt = np.c_[(x_test - mean) / std, np.full(50, 100.0)]
  targets = 2.0 * np.eye(4)[y_train] - 1.0
  expected = [np.mean(np.argmax(xt @ _solve(xa, targets, lam), 1) == y_test) for lam in regs]
  np.testing.assert_allclose(acc, expected)
  assert acc[0] > 0.9  # Well-separated clusters.
  monkeypatch.setattr(fs, "_TEST_CHUNK", 7)  # The test set in chunks (50 = 7 * 7 + 1) gives the same.
  np.testing.assert_array_equal(fs.fewshot_accuracy(x_train, y_train, x_test, y_test, 4, regs), acc)
  with pytest.raises(ValueError, match="l2_regs"):
    fs.fewshot_accuracy(x_train, y_train, x_test, y_test, 4, [-1.0])


def test_select_shots_is_per_class_and_deterministic():
  labels = np.random.default_rng(2).integers(0, 5, 200)
  idx = fs.select_shots(labels, 7, 5, seed=3)
  assert np.bincount(labels[idx], minlength=5).tolist() == [7] * 5
  assert len(set(idx.tolist())) == 35
  np.testing.assert_array_equal(idx, fs.select_shots(labels, 7, 5, seed=3))
  assert not np.array_equal(idx, fs.select_shots(labels, 7, 5, seed=4))
  # Nested as big_vision: a seed's 2-shot set is inside its 7-shot set.
  assert set(fs.select_shots(labels, 2, 5, seed=3).tolist()) <= set(idx.tolist())
  # A class with too few examples gives all it has.
  assert len(fs.select_shots(np.array([0, 0, 1]), 5, 2, seed=0)) == 3


class RandomConvFeatures(ImageModel):
  """A fixed random 3x3 conv + ReLU, mean- and max-pooled: class-informative features without training."""

  def __init__(self, width=128, **kwargs):
    super().__init__(**kwargs)
    self.conv = keras.layers.Conv2D(
        width, 3, padding="same", activation="relu",
        kernel_initializer=keras.initializers.RandomNormal(stddev=np.sqrt(2 / 27), seed=1),
        bias_initializer=keras.initializers.RandomUniform(-1.0, 1.0, seed=2))

  def forward(self, images, training=False):
    x = self.conv(images)
    feats = keras.ops.concatenate([keras.ops.mean(x, axis=(1, 2)), keras.ops.max(x, axis=(1, 2))], -1)
    return feats, {"pre_logits": feats, "conv": x}


def test_fewshot_evaluator_beats_chance_on_mg_shapes(tiny_shapes):
  _, data_dir = tiny_shapes
  ev = EVALUATORS.get(
      "fewshot(datasets={'shape': ('mg_shapes/tiny32', 'train', 'test'),"
      " 'colour': {'name': 'mg_shapes/tiny32', 'train_split': 'train', 'test_split': 'test',"
      " 'label_key': 'colour', 'pp': \"decode|value_range(-1, 1)|keep('image', 'colour')\"}},"
      " shots=(1, 5, 10), l2_regs=(1.0, 1024.0), seeds=3, batch_size=128, per_seed=True)",
      data_dir=data_dir)
  assert isinstance(ev, fs.FewShotEvaluator)
  results = ev.run(RandomConvFeatures())
  print({k: round(v, 3) for k, v in sorted(results.items())})
  for name in ("shape", "colour"):
    for shots in (1, 5, 10):
      key = f"{name}_{shots}shot"
      assert results[key] == max(results[f"{key}_l2_1"], results[f"{key}_l2_1024"])
      assert results[f"{key}_best_l2"] in (1.0, 1024.0)
      assert results[key] == pytest.approx(np.mean([results[f"{key}_seed{s}"] for s in range(3)]))
  # Chance: 1/8 for the 8 shapes, 1/10 for the 10 colours (64 test examples).
  assert results["shape_10shot_l2_1"] > 0.3, results
  assert results["colour_10shot"] > 0.5, results
  assert results["shape_10shot_l2_1"] > results["shape_1shot_l2_1"]
  # Same inputs, same numbers.
  again = ev.run(ev._repr_network)  # pylint: disable=protected-access
  assert again["shape_10shot"] == results["shape_10shot"]


def test_fewshot_options_and_errors(tiny_shapes):
  _, data_dir = tiny_shapes
  ev = fs.FewShotEvaluator(datasets={"s": ("mg_shapes/tiny32", "train", "test")}, shots=(2,), seeds=1,
                           max_train_examples=40, max_test_examples=20, representation="conv",
                           batch_size=16, data_dir=data_dir)
  net = RandomConvFeatures(width=4)
  train, test = (ev.features(net, ev.datasets["s"], key, ev.pp, limit)
                 for key, limit in (("train_split", 40), ("test_split", 20)))
  assert train[0].shape == (40, 32 * 32 * 4) and test[0].shape == (20, 32 * 32 * 4)  # Flattened map.
  assert set(ev.run(net)) == {"s_2shot"}  # One lambda: no per-lambda keys; num_classes from tfds.
  with pytest.raises(KeyError, match="no intermediate 'nope'"):
    fs.FewShotEvaluator(datasets={"s": ("mg_shapes/tiny32", "train", "test")}, representation="nope",
                        max_train_examples=16, data_dir=data_dir).run(net)
  with pytest.raises(KeyError, match="keep"):
    fs.FewShotEvaluator(datasets={"s": ("mg_shapes/tiny32", "train", "test")}, pp="decode|keep('image')",
                        max_train_examples=16, data_dir=data_dir).run(net)
  with pytest.raises(ValueError, match="lacks"):
    fs.FewShotEvaluator(datasets={"s": dict(name="mg_shapes/tiny32")})
  with pytest.raises(SpecError, match="shots"):
    EVALUATORS.get("fewshot(datasets={}, shot=(1,))")


def test_fewshot_callback_adds_logs_during_fit(tiny_shapes, tmp_path):
  _, data_dir = tiny_shapes
  keras.utils.set_random_seed(0)
  import model_garden  # pylint: disable=import-outside-toplevel
  net = model_garden.models.get("resnet_small(num_classes=8, image_size=32, widths=(8, 16))")
  net.compile(optimizer=keras.optimizers.SGD(0.01),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  ev = fs.FewShotEvaluator(datasets={"mg_shapes": dict(name="mg_shapes/tiny32", train_split="train",
                                                       test_split="test", num_classes=8)},
                           shots=(1, 2), seeds=1, max_train_examples=64, max_test_examples=32,
                           batch_size=64, data_dir=data_dir)
  callback = EvaluatorCallback([ScheduledEvaluator("fewshot", ev, every_steps=4, prefix="fewshot/")], net)
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (8, 32, 32, 3)).astype("float32")
  labels = rng.integers(0, 8, 8)
  logdir = str(tmp_path / "tb")
  history = net.fit(images, labels, batch_size=4, epochs=3, verbose=0,  # 2 steps per epoch.
                    callbacks=[callback, keras.callbacks.TensorBoard(logdir)])
  # Steps 2, 4, 6 end the epochs; only step 4 is a multiple of 4.
  assert [step for step, _, _ in callback.history] == [4]
  logged = history.history["fewshot/mg_shapes_2shot"]
  assert len(logged) == 1 and 0.0 <= logged[0] <= 1.0
  tags = set()
  for path in glob.glob(os.path.join(logdir, "train", "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      tags.update(v.tag for v in event.summary.value)
  assert "epoch_fewshot/mg_shapes_1shot" in tags, tags
