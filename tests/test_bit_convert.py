"""BiT `.npz` checkpoints in big_transfer's layout: conversion against an independent NumPy forward pass."""

import importlib.util
import os

import keras
import numpy as np
import pytest

import model_garden  # noqa: F401  (registers serialisables)
from model_garden import convert
from model_garden.convert import bit as bit_convert  # noqa: F401  (registers the BiT converter)
from model_garden.models import bit as bit_lib  # noqa: F401  (registers "bit")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNITS = (2, 2, 2, 2)  # R26: every stage has a unit with and one without a projection.
BASE, GROUPS, CLASSES, SIZE = 8, 4, 5, 32
SPEC = f"bit(variant='R26x1', num_classes={CLASSES}, image_size={SIZE}, base_width={BASE}, groups={GROUPS})"


def official_npz(path, seed=0, classes=CLASSES):
  """Random arrays under big_transfer's keys (`resnet/...`, HWIO kernels, a (1, 1, C, N) head conv)."""
  rng = np.random.default_rng(seed)
  params = {}

  def conv(key, k, cin, cout):
    params[f"resnet/{key}/standardized_conv2d/kernel"] = rng.normal(0.1, 1.0, (k, k, cin, cout)).astype(np.float32)

  def norm(key, channels):
    params[f"resnet/{key}/group_norm/gamma"] = rng.normal(1.0, 0.3, channels).astype(np.float32)
    params[f"resnet/{key}/group_norm/beta"] = rng.normal(0.0, 0.3, channels).astype(np.float32)

  conv("root_block", 7, 3, BASE)
  cin = BASE
  for b, units in enumerate(UNITS, start=1):
    mid = BASE * 2 ** (b - 1)
    for u in range(1, units + 1):
      prefix = f"block{b}/unit{u:02d}"
      norm(f"{prefix}/a", cin)
      conv(f"{prefix}/a", 1, cin, mid)
      if u == 1:
        conv(f"{prefix}/a/proj", 1, cin, 4 * mid)
      norm(f"{prefix}/b", mid)
      conv(f"{prefix}/b", 3, mid, mid)
      norm(f"{prefix}/c", mid)
      conv(f"{prefix}/c", 1, mid, 4 * mid)
      cin = 4 * mid
  params["resnet/group_norm/gamma"] = rng.normal(1.0, 0.3, cin).astype(np.float32)
  params["resnet/group_norm/beta"] = rng.normal(0.0, 0.3, cin).astype(np.float32)
  params["resnet/head/conv2d/kernel"] = rng.normal(0, 0.1, (1, 1, cin, classes)).astype(np.float32)
  params["resnet/head/conv2d/bias"] = rng.normal(0, 0.1, classes).astype(np.float32)
  np.savez(path, **params)
  return params


# -- An independent NumPy BiT (float64), written from bit_pytorch/models.py's description. --------------
def _pad(x, p):
  return np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))


def _conv(x, kernel, stride=1, pad=0):
  k = kernel.astype(np.float64)
  mean = k.mean(axis=(0, 1, 2), keepdims=True)
  k = (k - mean) / np.sqrt(((k - mean) ** 2).mean(axis=(0, 1, 2), keepdims=True) + 1e-10)
  x = _pad(x, pad)
  kh = k.shape[0]
  oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kh) // stride + 1
  out = np.zeros((x.shape[0], oh, ow, k.shape[-1]))
  for i in range(kh):
    for j in range(kh):
      out += x[:, i:i + stride * oh:stride, j:j + stride * ow:stride, :] @ k[i, j]
  return out


def _gn_relu(x, p, key):
  n, h, w, c = x.shape
  g = x.reshape(n, h, w, GROUPS, c // GROUPS)
  g = (g - g.mean(axis=(1, 2, 4), keepdims=True)) / np.sqrt(g.var(axis=(1, 2, 4), keepdims=True) + 1e-5)
  return np.maximum(g.reshape(x.shape) * p[f"{key}/group_norm/gamma"] + p[f"{key}/group_norm/beta"], 0)


def numpy_bit(p, images):
  x = _conv(images.astype(np.float64), p["resnet/root_block/standardized_conv2d/kernel"], 2, 3)
  x = _pad(x, 1)  # Zeros around the max pool.
  oh = (x.shape[1] - 3) // 2 + 1
  x = np.max([x[:, i:i + 2 * oh:2, j:j + 2 * oh:2] for i in range(3) for j in range(3)], axis=0)
  for b, units in enumerate(UNITS, start=1):
    for u in range(1, units + 1):
      key = f"resnet/block{b}/unit{u:02d}"
      stride = 2 if b > 1 and u == 1 else 1
      pre = _gn_relu(x, p, f"{key}/a")
      proj = f"{key}/a/proj/standardized_conv2d/kernel"
      shortcut = _conv(pre, p[proj], stride) if proj in p else x
      y = _conv(pre, p[f"{key}/a/standardized_conv2d/kernel"])
      y = _conv(_gn_relu(y, p, f"{key}/b"), p[f"{key}/b/standardized_conv2d/kernel"], stride, 1)
      y = _conv(_gn_relu(y, p, f"{key}/c"), p[f"{key}/c/standardized_conv2d/kernel"])
      x = y + shortcut
  pre_logits = _gn_relu(x, p, "resnet").mean(axis=(1, 2))
  logits = pre_logits @ p["resnet/head/conv2d/kernel"][0, 0] + p["resnet/head/conv2d/bias"]
  return pre_logits, logits


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("bit") / "BiT-tiny.npz")
  params = official_npz(path)
  images = np.random.default_rng(1).uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32)
  return path, params, images, numpy_bit(params, images)


def test_converted_logits_match_numpy(checkpoint):
  path, _, images, (pre_logits, logits) = checkpoint
  model = convert.convert(path, SPEC)
  out = model.intermediates(images)
  np.testing.assert_allclose(out["pre_logits"].numpy(), pre_logits, atol=1e-4, rtol=1e-4)
  np.testing.assert_allclose(out["logits"].numpy(), logits, atol=1e-4, rtol=1e-4)


def test_dont_load_head_keeps_a_zero_head_for_transfer(checkpoint):
  path, _, images, (pre_logits, _) = checkpoint
  spec = SPEC.replace(f"num_classes={CLASSES}", "num_classes=3")
  model = convert.convert(path, spec, dont_load=("head/.*",))
  np.testing.assert_array_equal(model.head.kernel.numpy(), 0)
  np.testing.assert_allclose(model.intermediates(images)["pre_logits"].numpy(), pre_logits, atol=1e-4, rtol=1e-4)


def test_mismatches_name_keys_and_fixes(checkpoint):
  path = checkpoint[0]
  with pytest.raises(convert.CheckpointMismatchError) as error:
    convert.convert(path, SPEC.replace(f"num_classes={CLASSES}", "num_classes=3"))
  assert "head/conv2d/kernel: checkpoint (1, 1, 256, 5), model (1, 1, 256, 3)" in str(error.value)
  assert "num_classes=5" in str(error.value) and "dont_load=('head/.*',)" in str(error.value)
  with pytest.raises(convert.CheckpointMismatchError) as error:
    convert.convert(path, SPEC.replace("R26x1", "R14x1"), dont_load=("head/.*",))
  assert "block1/unit02/a/group_norm/gamma" in error.value.unexpected
  assert "variant='R26x1'" in str(error.value)


def test_convert_tool_writes_a_keras_file(checkpoint, tmp_path):
  path, _, images, (_, logits) = checkpoint
  spec = importlib.util.spec_from_file_location("convert_checkpoint", os.path.join(ROOT, "tools",
                                                                                   "convert_checkpoint.py"))
  tool = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(tool)
  output = str(tmp_path / "bit.keras")
  summary = tool.run(path, SPEC, output)
  assert "BiTResNet" in summary
  loaded = keras.saving.load_model(output)
  np.testing.assert_allclose(loaded(images).numpy(), logits, atol=1e-4, rtol=1e-4)
