"""BiT ResNet-v2: weight standardisation and GroupNorm against NumPy, structure, parameter counts, checks."""

import numpy as np
import pytest
import tensorflow as tf

import model_garden  # noqa: F401  (registers the other models, ops and serialisables)
from model_garden import models
from model_garden.layers.standardized_conv2d import StandardizedConv2D
from model_garden.models import bit as bit_lib  # noqa: F401  (registers "bit")
from model_garden.testing import run_model_checks

TINY = "bit(variant='R14x1', num_classes=5, image_size=32, base_width=8, groups=4)"


def _np_conv(x, kernel, stride=1):
  """VALID NHWC x HWIO convolution in float64."""
  kh, kw = kernel.shape[:2]
  oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
  out = np.zeros((x.shape[0], oh, ow, kernel.shape[-1]))
  for i in range(kh):
    for j in range(kw):
      out += x[:, i:i + stride * oh:stride, j:j + stride * ow:stride, :] @ kernel[i, j]
  return out


def test_standardized_conv2d_matches_numpy():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 9, 9, 6)).astype(np.float32)
  kernel = rng.normal(0.3, 2.0, size=(3, 3, 6, 5)).astype(np.float32)
  conv = StandardizedConv2D(5, 3, strides=2)
  conv.build(x.shape)
  conv.kernel.assign(kernel)
  k = kernel.astype(np.float64)
  mean = k.mean(axis=(0, 1, 2), keepdims=True)
  var = ((k - mean) ** 2).mean(axis=(0, 1, 2), keepdims=True)  # Biased, per output channel over HWI.
  expected = _np_conv(x.astype(np.float64), (k - mean) / np.sqrt(var + 1e-10), stride=2)
  np.testing.assert_allclose(conv(x).numpy(), expected, rtol=1e-5, atol=1e-5)
  np.testing.assert_array_equal(conv.kernel.numpy(), kernel)  # The variable itself is left as it is.
  assert [w.name for w in conv.weights] == ["kernel"]  # No bias, no gain.
  clone = StandardizedConv2D.from_config(conv.get_config())
  assert clone.epsilon == 1e-10 and not clone.use_bias


def test_group_norm_matches_numpy():
  net = models.get("bit(variant='R14x1', image_size=32)", build=False)  # 32 groups, epsilon 1e-5 as BiT.
  norm = net.norm
  norm.build((None, 3, 4, 2048))
  assert norm.groups == 32 and norm.epsilon == 1e-5
  rng = np.random.default_rng(1)
  x = rng.normal(2.0, 3.0, size=(2, 3, 4, 2048)).astype(np.float32)
  gamma, beta = rng.normal(1, 0.5, 2048).astype(np.float32), rng.normal(0, 0.5, 2048).astype(np.float32)
  norm.gamma.assign(gamma)
  norm.beta.assign(beta)
  g = x.astype(np.float64).reshape(2, 3, 4, 32, 64)
  mean = g.mean(axis=(1, 2, 4), keepdims=True)
  var = g.var(axis=(1, 2, 4), keepdims=True)
  expected = ((g - mean) / np.sqrt(var + 1e-5)).reshape(x.shape) * gamma + beta
  np.testing.assert_allclose(norm(x).numpy(), expected, rtol=1e-4, atol=1e-4)


def test_tiny_bit_passes_the_model_checks():
  model = run_model_checks(TINY, image_size=32)
  assert isinstance(model, bit_lib.BiTResNet)


def test_endpoints_and_shapes():
  spec = "bit(variant='R26x1', num_classes=3, image_size=64, base_width=8, groups=4)"
  net = models.get(spec)
  assert net.count_params() == bit_lib.bit_param_count(**model_garden.registry.parse_spec(spec)[2])
  out = net.intermediates(tf.zeros([2, 64, 64, 3]))
  shapes = {k: tuple(v.shape) for k, v in out.items()}
  assert shapes == {"stem": (2, 16, 16, 8), "block1": (2, 16, 16, 32), "block2": (2, 8, 8, 64),
                    "block3": (2, 4, 4, 128), "block4": (2, 2, 2, 256), "pre_logits": (2, 256),
                    "logits": (2, 3)}
  np.testing.assert_array_equal(net.head.kernel.numpy(), 0)  # Zero-initialised head.
  np.testing.assert_array_equal(out["logits"].numpy(), 0)


def test_units_projection_and_stride_placement():
  net = models.get("bit(variant='R26x2', image_size=32, base_width=16, groups=8)")
  assert net.count_params() == bit_lib.bit_param_count("R26x2", base_width=16, groups=8)
  for b, stage in enumerate(net.stages):
    first, second = stage.unit_layers
    assert first.a.proj is not None and second.a.proj is None  # Channels change in every first unit.
    stride = 1 if b == 0 else 2
    assert first.a.proj.strides == (stride, stride) and first.b.conv.strides == (stride, stride)
    assert first.a.conv.strides == (1, 1) and first.c.conv.strides == (1, 1)  # Stride on the 3x3 only.
  paths = {v.path.split("/", 1)[1] for v in net.weights}
  assert {"root_block/standardized_conv2d/kernel", "block1/unit01/a/group_norm/gamma",
          "block1/unit01/a/proj/kernel", "block4/unit02/c/standardized_conv2d/kernel",
          "group_norm/beta"} <= paths


def test_official_parameter_counts():
  net = models.get("bit(variant='R50x1', num_classes=1000)")
  assert net.count_params() == 25_549_352 == bit_lib.bit_param_count("R50x1", num_classes=1000)
  # Too big to allocate in a test; bit_param_count is checked against built models above.
  assert bit_lib.bit_param_count("R101x3", num_classes=1000) == 387_934_888


def test_bad_arguments_say_what_to_do():
  with pytest.raises(ValueError, match="R{depth}x{width}"):
    models.get("bit(variant='ResNet50')")
  with pytest.raises(ValueError, match="depth 34"):
    models.get("bit(variant='R34x1')")
  with pytest.raises(ValueError, match="divisible by 32"):
    models.get("bit(variant='R14x1', base_width=8)")
