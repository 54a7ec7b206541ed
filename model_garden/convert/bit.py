"""BiT checkpoints: the `.npz` files of google-research/big_transfer (`gs://bit_models/BiT-{S,M}-*.npz`).

The official files hold one flat dict under `resnet/`, kernels in HWIO as Keras stores them
(`bit_jax/tf2jax.py`, `bit_pytorch/models.py::load_from` read the same keys):

  resnet/root_block/standardized_conv2d/kernel                     (7, 7, 3, 64w)
  resnet/block{b}/unit{uu}/{a,b,c}/standardized_conv2d/kernel      the unit's 1x1, 3x3 and 1x1 convs
  resnet/block{b}/unit{uu}/{a,b,c}/group_norm/{gamma,beta}         the GroupNorm *before* that conv
  resnet/block{b}/unit{uu}/a/proj/standardized_conv2d/kernel       the projection shortcut
  resnet/group_norm/{gamma,beta}                                   the GroupNorm before the pooling
  resnet/head/conv2d/{kernel,bias}                                 the head, a 1x1 conv (1, 1, C, N)

Pre-activation places each `group_norm` with the conv it feeds: `a/group_norm` normalises the unit's
input (and its ReLU output also feeds `a/proj`), `b/group_norm` the output of conv a, `c/group_norm` that
of conv b (bit_pytorch maps a/b/c to gn1/gn2/gn3 before conv1/conv2/conv3). The `resnet/` prefix is
dropped on reading, so keys read `block1/unit01/a/...` and `dont_load=("head/.*",)` re-initialises the head
for transfer, as with ViT files. The head kernel (1, 1, C, N) loads into the Dense head as (C, N).
"""

from __future__ import annotations

import re
from typing import Dict, List

import numpy as np

from model_garden.convert.core import Plan, Slot, register_converter, variable_slot
from model_garden.models.bit import BLOCK_UNITS, BiTResNet

LAYOUT = "big_transfer"
PREFIX = "resnet/"
CONV = "standardized_conv2d/kernel"
_UNIT_RE = re.compile(r"block(\d+)/unit(\d+)/")


def strip_prefix(params: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
  """The parameters without the official files' `resnet/` prefix (files without it are kept as they are)."""
  if not any(k.startswith(PREFIX) for k in params):
    return dict(params)
  return {(k[len(PREFIX):] if k.startswith(PREFIX) else k): v for k, v in params.items()}


def _group_norm(prefix, norm):
  return {f"{prefix}/group_norm/gamma": norm.gamma, f"{prefix}/group_norm/beta": norm.beta}


def _unit_part(prefix, part):
  variables = {**_group_norm(prefix, part.norm), f"{prefix}/{CONV}": part.conv.kernel}
  if part.proj is not None:
    variables[f"{prefix}/proj/{CONV}"] = part.proj.kernel
  return variables


def model_variables(model: BiTResNet) -> Dict[str, object]:
  """Checkpoint key (without `resnet/`) -> the model's variable, head excluded."""
  variables = {f"root_block/{CONV}": model.root.conv.kernel}
  for b, stage in enumerate(model.stages, start=1):
    for u, unit in enumerate(stage.unit_layers, start=1):
      for name in ("a", "b", "c"):
        variables.update(_unit_part(f"block{b}/unit{u:02d}/{name}", getattr(unit, name)))
  variables.update({"group_norm/gamma": model.norm.gamma, "group_norm/beta": model.norm.beta})
  return variables


def _head_slot(head) -> Slot:
  """The head: the official 1x1-conv kernel (1, 1, C, N), or a Dense-shaped (C, N) one."""
  features, classes = (int(d) for d in head.kernel.shape)

  def fits(shape):
    return tuple(shape) in ((1, 1, features, classes), (features, classes))

  # variable_slot's store reshapes to the Dense kernel's (C, N).
  return Slot((1, 1, features, classes), variable_slot(head.kernel).store, fits)


def _checkpoint_variant(params: Dict[str, np.ndarray], base_width: int = 64) -> str:
  """The variant a checkpoint was saved from, e.g. "R50x1" ("" when it cannot be told)."""
  units = {}
  for key in params:
    match = _UNIT_RE.match(key)
    if match:
      block, unit = int(match.group(1)), int(match.group(2))
      units[block] = max(units.get(block, 0), unit)
  found = tuple(units.get(b, 0) for b in range(1, 5))
  depth = next((d for d, u in BLOCK_UNITS.items() if u == found), None)
  root = params.get(f"root_block/{CONV}")
  if depth is None or root is None or root.ndim != 4 or root.shape[-1] % base_width:
    return ""
  return f"R{depth}x{root.shape[-1] // base_width}"


def _hints(model: BiTResNet, params: Dict[str, np.ndarray]):
  def hints(missing: List[str], unexpected: List[str], mismatched) -> List[str]:
    out = []
    head = "head/conv2d/kernel"
    if head in params and (head in mismatched or head in unexpected):
      classes = params[head].shape[-1]
      out.append(f"The checkpoint's head has {classes} classes: use num_classes={classes}, or "
                 "dont_load=('head/.*',) to keep a freshly initialised (zero) head for transfer.")
    if head in missing:
      out.append("The checkpoint has no head: use num_classes=0, or dont_load=('head/.*',).")
    body = [k for k in missing + unexpected + list(mismatched) if not k.startswith("head/")]
    if body:
      variant = _checkpoint_variant(params, model.base_width)
      if variant and variant != model.variant:
        out.append(f"The checkpoint holds a {variant} (at base_width={model.base_width}); the model is "
                   f"{model.variant}: use variant='{variant}'.")
      else:
        out.append(f"The body differs from {model.variant}'s (base_width={model.base_width}): check the "
                   "variant (official files: R50x1, R50x3, R101x1, R101x3, R152x2, R152x4; base_width=64).")
    return out

  return hints


@register_converter(BiTResNet)
def bit_plan(model: BiTResNet, params: Dict[str, np.ndarray]) -> Plan:
  """The slots of a `BiTResNet` in big_transfer's layout (keys without the `resnet/` prefix)."""
  params = strip_prefix(params)
  slots = {key: variable_slot(v) for key, v in model_variables(model).items()}
  if model.head is not None:
    slots["head/conv2d/kernel"] = _head_slot(model.head)
    slots["head/conv2d/bias"] = variable_slot(model.head.bias)
  return Plan(LAYOUT, slots, params, _hints(model, params))
