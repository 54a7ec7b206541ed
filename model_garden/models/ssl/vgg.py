"""VGG-19 with BatchNorm and a widening factor, as in the self-supervision study."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.models.image_model import ImageModel
from model_garden.models.registry import register
from model_garden.models.ssl.resnet_v1 import channels

# Convolutions per block (VGG-19) and their width in units of the block-1 width.
_BLOCKS = ((2, 1), (2, 2), (4, 4), (4, 8), (4, 8))


@keras.saving.register_keras_serializable("model_garden")
class VGG19BN(ImageModel):
  """VGG-19 (Simonyan & Zisserman 2015) with BatchNorm after every conv and no dropout.

  The `vgg19` of google/revisiting-self-supervised `models/vggnet.py` ("Revisiting Self-Supervised
  Visual Representation Learning", Kolesnikov, Zhai, Beyer 2019): five blocks of 3x3 conv-BN-ReLU
  (widths 64/128/256/512/512 * width, 2-2-4-4-4 convs) each followed by 2x2/2 max-pooling, then fc6 (a
  VALID conv spanning the final map: a dense layer on the flattened map) and fc7, each 4096 * width
  wide with BN-ReLU, then the head. The original's weight decay is 5e-4 (the VGG paper's), not the
  ResNets' 1e-4. Because fc6 spans the whole final map, the network runs at its `image_size` only.

  Named intermediates (the original's): `block1`..`block5` (before each pooling), `fc6`, `pre_logits`
  (fc7), `logits`.

  Args:
    num_classes: head size; 0 for no head.
    width: widening factor (1 = the original VGG's 64 first-block channels; filters_factor = 8 * width).
    image_size: input resolution (a multiple of 32).

  Example:
    >>> net = model_garden.models.get("vgg19_bn(num_classes=1000)")
    >>> net.intermediates(images)["fc6"].shape  # (batch, 4096)
  """

  def __init__(self, num_classes: int = 0, width: float = 1.0, image_size: int | None = 224, **kwargs):
    super().__init__(num_classes=num_classes, image_size=image_size, **kwargs)
    if image_size is None or int(image_size) < 32 or int(image_size) % 32:
      raise ValueError(f"vgg19_bn needs image_size, a multiple of 32 (five 2x2 poolings and an fc6 spanning "
                       f"the final map), got {image_size!r}.")
    self.width = float(width)
    base = channels(self.width, 64, "block1")
    self.convs = []
    for block, (count, mult) in enumerate(_BLOCKS):
      self.convs.append([_ConvBNReLU(base * mult, 3, padding="same", name=f"block{block + 1}_conv{i + 1}")
                         for i in range(count)])
    final = int(image_size) // 32
    fc_width = channels(self.width, 4096, "fc6/fc7")
    self.fc6 = _ConvBNReLU(fc_width, final, padding="valid", name="fc6")
    self.fc7 = _ConvBNReLU(fc_width, 1, padding="valid", name="fc7")
    self.head = keras.layers.Dense(self.num_classes, name="head") if self.num_classes else None

  def forward(self, images, training=False):
    out = {}
    x = images
    for block, convs in enumerate(self.convs):
      for conv in convs:
        x = conv(x, training=training)
      out[f"block{block + 1}"] = x
      x = ops.max_pool(x, 2, strides=2, padding="valid")
    if x.shape[1] != self.fc6.kernel_size or x.shape[2] != self.fc6.kernel_size:
      raise ValueError(f"vgg19_bn was built for {self.image_size} px images (fc6 spans a "
                       f"{self.fc6.kernel_size}x{self.fc6.kernel_size} map) but got {images.shape[1:3]}; "
                       f"resize the input or build with image_size={images.shape[1]}.")
    x = self.fc6(x, training=training)
    out["fc6"] = ops.reshape(x, (-1, x.shape[-1]))
    x = self.fc7(x, training=training)
    x = ops.reshape(x, (-1, x.shape[-1]))
    out["pre_logits"] = x
    logits = self.head(x) if self.head is not None else x
    out["logits"] = logits
    return logits, out

  def get_config(self):
    config = super().get_config()
    config.update({"width": self.width})
    return config


@keras.saving.register_keras_serializable("model_garden")
class _ConvBNReLU(keras.layers.Layer):
  """Conv (no bias) - BatchNorm - ReLU."""

  def __init__(self, filters: int, kernel_size: int, padding: str = "same", **kwargs):
    super().__init__(**kwargs)
    self.filters, self.kernel_size, self.padding = int(filters), int(kernel_size), padding
    self.conv = keras.layers.Conv2D(self.filters, self.kernel_size, padding=padding, use_bias=False,
                                    name="conv")
    self.bn = keras.layers.BatchNormalization(name="bn")

  def call(self, x, training=False):
    return ops.relu(self.bn(self.conv(x), training=training))

  def get_config(self):
    config = super().get_config()
    config.update({"filters": self.filters, "kernel_size": self.kernel_size, "padding": self.padding})
    return config


@register("vgg19_bn")
def vgg19_bn(*, num_classes: int = 0, width: float = 1.0, image_size: int = 224) -> VGG19BN:
  """Spec factory: `vgg19_bn(num_classes=4)`; tiny: `vgg19_bn(width=0.125, image_size=32)`."""
  return VGG19BN(num_classes=num_classes, width=width, image_size=image_size)
