"""The shared machinery of compare_gan's ResNet generators (CIFAR, STL, ResNet19, BigGAN, BigGAN-deep)."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from model_garden.layers import normalized_layers as nl
from model_garden.layers.self_attention_2d import SelfAttention2D
from model_garden.models.gan.biggan_deep_block import BigGanDeepBlock
from model_garden.models.gan.gan_norm import GENERATOR_NORMS, GanNorm, check_norm
from model_garden.models.gan.generator import GanGenerator
from model_garden.models.gan.resnet_block import ResNetBlock

BLOCK_TYPES = ("resnet", "biggan", "biggan_deep")


@keras.saving.register_keras_serializable("model_garden")
class ResNetGanGenerator(GanGenerator):
  """linear(z) to a seed map, residual blocks (optionally self-attention), norm-ReLU-conv3x3 to the image.

  The architectures subclass it and call `_setup` with their plan. The latent and label paths follow
  compare_gan (`resnet_cifar.Generator`, `resnet_biggan.Generator`, `resnet_biggan_deep.Generator`):

  * `embed_y`: y is replaced by a learned linear embedding of the one-hot labels (no bias, never spectrally
    normalised), BigGAN's shared class embedding.
  * `hierarchical_z`: z is split into (blocks + 1) equal chunks; the first feeds the seed layer and chunk i
    goes, concatenated with y, to the normalisers of block i (BigGAN).
  * `concat_zy` (BigGAN-deep): the seed layer and every normaliser get concat(z, embed(y)).

  Subclasses are the registered architectures; see their docstrings for the numbers.
  """

  def __init__(self, z_dim: int = 128, image_size: int = 32, label_classes: int = 0, channels: int = 3,
               z_distribution: str = "uniform", norm: str = "batch_norm", spectral_norm: bool = False,
               init: str = "normal", **kwargs):
    super().__init__(z_dim=z_dim, image_size=image_size, label_classes=label_classes, channels=channels,
                     z_distribution=z_distribution, **kwargs)
    self.norm = check_norm(norm, GENERATOR_NORMS, type(self).__name__)
    self.spectral_norm, self.init = bool(spectral_norm), init

  def _setup(self, *, seed_size: int, widths: Sequence[int], scales: Sequence[str], block_type: str,
             fc_sn: bool, final_sn: bool, output: str, hierarchical_z: bool = False, embed_y_dim: int = 0,
             embed_z: bool = False, concat_zy: bool = False, attention_after: Sequence[int] = (),
             final_norm: str = "same", final_conv_width: int | None = None):
    """widths: the seed width then each block's output width; scales: each block's "up"/"none"."""
    if block_type not in BLOCK_TYPES:
      raise ValueError(f"block_type must be one of {BLOCK_TYPES}, got {block_type!r}.")
    self.seed_size, self.widths, self.scales = seed_size, list(widths), list(scales)
    self.hierarchical_z, self.embed_z, self.concat_zy = hierarchical_z, embed_z, concat_zy
    self.attention_after, self.output_activation = set(attention_after), output
    kn = "spectral" if self.spectral_norm else "none"
    num_blocks = len(self.scales)
    if hierarchical_z and self.z_dim % (num_blocks + 1):
      raise ValueError(f"{type(self).__name__}: hierarchical z splits z_dim={self.z_dim} into {num_blocks + 1} "
                       f"equal chunks (one per block plus the seed); choose a multiple of {num_blocks + 1}.")
    self.embed_z_layer = nl.dense(self.z_dim, name="embed_z", init=self.init,
                                  kernel_norm=kn if block_type == "resnet" else "none",
                                  use_bias=block_type == "resnet") if embed_z else None
    self.embed_y_layer = None
    if embed_y_dim and self.conditional:
      # ResNet-CIFAR spectrally normalises its embeddings (with bias); BigGAN's are plain and bias-free.
      self.embed_y_layer = nl.dense(embed_y_dim, name="embed_y", init=self.init,
                                    kernel_norm=kn if block_type == "resnet" else "none",
                                    use_bias=block_type == "resnet")
    self.fc = nl.dense(self.widths[0] * seed_size * seed_size, name="fc_noise", init=self.init,
                       kernel_norm=kn if fc_sn else "none")
    self.blocks, self.attention = [], {}
    for i, (width, scale) in enumerate(zip(self.widths[1:], self.scales)):
      if block_type == "biggan_deep":
        block = BigGanDeepBlock(width, scale, norm=self.norm, kernel_norm=kn, init=self.init, name=f"B{i + 1}")
      else:
        block = ResNetBlock(width, scale, is_gen_block=True, norm=self.norm, kernel_norm=kn, init=self.init,
                            shortcut_kernel=3 if block_type == "resnet" else 1, name=f"B{i + 1}")
      self.blocks.append(block)
      if i in self.attention_after:
        self.attention[str(i)] = SelfAttention2D(kernel_norm=kn, init=self.init, name="non_local_block")
    # BigGAN's last norm is unconditional; compare_gan's other ResNets reuse the generator's norm.
    self.final_norm = GanNorm(self.norm if final_norm == "same" else final_norm, kernel_norm=kn, init=self.init,
                              name="final_norm")
    self.final_conv = nl.conv2d(final_conv_width or self.channels, 3, name="final_conv", init=self.init,
                                kernel_norm=kn if final_sn else "none")

  def generate(self, z, y, training=False):
    num_blocks = len(self.blocks)
    if self.embed_z_layer is not None:
      z = self.embed_z_layer(z, training=training)
    if self.embed_y_layer is not None and y is not None:
      y = self.embed_y_layer(y, training=training)
    if self.concat_zy:
      if y is not None:
        z = ops.concatenate([z, ops.cast(y, z.dtype)], axis=1)
        y = z
      z0, z_blocks, y_blocks = z, [z] * num_blocks, [y] * num_blocks
    elif self.hierarchical_z:
      chunks = ops.split(z, num_blocks + 1, axis=1)
      z0, z_blocks = chunks[0], chunks[1:]
      y_blocks = ([ops.concatenate([zi, ops.cast(y, zi.dtype)], axis=1) for zi in z_blocks]
                  if y is not None else [None] * num_blocks)
    else:
      z0, z_blocks, y_blocks = z, [z] * num_blocks, [y] * num_blocks
    x = ops.reshape(self.fc(z0, training=training), (-1, self.seed_size, self.seed_size, self.widths[0]))
    for i, block in enumerate(self.blocks):
      x = block(x, z=z_blocks[i], y=y_blocks[i], training=training)
      if str(i) in self.attention:
        x = self.attention[str(i)](x, training=training)
    x = ops.relu(self.final_norm(x, z=z, y=y, training=training))
    x = self.final_conv(x, training=training)[..., :self.channels]
    if self.output_activation == "sigmoid":
      return 2.0 * ops.sigmoid(x) - 1.0  # compare_gan's sigmoid output, mapped to [-1, 1].
    return ops.tanh(x)

  def get_config(self):
    config = super().get_config()
    config.update({"norm": self.norm, "spectral_norm": self.spectral_norm, "init": self.init})
    return config
