"""LiT config presets (Lu, LU, Uu, UU, uu, ul) and a runlocal training run through the trainer."""

import json
import os

import keras
import numpy as np
import pytest

from model_garden.configs.lit import mg_shapes_lit


@pytest.mark.parametrize("setting,frozen,img_init,txt_init", [
    ("Lu", (True, False), True, False), ("LU", (True, False), True, True), ("Uu", (False, False), True, False),
    ("UU", (False, False), True, True), ("uu", (False, False), False, False), ("ul", (False, True), False, False)])
def test_paper_settings(setting, frozen, img_init, txt_init):
  arg = f"setting={setting}" + (",img_init=/x/img.keras" if img_init else "") + (
      ",txt_init=/x/txt.keras" if txt_init else "")
  config = mg_shapes_lit.get_config(arg)
  image, text = config.networks.image, config.networks.text
  assert (image.frozen, text.frozen) == frozen
  assert image.init == ("/x/img.keras" if img_init else "")
  assert (image.name == "") == img_init  # A pretrained tower's architecture comes from its file...
  assert image.num_classes == 0 and text.num_classes == 64  # ...without its head: the image pre-logits embed.
  assert text.init == ("/x/txt.keras" if txt_init else "")
  assert setting in mg_shapes_lit.PAPER_SETTINGS


def test_setting_errors():
  with pytest.raises(ValueError, match="img_init=PATH.keras"):
    mg_shapes_lit.get_config("setting=Lu")
  with pytest.raises(ValueError, match="from scratch but txt_init"):
    mg_shapes_lit.get_config("setting=uu,txt_init=/x/t.keras")
  with pytest.raises(ValueError, match="two letters"):
    mg_shapes_lit.get_config("setting=LX")


def test_held_out_pairs_leave_the_image_text_data_and_get_their_own_zero_shot_evals():
  from model_garden.data.mg_shapes import render  # pylint: disable=g-import-not-at-top
  pairs = mg_shapes_lit.HELD_OUT
  assert len(set(pairs)) == 16
  assert all(sum(p[0] == shape for p in pairs) == 2 for shape in render.SHAPES)
  assert all(colour in render.COLOUR_NAMES for _, colour in pairs)
  config = mg_shapes_lit.get_config("setting=uu,dataset=mg_shapes/tiny32,split=train[:100]")
  assert config.input.data.name == mg_shapes_lit.combinations_data("mg_shapes/tiny32", "seen")
  assert config.input.data.split == "train[:100]" and "part='seen'" in config.input.data.name
  held = config.evals.zeroshot_colours_held_out
  assert held.data.name == mg_shapes_lit.combinations_data("mg_shapes/tiny32", "held_out")
  assert (held.label_key, held.templates, held.data.split) == ("colour", "mg_shapes_colour", "test")
  assert config.evals.zeroshot_shapes_held_out.label_key == "label"
  plain = mg_shapes_lit.get_config("setting=uu,held_out=False")
  assert plain.input.data.name == "mg_shapes/px32"
  assert sorted(plain.evals) == ["retrieval", "zeroshot_colours", "zeroshot_shapes"]


def test_runlocal_lu_trains_text_tower_and_keeps_the_locked_image_tower(tiny_shapes, tmp_path):
  from model_garden import models, training  # pylint: disable=g-import-not-at-top
  from model_garden.evaluation import retrieval, zero_shot  # noqa: F401  (registers the evaluators)
  from model_garden.models import two_towers  # noqa: F401
  from model_garden.objectives import contrastive  # noqa: F401
  from model_garden.text import ops_text  # noqa: F401
  _, data_dir = tiny_shapes
  vit = models.get("vit(variant='mu/8', image_size=32, num_classes=8)")
  rng = np.random.default_rng(0)
  for v in vit.weights:
    v.assign(rng.normal(0, 0.1, v.shape).astype("float32"))
  init = str(tmp_path / "img.keras")
  vit.save(init)
  config = mg_shapes_lit.get_config(f"setting=Lu,img_init={init},embed_dim=32,runlocal")
  config.input.data["name"] = "mg_shapes/tiny32"
  config.input.data_dir = data_dir
  for ev in config.evals.values():
    ev.data["name"] = "mg_shapes/tiny32"
  workdir = str(tmp_path / "work")
  results = training.train(config, workdir, verbose=0)
  assert results["step"] == 10 and np.isfinite(results["train/loss"])
  for key in ("zeroshot_shapes/accuracy", "zeroshot_colours/accuracy", "retrieval/i2t_recall@1",
              "retrieval/t2i_recall@5"):
    assert 0.0 <= results[key] <= 1.0, key
  trained = keras.saving.load_model(os.path.join(workdir, "model.keras"))
  images = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  np.testing.assert_allclose(trained.img(images), vit.intermediates(images)["pre_logits"], atol=1e-5)
  with open(os.path.join(workdir, "results.json")) as f:
    assert json.load(f)["step"] == 10
