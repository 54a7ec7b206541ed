"""Official `.npz` checkpoints into model_garden models: `convert(path, spec)`, `load_npz_into(model, path)`.

Supported layouts: ViT from big_vision (`params/...`, loop or scan-stacked, MAP head) and from
vision_transformer (AugReg and the original ViT files), MLP-Mixer from vision_transformer, and BiT from
big_transfer (`resnet/...`). Files are
read with `allow_pickle=False`; bfloat16 arrays (stored by JAX as 2-byte void) are decoded to float32.
A checkpoint that does not fit the spec raises `CheckpointMismatchError` listing every missing,
unexpected and mis-shaped key. New layouts register with `register_converter(ModelClass)`.

Example:
  >>> from model_garden import convert
  >>> spec = "vit(variant='B/16', num_classes=21843, pool='tok', rep_size=768)"
  >>> vit = convert.convert("ViT-B_16.npz", spec)   # The original ImageNet-21k ViT-B/16 file.
  >>> vit.save("vit_b16.keras")
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import keras

from model_garden import models
from model_garden.convert import bit as _bit  # noqa: F401  (registers the BiT converter)
from model_garden.convert import lit as _lit  # noqa: F401  (registers the LiT two-tower converter)
from model_garden.convert import mixer as _mixer  # noqa: F401  (registers the Mixer converter)
from model_garden.convert import vit as _vit  # noqa: F401  (registers the ViT converter)
from model_garden.convert.core import (Plan, Slot, load_params_into, register_converter, stacked_slot,
                                       variable_slot)
from model_garden.convert.errors import CheckpointMismatchError
from model_garden.convert.npz import decode_array, read_npz, select_params

__all__ = ["CheckpointMismatchError", "Plan", "Slot", "convert", "decode_array", "load_npz_into",
           "load_params_into", "read_npz", "register_converter", "select_params", "stacked_slot",
           "variable_slot"]


def load_npz_into(model: keras.Model, npz_path: str, *, dont_load: Sequence[str] = (),
                  subtree: Optional[str] = None) -> str:
  """Loads the `.npz` checkpoint at `npz_path` into `model` in place; returns the detected layout.

  Args:
    model: a VisionTransformer or MlpMixer (any model with a registered converter).
    npz_path: the checkpoint; "file.npz:img" selects a sub-tree, as `subtree="img"`.
    dont_load: regular expressions of keys (full match) to leave as initialised, e.g. ("head/.*",).
    subtree: the sub-tree holding the model (e.g. "img" in a LiT two-tower file).

  Raises:
    CheckpointMismatchError: when the checkpoint does not fit the model; the model is left untouched.
  """
  params = read_npz(npz_path, subtree=subtree)
  return load_params_into(model, params, dont_load=dont_load, source=str(npz_path))


def convert(source_npz_path: str, model_spec: Union[str, keras.Model], *, dont_load: Sequence[str] = (),
            subtree: Optional[str] = None) -> keras.Model:
  """Builds the model named by `model_spec` and loads the checkpoint into it.

  Args:
    source_npz_path: an official `.npz` checkpoint ("file.npz:img" selects a sub-tree).
    model_spec: a model spec such as "vit(variant='B/16', num_classes=1000, pool='tok')", or a model.
    dont_load: regular expressions of keys (full match) to leave as initialised, e.g. ("head/.*",).
    subtree: the sub-tree holding the model (e.g. "img").

  Returns:
    The model, with the checkpoint's weights.
  """
  model = models.get(model_spec) if isinstance(model_spec, str) else model_spec
  load_npz_into(model, source_npz_path, dont_load=dont_load, subtree=subtree)
  return model
