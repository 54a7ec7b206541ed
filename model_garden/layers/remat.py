"""Rematerialisation: run a block so that its activations are recomputed in the backward pass, not kept.

Networks with repeated blocks (ViT and the text towers' encoder blocks, Mixer blocks, BiT's residual stages) set
`network.remat = True` (the trainer's `config.remat`): each block then keeps only its input for the backward
pass and recomputes the rest, trading one more forward pass of the block for the memory of its activations
(what big_vision's `remat_policy` does for ViT-g/G). Gradients are the same. `keras.remat` (public Keras)
does the work on every backend (`tf.recompute_grad` on TensorFlow).
"""

from __future__ import annotations

from typing import Callable

import keras


def check_remat(network, dropout: float) -> None:
  """Refuses remat with dropout: the recomputation would draw new dropout masks, so the gradients would not be
  those of the forward pass."""
  if getattr(network, "remat", False) and dropout:
    raise ValueError(f"{network.name}: rematerialisation (config.remat) recomputes each block in the backward "
                     f"pass, which would redraw its dropout masks (dropout={dropout}); use dropout=0 with remat.")


def block_call(block: Callable, enabled: bool, training: bool = False, *context) -> Callable:
  """`block` as a function of its input `x`: `block(x, *context, training=training)`, rematerialised when
  `enabled`. `context` (an attention mask, ...) is bound, not differentiated."""
  def call(x):
    return block(x, *context, training=training)
  return keras.remat(call) if enabled else call
