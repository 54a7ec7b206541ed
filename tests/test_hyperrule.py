"""BiT-HyperRule: the table at its boundaries, the schedule against BiT's get_lr, flips, and the BiT configs."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import model_garden  # noqa: F401  (registers ops, objectives, serialisables)
from model_garden import objectives, optimizers
from model_garden.configs.bit import hyperrule as hyperrule_config
from model_garden.configs.bit import upstream as upstream_config
from model_garden.data import DatasetUnavailableError, get_preprocess_fn
from model_garden.models import bit as bit_lib  # noqa: F401  (registers "bit")
from model_garden.registry import spec_call
from model_garden.training import network_spec
from model_garden.training import train
from model_garden.transfer.bit_hyperrule import hyperrule


def bit_get_lr(step, dataset_size, base_lr):
  """big_transfer's bit_hyperrule.get_lr, restated from its definition (None at the end of training)."""
  supports = ([100, 200, 300, 400, 500] if dataset_size < 20_000 else
              [500, 3000, 6000, 9000, 10_000] if dataset_size < 500_000 else
              [500, 6000, 12_000, 18_000, 20_000])
  if step < supports[0]:
    return base_lr * step / supports[0]
  if step >= supports[-1]:
    return None
  return base_lr * 0.1 ** sum(s < step for s in supports[1:])


@pytest.mark.parametrize("num_examples, total, warmup, decays, mixup", [
    (1, 500, 100, (200, 300, 400), 0.0),
    (19_999, 500, 100, (200, 300, 400), 0.0),
    (20_000, 10_000, 500, (3000, 6000, 9000), 0.1),
    (499_999, 10_000, 500, (3000, 6000, 9000), 0.1),
    (500_000, 20_000, 500, (6000, 12_000, 18_000), 0.1),
])
def test_schedule_and_mixup_at_the_table_boundaries(num_examples, total, warmup, decays, mixup):
  rule = hyperrule(num_examples, 224)
  assert (rule.total_steps, rule.warmup_steps, rule.decay_steps, rule.mixup_alpha) == (total, warmup, decays, mixup)
  assert rule.objective == {"name": "classification", "mixup_alpha": mixup}


def test_resolution_at_96x96():
  small, large = hyperrule(1000, 95), hyperrule(1000, 96)
  assert (small.resize_size, small.crop_size) == (160, 128)
  assert (large.resize_size, large.crop_size) == (512, 480)
  assert hyperrule(1000, (95, 97)).crop_size == 128  # Area 9215 < 9216.
  assert hyperrule(1000, (64, 144)).crop_size == 480  # Area 9216.
  assert small.train_pp == "decode|resize(160)|random_crop(128)|flip_lr|value_range(-1, 1)"
  assert small.eval_pp == "decode|resize(128)|value_range(-1, 1)"  # Straight to the crop size.
  assert large.eval_pp == "decode|resize(480)|value_range(-1, 1)"


def test_optimizer_lr_scaling_and_options():
  rule = hyperrule(50_000, 32, batch_size=128)
  assert rule.lr == pytest.approx(0.003 * 128 / 512) and rule.momentum == 0.9 and rule.weight_decay == 0.0
  assert rule.optimizer_config()["name"] == "sgd" and rule.optimizer_config()["momentum"] == 0.9
  assert rule.optimizer_config()["wd"] == 0.0
  assert rule.total_steps == 10_000  # Steps follow the table unless asked to scale.
  scaled = hyperrule(50_000, 32, batch_size=128, scale_steps=True)
  assert (scaled.total_steps, scaled.warmup_steps, scaled.decay_steps) == (40_000, 2000, (12_000, 24_000, 36_000))
  counting = hyperrule(1000, 32, crop=False)
  assert counting.train_pp == "decode|resize(128)|flip_lr|value_range(-1, 1)"
  orientation = hyperrule(1000, 32, flip=False)
  assert "flip" not in orientation.train_pp and "random_crop(128)" in orientation.train_pp
  with pytest.raises(ValueError, match="num_examples"):
    hyperrule(0, 32)
  with pytest.raises(ValueError, match="image_size"):
    hyperrule(1000, (None, 32))


@pytest.mark.parametrize("num_examples, batch", [(19_999, 512), (20_000, 256)])
def test_schedule_equals_bits_get_lr_at_every_step(num_examples, batch):
  rule = hyperrule(num_examples, 32, batch_size=batch)
  schedule = optimizers.make_schedule(rule.schedule, lr=rule.lr, total_steps=rule.total_steps)
  steps = np.arange(rule.total_steps)
  expected = np.array([bit_get_lr(s, num_examples, rule.lr) for s in steps])
  np.testing.assert_allclose(schedule(steps.astype(np.float32)).numpy(), expected, rtol=1e-5, atol=1e-12)
  np.testing.assert_allclose([rule.lr_at(s) for s in steps], expected, rtol=1e-12)
  assert bit_get_lr(rule.total_steps, num_examples, rule.lr) is None and rule.lr_at(rule.total_steps) == 0.0


def _augment(pp, image, n=64):
  fn = get_preprocess_fn(pp)
  ds = tf.data.Dataset.range(n).map(lambda i: fn({"image": image, "_rng": tf.random.experimental.stateless_fold_in(
      tf.constant([0, 0], tf.int64), i)})["image"])
  return np.stack(list(ds.as_numpy_iterator()))


def test_flip_is_random_and_can_be_turned_off():
  image = tf.constant(np.random.default_rng(0).integers(0, 256, (8, 8, 3)), tf.uint8)
  plain = get_preprocess_fn("resize(128)|value_range(-1, 1)")({"image": image})["image"].numpy()
  mirrored = plain[:, ::-1]
  flipping = _augment(hyperrule(100, 8, crop=False).train_pp, image)
  is_plain = np.all(np.isclose(flipping, plain), axis=(1, 2, 3))
  is_mirrored = np.all(np.isclose(flipping, mirrored), axis=(1, 2, 3))
  assert np.all(is_plain ^ is_mirrored)  # Each output is the image or its mirror image...
  assert 16 <= is_mirrored.sum() <= 48  # ...about half of them mirrored (never always-flip, issue #62).
  np.testing.assert_array_equal(flipping, _augment(hyperrule(100, 8, crop=False).train_pp, image))  # Seeded.
  still = _augment(hyperrule(100, 8, crop=False, flip=False).train_pp, image, n=8)
  assert np.allclose(still, plain)


def test_config_from_arguments():
  config = hyperrule_config.get_config("dataset=cifar10,num_examples=50000,num_classes=10,image_size=32,batch=256")
  name, _, kwargs = spec_call(network_spec(config.networks.network))
  assert name == "bit" and kwargs == {"variant": "R50x1", "num_classes": 10, "image_size": 128, "base_width": 64,
                                      "groups": 32}
  assert config.objective.to_dict() == {"name": "classification", "mixup_alpha": 0.1}
  assert config.input.pp == ("decode|resize(160)|random_crop(128)|flip_lr|value_range(-1, 1)|"
                             "onehot(10, key='label')|keep('image', 'labels')")
  assert config.evals.test.pp.startswith("decode|resize(128)|value_range(-1, 1)")
  assert config.total_steps == 10_000 and config.total_steps % config.log_steps == 0
  assert config.optimizer.lr == pytest.approx(0.0015) and config.optimizer.wd == 0.0
  assert config.optimizer.schedule.to_dict() == {"name": "piecewise", "boundaries": (0.3001, 0.6001, 0.9001),
                                                 "factor": 0.1, "warmup_steps": 500}
  assert config.networks.network.init == "" and config.networks.network.init_skip == "head/.*"
  optimizers.make(config.optimizer, total_steps=config.total_steps)  # The block is valid.
  assert objectives.get(config.objective, network=keras.layers.Identity()).mixup_alpha == 0.1


def test_config_reads_tfds_info(tiny_shapes):
  _, data_dir = tiny_shapes
  config = hyperrule_config.get_config(f"dataset=mg_shapes/tiny32,data_dir={data_dir},model=R101x3")
  assert config.hyperrule["num_examples"] == 256 and config.total_steps == 500
  network = config.networks.network
  assert (network.variant, network.num_classes, network.image_size) == ("R101x3", 8, 128)
  assert config.objective.to_dict() == {"name": "classification", "mixup_alpha": 0.0}


def test_config_fails_clearly_when_the_dataset_is_not_prepared(tmp_path):
  with pytest.raises(DatasetUnavailableError, match="num_examples=...,num_classes=...,image_size="):
    hyperrule_config.get_config(f"dataset=cifar10,data_dir={tmp_path}")


def test_upstream_recipe_numbers():
  config = upstream_config.get_config()
  assert config.input.data.name == "imagenet2012" and config.input.batch_size == 4096
  assert config.optimizer.lr == pytest.approx(0.48)
  assert config.optimizer.wd == pytest.approx(0.48 * 1e-4 / 0.1)  # Coupled L2 1e-4 with momentum 0.9.
  assert config.total_steps == 28_150  # 90 epochs of 1,281,167 images at 4096, in whole log periods.
  schedule = optimizers.make_schedule(config.optimizer.schedule, lr=config.optimizer.lr,
                                      total_steps=config.total_steps)
  lrs = schedule(np.array([2500, 5000, 9382, 9383, 18767, 25021, 25022], np.float32)).numpy()
  np.testing.assert_allclose(lrs, [0.24, 0.48, 0.48, 0.048, 0.0048, 0.0048, 0.00048], rtol=1e-5)
  assert upstream_config.get_config("upstream=M,data=my_i21k").networks.network.num_classes == 21843
  with pytest.raises(ValueError, match="ImageNet-21k"):
    upstream_config.get_config("upstream=M")


@pytest.mark.parametrize("module", [hyperrule_config, upstream_config], ids=["hyperrule", "upstream"])
def test_runlocal_trains(module, tiny_shapes, tmp_path):
  _, data_dir = tiny_shapes
  config = module.get_config("runlocal")
  config.input.data_dir = data_dir
  config.input.data = dict(name="mg_shapes/tiny32", split=config.input.data.split)
  for ev in config.evals.values():
    ev.data["name"] = "mg_shapes/tiny32"
  results = train(config, str(tmp_path), verbose=0)
  assert results["step"] == config.total_steps == 10
  assert math.isfinite(results["train/loss"]) and results["train/loss"] > 0
  evals = [k for k in results if k.endswith("/num_examples")]
  assert evals and all(results[k] == 64 for k in evals)
  assert (tmp_path / "model.keras").exists()
