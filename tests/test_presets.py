"""Presets: save/load round trips (ViT, BiT, LiT; directory and .tar.gz), name resolution, the TFSMLayer recipe."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import model_garden  # noqa: F401  (registers the serialisables)
from model_garden.models import registry as model_registry
from model_garden.models import two_towers  # noqa: F401  (registers two_towers)
from model_garden.presets import (PresetNotFoundError, load_preset, model_card, preset as preset_lib, save_preset,
                                  validate_preset)

VIT_SPEC = "vit(variant='mu/8', num_classes=3, image_size=16)"
BIT_SPEC = "bit(variant='R14x1', base_width=8, groups=4, num_classes=4, image_size=32)"
LIT_SPEC = ("two_towers(image=\"vit(variant='mu/8', image_size=16)\", text=\"text_transformer(width=32, depth=1, "
            "mlp_dim=64, num_heads=2, vocab_size=256, max_len=16)\", out_dim=(None, 32))")
CARD = {"licence": {"name": "Apache-2.0", "kaggle_license_name": "Apache 2.0", "source": "this test"},
        "training_data": "none (random weights)", "paper": {"title": "An Image is Worth 16x16 Words",
                                                            "url": "https://arxiv.org/abs/2010.11929"},
        "accuracy": None, "accuracy_note": "random weights: chance level"}


def _randomize(model, seed=0):
  rng = np.random.default_rng(seed)
  for v in model.weights:
    if not v.path.endswith("/t"):
      v.assign(v.numpy() + rng.normal(0, 0.1, v.shape).astype("float32"))
  return model


def _assert_same_weights(a, b):
  assert len(a.weights) == len(b.weights)
  for x, y in zip(a.weights, b.weights):
    assert x.path.split("/", 1)[-1] == y.path.split("/", 1)[-1]
    np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=x.path)


@pytest.fixture(scope="module")
def vit_preset(tmp_path_factory):
  """A tiny ViT classifier with random weights, saved as a complete preset (SavedModel included)."""
  model = _randomize(model_registry.get(VIT_SPEC))
  path = save_preset(model, tmp_path_factory.mktemp("presets") / "tiny_vit", spec=VIT_SPEC, image_size=16,
                     metadata=CARD, class_names=["circle", "square", "star"])
  return model, path


def test_vit_preset_round_trips_exactly(vit_preset, tmp_path):
  model, path = vit_preset
  for name in preset_lib.REQUIRED_FILES + ("assets/class_names.txt", "saved_model/saved_model.pb"):
    assert os.path.isfile(os.path.join(path, name)), name
  preset = load_preset(path)
  _assert_same_weights(model, preset.model)
  images = np.random.default_rng(1).uniform(-1, 1, (3, 16, 16, 3)).astype("float32")
  np.testing.assert_array_equal(model(images).numpy(), preset.model(images).numpy())
  assert preset.class_names == ["circle", "square", "star"]
  assert preset.spec == VIT_SPEC and preset.task == "image_classification" and preset.image_size == 16
  assert preset.preprocessing["value_range"] == [-1.0, 1.0] and preset.preprocessing["resize_method"] == "bilinear"
  with open(os.path.join(path, "config.json")) as f:
    config = json.load(f)
  assert config["model"]["config"]["variant"] == "mu/8" and config["format_version"] == 1
  card = preset.metadata
  assert card["licence"]["name"] == "Apache-2.0" and card["architecture"]["params"] == model.count_params()
  assert model_card.validate_metadata(card) == []
  readme = open(os.path.join(path, "README.md")).read()
  assert "TFSMLayer" in readme and "Apache-2.0" in readme and VIT_SPEC in readme
  # classify() preprocesses uint8 images of any size the way the SavedModel does.
  top = preset.classify(np.zeros((20, 24, 3), np.uint8), top_k=2)[0]
  assert len(top) == 2 and top[0][0] in preset.class_names and top[0][1] >= top[1][1]
  # The same preset as a .tar.gz archive.
  archive = save_preset(model, tmp_path / "tiny_vit.tar.gz", spec=VIT_SPEC, image_size=16, metadata=CARD,
                        saved_model=False)
  unpacked = load_preset(archive, extract_dir=str(tmp_path / "unpacked"))
  assert unpacked.path == str(tmp_path / "unpacked" / "tiny_vit")
  _assert_same_weights(model, unpacked.model)
  np.testing.assert_array_equal(model(images).numpy(), model_garden.presets.from_preset(archive)(images).numpy())


def test_bit_preset_round_trips_exactly(tmp_path):
  model = _randomize(model_registry.get(BIT_SPEC), seed=2)
  path = save_preset(model, tmp_path / "tiny_bit", spec=BIT_SPEC, image_size=32, metadata=CARD, saved_model=False)
  loaded = model_garden.presets.from_preset(str(path))
  _assert_same_weights(model, loaded)
  images = np.random.default_rng(3).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  np.testing.assert_array_equal(model(images).numpy(), loaded(images).numpy())
  assert load_preset(path).class_names is None


def test_lit_preset_round_trips_with_tokenizer_and_saved_model(tmp_path):
  lit = _randomize(model_registry.get(LIT_SPEC), seed=4)
  path = save_preset(lit, tmp_path / "tiny_lit", spec=LIT_SPEC, image_size=16, metadata=CARD,
                     tokenizer="mg_shapes_sp", templates="mg_shapes_shape")
  preset = load_preset(path)
  _assert_same_weights(lit, preset.model)
  assert preset.task == "image_text" and preset.preprocessing["tokenizer"]["kind"] == "sentencepiece"
  assert os.path.isfile(os.path.join(path, "assets", "tokenizer.model"))
  tokens = preset.tokenizer()(["two red circles", "a blue star"])
  images = np.random.default_rng(5).uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
  np.testing.assert_array_equal(lit.embed_texts(tokens).numpy(), preset.model.embed_texts(tokens).numpy())
  np.testing.assert_array_equal(lit.embed_images(images).numpy(), preset.model.embed_images(images).numpy())
  report = validate_preset(path)
  assert report["problems"] == [], report["problems"]
  assert "zero_shot" in report["saved_model"]["signatures"] and report["saved_model"]["max_abs_diff"] < 1e-4


def test_catalogue_names_resolve_to_the_cache(vit_preset, tmp_path, monkeypatch):
  monkeypatch.setenv("MODEL_GARDEN_PRESETS", str(tmp_path / "cache"))
  with pytest.raises(PresetNotFoundError) as error:
    model_garden.presets.from_preset("vit_augreg_b16_i21k_ft_i1k")
  message = str(error.value)
  assert "python tools/fetch_preset.py vit_augreg_b16_i21k_ft_i1k" in message
  assert str(tmp_path / "cache" / "vit_augreg_b16_i21k_ft_i1k") in message
  with pytest.raises(PresetNotFoundError, match="Did you mean 'vit_augreg_b16_i21k_ft_i1k'"):
    model_garden.presets.from_preset("vit_augreg_b16_i21k_ft_i1")
  with pytest.raises(PresetNotFoundError, match="No preset directory or archive"):
    model_garden.presets.from_preset(str(tmp_path / "nowhere"))
  # A preset placed in the cache under a name loads by that name, through the env var or cache_dir.
  model, path = vit_preset
  os.makedirs(tmp_path / "cache")
  os.symlink(path, tmp_path / "cache" / "my_vit")
  images = np.zeros((1, 16, 16, 3), np.float32)
  np.testing.assert_array_equal(model_garden.presets.from_preset("my_vit")(images).numpy(), model(images).numpy())
  monkeypatch.delenv("MODEL_GARDEN_PRESETS")
  assert load_preset("my_vit", cache_dir=str(tmp_path / "cache")).spec == VIT_SPEC


def test_saved_model_loads_as_keras_layer(vit_preset):
  """The docs/presets.md recipe: a SavedModel (TF-Hub, Kaggle, or a preset's) as a Keras layer."""
  model, path = vit_preset
  saved = os.path.join(path, "saved_model")
  pixels = np.random.default_rng(6).integers(0, 256, (2, 20, 24, 3)).astype(np.uint8)
  png = tf.stack([tf.io.encode_png(p) for p in pixels])
  layer = keras.layers.TFSMLayer(saved, call_endpoint="serving_default")
  served = layer(png)
  expected = model(preset_lib.preprocess_uint8(pixels, 16)).numpy()
  np.testing.assert_allclose(served["logits"].numpy(), expected, atol=1e-5)
  names = [n.decode() for n in served["class_name"].numpy()]
  assert names == [["circle", "square", "star"][i] for i in expected.argmax(-1)]
  # serve_float takes what the Keras model takes, so the layer composes inside a Keras model.
  float_layer = keras.layers.TFSMLayer(saved, call_endpoint="serve_float")
  inputs = keras.Input((16, 16, 3))
  wrapped = keras.Model(inputs, float_layer(inputs)["probabilities"])
  images = preset_lib.preprocess_uint8(pixels, 16).numpy()
  np.testing.assert_allclose(wrapped(images).numpy(), tf.nn.softmax(model(images)).numpy(), atol=1e-5)


def test_save_preset_rejects_bad_input(tmp_path):
  model = model_registry.get(VIT_SPEC)
  with pytest.raises(ValueError, match="one name per class"):
    save_preset(model, tmp_path / "a", spec=VIT_SPEC, image_size=16, class_names=["x"], saved_model=False)
  with pytest.raises(model_garden.SpecError, match="Unknown model"):
    save_preset(model, tmp_path / "b", spec="vti(variant='mu/8')", image_size=16, saved_model=False)
  with pytest.raises(ValueError, match="Unknown model-card keys"):
    save_preset(model, tmp_path / "c", spec=VIT_SPEC, image_size=16, metadata={"licnce": "MIT"}, saved_model=False)
  save_preset(model, tmp_path / "d", spec=VIT_SPEC, image_size=16, saved_model=False)
  with pytest.raises(FileExistsError, match="overwrite=True"):
    save_preset(model, tmp_path / "d", spec=VIT_SPEC, image_size=16, saved_model=False)
  # An incomplete card is saved but reported, with what to fill in.
  report = validate_preset(tmp_path / "d", check_saved_model=False)
  assert any("licence" in p for p in report["problems"]) and any("saved_model" in p for p in report["problems"])
