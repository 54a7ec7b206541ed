"""Networks of the self-supervision / S4L papers: endpoints, shapes, widths, RevNet's custom gradient."""

import numpy as np
import pytest
import tensorflow as tf

import keras
import model_garden.models.ssl  # noqa: F401  (registers the specs)
from model_garden import models
from model_garden.models.ssl import PatchAverage
from model_garden.models.ssl import revnet as revnet_lib
from model_garden.models.ssl.patches import grid_patches
from model_garden.testing import run_model_checks

RESNET_ENDPOINTS = ("after_root", "block1", "block2", "block3", "block4", "pre_logits", "logits")


def _images(size=32, batch=2):
  return tf.random.stateless_uniform((batch, size, size, 3), (1, 2), -1, 1)


@pytest.mark.parametrize("spec, shapes", [
    ("ssl_resnet_v1(layers=(1, 1, 1, 1), width=0.125, image_size=32, num_classes=5)",
     {"after_root": (8, 8, 8), "block1": (8, 8, 32), "block2": (4, 4, 64), "block3": (2, 2, 128),
      "block4": (1, 1, 256), "pre_logits": (256,), "logits": (5,)}),
    ("ssl_resnet_v2(layers=(1, 1, 1, 1), width=0.125, image_size=32, root_stride=1, strides=(2, 2, 1))",
     {"after_root": (16, 16, 8), "block1": (16, 16, 32), "block2": (8, 8, 64), "block3": (4, 4, 128),
      "block4": (4, 4, 256), "pre_logits": (256,), "logits": (256,)}),
    ("ssl_revnet(layers=(1, 1, 1, 1), width=0.0625, image_size=32, num_classes=4)",
     {"after_root": (8, 8, 16), "block1": (8, 8, 16), "block2": (4, 4, 32), "block3": (2, 2, 64),
      "block4": (1, 1, 128), "pre_logits": (128,), "logits": (4,)}),
])
def test_resnet_family_endpoints(spec, shapes):
  net = models.get(spec)
  out = net.intermediates(_images())
  assert {k: tuple(v.shape[1:]) for k, v in out.items()} == shapes
  np.testing.assert_allclose(net(_images()), out["logits"], atol=1e-5)


def test_vgg19_bn_endpoints_and_size_check():
  net = models.get("vgg19_bn(width=0.0625, image_size=32, num_classes=3)")
  out = net.intermediates(_images())
  assert sorted(out) == ["block1", "block2", "block3", "block4", "block5", "fc6", "logits", "pre_logits"]
  assert out["block1"].shape[1:] == (32, 32, 4) and out["fc6"].shape[1:] == (256,)
  with pytest.raises(ValueError, match="built for 32 px"):
    net(_images(64))


def test_widths_and_parameter_counts():
  # ResNet-50 v1 at width 1 has the canonical 25,557,032 trainable parameters (+ 2 x 26,560 BN statistics).
  net = models.get("resnet50_v1(num_classes=1000)")
  trainable = sum(int(np.prod(v.shape)) for v in net.trainable_weights)
  assert trainable == 25_557_032
  with pytest.raises(ValueError, match="positive integer"):
    models.get("resnet50_v2(width=0.3)", build=False)


def test_revnet_checks_save_load_and_export():
  run_model_checks("ssl_revnet(layers=(1, 1, 1, 1), width=0.0625, image_size=32, num_classes=5)", image_size=32,
                   expected_endpoints=RESNET_ENDPOINTS)


def test_resnet_v2_save_load():
  run_model_checks("ssl_resnet_v2(layers=(1, 1, 1, 1), width=0.125, image_size=32, num_classes=5)",
                   image_size=32, expected_endpoints=RESNET_ENDPOINTS, export=False)


def test_revnet_custom_gradient_equals_plain_gradient(monkeypatch):
  spec = "ssl_revnet(layers=(2, 2, 1, 1), width=0.0625, image_size=16, num_classes=3, memory_saving={})"
  # Seeded: rebuilding x1 = y1 - F(x2) rounds, and with unlucky random weights a near-zero input gradient
  # that cancels large terms can land just past atol.
  keras.utils.set_random_seed(0)
  saving, plain = models.get(spec.format(True)), models.get(spec.format(False))
  plain.set_weights(saving.get_weights())
  recomputed = []
  original = revnet_lib._ReversibleUnit.residual

  def counting(self, x2, training=False, update_statistics=True):
    if not update_statistics:
      recomputed.append(self.name)
    return original(self, x2, training=training, update_statistics=update_statistics)

  monkeypatch.setattr(revnet_lib._ReversibleUnit, "residual", counting)
  x = _images(16, batch=4)
  grads = []
  for net in (saving, plain):
    with tf.GradientTape() as tape:
      tape.watch(x)
      loss = tf.reduce_sum(tf.sin(net(x, training=True)))
    grads.append(tape.gradient(loss, [x] + net.trainable_variables))
  assert len(recomputed) == 6  # every unit is rebuilt once in the backward pass, only for `saving`
  for a, b in zip(*grads):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-5)
  # One training-mode forward pass updates the moving averages once, as plain autodiff does.
  for va, vb in zip(saving.non_trainable_weights, plain.non_trainable_weights):
    np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=1e-5, atol=1e-6)


def test_patch_average_averages_patch_endpoints():
  trunk = models.get("ssl_resnet_v1(layers=(1, 1, 1, 1), width=0.125, image_size=16, num_classes=4)")
  wrapped = PatchAverage(trunk, grid=3, standardize=False, image_size=48)
  images = _images(48, batch=2)
  out = wrapped.intermediates(images)
  patches = tf.reshape(grid_patches(images, 3), [-1, 16, 16, 3])
  expected = trunk.intermediates(patches)
  for name in ("block2", "pre_logits", "logits"):
    want = tf.reduce_mean(tf.reshape(expected[name], [2, 9] + expected[name].shape[1:].as_list()), axis=1)
    np.testing.assert_allclose(out[name], want, atol=1e-5)
  assert isinstance(keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(wrapped)),
                    PatchAverage)
