"""The shared machinery of compare_gan's ResNet discriminators (CIFAR, STL, ResNet19, BigGAN, BigGAN-deep)."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from model_garden.layers import normalized_layers as nl
from model_garden.layers.self_attention_2d import SelfAttention2D
from model_garden.models.gan.biggan_deep_block import BigGanDeepBlock
from model_garden.models.gan.discriminator import GanDiscriminator, kernel_norm_of
from model_garden.models.gan.gan_norm import DISCRIMINATOR_NORMS, check_norm
from model_garden.models.gan.resnet_block import ResNetBlock


@keras.saving.register_keras_serializable("model_garden")
class ResNetGanDiscriminator(GanDiscriminator):
  """Residual blocks (optionally self-attention), ReLU, global pooling (`pre_logits`), linear, projection.

  The architectures subclass it and call `_setup` with their plan; see their docstrings.
  """

  def __init__(self, image_size: int = 32, label_classes: int = 0, channels: int = 3, norm: str = "none",
               spectral_norm: bool = False, weight_norm: bool = False, init: str = "normal", **kwargs):
    super().__init__(image_size=image_size, label_classes=label_classes, channels=channels, **kwargs)
    self.norm = check_norm(norm, DISCRIMINATOR_NORMS, type(self).__name__)
    self.spectral_norm, self.weight_norm, self.init = bool(spectral_norm), bool(weight_norm), init
    self.kernel_norm = kernel_norm_of(spectral_norm, weight_norm, type(self).__name__)

  def _setup(self, *, widths: Sequence[int], scales: Sequence[str], block_type: str, pool: str,
             attention_after: Sequence[int] = (), initial_conv: int = 0, projection_init: str = "normal"):
    """widths: each block's output width; scales: each block's "down"/"none"."""
    kn = self.kernel_norm
    self.pool = pool
    self.initial_conv = (nl.conv2d(initial_conv, 3, name="initial_conv", kernel_norm=kn, init=self.init)
                         if initial_conv else None)
    self.blocks, self.attention = [], {}
    in_width = initial_conv or self.channels
    for i, (width, scale) in enumerate(zip(widths, scales)):
      if block_type == "biggan_deep":
        block = BigGanDeepBlock(width, scale, norm=self.norm, kernel_norm=kn, init=self.init, name=f"B{i + 1}")
      else:
        block = ResNetBlock(width, scale, is_gen_block=False, norm=self.norm, kernel_norm=kn, init=self.init,
                            shortcut_kernel=3 if block_type == "resnet" else 1,
                            add_shortcut=block_type == "resnet" or in_width != width, name=f"B{i + 1}")
      self.blocks.append(block)
      if i in set(attention_after):
        self.attention[str(i)] = SelfAttention2D(kernel_norm=kn, init=self.init, name="non_local_block")
      in_width = width
    self.fc = nl.dense(1, name="final_fc", kernel_norm=kn, init=self.init)
    self.make_projection(in_width, "spectral" if kn == "spectral" else "none", projection_init)

  def forward(self, images, training=False, labels=None):
    x = images
    out = {}
    if self.initial_conv is not None:
      x = self.initial_conv(x, training=training)
    for i, block in enumerate(self.blocks):
      x = block(x, training=training)
      if str(i) in self.attention:
        x = self.attention[str(i)](x, training=training)
      out[f"block{i + 1}"] = x
    x = ops.relu(x)
    h = ops.sum(x, axis=(1, 2)) if self.pool == "sum" else ops.mean(x, axis=(1, 2))
    logits = self.project(self.fc(h, training=training), h, labels)
    out.update({"pre_logits": h, "logits": logits})
    return logits, out

  def get_config(self):
    config = super().get_config()
    config.update({"norm": self.norm, "spectral_norm": self.spectral_norm, "weight_norm": self.weight_norm,
                   "init": self.init})
    return config
