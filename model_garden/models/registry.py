"""The model registry: `models.get("name(k=v)")` returns a built keras.Model."""

from __future__ import annotations

from model_garden.registry import Registry

MODELS = Registry("model")
register = MODELS.register


def get(spec: str, build: bool = True, **overrides):
  """Builds the network named by `spec`, e.g. `get("resnet_small(num_classes=10, image_size=32)")`.

  Args:
    spec: a model spec; see `names()` for what is registered.
    build: create the weights now, for images of the model's `image_size` (default 224).
    **overrides: keyword arguments that replace the spec's.

  Returns:
    A `keras.Model` (an `ImageModel` for vision networks) whose call returns logits.
  """
  model = MODELS.get(spec, **overrides)
  if build and not model.built:
    size = getattr(model, "image_size", None) or 224
    model.build((None, size, size, 3))
  return model


def names():
  return MODELS.names()
