"""BiT: the pre-activation ResNet-v2 with GroupNorm and Weight Standardization of "Big Transfer"."""

from __future__ import annotations

import re
from typing import Dict, Tuple

import keras
from keras import ops

from model_garden.layers.standardized_conv2d import StandardizedConv2D
from model_garden.layers.remat import block_call
from model_garden.models.image_model import ImageModel
from model_garden.models.registry import register

__all__ = ["BLOCK_UNITS", "BiTResNet", "OFFICIAL_VARIANTS", "bit", "bit_param_count", "decode_variant"]

# Residual units per stage for each depth (3 convolutions per unit + root conv + head = depth).
# 50/101/152 are BiT's (big_transfer KNOWN_MODELS); 14 and 26 are small sizes for tests and demos.
BLOCK_UNITS: Dict[int, Tuple[int, ...]] = {
    14: (1, 1, 1, 1),
    26: (2, 2, 2, 2),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
# The sizes released as BiT-S / BiT-M checkpoints (gs://bit_models/BiT-{S,M}-R{depth}x{width}.npz).
OFFICIAL_VARIANTS = ("R50x1", "R50x3", "R101x1", "R101x3", "R152x2", "R152x4")
GN_GROUPS = 32
GN_EPSILON = 1e-5
_VARIANT_RE = re.compile(r"R(\d+)x(\d+)")


def decode_variant(variant: str) -> Tuple[Tuple[int, ...], int]:
  """Decodes "R50x3" into (units per stage, width factor): ((3, 4, 6, 3), 3).

  Raises:
    ValueError: naming the known depths, for anything that is not `R{depth}x{width}`.
  """
  match = _VARIANT_RE.fullmatch(variant.strip()) if isinstance(variant, str) else None
  depths = ", ".join(str(d) for d in BLOCK_UNITS)
  if match is None:
    raise ValueError(f"A BiT variant is written R{{depth}}x{{width}}, e.g. 'R50x1' or 'R152x4'; got "
                     f"{variant!r}. Depths: {depths}; released checkpoints: {', '.join(OFFICIAL_VARIANTS)}.")
  depth, width = int(match.group(1)), int(match.group(2))
  if depth not in BLOCK_UNITS:
    raise ValueError(f"BiT variant {variant!r}: depth {depth} is not one of {depths}.")
  if width < 1:
    raise ValueError(f"BiT variant {variant!r}: the width factor must be at least 1.")
  return BLOCK_UNITS[depth], width


def _check_groups(base_width: int, width: int, groups: int):
  # Every normalised channel count is a multiple of base_width * width (the first unit's input).
  channels = base_width * width
  if groups < 1 or channels % groups:
    raise ValueError(f"GroupNorm with {groups} groups needs channel counts divisible by {groups}, but "
                     f"base_width {base_width} x width {width} = {channels} channels is not. Use a "
                     f"base_width that is a multiple of {groups}, or pass groups=... (a divisor of {channels}).")


def _fixed_pad(x, kernel_size: int):
  # BiT's PaddingFromKernelSize / fixed_padding: zeros, (k - 1) // 2 before and the rest after.
  total = kernel_size - 1
  before = total // 2
  return ops.pad(x, [[0, 0], [before, total - before], [before, total - before], [0, 0]])


@keras.saving.register_keras_serializable("model_garden")
class BiTResNet(ImageModel):
  """The ResNet-v2 of BiT, "Big Transfer (BiT): General Visual Representation Learning".

  Kolesnikov, Beyer, Zhai, Puigcerver, Yung, Gelly and Houlsby, ECCV 2020; written after
  google-research/big_transfer (`bit_tf2/models.py`, `bit_jax/models.py`, `bit_pytorch/models.py`), whose
  `.npz` checkpoints `model_garden.convert` loads. A pre-activation bottleneck ResNet ("Identity Mappings
  in Deep Residual Networks", He et al. 2016) in which every BatchNorm is a GroupNorm (32 groups, epsilon
  1e-5) and every convolution a `StandardizedConv2D` (no bias):

  * root: zero padding 3, 7x7/2 convolution with 64*w filters (VALID), zero padding 1, 3x3/2 max pool
    (VALID); BiT pads the pool with zeros, not -inf;
  * four stages of bottleneck units (64*w*2^b middle channels, 4x that out); unit: GN-ReLU gives the
    pre-activated input `p`; the shortcut is a 1x1 projection of `p` (with the unit's stride) when the
    stride is not 1 or the channel count changes, else the input itself; the main path is 1x1 conv,
    GN-ReLU, zero padding 1 and 3x3 conv carrying the stride (stages 2-4 stride 2 in their first unit),
    GN-ReLU, 1x1 conv;
  * head: GN-ReLU, global average pool (`pre_logits`), a zero-initialised Dense (`head`).

  Variants `R{depth}x{width}`: depth 50 (3, 4, 6, 3 units), 101 (3, 4, 23, 3) or 152 (3, 8, 36, 3) as
  released (R50x1, R50x3, R101x1, R101x3, R152x2, R152x4), plus 14 (1 unit per stage) and 26 (2) for
  quick experiments. R50x1 with 1000 classes has 25,549,352 parameters; see `bit_param_count`.

  Variable paths follow the checkpoint names (`root_block/standardized_conv2d/kernel`,
  `block1/unit01/a/group_norm/gamma`, `block1/unit01/a/proj/kernel`, `group_norm/beta`, `head/kernel`),
  so optimizer regexes and `init_skip="head/.*"` read naturally.

  Named intermediates: `stem` (after the max pool), `block1`..`block4` (each stage's output, before any
  normalisation, as BiT's `block{b}` outputs), `pre_logits` (after the final GN-ReLU and pooling),
  `logits`.

  Args:
    num_classes: head size; 0 for no head (the logits are then the pre-logits).
    variant: "R50x1", "R101x3", ... (see above).
    base_width: root filters per unit of width (64 in BiT); smaller values give tiny test models.
    groups: GroupNorm groups (32 in BiT); every channel count must be divisible by it.
    image_size: the resolution the model is built for (any size runs: the features are pooled).

  Example:
    >>> import model_garden
    >>> net = model_garden.models.get("bit(variant='R50x1', num_classes=10, image_size=128)")
    >>> logits = net(images)                              # images (batch, 128, 128, 3) in [-1, 1]
    >>> features = net.intermediates(images)["pre_logits"]  # (batch, 2048)
  """

  # Rematerialise every block in training (`layers/remat.py`); set by the trainer from config.remat.
  remat = False

  def __init__(self, num_classes: int = 0, variant: str = "R50x1", base_width: int = 64, groups: int = GN_GROUPS,
               image_size: int | None = 224, **kwargs):
    super().__init__(num_classes=num_classes, image_size=image_size, **kwargs)
    self.variant = str(variant)
    self.block_units, self.width_factor = decode_variant(self.variant)
    self.base_width = int(base_width)
    self.groups = int(groups)
    _check_groups(self.base_width, self.width_factor, self.groups)
    root_width = self.base_width * self.width_factor
    self.root = _RootBlock(root_width, name="root_block")
    self.stages = []
    channels = root_width
    for b, units in enumerate(self.block_units):
      middle = root_width * 2 ** b
      self.stages.append(_Stage(units, channels, middle, 1 if b == 0 else 2, self.groups, name=f"block{b + 1}"))
      channels = 4 * middle
    self.norm = keras.layers.GroupNormalization(self.groups, epsilon=GN_EPSILON, name="group_norm")
    self.head = (keras.layers.Dense(self.num_classes, kernel_initializer="zeros", name="head")
                 if self.num_classes else None)

  def build(self, input_shape):
    # Every weight's shape follows from the channel counts, so the layers are built from those directly:
    # tracing the whole network symbolically (ImageModel.build) costs seconds for R50 and more for R152.
    # Each sub-build runs inside its layer's name scope, so variable paths are those of a traced build.
    if self.built:
      return
    channels = int(input_shape[-1]) if input_shape[-1] is not None else 3
    self.root.build((None, None, None, channels))
    channels = self.root.filters
    for stage in self.stages:
      stage.build((None, None, None, channels))
      channels = 4 * stage.middle
    self.norm.build((None, None, None, channels))
    if self.head is not None:
      self.head.build((None, channels))
    self.built = True

  def forward(self, images, training=False):
    out = {}
    x = out["stem"] = self.root(images)
    for b, stage in enumerate(self.stages):
      x = out[f"block{b + 1}"] = block_call(stage, self.remat, training)(x)
    x = ops.relu(self.norm(x))
    x = out["pre_logits"] = ops.mean(x, axis=(1, 2))
    if self.head is not None:
      x = out["logits"] = self.head(x)
    return x, out

  def get_config(self):
    config = super().get_config()
    config.update({"variant": self.variant, "base_width": self.base_width, "groups": self.groups})
    return config


@keras.saving.register_keras_serializable("model_garden")
class _RootBlock(keras.layers.Layer):
  """Zero pad 3, 7x7/2 StdConv, zero pad 1, 3x3/2 max pool (BiT's `root_block`)."""

  def __init__(self, filters: int, **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.conv = StandardizedConv2D(self.filters, 7, strides=2, padding="valid", name="standardized_conv2d")
    self.pool = keras.layers.MaxPooling2D(3, strides=2, padding="valid")

  def build(self, input_shape):
    self.conv.build(input_shape)

  def call(self, x):
    # Zeros, not -inf, around the pool: the PyTorch port notes that MaxPool2d(padding=1) differs.
    return self.pool(_fixed_pad(self.conv(_fixed_pad(x, 7)), 3))

  def get_config(self):
    config = super().get_config()
    config["filters"] = self.filters
    return config


@keras.saving.register_keras_serializable("model_garden")
class _PreActConv(keras.layers.Layer):
  """GroupNorm, ReLU, (zero padding,) StdConv; with `proj_filters`, also the 1x1 projection of the
  pre-activated input, returned second (BiT's unit parts `a`, `b`, `c` and `a/proj`)."""

  def __init__(self, filters: int, kernel_size: int = 1, stride: int = 1, groups: int = GN_GROUPS,
               proj_filters: int = 0, proj_stride: int = 1, **kwargs):
    super().__init__(**kwargs)
    self.filters, self.kernel_size, self.stride, self.groups = int(filters), int(kernel_size), int(stride), int(groups)
    self.proj_filters, self.proj_stride = int(proj_filters), int(proj_stride)
    self.norm = keras.layers.GroupNormalization(self.groups, epsilon=GN_EPSILON, name="group_norm")
    self.conv = StandardizedConv2D(self.filters, self.kernel_size, strides=self.stride, padding="valid",
                                   name="standardized_conv2d")
    self.proj = (StandardizedConv2D(self.proj_filters, 1, strides=self.proj_stride, padding="valid", name="proj")
                 if self.proj_filters else None)

  def build(self, input_shape):
    self.norm.build(input_shape)
    self.conv.build(input_shape)
    if self.proj is not None:
      self.proj.build(input_shape)

  def call(self, x):
    pre = ops.relu(self.norm(x))
    y = self.conv(_fixed_pad(pre, self.kernel_size) if self.kernel_size > 1 else pre)
    if self.proj is None:
      return y
    return y, self.proj(pre)

  def get_config(self):
    config = super().get_config()
    config.update({"filters": self.filters, "kernel_size": self.kernel_size, "stride": self.stride,
                   "groups": self.groups, "proj_filters": self.proj_filters, "proj_stride": self.proj_stride})
    return config


@keras.saving.register_keras_serializable("model_garden")
class _BottleneckUnit(keras.layers.Layer):
  """One pre-activation bottleneck unit taking `in_channels` channels to 4 * `middle`."""

  def __init__(self, in_channels: int, middle: int, stride: int = 1, groups: int = GN_GROUPS, **kwargs):
    super().__init__(**kwargs)
    self.in_channels, self.middle = int(in_channels), int(middle)
    self.stride, self.groups = int(stride), int(groups)
    out = 4 * self.middle
    needs_proj = self.stride != 1 or self.in_channels != out
    self.a = _PreActConv(self.middle, 1, 1, self.groups, proj_filters=out if needs_proj else 0,
                         proj_stride=self.stride, name="a")
    self.b = _PreActConv(self.middle, 3, self.stride, self.groups, name="b")  # The stride is on the 3x3.
    self.c = _PreActConv(out, 1, 1, self.groups, name="c")

  def build(self, input_shape):
    self.a.build((None, None, None, self.in_channels))
    self.b.build((None, None, None, self.middle))
    self.c.build((None, None, None, self.middle))

  def call(self, x):
    if x.shape[-1] is not None and x.shape[-1] != self.in_channels:
      raise ValueError(f"{self.name} expects {self.in_channels} input channels, got {x.shape[-1]}.")
    if self.a.proj is not None:
      y, shortcut = self.a(x)
    else:
      y, shortcut = self.a(x), x
    return self.c(self.b(y)) + shortcut

  def get_config(self):
    config = super().get_config()
    config.update({"in_channels": self.in_channels, "middle": self.middle, "stride": self.stride,
                   "groups": self.groups})
    return config


@keras.saving.register_keras_serializable("model_garden")
class _Stage(keras.layers.Layer):
  """`units` bottleneck units named unit01, unit02, ...; the first carries the stride."""

  def __init__(self, units: int, in_channels: int, middle: int, stride: int = 1, groups: int = GN_GROUPS,
               **kwargs):
    super().__init__(**kwargs)
    self.units, self.in_channels, self.middle = int(units), int(in_channels), int(middle)
    self.stride, self.groups = int(stride), int(groups)
    self.unit_layers = [
        _BottleneckUnit(self.in_channels if u == 0 else 4 * self.middle, self.middle,
                        self.stride if u == 0 else 1, self.groups, name=f"unit{u + 1:02d}")
        for u in range(self.units)]

  def build(self, input_shape):
    for unit in self.unit_layers:
      unit.build(input_shape)  # Only the channel count matters; the spatial size is never needed.

  def call(self, x):
    for unit in self.unit_layers:
      x = unit(x)
    return x

  def get_config(self):
    config = super().get_config()
    config.update({"units": self.units, "in_channels": self.in_channels, "middle": self.middle,
                   "stride": self.stride, "groups": self.groups})
    return config


def bit_param_count(variant: str = "R50x1", *, num_classes: int = 0, base_width: int = 64,
                    groups: int = GN_GROUPS, image_size: int = 224) -> int:
  """The number of parameters of `bit(...)` with these arguments, computed without building it.

  Takes `bit(...)`'s keywords (`bit_param_count(**parse_spec(spec)[2])`); R50x1 with 1000 classes is
  25,549,352 and R101x3 with 1000 classes 387,934,888.
  """
  del image_size  # Changes no count.
  units, width = decode_variant(variant)
  _check_groups(base_width, width, groups)
  channels = base_width * width
  count = 7 * 7 * 3 * channels  # Root convolution.
  for b, n in enumerate(units):
    middle = base_width * width * 2 ** b
    for u in range(n):
      out = 4 * middle
      count += 2 * channels + channels * middle  # a: GroupNorm, 1x1 conv.
      count += 2 * middle + 9 * middle * middle  # b: GroupNorm, 3x3 conv.
      count += 2 * middle + middle * out  # c: GroupNorm, 1x1 conv.
      if (b > 0 and u == 0) or channels != out:
        count += channels * out  # Projection.
      channels = out
  count += 2 * channels  # Final GroupNorm.
  if num_classes:
    count += channels * num_classes + num_classes
  return count


@register("bit")
def bit(*, variant: str = "R50x1", num_classes: int = 0, image_size: int = 224, base_width: int = 64,
        groups: int = GN_GROUPS) -> BiTResNet:
  """Spec factory: `bit(variant='R50x1', num_classes=10, image_size=128)`.

  `base_width` and `groups` shrink the network for tests, e.g. `bit(variant='R14x1', base_width=8,
  groups=4, image_size=32)`.
  """
  return BiTResNet(num_classes=num_classes, variant=variant, base_width=base_width, groups=groups,
                   image_size=image_size)
