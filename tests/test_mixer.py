"""MlpMixer: variants, parameter counts, forward pass, GELU, initialisers, serialisation."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from model_garden.layers.mlp_block import MlpBlock  # noqa: E402
from model_garden.models import mixer as mixer_lib  # noqa: E402  (registers "mixer")
from model_garden.models import registry  # noqa: E402
from model_garden.testing import run_model_checks  # noqa: E402

TINY = "mixer(variant='Ti/8', num_blocks=2, num_classes=5, image_size=32)"


def images(size=32, batch=2, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)


def test_decode_variant_matches_the_paper_table():
  assert mixer_lib.decode_mixer_variant("B/16") == {"hidden_dim": 768, "num_blocks": 12,
                                                    "tokens_mlp_dim": 384, "channels_mlp_dim": 3072,
                                                    "patch_size": 16}
  assert mixer_lib.decode_mixer_variant("S/32") == {"hidden_dim": 512, "num_blocks": 8, "tokens_mlp_dim": 256,
                                                    "channels_mlp_dim": 2048, "patch_size": 32}
  assert mixer_lib.MIXER_VARIANTS["L"] == (1024, 24, 512, 4096)
  with pytest.raises(ValueError, match="Did you mean 'B'"):
    mixer_lib.decode_mixer_variant("b/16")
  with pytest.raises(ValueError, match="not divisible"):
    registry.get("mixer(variant='B/16', image_size=200)", build=False)


def _independent_count(hidden, blocks, tokens_mlp, channels_mlp, patch, classes, image=224):
  tokens = (image // patch) ** 2
  token_mixing = 2 * tokens * tokens_mlp + tokens_mlp + tokens
  channel_mixing = 2 * hidden * channels_mlp + channels_mlp + hidden
  per_block = 4 * hidden + token_mixing + channel_mixing
  stem = patch * patch * 3 * hidden + hidden
  return stem + blocks * per_block + 2 * hidden + hidden * classes + classes


def test_mixer_b16_parameter_count():
  # Mixer-B/16 with a 1000-class head, as published (59.88M).
  assert mixer_lib.mixer_param_count("B/16", num_classes=1000) == 59_880_472
  assert _independent_count(768, 12, 384, 3072, 16, 1000) == 59_880_472
  assert mixer_lib.mixer_param_count("L/16", num_classes=1000) == _independent_count(1024, 24, 512, 4096, 16,
                                                                                     1000)


def test_built_model_has_the_computed_count():
  model = registry.get(TINY)
  expected = mixer_lib.mixer_param_count("Ti/8", num_blocks=2, num_classes=5, image_size=32)
  assert model.count_params() == expected


def test_forward_and_intermediates():
  model = registry.get(TINY)
  out = model.intermediates(images())
  assert set(out) == {"stem", "encoder/block00", "encoder/block01", "encoded", "pre_logits", "logits"}
  assert tuple(out["stem"].shape) == (2, 4, 4, 128)
  assert tuple(out["encoder/block01"].shape) == (2, 16, 128)
  assert tuple(out["pre_logits"].shape) == (2, 128)
  assert tuple(model(images()).shape) == (2, 5)
  np.testing.assert_allclose(out["pre_logits"], np.mean(out["encoded"], axis=1), atol=1e-6)
  with pytest.raises(ValueError, match="token-mixing"):
    model(images(size=48))


def test_gelu_is_the_tanh_approximation_of_flax():
  # flax.linen.gelu is jax.nn.gelu with approximate=True: the tanh form, not the erf form.
  mlp = MlpBlock(4, kernel_initializer="identity", bias_initializer="zeros")
  x = np.linspace(-3, 3, 8, dtype=np.float32).reshape(2, 4)
  mlp.build(x.shape)
  mlp.dense_0.kernel.assign(np.eye(4, dtype=np.float32))
  mlp.dense_1.kernel.assign(np.eye(4, dtype=np.float32))
  tanh_gelu = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
  np.testing.assert_allclose(mlp(x), tanh_gelu, atol=1e-6)


def test_flax_default_initialisers():
  model = registry.get(TINY)
  np.testing.assert_array_equal(model.head.kernel.numpy(), 0)
  block = model.blocks[0]
  for dense in (block.token_mixing.dense_0, block.channel_mixing.dense_1):
    np.testing.assert_array_equal(dense.bias.numpy(), 0)
  kernel = block.channel_mixing.dense_0.kernel.numpy()  # lecun_normal: truncated normal, std 1/sqrt(fan_in).
  assert abs(kernel.std() - 1 / np.sqrt(128)) < 0.1 / np.sqrt(128)


def test_keras_file_round_trip(tmp_path):
  model = registry.get(TINY)
  model.head.kernel.assign(np.random.default_rng(0).normal(size=model.head.kernel.shape).astype(np.float32))
  x = images()
  expected = model(x)
  path = str(tmp_path / "mixer.keras")
  model.save(path)
  restored = keras.saving.load_model(path)
  assert isinstance(restored, mixer_lib.MlpMixer)
  assert restored.get_config()["num_blocks"] == 2
  np.testing.assert_allclose(restored(x), expected, atol=1e-6)


def test_shared_model_checks():
  # Build, intermediates, config round trip, .keras save/load and the SavedModel export.
  endpoints = ("stem", "encoder/block00", "encoded", "pre_logits", "logits")
  run_model_checks(TINY, image_size=32, expected_endpoints=endpoints)
