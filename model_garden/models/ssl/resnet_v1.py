"""ResNet-v1 (BatchNorm, widening factor) of "Revisiting Self-Supervised Visual Representation Learning"."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from model_garden.models.image_model import ImageModel
from model_garden.models.registry import register

RESNET50_LAYERS = (3, 4, 6, 3)


def fixed_padding(x, kernel_size: int):
  """Pads (kernel_size - 1) zeros split as (k-1)//2 before and the rest after, on height and width.

  The original pads explicitly and convolves VALID, so a strided conv never depends on the input size
  the way TF's SAME padding does.
  """
  total = kernel_size - 1
  begin = total // 2
  return ops.pad(x, [[0, 0], [begin, total - begin], [begin, total - begin], [0, 0]])


def channels(width: float, base: int, what: str) -> int:
  """`base * width` as an int; a width that gives fractional channels is an error naming the fix."""
  value = base * float(width)
  if value < 1 or abs(value - round(value)) > 1e-6:
    raise ValueError(f"width={width} gives {value} channels for the {what} (base {base}); pick a width "
                     f"such that {base} * width is a positive integer (e.g. 0.25, 0.5, 1, 2, 3, 4).")
  return int(round(value))


def check_stage_arguments(layers, strides, name):
  layers = tuple(int(n) for n in layers)
  strides = tuple(int(s) for s in strides)
  if len(layers) != 4 or min(layers) < 1:
    raise ValueError(f"{name}: layers must be 4 positive unit counts (ResNet-50: {RESNET50_LAYERS}), "
                     f"got {layers}.")
  if len(strides) != 3 or min(strides) < 1:
    raise ValueError(f"{name}: strides are the strides of blocks 2, 3 and 4, e.g. (2, 2, 2), or (2, 2, 1) "
                     f"for 64 px patches; got {strides}.")
  return layers, strides


@keras.saving.register_keras_serializable("model_garden")
class ResNetV1(ImageModel):
  """ResNet-v1 with BatchNorm and a widening factor, as in the self-supervision study.

  "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov, Zhai, Beyer 2019), the
  `resnet(mode='v1')` of google/revisiting-self-supervised `models/resnet.py`: root 7x7 conv (stride
  `root_stride`) - BN - ReLU - 3x3/2 max-pool, then 4 stages of post-activation bottlenecks whose stride
  sits on the 3x3 conv (not the first 1x1). Root width is 64 * width (the original's 16 * filters_factor
  with filters_factor = 4 * width), block outputs 256/512/1024/2048 * width. Jigsaw and Relative Patch
  Location use `root_stride=1, strides=(2, 2, 1)` for 64 px patches.

  Named intermediates: `after_root`, `block1`..`block4`, `pre_logits` (global mean), `logits`.

  Args:
    num_classes: head size (a 1x1 conv with bias = Dense); 0 for no head.
    width: widening factor (1 = standard ResNet-50, 2/3/4 = the paper's x2/x3/x4).
    layers: units per stage ((3, 4, 6, 3) = ResNet-50).
    root_stride: stride of the root conv (1 for patch tasks).
    strides: strides of blocks 2-4.
    image_size: build resolution (any size runs).

  Example:
    >>> net = model_garden.models.get("resnet50_v1(width=2, num_classes=1000)")
    >>> net.intermediates(images)["block3"].shape  # (batch, 14, 14, 2048)
  """

  def __init__(self, num_classes: int = 0, width: float = 1.0, layers: Sequence[int] = RESNET50_LAYERS,
               root_stride: int = 2, strides: Sequence[int] = (2, 2, 2), image_size: int | None = 224,
               **kwargs):
    super().__init__(num_classes=num_classes, image_size=image_size, **kwargs)
    self.width = float(width)
    self.layers_per_stage, self.strides = check_stage_arguments(layers, strides, "resnet_v1")
    self.root_stride = int(root_stride)
    root = channels(self.width, 64, "root conv")
    self.root_conv = keras.layers.Conv2D(root, 7, strides=self.root_stride, padding="valid",
                                         use_bias=False, name="root_conv")
    self.root_bn = keras.layers.BatchNormalization(name="root_bn")
    self.units = []
    for stage, count in enumerate(self.layers_per_stage):
      filters = channels(self.width, 256 * 2 ** stage, f"block{stage + 1}")
      stage_units = []
      for unit in range(count):
        stride = self.strides[stage - 1] if stage > 0 and unit == 0 else 1
        stage_units.append(_BottleneckV1(filters, stride, name=f"block{stage + 1}_unit{unit + 1}"))
      self.units.append(stage_units)
    self.head = keras.layers.Dense(self.num_classes, name="head") if self.num_classes else None

  def forward(self, images, training=False):
    out = {}
    x = self.root_conv(fixed_padding(images, 7))
    x = ops.relu(self.root_bn(x, training=training))
    x = ops.max_pool(fixed_padding(x, 3), 3, strides=2, padding="valid")
    out["after_root"] = x
    for stage, stage_units in enumerate(self.units):
      for unit in stage_units:
        x = unit(x, training=training)
      out[f"block{stage + 1}"] = x
    x = ops.mean(x, axis=(1, 2))
    out["pre_logits"] = x
    logits = self.head(x) if self.head is not None else x
    out["logits"] = logits
    return logits, out

  def get_config(self):
    config = super().get_config()
    config.update({"width": self.width, "layers": list(self.layers_per_stage), "root_stride": self.root_stride,
                   "strides": list(self.strides)})
    return config


@keras.saving.register_keras_serializable("model_garden")
class _BottleneckV1(keras.layers.Layer):
  """Post-activation bottleneck: 1x1 (filters/4) - 3x3 stride s - 1x1 (filters), BN after each, ReLU.

  The projection shortcut (1x1 conv stride s + BN) is used when the stride or the channel count changes.
  """

  def __init__(self, filters: int, stride: int = 1, **kwargs):
    super().__init__(**kwargs)
    self.filters, self.stride = int(filters), int(stride)
    inner = max(self.filters // 4, 1)
    self.conv1 = keras.layers.Conv2D(inner, 1, use_bias=False, name="conv1")
    self.bn1 = keras.layers.BatchNormalization(name="bn1")
    self.conv2 = keras.layers.Conv2D(inner, 3, strides=self.stride, padding="valid", use_bias=False,
                                     name="conv2")
    self.bn2 = keras.layers.BatchNormalization(name="bn2")
    self.conv3 = keras.layers.Conv2D(self.filters, 1, use_bias=False, name="conv3")
    self.bn3 = keras.layers.BatchNormalization(name="bn3")
    self.proj = None
    self.proj_bn = None

  def build(self, input_shape):
    if self.stride > 1 or input_shape[-1] != self.filters:
      self.proj = keras.layers.Conv2D(self.filters, 1, strides=self.stride, padding="same", use_bias=False,
                                      name="proj")
      self.proj_bn = keras.layers.BatchNormalization(name="proj_bn")
    self.built = True

  def call(self, x, training=False):
    shortcut = x
    if self.proj is not None:
      shortcut = self.proj_bn(self.proj(x), training=training)
    y = ops.relu(self.bn1(self.conv1(x), training=training))
    y = ops.relu(self.bn2(self.conv2(fixed_padding(y, 3)), training=training))
    y = self.bn3(self.conv3(y), training=training)
    return ops.relu(shortcut + y)

  def get_config(self):
    config = super().get_config()
    config.update({"filters": self.filters, "stride": self.stride})
    return config


@register("resnet50_v1")
def resnet50_v1(*, num_classes: int = 0, width: float = 1.0, root_stride: int = 2,
                strides: Sequence[int] = (2, 2, 2), image_size: int = 224) -> ResNetV1:
  """Spec factory: `resnet50_v1(width=2)`; patch tasks: `resnet50_v1(width=2, root_stride=1, strides=(2, 2, 1))`."""
  return ResNetV1(num_classes=num_classes, width=width, layers=RESNET50_LAYERS, root_stride=root_stride,
                  strides=strides, image_size=image_size)


@register("ssl_resnet_v1")
def ssl_resnet_v1(*, num_classes: int = 0, width: float = 1.0, layers: Sequence[int] = RESNET50_LAYERS,
                  root_stride: int = 2, strides: Sequence[int] = (2, 2, 2), image_size: int = 224) -> ResNetV1:
  """Spec factory with any depth: `ssl_resnet_v1(layers=(1, 1, 1, 1), width=0.25, image_size=32)`."""
  return ResNetV1(num_classes=num_classes, width=width, layers=layers, root_stride=root_stride,
                  strides=strides, image_size=image_size)
