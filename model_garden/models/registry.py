"""The model registry: `models.get("name(k=v)")` returns a built keras.Model."""

from __future__ import annotations

from model_garden.registry import Registry, Spec

MODELS = Registry("model")
register = MODELS.register


def input_shape(model) -> tuple:
  """The input shape a network is built for: (None, max_len) token ids for a text tower, else NHWC images
  of the network's `image_size` (224 when it has none)."""
  if hasattr(model, "max_len") and getattr(model, "image_size", None) is None:
    return (None, int(model.max_len))
  size = getattr(model, "image_size", None) or 224
  return (None, size, size, 3)


def get(spec: Spec, build: bool = True, **overrides):
  """Builds the network named by `spec`, e.g. `get("resnet_small(num_classes=10, image_size=32)")`.

  Args:
    spec: a model spec (a string, or a mapping {"name": ..., **kwargs}); see `names()`.
    build: create the weights now, for images of the model's `image_size` (default 224).
    **overrides: keyword arguments that replace the spec's.

  Returns:
    A `keras.Model` (an `ImageModel` for vision networks) whose call returns logits.
  """
  model = MODELS.get(spec, **overrides)
  if build and not model.built:
    model.build(input_shape(model))
  return model


def names():
  return MODELS.names()
