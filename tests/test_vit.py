"""VisionTransformer: variants, parameter counts, pools, intermediates, initialisers, serialisation."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from model_garden.layers.position_embedding import posemb_sincos_2d  # noqa: E402
from model_garden.models import registry  # noqa: E402
from model_garden.models import vit as vit_lib  # noqa: E402  (registers "vit")
from model_garden.testing import run_model_checks  # noqa: E402

TINY = "vit(variant='mu/8', depth=2, num_classes=5, image_size=32, pool='{pool}'{extra})"


def tiny(pool="gap", extra=""):
  return registry.get(TINY.format(pool=pool, extra=extra))


def images(size=32, batch=2, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)


# ---------------------------------------------------------------------------------------------------
# Variants.

def test_decode_variant():
  assert vit_lib.decode_variant("B/16") == {"width": 768, "depth": 12, "mlp_dim": 3072, "num_heads": 12,
                                            "patch_size": 16}
  assert vit_lib.decode_variant("g/14") == {"width": 1408, "depth": 40, "mlp_dim": 6144, "num_heads": 16,
                                            "patch_size": 14}
  assert vit_lib.decode_variant("So400m/14")["mlp_dim"] == 4304
  assert vit_lib.decode_variant("S/8")["patch_size"] == 8
  assert "patch_size" not in vit_lib.decode_variant("L")
  for name in ("Ti", "S", "M", "B", "L", "H", "g", "G", "So400m"):
    width, _, _, heads = vit_lib.VARIANTS[name]
    assert width % heads == 0


def test_unknown_variant_names_close_matches():
  with pytest.raises(ValueError, match="Did you mean 'B'"):
    vit_lib.decode_variant("b/16")
  with pytest.raises(ValueError, match="Did you mean 'So400m'"):
    vit_lib.decode_variant("So400/14")
  with pytest.raises(ValueError, match="positive integer"):
    vit_lib.decode_variant("B/x")
  with pytest.raises(ValueError, match="Unknown pool"):
    registry.get("vit(variant='mu/8', pool='cls', image_size=32)", build=False)


def test_image_size_not_divisible_by_patch():
  with pytest.raises(ValueError, match=r"not divisible by the patch size 16.*208 or 224"):
    registry.get("vit(variant='B/16', image_size=220)", build=False)
  model = tiny()
  with pytest.raises(ValueError, match="not divisible by the patch size 8"):
    model(images(size=36))


def test_learned_posemb_fits_one_grid():
  model = tiny()
  with pytest.raises(ValueError, match="resample_posemb"):
    model(images(size=48))


# ---------------------------------------------------------------------------------------------------
# Parameter counts.

# The official checkpoints (vision_transformer layout, pool "tok", 1000 classes, 224 px), whose posemb
# has a row for [cls]: the model's default for pool "tok". big_vision's layout (posemb_cls_row=False)
# has `width` fewer.
OFFICIAL = {"Ti/16": 5_717_416, "S/16": 22_050_664, "B/16": 86_567_656, "B/32": 88_224_232,
            "L/16": 304_326_632}


@pytest.mark.parametrize("variant", sorted(OFFICIAL))
def test_official_parameter_counts(variant):
  kw = dict(num_classes=1000, image_size=224, pool="tok")
  assert vit_lib.vit_param_count(variant, **kw) == OFFICIAL[variant]
  assert vit_lib.vit_param_count(variant, posemb_cls_row=True, **kw) == OFFICIAL[variant]
  width = vit_lib.decode_variant(variant)["width"]
  assert vit_lib.vit_param_count(variant, posemb_cls_row=False, **kw) == OFFICIAL[variant] - width


def test_built_models_equal_the_official_counts():
  # The one big build of the suite (86M parameters, a few seconds).
  b16 = registry.get("vit(variant='B/16', num_classes=1000, pool='tok', image_size=224)")
  assert b16.count_params() == OFFICIAL["B/16"]
  ti16 = registry.get("vit(variant='Ti/16', num_classes=1000, pool='tok', image_size=224)")
  assert ti16.count_params() == OFFICIAL["Ti/16"]
  ti16_bv = registry.get("vit(variant='Ti/16', num_classes=1000, pool='tok', image_size=224, "
                         "posemb_cls_row=False)")
  assert ti16_bv.count_params() == OFFICIAL["Ti/16"] - 192


def test_built_models_have_the_computed_counts():
  for pool, extra, kw in [("gap", "", {}), ("map", ", rep_size=24", {"rep_size": 24}),
                          ("none", ", posemb='sincos2d'", {"posemb": "sincos2d"}),
                          ("0", ", rep_size=True", {"rep_size": True}), ("tok", "", {}),
                          ("tok", ", posemb_cls_row=False", {"posemb_cls_row": False}),
                          ("tok", ", posemb='sincos2d'", {"posemb": "sincos2d"})]:
    model = tiny(pool, extra)
    expected = vit_lib.vit_param_count("mu/8", depth=2, num_classes=5, image_size=32, pool=pool, **kw)
    assert model.count_params() == expected, (pool, extra)


# ---------------------------------------------------------------------------------------------------
# The [cls] row of the position embedding.

def test_posemb_cls_row_default_rule():
  assert vit_lib.resolve_posemb_cls_row(None, "tok") is True
  for pool in ("gap", "map", "0", "none"):
    assert vit_lib.resolve_posemb_cls_row(None, pool) is False
  assert vit_lib.resolve_posemb_cls_row(None, "tok", "sincos2d") is False
  assert vit_lib.resolve_posemb_cls_row(False, "tok") is False
  assert tiny("tok").posemb_cls_row and tiny("tok").posemb.pos_embedding.shape == (1, 17, 32)
  assert not tiny("tok", ", posemb_cls_row=False").posemb_cls_row
  assert tiny("gap").posemb.pos_embedding.shape == (1, 16, 32)
  with pytest.raises(ValueError, match="needs pool='tok'"):
    registry.get("vit(variant='mu/8', pool='gap', posemb_cls_row=True, image_size=32)", build=False)
  with pytest.raises(ValueError, match="needs posemb='learn'"):
    vit_lib.vit_param_count("mu/8", image_size=32, pool="tok", posemb="sincos2d", posemb_cls_row=True)


def test_posemb_cls_row_computes_the_folded_function():
  # vision_transformer: concat([cls, x]) + posemb; big_vision: concat([cls + posemb[0], x + posemb[1:]]).
  with_row = tiny("tok", ", head_zeroinit=False")
  without = tiny("tok", ", head_zeroinit=False, posemb_cls_row=False")
  x = images()
  with_row(x), without(x)
  rng = np.random.default_rng(0)
  posemb = rng.normal(0, 0.5, (1, 17, 32)).astype(np.float32)
  cls = rng.normal(0, 0.5, (1, 1, 32)).astype(np.float32)
  with_row.posemb.pos_embedding.assign(posemb)
  with_row.cls_token.cls.assign(cls)
  for name in ("embedding", "encoder_norm", "head"):
    for a, b in zip(getattr(with_row, name).weights, getattr(without, name).weights):
      b.assign(a)
  for block_a, block_b in zip(with_row.blocks, without.blocks):
    for a, b in zip(block_a.weights, block_b.weights):
      b.assign(a)
  without.posemb.pos_embedding.assign(posemb[:, 1:])
  without.cls_token.cls.assign(cls + posemb[:, :1])
  np.testing.assert_allclose(with_row(x), without(x), atol=1e-5)
  sequence = with_row.intermediates(x)["with_posemb"]
  assert tuple(sequence.shape) == (2, 17, 32)
  np.testing.assert_allclose(sequence[:, 0], np.broadcast_to((cls + posemb[:, :1])[0], (2, 32)), atol=1e-6)


def test_old_saved_configs_keep_big_vision_layout():
  config = tiny("tok").get_config()
  assert config["posemb_cls_row"] is True
  del config["posemb_cls_row"]  # A model saved before the argument existed.
  assert vit_lib.VisionTransformer.from_config(config).posemb_cls_row is False


def _independent_count(width, depth, mlp, patch, image=224):
  # Per block: two LayerNorms (4w), q/k/v/out kernels and biases (4w^2 + 4w), MLP (2 w mlp + mlp + w).
  per_block = 4 * width ** 2 + 2 * width * mlp + 9 * width + mlp
  tokens = (image // patch) ** 2
  return depth * per_block + 2 * width + (3 * patch ** 2 + 1) * width + tokens * width


def test_giant_variant_counts_match_scaling_vit_table():
  # "Scaling Vision Transformers" Table 2 lists g/14 at 1011M and G/14 at 1843M parameters (no head).
  g14 = vit_lib.vit_param_count("g/14", num_classes=0, image_size=224, pool="gap")
  big_g14 = vit_lib.vit_param_count("G/14", num_classes=0, image_size=224, pool="gap")
  assert g14 == _independent_count(1408, 40, 6144, 14) == 1_011_199_616
  assert big_g14 == _independent_count(1664, 48, 8192, 14) == 1_842_772_352
  assert round(g14 / 1e6) == 1011 and round(big_g14 / 1e6) == 1843
  assert vit_lib.vit_param_count("L/16", num_classes=0, pool="gap") == _independent_count(1024, 24, 4096, 16)


# ---------------------------------------------------------------------------------------------------
# Forward pass and intermediates.

@pytest.mark.parametrize("pool", ["gap", "tok", "map", "0", "none"])
def test_pools(pool):
  model = tiny(pool)
  out = model.intermediates(images())
  expected_logits = (2, 16, 5) if pool == "none" else (2, 5)
  assert tuple(out["logits"].shape) == expected_logits
  assert tuple(model(images()).shape) == expected_logits
  tokens = 17 if pool == "tok" else 16
  assert tuple(out["encoded"].shape) == (2, tokens, 32)
  assert tuple(out["pre_logits_2d"].shape) == (2, 4, 4, 32)
  assert tuple(out["logits_2d"].shape) == (2, 4, 4, 5)
  assert ("head_input" in out) == (pool != "none")


def test_intermediate_names():
  model = tiny("tok", ", rep_size=16")
  names = set(model.intermediates(images()))
  assert names == {"stem", "with_posemb", "encoder/block00", "encoder/block01", "encoded", "head_input",
                   "pre_logits", "pre_logits_2d", "logits", "logits_2d"}
  assert model.endpoint_names() == sorted(names)
  out = model.intermediates(images())
  assert tuple(out["stem"].shape) == (2, 4, 4, 32)
  assert tuple(out["with_posemb"].shape) == (2, 17, 32)  # [cls] prepended, then the posemb with its row.
  no_row = tiny("tok", ", posemb_cls_row=False").intermediates(images())
  assert tuple(no_row["with_posemb"].shape) == (2, 16, 32)  # big_vision: posemb, then [cls].
  assert tuple(no_row["encoded"].shape) == (2, 17, 32)
  assert float(np.max(np.abs(out["pre_logits"]))) <= 1.0  # tanh.


def test_sincos2d_posemb():
  table = posemb_sincos_2d(3, 4, 16)
  assert table.shape == (1, 12, 16)
  np.testing.assert_allclose(table[0, 0], [0] * 4 + [1] * 4 + [0] * 4 + [1] * 4)
  # Token 5 is row 1, column 1: x and y parts are equal; frequencies run from 1 to 1e-4.
  np.testing.assert_allclose(table[0, 5, :4], np.sin([1, 1e4 ** (-1 / 3), 1e4 ** (-2 / 3), 1e-4]), rtol=1e-6)
  np.testing.assert_allclose(table[0, 5, :8], table[0, 5, 8:])
  model = tiny("gap", ", posemb='sincos2d'")
  assert not [w for w in model.weights if "pos_embedding" in w.path]
  assert tuple(model(images(size=48)).shape) == (2, 5)  # A fixed embedding runs at any grid.
  with pytest.raises(ValueError, match="divisible by 4"):
    posemb_sincos_2d(2, 2, 6)


def test_dropout_only_in_training():
  model = tiny("gap", ", dropout=0.5, head_zeroinit=False")
  x = images()
  np.testing.assert_array_equal(model(x), model(x))
  assert not np.allclose(model(x, training=True), model(x))


# ---------------------------------------------------------------------------------------------------
# Initialisation (big_vision's scheme).

def test_big_vision_initialisers():
  model = registry.get("vit(variant='Ti/16', depth=1, num_classes=10, pool='tok', image_size=64, "
                       "head_bias_init=-6.9, posemb_cls_row=False)")
  width = 192
  np.testing.assert_array_equal(model.head.kernel.numpy(), 0)
  np.testing.assert_allclose(model.head.bias.numpy(), -6.9, rtol=1e-6)
  np.testing.assert_array_equal(model.cls_token.cls.numpy(), 0)
  block = model.blocks[0]
  attention = block.attention
  for bias in (attention.query_bias, attention.key_bias, attention.value_bias, attention.out_bias):
    np.testing.assert_array_equal(bias.numpy(), 0)
  # xavier_uniform of the flattened (width, heads*head_dim) matrix, as Flax's DenseGeneral.
  limit = np.sqrt(6 / (width + width))
  kernel = attention.query_kernel.numpy()
  assert kernel.shape == (192, 3, 64) and np.abs(kernel).max() <= limit
  assert abs(kernel.std() - limit / np.sqrt(3)) < 0.05 * limit
  mlp_bias = block.mlp.dense_0.bias.numpy()
  assert 0 < np.abs(mlp_bias).max() < 1e-5  # normal(stddev=1e-6).
  mlp_kernel = block.mlp.dense_0.kernel.numpy()
  assert np.abs(mlp_kernel).max() <= np.sqrt(6 / (192 + 768))
  posemb = model.posemb.pos_embedding.numpy()
  assert abs(posemb.std() - 1 / np.sqrt(width)) < 0.1 / np.sqrt(width)
  patch_kernel = model.embedding.kernel.numpy()
  assert abs(patch_kernel.std() - 1 / np.sqrt(16 * 16 * 3)) < 0.1 / np.sqrt(16 * 16 * 3)  # lecun_normal.


def test_vision_transformer_posemb_initialiser():
  # With a [cls] row (the default for pool "tok") the posemb is vision_transformer's normal(0.02).
  model = registry.get("vit(variant='Ti/16', depth=1, pool='tok', image_size=64)")
  posemb = model.posemb.pos_embedding.numpy()
  assert posemb.shape == (1, 17, 192) and abs(posemb.std() - 0.02) < 0.002


def test_map_head_probe_is_xavier_uniform():
  model = registry.get("vit(variant='Ti/16', depth=1, pool='map', image_size=32)")
  probe = model.map_head.probe.numpy()
  assert probe.shape == (1, 1, 192) and np.abs(probe).max() <= np.sqrt(6 / (1 + 192))


# ---------------------------------------------------------------------------------------------------
# Serialisation.

def test_keras_file_round_trip(tmp_path):
  model = tiny("map", ", rep_size=16, head_zeroinit=False, head_bias_init=0.5")
  x = images()
  expected = model(x)
  path = str(tmp_path / "vit.keras")
  model.save(path)
  restored = keras.saving.load_model(path)
  assert isinstance(restored, vit_lib.VisionTransformer)
  np.testing.assert_allclose(restored(x), expected, atol=1e-6)
  config = restored.get_config()
  for key, value in {"variant": "mu/8", "depth": 2, "pool": "map", "rep_size": 16, "width": 32,
                     "head_bias_init": 0.5, "image_size": 32, "num_classes": 5}.items():
    assert config[key] == value, key
  out = restored.intermediates(x)
  np.testing.assert_allclose(out["logits"], expected, atol=1e-6)


def test_keras_file_round_trip_with_cls_row(tmp_path):
  model = tiny("tok", ", head_zeroinit=False")
  x = images()
  expected = model(x)
  path = str(tmp_path / "vit_tok.keras")
  model.save(path)
  restored = keras.saving.load_model(path)
  assert restored.posemb_cls_row and restored.get_config()["posemb_cls_row"] is True
  np.testing.assert_allclose(restored(x), expected, atol=1e-6)


def test_shared_model_checks():
  # Build, intermediates, config round trip, .keras save/load and the SavedModel export.
  endpoints = ("stem", "with_posemb", "encoder/block00", "encoded", "pre_logits", "logits")
  run_model_checks("vit(variant='mu/8', depth=2, num_classes=5, image_size=32, pool='map', rep_size=16)",
                   image_size=32, expected_endpoints=endpoints)
