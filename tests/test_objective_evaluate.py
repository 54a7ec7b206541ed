"""`Objective.evaluate` averages over examples: a short last batch, and datasets of unknown length."""

import numpy as np
import pytest
import tensorflow as tf

import model_garden


@pytest.mark.parametrize("unknown_length", [False, True])
def test_evaluate_equals_numpy_over_all_examples(unknown_length):
  net = model_garden.models.get("resnet_small(num_classes=4, image_size=16, widths=(8,))")
  objective = model_garden.objectives.get("classification", network=net)
  objective.compile(optimizer="sgd")
  rng = np.random.default_rng(0)
  for v in net.weights:  # A head that is not zero, so the predictions differ between examples.
    v.assign(rng.normal(0, 0.3, v.shape).astype("float32"))
  images = rng.uniform(-1, 1, (30, 16, 16, 3)).astype("float32")  # 3 batches of 8 and one of 6.
  labels = rng.integers(0, 4, 30)
  ds = tf.data.Dataset.from_tensor_slices({"image": images, "labels": labels}).batch(8)
  if unknown_length:
    ds = ds.filter(lambda example: True)
    assert ds.cardinality() == tf.data.UNKNOWN_CARDINALITY
  results = objective.evaluate(ds, verbose=0, return_dict=True)
  logits = net(images).numpy().astype(np.float64)
  log_softmax = logits - np.log(np.sum(np.exp(logits - logits.max(-1, keepdims=True)), -1, keepdims=True)) - (
      logits.max(-1, keepdims=True))
  xent = -np.mean(log_softmax[np.arange(30), labels])
  np.testing.assert_allclose(results["accuracy"], np.mean(np.argmax(logits, -1) == labels), atol=1e-6)
  np.testing.assert_allclose(results["loss"], xent, rtol=1e-5)
