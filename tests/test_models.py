"""The foundation's network and the checks every model passes; image input errors; weight loading."""

import numpy as np
import pytest
import tensorflow as tf

import model_garden
from model_garden.layers import ImageInputError
from model_garden.models import WeightsMismatchError, load_weights
from model_garden.testing import run_model_checks


def test_resnet_small_passes_the_model_checks():
  model = run_model_checks("resnet_small(num_classes=5, image_size=32, widths=(8, 16))", image_size=32)
  out = model.intermediates(tf.zeros((1, 32, 32, 3)))
  assert out["stem"].shape == (1, 32, 32, 8)
  assert out["block2"].shape == (1, 16, 16, 16)
  assert out["pre_logits"].shape == (1, 16)


def test_resnet_small_parameter_count_by_hand():
  model = model_garden.models.get("resnet_small(num_classes=5, image_size=32, widths=(8, 16))")
  stem = 3 * 3 * 3 * 8
  unit1 = 2 * (2 * 8) + 2 * (3 * 3 * 8 * 8)              # two GroupNorms (gamma, beta) + two convs
  unit2 = 2 * 8 + 2 * 16 + 3 * 3 * 8 * 16 + 3 * 3 * 16 * 16 + 8 * 16  # + 1x1 projection
  final = 2 * 16
  head = 16 * 5 + 5
  assert model.count_params() == stem + unit1 + unit2 + final + head


def test_headless_model_returns_pre_logits():
  model = model_garden.models.get("resnet_small(num_classes=0, image_size=16, widths=(8,))")
  assert model(tf.zeros((2, 16, 16, 3))).shape == (2, 8)


@pytest.mark.parametrize("images, message", [
    (np.zeros((32, 32, 3), np.float32), r"rank 3.*images\[None\]"),
    (np.zeros((1, 32, 32, 1), np.float32), r"3 channels.*grayscale_to_rgb"),
    (np.zeros((1, 32, 32, 4), np.float32), r"3 channels.*alpha"),
    (np.zeros((1, 32, 32, 3), np.uint8), r"float images in \[-1, 1\].*value_range\(-1, 1\)"),
])
def test_wrong_images_get_a_clear_error(images, message):
  model = model_garden.models.get("resnet_small(num_classes=2, image_size=32, widths=(8,))")
  with pytest.raises(ImageInputError, match=message):
    model.intermediates(images)
  with pytest.raises(Exception, match=message):
    model(images)


def test_load_weights_copies_by_path_and_lists_mismatches(tmp_path):
  source = model_garden.models.get("resnet_small(num_classes=3, image_size=16, widths=(8,))")
  for v in source.weights:
    v.assign(tf.random.normal(v.shape))
  path = str(tmp_path / "source.keras")
  source.save(path)
  same = model_garden.models.get("resnet_small(num_classes=3, image_size=16, widths=(8,))")
  report = load_weights(same, path)
  assert len(report["loaded"]) == len(same.weights)
  for a, b in zip(source.weights, same.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())

  other = model_garden.models.get("resnet_small(num_classes=4, image_size=16, widths=(8, 16))")
  with pytest.raises(WeightsMismatchError) as info:
    load_weights(other, path)
  text = str(info.value)
  assert "missing" in text and "block2_unit1/conv1/kernel" in text
  assert "mis-shaped" in text and "head/kernel: saved (8, 3) vs model (16, 4)" in text
  partial = model_garden.models.get("resnet_small(num_classes=7, image_size=16, widths=(8,))")
  report = load_weights(partial, path, skip="head/.*")
  assert report["skipped"] == ["head/kernel", "head/bias"] or sorted(report["skipped"]) == ["head/bias",
                                                                                            "head/kernel"]


def test_the_mixed_precision_check_fails_on_outputs_that_differ():
  from model_garden.testing import model_checks  # pylint: disable=g-import-not-at-top
  spec = "resnet_small(num_classes=5, image_size=16, widths=(8,))"
  model = model_garden.models.get(spec)
  images = tf.random.stateless_uniform((2, 16, 16, 3), (1, 2), -1, 1)
  outputs = model(images)
  model_checks._check_mixed_precision(spec, model, images, outputs, "mixed_bfloat16", 0.1)
  with pytest.raises(AssertionError, match="differ from float32"):
    model_checks._check_mixed_precision(spec, model, images, outputs * 1.3 + 0.3, "mixed_bfloat16", 0.1)
