"""Keeps `model(x)` calling Keras' `call` on the PyTorch backend for models that define `forward`.

On Keras' PyTorch backend every layer is a `torch.nn.Module`, whose `__call__` runs `self.forward`; Keras'
own `forward` passes on to `Layer.call`. The networks here define `forward(inputs, training) -> (logits,
out)` (big_vision's convention, their public subclass API), which would shadow that and make `model(x)`
return the pair. Routing torch's call straight to Keras fixes it and changes nothing on other backends.
"""

from __future__ import annotations

import keras


class ForwardDispatch:
  """Mixin placed before `keras.Model`: torch's `Module.__call__` goes to Keras, not to `self.forward`."""

  def _call_impl(self, *args, **kwargs):  # torch.nn.Module's dispatch (the PyTorch backend only).
    return keras.Operation.__call__(self, *args, **kwargs)
