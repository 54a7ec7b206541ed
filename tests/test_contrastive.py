"""The contrastive objective: softmax and sigmoid losses against NumPy, global-batch gather equivalence, locking."""

import numpy as np
import pytest
import tensorflow as tf

from model_garden import optimizers
from model_garden.models import registry as model_registry
from model_garden.models import two_towers  # noqa: F401  (registers two_towers)
from model_garden.objectives.contrastive import Contrastive, sigmoid_contrastive, softmax_contrastive

SPEC = ("two_towers(image=\"vit(variant='mu/4', image_size=8)\", text=\"text_transformer(width=32, depth=1, "
        "mlp_dim=64, num_heads=2, vocab_size=40, max_len=6)\", out_dim=(None, 32){extra})")


def _batch(n=6, seed=0):
  rng = np.random.default_rng(seed)
  return {"image": tf.constant(rng.uniform(-1, 1, (n, 8, 8, 3)), tf.float32),
          "labels": tf.constant(rng.integers(0, 40, (n, 6)), tf.int32)}


def _log_softmax(x):
  x = x - x.max(-1, keepdims=True)
  return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _numpy_losses(zimg, ztxt, t, b):
  logits = t * zimg @ ztxt.T
  n = len(zimg)
  softmax = 0.5 * (-np.mean(np.diag(_log_softmax(logits))) - np.mean(np.diag(_log_softmax(logits.T))))
  z = 2 * np.eye(n) - 1
  sigmoid = np.sum(np.log1p(np.exp(-z * (logits + b)))) / n
  return softmax, sigmoid


@pytest.mark.parametrize("loss", ["softmax", "sigmoid"])
def test_losses_match_numpy(loss):
  network = model_registry.get(SPEC.format(extra=", bias_init=-3.0"))
  objective = Contrastive(network, loss=loss)
  batch = _batch()
  losses, outputs = objective.compute_losses(batch, training=False)
  zimg = network.embed_images(batch["image"]).numpy().astype(np.float64)
  ztxt = network.embed_texts(batch["labels"]).numpy().astype(np.float64)
  expected = dict(zip(("softmax", "sigmoid"), _numpy_losses(zimg, ztxt, 10.0, -3.0)))[loss]
  np.testing.assert_allclose(float(losses["loss"]), expected, rtol=1e-5)
  assert float(outputs["t"]) == pytest.approx(10.0, rel=1e-5)


def test_replica_losses_over_gathered_embeddings_equal_the_global_batch():
  rng = np.random.default_rng(0)
  normal = lambda: tf.math.l2_normalize(tf.constant(rng.normal(size=(8, 5)), tf.float32), axis=-1)
  zimg, ztxt, t, b = tf.Variable(normal()), tf.Variable(normal()), 7.0, -2.0
  with tf.GradientTape(persistent=True) as tape:
    global_soft = softmax_contrastive(zimg, ztxt, zimg, ztxt, t, 0)[0]
    global_sig = sigmoid_contrastive(zimg, ztxt, t, b, 0)[0]
    # Two "replicas" of 4: each scores its rows against the gathered (= global) embeddings.
    soft_parts, sig_parts = [], []
    for r in range(2):
      rows = slice(4 * r, 4 * r + 4)
      soft_parts.append(softmax_contrastive(zimg[rows], ztxt[rows], zimg, ztxt, t, 4 * r)[0])
      sig_parts.append(sigmoid_contrastive(zimg[rows], ztxt, t, b, 4 * r)[0])
    replica_soft, replica_sig = tf.add_n(soft_parts) / 2, tf.add_n(sig_parts) / 2
  np.testing.assert_allclose(replica_soft, global_soft, rtol=1e-6)
  np.testing.assert_allclose(replica_sig, global_sig, rtol=1e-6)
  for a, b_ in ((replica_soft, global_soft), (replica_sig, global_sig)):
    for var in (zimg, ztxt):
      np.testing.assert_allclose(tape.gradient(a, var), tape.gradient(b_, var), atol=1e-6)


def test_locked_image_tower_gets_no_updates_and_no_optimizer_state():
  network = model_registry.get(SPEC.format(extra=""))
  objective = Contrastive(network)
  objective.compile(optimizer=optimizers.make({"name": "adam", "lr": 1e-2, "frozen": "img/.*"}, total_steps=4))
  objective.build_for_training()
  before = {v.path: v.numpy().copy() for v in network.weights}
  ds = tf.data.Dataset.from_tensors(_batch(8)).repeat()
  history = objective.fit(ds, epochs=1, steps_per_epoch=4, verbose=0).history
  assert np.isfinite(history["loss"][-1]) and "i2t_accuracy" in history
  changed = {p for p, v in before.items() if not np.array_equal(v, _value(network, p))}
  img = {p for p in before if p.startswith("img/") or "/img/" in p}
  assert img and not (img & changed)  # Locked: bit-identical.
  assert {p for p in before if "txt/" in p} <= changed and any(p.endswith("/t") for p in changed)
  state_paths = [v.path for v in objective.optimizer.variables]
  assert not any("img" in p for p in state_paths), state_paths
  assert any("txt" in p for p in state_paths)


def _value(network, path):
  return next(v for v in network.weights if v.path == path).numpy()


def test_contrastive_errors():
  network = model_registry.get(SPEC.format(extra=""))
  with pytest.raises(ValueError, match="bias_init"):
    Contrastive(network, loss="sigmoid")
  with pytest.raises(ValueError, match="Unknown contrastive loss"):
    Contrastive(network, loss="triplet")
  with pytest.raises(KeyError, match="labels"):
    Contrastive(network).compute_losses({"image": _batch()["image"]}, training=False)
