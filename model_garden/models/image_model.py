"""The base class of every vision network in model_garden."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import keras

from model_garden.layers.checks import check_images
from model_garden.layers.symbolic import output_spec  # symbolic build: shapes, no FLOPs spent
from model_garden.models.forward_dispatch import ForwardDispatch


@keras.saving.register_keras_serializable("model_garden")
class ImageModel(ForwardDispatch, keras.Model):
  """A network that maps images in [-1, 1] to logits and exposes named intermediates.

  Follows big_vision's convention: a network computes `(logits, out)` where `out` is a dict of named
  intermediate tensors (`stem`, `block1`, ..., `pre_logits`, `logits`) that evaluators, linear probes and
  contrastive towers read. `model(images)` returns the logits alone, so the network trains with plain
  `model.fit`; `model.intermediates(images)` returns the dict.

  Subclasses implement `forward(images, training) -> (logits, out)` and add their arguments to
  `get_config`. With `num_classes=0` there is no head and the logits are the pre-logits.

  Example:
    >>> import model_garden
    >>> net = model_garden.models.get("resnet_small(num_classes=10, image_size=32)")
    >>> logits = net(images)                     # (batch, 10)
    >>> feats = net.intermediates(images)["pre_logits"]
  """

  def __init__(self, num_classes: int = 0, image_size: Optional[int] = None, **kwargs):
    super().__init__(**kwargs)
    self.num_classes = int(num_classes)
    self.image_size = image_size

  # -- Subclass API -----------------------------------------------------------------------------------
  def forward(self, images, training: bool = False) -> Tuple[keras.KerasTensor, Dict[str, keras.KerasTensor]]:
    raise NotImplementedError(f"{type(self).__name__} must implement forward(images, training).")

  # -- Public API -------------------------------------------------------------------------------------
  def call(self, images, training=False):
    check_images(images, model_name=self.name)
    logits, _ = self.forward(images, training=training)
    return logits

  def intermediates(self, images, training: bool = False) -> Dict[str, keras.KerasTensor]:
    """All named intermediates of one forward pass, `logits` included."""
    check_images(images, model_name=self.name)
    if not self.built:
      self.build(images.shape)
    logits, out = self.forward(images, training=training)
    out = dict(out)
    out.setdefault("logits", logits)
    return out

  def endpoint_names(self, image_size: Optional[int] = None):
    """The keys of `intermediates()`, found symbolically (no computation)."""
    size = image_size or self.image_size or 224
    spec = output_spec(
        lambda x: self.intermediates(x), keras.KerasTensor((1, size, size, 3)))
    return sorted(spec)

  def build(self, input_shape):
    if self.built:
      return
    shape = (1,) + tuple(input_shape[1:])
    output_spec(lambda x: self.forward(x), keras.KerasTensor(shape))
    self.built = True

  def get_config(self):
    config = super().get_config()
    config.update({"num_classes": self.num_classes, "image_size": self.image_size})
    return config
