"""The base class of GAN discriminators: images (and labels) in, one real/fake logit out."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.layers import normalized_layers
from model_garden.layers.checks import check_images
from model_garden.layers.symbolic import output_spec  # symbolic build: shapes, no FLOPs spent
from model_garden.models.gan.generator import _one_hot
from model_garden.models.image_model import ImageModel

DISCRIMINATOR_KERNEL_NORMS = {(False, False): "none", (True, False): "spectral", (False, True): "weight"}


def kernel_norm_of(spectral_norm: bool, weight_norm: bool, who: str) -> str:
  if spectral_norm and weight_norm:
    raise ValueError(f"{who}: choose spectral_norm or weight_norm, not both.")
  return DISCRIMINATOR_KERNEL_NORMS[(bool(spectral_norm), bool(weight_norm))]


@keras.saving.register_keras_serializable("model_garden")
class GanDiscriminator(ImageModel):
  """A discriminator: `discriminator(images, labels=None, training=False)` returns logits (batch, 1).

  An `ImageModel` (images in [-1, 1], `intermediates()` with `pre_logits`, the features before the final
  linear layer, and `logits`) with one output and, for a projection discriminator ("cGANs with Projection
  Discriminator", Miyato & Koyama 2018), labels: `label_classes > 0` adds
  `logit += sum(embed(y) * pre_logits)`. compare_gan feeds its discriminators images in [0, 1] (SNDCGAN
  maps them to [-1, 1] first); model_garden's are in [-1, 1].

  Subclasses implement `forward(images, training=False, labels=None) -> (logits, out)` with `labels` the
  one-hot matrix or None, and call `self.project(logits, pre_logits, labels)` if they support labels.

  Args:
    image_size: input height and width.
    label_classes: classes of the projection; 0 for an unconditional discriminator.
    channels: input channels (3).

  Example:
    >>> d = model_garden.models.get("sndcgan_discriminator(image_size=32, spectral_norm=True)")
    >>> logits = d(images, training=True)   # (batch, 1)
  """

  def __init__(self, image_size: int = 32, label_classes: int = 0, channels: int = 3, **kwargs):
    kwargs.pop("num_classes", None)  # Always one logit; from_config passes ImageModel's num_classes back.
    super().__init__(num_classes=1, image_size=image_size, **kwargs)
    self.label_classes, self.channels = int(label_classes), int(channels)
    self.embedding = None

  def make_projection(self, dim: int, kernel_norm: str, init: str):
    """Creates the class embedding of the projection (compare_gan's `embedding_fc`) when conditional."""
    if self.label_classes:
      self.embedding = normalized_layers.dense(dim, name="embedding_fc", kernel_norm=kernel_norm, init=init,
                                               use_bias=False)

  def project(self, logits, pre_logits, labels):
    if self.embedding is None:
      return logits
    embedded = self.embedding(ops.cast(labels, pre_logits.dtype))
    return logits + ops.sum(embedded * pre_logits, axis=1, keepdims=True)

  def one_hot(self, labels):
    return _one_hot(labels, self.label_classes, self.name)

  def call(self, images, labels=None, training=False, return_endpoints=False):
    """Logits (batch, 1); with `return_endpoints=True` the endpoints of `intermediates()` instead.

    Endpoints through `__call__` (rather than `intermediates()`) let layers called without an explicit
    `training` (the projection's embedding) follow the call's mode, e.g. update their spectral-norm vector.
    """
    check_images(images, model_name=self.name, channels=self.channels)
    logits, out = self.forward(images, training=training, labels=self.one_hot(labels))
    if return_endpoints:
      out = dict(out)
      out.setdefault("logits", logits)
      return out
    return logits

  def intermediates(self, images, training=False, labels=None):
    check_images(images, model_name=self.name, channels=self.channels)
    if not self.built:
      self.build(images.shape)
    logits, out = self.forward(images, training=training, labels=self.one_hot(labels))
    out = dict(out)
    out.setdefault("logits", logits)
    return out

  def endpoint_names(self, image_size=None):
    size = image_size or self.image_size
    images = keras.KerasTensor((1, size, size, self.channels))
    if self.label_classes:
      spec = output_spec(
          lambda x, y: self.forward(x, labels=y)[1], images, keras.KerasTensor((1, self.label_classes)))
    else:
      spec = output_spec(lambda x: self.forward(x)[1], images)
    return sorted(set(spec) | {"logits"})

  def build(self, input_shape):
    if self.built:
      return
    shape = (1,) + tuple(input_shape[1:])
    if self.label_classes:
      output_spec(lambda x, y: self.forward(x, labels=y), keras.KerasTensor(shape),
                                        keras.KerasTensor((1, self.label_classes)))
    else:
      output_spec(lambda x: self.forward(x), keras.KerasTensor(shape))
    self.built = True

  def get_config(self):
    config = super().get_config()
    config.update({"label_classes": self.label_classes, "channels": self.channels})
    return config
