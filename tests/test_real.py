"""ReaL accuracy and the streaming metric against a plain-Python computation; real.json reading; pp ops."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from model_garden.data.robustness import ops as robustness_ops
from model_garden.evaluation import real as real_lib
from model_garden.evaluation.real_metric import RealAccuracy


def _python_real(logits, sets, k):
  """ReaL top-k written out: skip empty sets; correct when any of the k best classes is in the set."""
  correct = scored = 0
  for row, labels in zip(logits, sets):
    if not labels:
      continue
    ranked = sorted(range(len(row)), key=lambda c: (-row[c], c))
    scored += 1
    correct += any(c in labels for c in ranked[:k])
  return correct / scored


def _random_case(seed, num=57, classes=12):
  rng = np.random.default_rng(seed)
  logits = rng.normal(size=(num, classes)).astype(np.float32)
  sets = []
  for _ in range(num):
    size = rng.choice([0, 1, 1, 2, 3])  # Empty, single and multi-label sets.
    sets.append(sorted(rng.choice(classes, size=size, replace=False).tolist()))
  # Make the argmax hit the set often enough that the numbers are not all near zero.
  for i in range(0, num, 3):
    if sets[i]:
      logits[i, sets[i][-1]] += 3.0
  return logits, sets


@pytest.mark.parametrize("k", [1, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_real_accuracy_matches_python(k, seed):
  logits, sets = _random_case(seed)
  assert any(not s for s in sets) and any(len(s) > 1 for s in sets)
  expected = _python_real(logits, sets, k)
  assert real_lib.real_accuracy(logits, sets, k=k) == pytest.approx(expected, abs=1e-12)
  hot = np.zeros_like(logits)
  for i, s in enumerate(sets):
    hot[i, s] = 1
  assert real_lib.real_accuracy(logits, hot, k=k) == pytest.approx(expected, abs=1e-12)
  correct, scored = real_lib.real_correct(logits, sets, k=k)
  assert scored.sum() == sum(bool(s) for s in sets) and not np.any(correct & ~scored)


def test_real_accuracy_small_example_and_errors():
  assert real_lib.real_accuracy([[0.1, 0.9], [0.8, 0.2], [0.5, 0.4]], [[1], [1], []]) == 0.5
  assert real_lib.real_accuracy([[0.1, 0.9], [0.8, 0.2]], [[1], [0, 1]]) == 1.0
  with pytest.raises(ValueError, match="empty"):
    real_lib.real_accuracy([[0.1, 0.9]], [[]])
  with pytest.raises(ValueError, match="pair up"):
    real_lib.real_accuracy([[0.1, 0.9]], [[1], [0]])
  with pytest.raises(ValueError, match="outside"):
    real_lib.real_accuracy([[0.1, 0.9]], [[2]])


@pytest.mark.parametrize("k", [1, 5])
def test_streaming_metric_matches_python(k):
  logits, sets = _random_case(3, num=61)
  expected = _python_real(logits, sets, k)
  hot = np.zeros_like(logits)
  for i, s in enumerate(sets):
    hot[i, s] = 1
  padded = real_lib.padded_label_sets(sets)
  ragged = tf.ragged.constant(sets, dtype=tf.int64)
  metrics = {"multihot": RealAccuracy(k=k), "padded": RealAccuracy(k=k, label_format="padded"),
             "ragged": RealAccuracy(k=k, label_format="padded")}
  # Uneven batches: the result must not depend on how the data is split.
  for start, stop in ((0, 7), (7, 8), (8, 40), (40, 61)):
    metrics["multihot"].update_state(hot[start:stop], logits[start:stop])
    metrics["padded"].update_state(padded[start:stop], logits[start:stop])
    metrics["ragged"].update_state(ragged[start:stop], logits[start:stop])
  for name, metric in metrics.items():
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6), name
  metrics["multihot"].reset_state()
  assert float(metrics["multihot"].result()) == 0.0


def test_streaming_metric_weights_config_and_graph_mode():
  metric = RealAccuracy(label_format="padded")
  # Image 0 right, image 1 wrong, image 2 empty (left out): weights 3 and 1 -> 3 / 4.
  metric.update_state([[1, -1], [0, -1], [-1, -1]], [[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]],
                      sample_weight=[3.0, 1.0, 5.0])
  assert float(metric.result()) == pytest.approx(0.75)
  clone = RealAccuracy.from_config(RealAccuracy(k=5, label_format="padded").get_config())
  assert clone.k == 5 and clone.label_format == "padded" and clone.name == "real_top5"
  assert isinstance(keras.metrics.deserialize(keras.metrics.serialize(RealAccuracy())), RealAccuracy)

  graph_metric = RealAccuracy()

  @tf.function
  def step(y, p):
    graph_metric.update_state(y, p)

  step(tf.constant([[0.0, 1.0], [1.0, 1.0]]), tf.constant([[0.2, 0.1], [0.0, 1.0]]))
  assert float(graph_metric.result()) == pytest.approx(0.5)
  with pytest.raises(ValueError, match="label_format"):
    RealAccuracy(label_format="lists")
  with pytest.raises(ValueError, match="classes"):
    RealAccuracy().update_state(np.zeros([2, 3]), np.zeros([2, 4]))


def test_real_json_and_file_names(tmp_path):
  path = tmp_path / "real.json"
  real = [[3], [], [1, 4], [0]]
  path.write_text(json.dumps(real))
  loaded = real_lib.load_real_json(str(path), expect_all=False)
  assert loaded == real
  with pytest.raises(ValueError, match="50000"):
    real_lib.load_real_json(str(path))
  with pytest.raises(FileNotFoundError, match="reassessed-imagenet"):
    real_lib.load_real_json(str(tmp_path / "missing.json"))
  assert real_lib.validation_index("ILSVRC2012_val_00000001.JPEG") == 0
  assert real_lib.validation_index(b"/data/val/ILSVRC2012_val_00000004.JPEG") == 3
  names = ["ILSVRC2012_val_00000003.JPEG", "ILSVRC2012_val_00000001.JPEG"]
  assert real_lib.real_labels_for_file_names(real, names) == [[1, 4], [3]]
  with pytest.raises(ValueError, match="not an ImageNet validation file"):
    real_lib.validation_index("n01440764_10026.JPEG")
  with pytest.raises(ValueError, match="4 entries"):
    real_lib.real_labels_for_file_names(real, ["ILSVRC2012_val_00000009.JPEG"])
  bad = tmp_path / "bad.json"
  bad.write_text(json.dumps([[1000]]))
  with pytest.raises(ValueError, match="class id"):
    real_lib.load_real_json(str(bad), expect_all=False)


def test_evaluate_real_side_by_side():
  logits = np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 1.0], [0.0, 0.0, 5.0], [1.0, 0.0, 0.0]], np.float32)
  batches = [{"image": logits[:2], "label": np.array([2, 0]), "real_label": np.array([[0, 1, 1], [0, 0, 1]])},
             {"image": logits[2:], "label": np.array([2, 1]), "real_label": np.array([[0, 0, 0], [1, 1, 0]])}]
  out = real_lib.evaluate_real(lambda x: x, batches, ks=(1, 5))
  assert out["accuracy"] == 0.5  # rows 1 and 2 (0-based) match their original label
  assert out["real_accuracy"] == pytest.approx(2 / 3)  # row 2 has an empty set: 3 scored, rows 0 and 3 hit
  assert out["num_real_scored"] == 3 and out["num_real_empty"] == 1 and out["num_real_multi"] == 2
  assert "top5" not in out  # Only 3 classes.


def test_labelset_and_mg_shapes_real_ops():
  op = robustness_ops.labelset(5)
  hot = op({"real_label": tf.constant([3, 1, 3], tf.int64)})["real_label"].numpy()
  np.testing.assert_array_equal(hot, [0, 1, 0, 1, 0])
  empty = op({"real_label": tf.zeros([0], tf.int64)})["real_label"].numpy()
  np.testing.assert_array_equal(empty, np.zeros(5))  # Not -inf.
  real = robustness_ops.mg_shapes_real()
  example = lambda label, size, count: {"label": tf.constant(label, tf.int64), "size": tf.constant(size, tf.int64),
                                        "count": tf.constant(count, tf.int64)}
  small_circle = example(0, 0, 2)
  np.testing.assert_array_equal(real(small_circle)["real_label"].numpy(), [1, 0, 0, 0, 0, 0, 0, 1])
  large_square = example(1, 1, 4)
  np.testing.assert_array_equal(real(large_square)["real_label"].numpy(), [0, 1, 0, 0, 0, 0, 0, 0])
  crowded = example(4, 0, 4)
  assert real(crowded)["real_label"].numpy().sum() == 0
  # The partner table is an involution: look-alikes come in pairs.
  partner = robustness_ops.MG_SHAPES_PARTNER
  assert all(partner[partner[i]] == i and partner[i] != i for i in range(8))
