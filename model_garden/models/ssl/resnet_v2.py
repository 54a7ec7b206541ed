"""ResNet-v2 (pre-activation, BatchNorm, widening factor): the self-supervision study's and S4L's network."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from model_garden.models.image_model import ImageModel
from model_garden.models.registry import register
from model_garden.models.ssl.resnet_v1 import RESNET50_LAYERS, channels, check_stage_arguments, fixed_padding


@keras.saving.register_keras_serializable("model_garden")
class ResNetV2(ImageModel):
  """Pre-activation ResNet with BatchNorm and a widening factor.

  "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov, Zhai, Beyer 2019) and
  "S4L: Self-Supervised Semi-Supervised Learning" (Zhai, Oliver, Kolesnikov, Beyer 2019): the
  `resnet(mode='v2')` of google/revisiting-self-supervised and google-research/s4l `models/resnet.py`.
  Root 7x7 conv (stride `root_stride`, no BN: the first unit pre-activates) - 3x3/2 max-pool, then
  4 stages of pre-activation bottlenecks (BN-ReLU feeds both the projection shortcut and the main path;
  stride on the 3x3), then BN (and ReLU if `last_relu`) and a global mean. Widths as `ResNetV1`:
  root 64 * width, blocks 256/512/1024/2048 * width. `root_stride=1, strides=(2, 2, 1)` is the variant
  for 64 px patches (Jigsaw, Relative Patch Location).

  Named intermediates: `after_root`, `block1`..`block4` (unit outputs, before the final BN), `pre_logits`,
  `logits`.

  Args:
    num_classes: head size (Dense on `pre_logits`); 0 for no head.
    width: widening factor (1 = standard ResNet-50; S4L's MOAM uses 4).
    layers: units per stage ((3, 4, 6, 3) = ResNet-50).
    root_stride: stride of the root conv (1 for 64 px patches).
    strides: strides of blocks 2-4.
    last_relu: ReLU after the final BN (True in every released config).
    image_size: build resolution (any size runs).

  Example:
    >>> net = model_garden.models.get("resnet50_v2(width=4, num_classes=1000)")
    >>> net.intermediates(images)["pre_logits"].shape  # (batch, 8192)
  """

  def __init__(self, num_classes: int = 0, width: float = 1.0, layers: Sequence[int] = RESNET50_LAYERS,
               root_stride: int = 2, strides: Sequence[int] = (2, 2, 2), last_relu: bool = True,
               image_size: int | None = 224, **kwargs):
    super().__init__(num_classes=num_classes, image_size=image_size, **kwargs)
    self.width = float(width)
    self.layers_per_stage, self.strides = check_stage_arguments(layers, strides, "resnet_v2")
    self.root_stride = int(root_stride)
    self.last_relu = bool(last_relu)
    self.root_conv = keras.layers.Conv2D(channels(self.width, 64, "root conv"), 7, strides=self.root_stride,
                                         padding="valid", use_bias=False, name="root_conv")
    self.units = []
    for stage, count in enumerate(self.layers_per_stage):
      filters = channels(self.width, 256 * 2 ** stage, f"block{stage + 1}")
      stage_units = []
      for unit in range(count):
        stride = self.strides[stage - 1] if stage > 0 and unit == 0 else 1
        stage_units.append(_BottleneckV2(filters, stride, name=f"block{stage + 1}_unit{unit + 1}"))
      self.units.append(stage_units)
    self.final_bn = keras.layers.BatchNormalization(name="final_bn")
    self.head = keras.layers.Dense(self.num_classes, name="head") if self.num_classes else None

  def forward(self, images, training=False):
    out = {}
    x = self.root_conv(fixed_padding(images, 7))
    x = ops.max_pool(fixed_padding(x, 3), 3, strides=2, padding="valid")
    out["after_root"] = x
    for stage, stage_units in enumerate(self.units):
      for unit in stage_units:
        x = unit(x, training=training)
      out[f"block{stage + 1}"] = x
    x = self.final_bn(x, training=training)
    if self.last_relu:
      x = ops.relu(x)
    x = ops.mean(x, axis=(1, 2))
    out["pre_logits"] = x
    logits = self.head(x) if self.head is not None else x
    out["logits"] = logits
    return logits, out

  def get_config(self):
    config = super().get_config()
    config.update({"width": self.width, "layers": list(self.layers_per_stage), "root_stride": self.root_stride,
                   "strides": list(self.strides), "last_relu": self.last_relu})
    return config


@keras.saving.register_keras_serializable("model_garden")
class _BottleneckV2(keras.layers.Layer):
  """BN-ReLU, then 1x1 (filters/4) - BN-ReLU - 3x3 stride s - BN-ReLU - 1x1 (filters), plus the shortcut.

  The projection shortcut (1x1 conv stride s, VALID) reads the pre-activated input, as the original.
  """

  def __init__(self, filters: int, stride: int = 1, **kwargs):
    super().__init__(**kwargs)
    self.filters, self.stride = int(filters), int(stride)
    inner = max(self.filters // 4, 1)
    self.bn1 = keras.layers.BatchNormalization(name="bn1")
    self.conv1 = keras.layers.Conv2D(inner, 1, use_bias=False, name="conv1")
    self.bn2 = keras.layers.BatchNormalization(name="bn2")
    self.conv2 = keras.layers.Conv2D(inner, 3, strides=self.stride, padding="valid", use_bias=False,
                                     name="conv2")
    self.bn3 = keras.layers.BatchNormalization(name="bn3")
    self.conv3 = keras.layers.Conv2D(self.filters, 1, use_bias=False, name="conv3")
    self.proj = None

  def build(self, input_shape):
    if self.stride > 1 or input_shape[-1] != self.filters:
      self.proj = keras.layers.Conv2D(self.filters, 1, strides=self.stride, padding="valid", use_bias=False,
                                      name="proj")
    self.built = True

  def call(self, x, training=False):
    pre = ops.relu(self.bn1(x, training=training))
    shortcut = self.proj(pre) if self.proj is not None else x
    y = self.conv1(pre)
    y = ops.relu(self.bn2(y, training=training))
    y = self.conv2(fixed_padding(y, 3))
    y = ops.relu(self.bn3(y, training=training))
    y = self.conv3(y)
    return shortcut + y

  def get_config(self):
    config = super().get_config()
    config.update({"filters": self.filters, "stride": self.stride})
    return config


@register("resnet50_v2")
def resnet50_v2(*, num_classes: int = 0, width: float = 1.0, root_stride: int = 2,
                strides: Sequence[int] = (2, 2, 2), last_relu: bool = True, image_size: int = 224) -> ResNetV2:
  """Spec factory: `resnet50_v2(width=4, num_classes=1000)` (S4L MOAM); `root_stride=1, strides=(2, 2, 1)`
  for 64 px patches."""
  return ResNetV2(num_classes=num_classes, width=width, layers=RESNET50_LAYERS, root_stride=root_stride,
                  strides=strides, last_relu=last_relu, image_size=image_size)


@register("ssl_resnet_v2")
def ssl_resnet_v2(*, num_classes: int = 0, width: float = 1.0, layers: Sequence[int] = RESNET50_LAYERS,
                  root_stride: int = 2, strides: Sequence[int] = (2, 2, 2), last_relu: bool = True,
                  image_size: int = 224) -> ResNetV2:
  """Spec factory with any depth: `ssl_resnet_v2(layers=(1, 1, 1, 1), width=0.25, image_size=32)`."""
  return ResNetV2(num_classes=num_classes, width=width, layers=layers, root_stride=root_stride,
                  strides=strides, last_relu=last_relu, image_size=image_size)
