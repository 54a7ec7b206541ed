"""The ViT configs: both `runlocal` smoke modes train end to end; the full ViT-g recipe's numbers."""

import math

import numpy as np
import pytest

from model_garden import optimizers
from model_garden.configs.vit import mg_shapes_finetune, train_vit_g
from model_garden.models import registry
from model_garden.models import vit as vit_lib
from model_garden.registry import spec_call
from model_garden.training import network_spec, train


def _tiny(config, tiny_shapes):
  """Points a runlocal config at the session's tiny mg_shapes (256 train, 64 validation and test)."""
  _, data_dir = tiny_shapes
  config.input.data_dir = data_dir
  config.input.data = dict(name="mg_shapes/tiny32", split=config.input.data.split)
  for ev in config.evals.values():
    if "data" in ev:
      ev.data["name"] = "mg_shapes/tiny32"
    if "datasets" in ev:
      ev.datasets = {k: dict(v, name="mg_shapes/tiny32") for k, v in ev.datasets.items()}
  return config


@pytest.mark.parametrize("module", [train_vit_g, mg_shapes_finetune],
                         ids=["train_vit_g", "mg_shapes_finetune"])
def test_runlocal_trains(module, tiny_shapes, tmp_path):
  config = _tiny(module.get_config("runlocal"), tiny_shapes)
  results = train(config, str(tmp_path), verbose=0)
  assert results["step"] == config.total_steps == 10
  assert math.isfinite(results["train/loss"]) and results["train/loss"] > 0
  assert 0.0 <= results["val/accuracy"] <= 1.0 and results["val/num_examples"] == 64
  assert (tmp_path / "model.keras").exists() and (tmp_path / "results.json").exists()


def test_train_vit_g_runlocal_keeps_the_recipe():
  config = train_vit_g.get_config("runlocal")
  full = train_vit_g.get_config()
  assert config.objective.to_dict() == full.objective.to_dict() == {"name": "classification",
                                                                     "loss": "sigmoid_xent"}
  assert config.optimizer.name == full.optimizer.name == "adafactor_bv"
  assert config.optimizer.momentum_dtype == full.optimizer.momentum_dtype == "bfloat16"
  assert config.optimizer.wd_mults == full.optimizer.wd_mults
  kwargs = config.networks.network
  assert kwargs["variant"] == "Ti/8" and kwargs["image_size"] == 32 and kwargs["pool"] == "map"
  assert kwargs["head_bias_init"] == -10


def test_train_vit_g_optimizer_and_schedule():
  config = train_vit_g.get_config()
  assert config.total_steps == 1_000_000 and config.input.batch_size == 16_384
  opt = optimizers.make(config.optimizer, total_steps=config.total_steps)
  assert type(opt).__name__ == "AdafactorBV"
  assert opt.momentum == 0.9 and opt.momentum_dtype == "bfloat16" and opt.clipping_threshold is None
  assert opt.grad_clip_norm == 1.0
  np.testing.assert_allclose(opt.wd, 0.03 * 8e-4)
  assert [tuple(p) for p in config.optimizer.wd_mults] == [(".*head/kernel", 100.0), (".*/kernel", 1.0)]

  def lr_at(step):
    opt.iterations.assign(step)
    return float(opt.learning_rate)

  expected = {
      0: 0.0,
      5_000: 4e-4,  # Linear warmup.
      10_000: 8e-4,  # Warmup end: the peak.
      20_000: 8e-4 / math.sqrt(2.0),  # rsqrt with timescale 10k.
      950_000: 8e-4 / math.sqrt(1.0 + 94.0),  # Cooldown start.
      975_000: 0.5 * 8e-4 / math.sqrt(1.0 + 96.5),  # Half way down the linear cooldown.
      1_000_000: 0.0,  # Cooldown end.
  }
  for step, value in expected.items():
    np.testing.assert_allclose(lr_at(step), value, rtol=1e-5, atol=1e-12, err_msg=f"step {step}")


def test_train_vit_g_model_is_g14_with_map_head():
  config = train_vit_g.get_config()
  name, _, kwargs = spec_call(network_spec(config.networks.network))
  assert name == "vit" and kwargs["variant"] == "g/14" and kwargs["pool"] == "map"
  assert kwargs["head_bias_init"] == -10 and kwargs["num_classes"] == 1000 and kwargs["image_size"] == 224
  width, mlp = 1408, 6144
  map_head = width + 4 * (width * width + width) + 2 * width + (2 * width * mlp + mlp + width)
  # Table 2 of "Scaling Vision Transformers": g/14 is 1011M parameters without a head.
  assert vit_lib.vit_param_count(**kwargs) == 1_011_199_616 + map_head + (width * 1000 + 1000)
  model = registry.get(network_spec(config.networks.network), build=False)  # No weights allocated.
  assert not model.built and model.pool == "map" and model.depth == 40 and not model.posemb_cls_row
  jft = train_vit_g.get_config("data=jft_3b,num_classes=29593,variant=G/14")
  assert jft.networks.network.variant == "G/14" and "onehot(29593)" in jft.input.pp
