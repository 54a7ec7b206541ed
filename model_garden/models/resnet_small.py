"""A small pre-activation ResNet with GroupNorm: the foundation's fast classifier for demos and tests."""

from __future__ import annotations

from typing import Sequence

import keras

from model_garden.models.image_model import ImageModel
from model_garden.models.registry import register


@keras.saving.register_keras_serializable("model_garden")
class ResNetSmall(ImageModel):
  """A small ResNet-v2 (pre-activation, GroupNorm) for small images.

  Built after "Identity Mappings in Deep Residual Networks" (He et al. 2016) with GroupNorm instead of
  BatchNorm (as BiT does), so a replica's output never depends on the other examples in its batch and a
  distributed step equals a single-device step exactly. It is the network of `make demo` and of the
  foundation tests; the paper networks (ViT, BiT, ...) live beside it.

  Named intermediates: `stem`, `block1`..`blockN` (one per stage), `pre_logits`, `logits`.

  Args:
    num_classes: head size; 0 for no head (the logits are then the pre-logits).
    widths: channels of each stage; each stage after the first halves the resolution.
    blocks_per_stage: residual units per stage.
    groups: GroupNorm groups (clipped to the channel count).
    image_size: the resolution the model is built for (any size runs).
    dropout: dropout rate before the head.

  Example:
    >>> net = model_garden.models.get("resnet_small(num_classes=8, image_size=32)")
    >>> net(tf.zeros([2, 32, 32, 3])).shape
    TensorShape([2, 8])
  """

  def __init__(self, num_classes: int = 0, widths: Sequence[int] = (32, 64, 128), blocks_per_stage: int = 1,
               groups: int = 8, image_size: int | None = 32, dropout: float = 0.0, **kwargs):
    super().__init__(num_classes=num_classes, image_size=image_size, **kwargs)
    self.widths = tuple(int(w) for w in widths)
    self.blocks_per_stage = int(blocks_per_stage)
    self.groups = int(groups)
    self.dropout = float(dropout)
    self.stem = keras.layers.Conv2D(self.widths[0], 3, padding="same", use_bias=False, name="stem")
    self.units = []
    for stage, width in enumerate(self.widths):
      stage_units = []
      for unit in range(self.blocks_per_stage):
        stride = 2 if stage > 0 and unit == 0 else 1
        stage_units.append(_PreActUnit(width, stride, self.groups, name=f"block{stage + 1}_unit{unit + 1}"))
      self.units.append(stage_units)
    self.final_norm = keras.layers.GroupNormalization(min(self.groups, self.widths[-1]), epsilon=1e-5,
                                                      name="final_norm")
    self.drop = keras.layers.Dropout(self.dropout)
    self.head = (keras.layers.Dense(self.num_classes, kernel_initializer="zeros", name="head")
                 if self.num_classes else None)

  def forward(self, images, training=False):
    out = {}
    x = self.stem(images)
    out["stem"] = x
    for stage, stage_units in enumerate(self.units):
      for unit in stage_units:
        x = unit(x, training=training)
      out[f"block{stage + 1}"] = x
    x = keras.ops.relu(self.final_norm(x))
    x = keras.ops.mean(x, axis=(1, 2))
    out["pre_logits"] = x
    x = self.drop(x, training=training)
    logits = self.head(x) if self.head is not None else x
    out["logits"] = logits
    return logits, out

  def get_config(self):
    config = super().get_config()
    config.update({"widths": list(self.widths), "blocks_per_stage": self.blocks_per_stage,
                   "groups": self.groups, "dropout": self.dropout})
    return config


@keras.saving.register_keras_serializable("model_garden")
class _PreActUnit(keras.layers.Layer):
  """GN-ReLU-conv3x3-GN-ReLU-conv3x3 with a projection shortcut on the pre-activated input."""

  def __init__(self, width: int, stride: int = 1, groups: int = 8, **kwargs):
    super().__init__(**kwargs)
    self.width, self.stride, self.groups = width, stride, groups
    self.norm1 = keras.layers.GroupNormalization(min(groups, width), epsilon=1e-5, name="norm1")
    self.conv1 = keras.layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False, name="conv1")
    self.norm2 = keras.layers.GroupNormalization(min(groups, width), epsilon=1e-5, name="norm2")
    self.conv2 = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name="conv2")
    self.proj = None

  def build(self, input_shape):
    if input_shape[-1] != self.width or self.stride != 1:
      self.proj = keras.layers.Conv2D(self.width, 1, strides=self.stride, use_bias=False, name="proj")
    self.built = True

  def call(self, x, training=False):
    x_pre = keras.ops.relu(self.norm1(x))
    shortcut = self.proj(x_pre) if self.proj is not None else x
    y = self.conv1(x_pre)
    y = self.conv2(keras.ops.relu(self.norm2(y)))
    return shortcut + y

  def get_config(self):
    config = super().get_config()
    config.update({"width": self.width, "stride": self.stride, "groups": self.groups})
    return config


@register("resnet_small")
def resnet_small(*, num_classes: int = 0, widths: Sequence[int] = (32, 64, 128), blocks_per_stage: int = 1,
                 groups: int = 8, image_size: int = 32, dropout: float = 0.0) -> ResNetSmall:
  """Spec factory: `resnet_small(num_classes=8, widths=(32, 64, 128), image_size=32)`."""
  return ResNetSmall(num_classes=num_classes, widths=widths, blocks_per_stage=blocks_per_stage,
                     groups=groups, image_size=image_size, dropout=dropout)
