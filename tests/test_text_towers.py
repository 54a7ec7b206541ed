"""Text towers (TextTransformer, BertEncoder) and the two-tower model: shapes, pooling, masks, paths, loading."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from model_garden import objectives, optimizers
from model_garden.models import registry as model_registry
from model_garden.models import two_towers as two_towers_module
from model_garden.models.bert_encoder import BertEncoder
from model_garden.models.text_transformer import TextTransformer
from model_garden.models.weights import WeightsMismatchError
from model_garden.registry import SpecError
from model_garden.training import networks

TXT = "text_transformer(width=32, depth=1, mlp_dim=64, num_heads=2, vocab_size=40, max_len=6)"
IMG = "vit(variant='mu/4', image_size=8)"


def _tokens(batch=3, length=6, vocab=40, seed=0):
  return tf.constant(np.random.default_rng(seed).integers(3, vocab, (batch, length)), tf.int32)


def _lit(**kwargs):
  args = {"image": IMG, "text": TXT, "out_dim": (None, 32), **kwargs}
  spec = "two_towers(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"
  return model_registry.get(spec)


@pytest.mark.parametrize("pool", ["last", "first", "gap", "max", "map"])
def test_text_transformer_pooling_and_intermediates(pool):
  model = TextTransformer(num_classes=16, width=32, depth=2, mlp_dim=64, num_heads=2, vocab_size=40, max_len=6,
                          pool=pool)
  tokens = _tokens()
  out = model.intermediates(tokens)
  assert sorted(out) == ["embedded", "encoder/block00", "encoder/block01", "logits", "pre_logits", "transformed"]
  expected = {"last": out["transformed"][:, -1], "first": out["transformed"][:, 0],
              "gap": tf.reduce_mean(out["transformed"], 1), "max": tf.reduce_max(out["transformed"], 1)}
  if pool in expected:
    np.testing.assert_allclose(out["pre_logits"], expected[pool], atol=1e-6)
  np.testing.assert_allclose(model(tokens), out["logits"], atol=1e-6)
  assert model(tokens).shape == (3, 16)


def test_text_transformer_config_round_trip_save_load_and_errors(tmp_path):
  model = model_registry.get(TXT.replace(")", ", num_classes=8)"))
  tokens = _tokens()
  clone = TextTransformer.from_config(model.get_config())
  clone.build()
  assert clone.get_config() == model.get_config() and clone.count_params() == model.count_params()
  # vocab*w + L*w + block(2 LN, attn, mlp) + final LN + head
  w = 32
  assert model.count_params() == 40 * w + 6 * w + (4 * w + 4 * (w * w + w) + (w * 64 + 64 + 64 * w + w)) + 2 * w + (
      w * 8 + 8)
  model.save(tmp_path / "t.keras")
  np.testing.assert_allclose(keras.saving.load_model(tmp_path / "t.keras")(tokens), model(tokens), atol=1e-6)
  with pytest.raises(TypeError, match="integer token ids"):
    model(tf.zeros([2, 6]))
  with pytest.raises(ValueError, match="max_len=6"):
    model(_tokens(length=9))
  with pytest.raises(ValueError, match="Unknown text pool"):
    TextTransformer(pool="cls")


def _layer_norm(x, gamma, beta, eps):
  mean = x.mean(-1, keepdims=True)
  var = x.var(-1, keepdims=True)
  return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _gelu(x):
  return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _numpy_bert_cls(model, tokens):
  """Independent NumPy forward of flaxformer's BERT (post-LN, padding mask on keys and queries)."""
  tokens = np.asarray(tokens)
  eps = 1e-12
  x = (model.token_embedding.embeddings.numpy()[tokens]
       + model.position_embedding.embeddings.numpy()[np.arange(tokens.shape[1])][None]
       + model.segment_embedding.embeddings.numpy()[0][None, None])
  x = _layer_norm(x, model.layer_norm.gamma.numpy(), model.layer_norm.beta.numpy(), eps)
  valid = tokens != 0
  mask = valid[:, None, :, None] & valid[:, None, None, :]
  heads = model.num_heads
  for layer in model.encoder_layers:
    b, n, w = x.shape
    proj = lambda dense: (x @ dense.kernel.numpy() + dense.bias.numpy()).reshape(b, n, heads, w // heads)
    q, k, v = proj(layer.query) / np.sqrt(w // heads), proj(layer.key), proj(layer.value)
    logits = np.where(mask, np.einsum("bqhc,bkhc->bhqk", q, k), -1e9)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    y = np.einsum("bhqk,bkhc->bqhc", weights, v).reshape(b, n, w)
    y = y @ layer.attention_out.kernel.numpy() + layer.attention_out.bias.numpy()
    x = _layer_norm(x + y, layer.attention_norm.gamma.numpy(), layer.attention_norm.beta.numpy(), eps)
    y = _gelu(x @ layer.mlp_in.kernel.numpy() + layer.mlp_in.bias.numpy())
    y = y @ layer.mlp_out.kernel.numpy() + layer.mlp_out.bias.numpy()
    x = _layer_norm(x + y, layer.mlp_norm.gamma.numpy(), layer.mlp_norm.beta.numpy(), eps)
  return x[:, 0]


def test_bert_encoder_matches_numpy_and_ignores_padding():
  model = BertEncoder(width=32, depth=2, mlp_dim=64, num_heads=4, vocab_size=40, max_len=8)
  model.build()
  rng = np.random.default_rng(0)
  for v in model.weights:  # LayerNorm and biases off their trivial init, so the reference checks them.
    v.assign(v.numpy() + rng.normal(0, 0.1, v.shape).astype("float32"))
  tokens = np.array([[2, 7, 9, 11, 0, 0, 0, 0], [2, 5, 6, 7, 8, 9, 10, 12]], np.int32)
  out = model.intermediates(tf.constant(tokens))
  np.testing.assert_allclose(out["pre_logits"], _numpy_bert_cls(model, tokens), atol=2e-5)
  # Padding is masked: the [CLS] output of the padded text equals that of the text without padding.
  short = model(tf.constant(tokens[:1, :4]))
  np.testing.assert_allclose(out["pre_logits"][:1], short, atol=2e-5)
  paths = [v.path for v in model.weights]
  assert any(p.endswith("layers_1/attention_layer_norm/gamma") for p in paths)


def test_two_towers_paths_temperature_and_lock_regex():
  lit = _lit()
  paths = [v.path for v in lit.trainable_variables]
  assert all(p.split("/")[0] in ("img", "txt") or p.split("/")[1] in ("img", "txt", "t") for p in paths), paths
  assert np.isclose(float(lit.temperature), 10.0, rtol=1e-5)
  optimizer = optimizers.make({"name": "adam", "lr": 1e-3, "frozen": "img/.*"}, total_steps=10)
  trained = optimizer.filter_trainable(lit.trainable_variables)
  assert trained and all("img/" not in v.path for v in trained)
  assert len(trained) == len([v for v in lit.trainable_variables if "img/" not in v.path])
  out = lit({"image": tf.zeros([2, 8, 8, 3]), "labels": _tokens(2)})
  np.testing.assert_allclose(tf.norm(out["img"], axis=-1), 1.0, atol=1e-5)
  np.testing.assert_allclose(tf.norm(out["txt"], axis=-1), 1.0, atol=1e-5)


def test_two_towers_heads_dims_and_save_load(tmp_path):
  lit = _lit(out_dim=16)  # Heads on both towers; the ViT head is drawn non-zero (LiT's head_zeroinit=False).
  assert lit.img.head is not None and np.any(lit.img.head.kernel.numpy())
  images, tokens = tf.random.uniform([2, 8, 8, 3], -1, 1), _tokens(2)
  out = lit({"image": images, "labels": tokens})
  assert out["img"].shape == (2, 16) and out["txt"].shape == (2, 16)
  lit.save(tmp_path / "lit.keras")
  loaded = keras.saving.load_model(tmp_path / "lit.keras")
  again = loaded({"image": images, "labels": tokens})
  np.testing.assert_allclose(again["img"], out["img"], atol=1e-6)
  np.testing.assert_allclose(again["txt"], out["txt"], atol=1e-6)
  with pytest.raises(ValueError, match="out_dim"):
    _lit(out_dim=(None, 24))


def test_image_tower_from_classifier_keras_file(tmp_path):
  classifier = model_registry.get(IMG.replace(")", ", num_classes=8)"))
  rng = np.random.default_rng(0)
  for v in classifier.weights:
    v.assign(rng.normal(0, 0.1, v.shape).astype("float32"))
  path = str(tmp_path / "vit.keras")
  classifier.save(path)
  # The trainer's route (config.networks.image = dict(name="", init=path, init_skip="head/.*", num_classes=0)):
  # the architecture from the file without its head, then the weights, the file's head ignored.
  entry = {"name": "", "num_classes": 0, "init": path, "init_skip": "head/.*"}
  tower = networks.build_network(entry, what="image")
  text = model_registry.get("text_transformer(width=32, depth=1, mlp_dim=64, num_heads=2, vocab_size=64, "
                            "max_len=8, num_classes=32)")
  objective = objectives.get("contrastive", image=tower, text=text)
  networks.initialise(objective.networks["image"], path, "head/.*", what="image")
  lit = objective.network
  assert lit.img.num_classes == 0 and lit.img.name == "img"
  images = tf.random.uniform([2, 8, 8, 3], -1, 1)
  np.testing.assert_allclose(lit.img(images), classifier.intermediates(images)["pre_logits"], atol=1e-5)
  other = model_registry.get("vit(variant='mu/4', image_size=8, mlp_dim=64)")
  with pytest.raises(WeightsMismatchError, match="mis-shaped"):
    networks.initialise(other, path, "head/.*")
  with pytest.raises(SpecError, match="has no `name`"):
    networks.build_network({"name": ""}, what="image")


def test_tower_rename_keeps_weights():
  vit = model_registry.get(IMG)
  renamed = two_towers_module.as_tower(vit, "img")
  images = tf.random.uniform([2, 8, 8, 3], -1, 1)
  assert renamed.name == "img" and all(v.path.startswith("img/") for v in renamed.weights)
  np.testing.assert_allclose(renamed(images), vit(images), atol=1e-6)
