"""The base class of GAN generators: latents (and labels) in, images in [-1, 1] out."""

from __future__ import annotations

from typing import Optional

import keras
from keras import ops

from model_garden.layers.symbolic import output_spec  # symbolic build: shapes, no FLOPs spent
from model_garden.layers.tensor_ops import stateless_normal, stateless_uniform
from model_garden.models.gan.ops import Z_DISTRIBUTIONS


@keras.saving.register_keras_serializable("model_garden")
class GanGenerator(keras.Model):
  """A generator: `generator(z, labels=None, training=False)` returns images in [-1, 1], NHWC.

  Subclasses implement `generate(z, y, training)` where y is the one-hot label matrix (None for an
  unconditional generator) and the output is already in [-1, 1]. compare_gan's generators emit [0, 1]
  (sigmoid or (tanh + 1) / 2); ours emit the affine image of those in [-1, 1], model_garden's image range:
  tanh for (tanh + 1) / 2, and 2 * sigmoid(x) - 1 = tanh(x / 2) for sigmoid outputs.

  `labels` may be integer class ids (batch,) or one-hot rows (batch, label_classes). The latent prior
  (`z_distribution`: compare_gan's default U[-1, 1), or N(0, 1) as its BigGAN config) belongs to the
  generator: `sample_latents(batch, seed)` draws from it with a stateless seed.

  `build()` ignores its argument and builds from `z_dim`, so `models.get("..._generator(...)")` works.

  Args:
    z_dim: latent size.
    image_size: output height and width.
    label_classes: number of classes for a conditional generator; 0 for unconditional.
    channels: output channels (3).
    z_distribution: "uniform" (U[-1, 1)) or "normal" (N(0, 1)).

  Example:
    >>> g = model_garden.models.get("sndcgan_generator(image_size=32)")
    >>> images = g(g.sample_latents(16, seed=0))   # (16, 32, 32, 3) in [-1, 1]
  """

  def __init__(self, z_dim: int = 128, image_size: int = 32, label_classes: int = 0, channels: int = 3,
               z_distribution: str = "uniform", **kwargs):
    super().__init__(**kwargs)
    if z_distribution not in Z_DISTRIBUTIONS:
      raise ValueError(f"z_distribution must be one of {Z_DISTRIBUTIONS}, got {z_distribution!r}.")
    self.z_dim, self.image_size = int(z_dim), int(image_size)
    self.label_classes, self.channels = int(label_classes), int(channels)
    self.z_distribution = z_distribution

  # -- Subclass API ---------------------------------------------------------------------------------------
  def generate(self, z, y, training=False):
    raise NotImplementedError(f"{type(self).__name__} must implement generate(z, y, training).")

  # -- Public API -------------------------------------------------------------------------------------------
  @property
  def conditional(self) -> bool:
    return self.label_classes > 0

  def one_hot(self, labels):
    """Integer labels or one-hot rows -> float one-hot rows (None when unconditional)."""
    return _one_hot(labels, self.label_classes, self.name)

  def call(self, z, labels=None, training=False):
    if len(z.shape) != 2 or (z.shape[-1] is not None and z.shape[-1] != self.z_dim):
      raise ValueError(f"{self.name} expects latents of shape (batch, {self.z_dim}), got {tuple(z.shape)}. "
                       "Draw them with generator.sample_latents(batch, seed).")
    return self.generate(z, self.one_hot(labels), training=training)

  def sample_latents(self, batch_size: int, seed):
    """z ~ the generator's prior; `seed` is an int or a (2,) int tensor (stateless, reproducible)."""
    if self.z_distribution == "normal":
      return stateless_normal((batch_size, self.z_dim), seed)
    return stateless_uniform((batch_size, self.z_dim), seed, minval=-1.0, maxval=1.0)

  def sample_labels(self, batch_size: int, seed):
    """Uniform class ids (compare_gan's `label_generator`), or None when unconditional."""
    if not self.conditional:
      return None
    return stateless_uniform((batch_size,), seed, minval=0, maxval=self.label_classes, dtype="int32")

  def build(self, input_shape=None):
    if self.built:
      return
    del input_shape  # Always built from z_dim (models.get passes an image shape).
    z = keras.KerasTensor((1, self.z_dim))
    if self.conditional:
      output_spec(lambda z, y: self.generate(z, y), z,
                                        keras.KerasTensor((1, self.label_classes)))
    else:
      output_spec(lambda z: self.generate(z, None), z)
    self.built = True

  def get_config(self):
    config = super().get_config()
    config.update({"z_dim": self.z_dim, "image_size": self.image_size, "label_classes": self.label_classes,
                   "channels": self.channels, "z_distribution": self.z_distribution})
    return config


def _one_hot(labels, classes: int, name: str):
  if not classes:
    if labels is not None:
      raise ValueError(f"{name} is unconditional (label_classes=0) but got labels; drop them or build it "
                       "with label_classes=N.")
    return None
  if labels is None:
    raise ValueError(f"{name} is conditional (label_classes={classes}) and needs labels: integer class ids "
                     f"(batch,) or one-hot rows (batch, {classes}).")
  if len(labels.shape) == 1:
    return ops.one_hot(ops.cast(labels, "int32"), classes, dtype="float32")
  if labels.shape[-1] != classes:
    raise ValueError(f"{name}: one-hot labels must have {classes} columns, got shape {tuple(labels.shape)}.")
  return ops.cast(labels, "float32")
