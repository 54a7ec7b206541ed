"""ViT checkpoints: the vision_transformer and big_vision `.npz` layouts (loop or scan-stacked blocks).

vision_transformer (`gs://vit_models/...`, AugReg) files name a block's modules `LayerNorm_0`,
`MultiHeadDotProductAttention_1`, `LayerNorm_2`, `MlpBlock_3` and keep the position embedding at
`Transformer/posembed_input/pos_embedding` with a row for the [cls] token, because the embedding was
added after the token was prepended. big_vision files (keys under `params/`) number the modules
`LayerNorm_0`, `MultiHeadDotProductAttention_0`, `LayerNorm_1`, `MlpBlock_0`, hold `pos_embedding` at the
top level without a [cls] row, may stack all blocks into one `Transformer/encoderblock` with a leading
depth axis (`scan=True`), and add `MAPHead_0` for `pool="map"`.

Either layout loads into either model (`vit(..., posemb_cls_row=...)`), computing the same function:
a [cls] row goes straight into a model that has one (pool "tok" by default); into a model without one
(`posemb_cls_row=False`, big_vision's layout) it is folded into the class token (`cls + posemb[:, :1]`),
as big_vision's `fix_old_checkpoints` does; a checkpoint without the row (big_vision "tok") gives a model
with the row a zero row, which adds nothing to the class token. A position embedding of another grid is
resampled bilinearly to the model's (a [cls] row is kept as it is).
"""

from __future__ import annotations

import math
from typing import Dict, List

import numpy as np

from model_garden.convert.core import Plan, Slot, register_converter, stacked_slot, variable_slot
from model_garden.layers.position_embedding import resample_posemb
from model_garden.models.vit import VisionTransformer

BIG_VISION = "big_vision"
VISION_TRANSFORMER = "vision_transformer"

# Module names inside one encoder block: (LayerNorm before attention, attention, LayerNorm before MLP, MLP).
BLOCK_NAMES = {
    BIG_VISION: ("LayerNorm_0", "MultiHeadDotProductAttention_0", "LayerNorm_1", "MlpBlock_0"),
    VISION_TRANSFORMER: ("LayerNorm_0", "MultiHeadDotProductAttention_1", "LayerNorm_2", "MlpBlock_3"),
}
# Where the position embedding has lived, newest first (big_vision, pre-2022 big_vision, vision_transformer).
POSEMB_KEYS = ("pos_embedding", "Transformer/pos_embedding", "Transformer/posembed_input/pos_embedding")
SCAN_PREFIX = "Transformer/encoderblock/"


def detect_layout(params: Dict[str, np.ndarray]) -> str:
  """"big_vision" or "vision_transformer", from the block module names (or the posemb's place)."""
  block_keys = [k for k in params if k.startswith("Transformer/encoderblock")]
  if any("/MultiHeadDotProductAttention_1/" in k or "/MlpBlock_3/" in k for k in block_keys):
    return VISION_TRANSFORMER
  if any("/MultiHeadDotProductAttention_0/" in k or "/MlpBlock_0/" in k for k in block_keys):
    return BIG_VISION
  return VISION_TRANSFORMER if "Transformer/posembed_input/pos_embedding" in params else BIG_VISION


def _layer_norm(prefix, norm):
  return {f"{prefix}/scale": norm.gamma, f"{prefix}/bias": norm.beta}


def _dense(prefix, dense):
  return {f"{prefix}/kernel": dense.kernel, f"{prefix}/bias": dense.bias}


def _attention(prefix, attention):
  variables = {}
  for part in ("query", "key", "value", "out"):
    variables[f"{prefix}/{part}/kernel"] = getattr(attention, f"{part}_kernel")
    variables[f"{prefix}/{part}/bias"] = getattr(attention, f"{part}_bias")
  return variables


def _mlp(prefix, mlp):
  return {**_dense(f"{prefix}/Dense_0", mlp.dense_0), **_dense(f"{prefix}/Dense_1", mlp.dense_1)}


def _block(prefix, block, names):
  norm_0, attention, norm_1, mlp = names
  return {**_layer_norm(f"{prefix}/{norm_0}", block.norm_0),
          **_attention(f"{prefix}/{attention}", block.attention),
          **_layer_norm(f"{prefix}/{norm_1}", block.norm_1),
          **_mlp(f"{prefix}/{mlp}", block.mlp)}


def _is_square(n: int) -> bool:
  return n > 0 and math.isqrt(n) ** 2 == n


def fold_cls_posemb(params: Dict[str, np.ndarray], posemb_key: str) -> Dict[str, np.ndarray]:
  """Moves a [cls] position-embedding row into the class token; returns a new dict (same keys)."""
  posemb = params.get(posemb_key)
  if posemb is None or posemb.ndim != 3 or "cls" not in params:
    return params
  rows = posemb.shape[1]
  if _is_square(rows) or not _is_square(rows - 1):
    return params
  params = dict(params)
  params["cls"] = params["cls"] + posemb[:, :1]
  params[posemb_key] = posemb[:, 1:]
  return params


def _posemb_slot(model: VisionTransformer) -> Slot:
  """The position embedding: resampled to the model's grid; a [cls] row kept, or a zero one added."""
  variable = model.posemb.pos_embedding
  _, rows, width = variable.shape
  grid = model.posemb.grid
  cls_row = model.posemb.cls_row  # Checkpoints with a [cls] row were folded before when this is False.

  def fits(shape):
    if len(shape) != 3 or shape[0] != 1 or shape[2] != width:
      return False
    n = shape[1]
    if n == rows or (cls_row and n == rows - 1):
      return True
    return _is_square(n) or (cls_row and _is_square(n - 1))

  def transform(array):
    n = array.shape[1]
    if n == rows:
      return array
    if not cls_row:
      return resample_posemb(array, grid, cls_row=False)
    if n == rows - 1 or _is_square(n):  # big_vision "tok": no row; a zero row adds nothing to [cls].
      grid_rows = array if n == rows - 1 else resample_posemb(array, grid, cls_row=False)
      return np.concatenate([np.zeros_like(grid_rows[:, :1]), grid_rows], axis=1)
    return resample_posemb(array, grid, cls_row=True)

  return variable_slot(variable, transform, fits)


def _hints(model: VisionTransformer, params):
  def hints(missing: List[str], unexpected: List[str], mismatched) -> List[str]:
    out = []
    if "head/kernel" in params and ("head/kernel" in mismatched or "head/kernel" in unexpected):
      classes = params["head/kernel"].shape[-1]
      out.append(f"The checkpoint's head has {classes} classes: use num_classes={classes}, or "
                 "dont_load=('head/.*',) to keep a freshly initialised head.")
    if "head/kernel" in missing:
      out.append("The checkpoint has no head: use num_classes=0, or dont_load=('head/.*',).")
    if "pre_logits/kernel" in unexpected:
      rep_size = params["pre_logits/kernel"].shape[-1]
      out.append(f"The checkpoint has a pre_logits layer: use rep_size={rep_size}.")
    if "pre_logits/kernel" in missing:
      out.append("The checkpoint has no pre_logits layer: use rep_size=None.")
    if "cls" in unexpected:
      out.append("The checkpoint has a [cls] token: use pool='tok'.")
    if "cls" in missing:
      out.append("The checkpoint has no [cls] token: use pool='gap' (or 'map' / '0' as it was trained).")
    if any(k.startswith("MAPHead_0/") for k in unexpected):
      out.append("The checkpoint has a MAP head: use pool='map'.")
    if "embedding/kernel" in mismatched:
      patch, _, _, width = params["embedding/kernel"].shape
      out.append(f"The checkpoint's patch embedding is {patch}x{patch} with width {width}: check the variant "
                 f"(e.g. '.../{patch}').")
    if any(k.startswith("Transformer/encoderblock") for k in missing + unexpected + list(mismatched)):
      out.append(f"The encoder blocks differ from the model's (depth {model.depth}, width {model.width}, "
                 f"mlp_dim {model.mlp_dim}, {model.num_heads} heads): check the variant.")
    return out

  return hints


@register_converter(VisionTransformer)
def vit_plan(model: VisionTransformer, params: Dict[str, np.ndarray]) -> Plan:
  """The slots of a `VisionTransformer` in the checkpoint's layout (detected from its keys)."""
  layout = detect_layout(params)
  names = BLOCK_NAMES[layout]
  scan = any(k.startswith(SCAN_PREFIX) for k in params)
  posemb_key = next((k for k in POSEMB_KEYS if k in params),
                    "pos_embedding" if layout == BIG_VISION else POSEMB_KEYS[-1])
  if not (model.posemb.kind == "learn" and model.posemb.cls_row):
    params = fold_cls_posemb(params, posemb_key)

  slots = {key: variable_slot(v) for key, v in {
      **_dense("embedding", model.embedding),
      **_layer_norm("Transformer/encoder_norm", model.encoder_norm)}.items()}
  if model.posemb.kind == "learn":
    slots[posemb_key] = _posemb_slot(model)
  if model.cls_token is not None:
    slots["cls"] = variable_slot(model.cls_token.cls)
  if scan:
    per_block = [_block(SCAN_PREFIX.rstrip("/"), block, names) for block in model.blocks]
    for key in per_block[0]:
      slots[key] = stacked_slot([variables[key] for variables in per_block])
  else:
    for i, block in enumerate(model.blocks):
      variables = _block(f"Transformer/encoderblock_{i}", block, names)
      slots.update({k: variable_slot(v) for k, v in variables.items()})
  if model.map_head is not None:
    head = model.map_head
    slots["MAPHead_0/probe"] = variable_slot(head.probe)
    slots.update({k: variable_slot(v) for k, v in {
        **_attention("MAPHead_0/MultiHeadDotProductAttention_0", head.attention),
        **_layer_norm("MAPHead_0/LayerNorm_0", head.norm),
        **_mlp("MAPHead_0/MlpBlock_0", head.mlp)}.items()})
  if model.pre_logits is not None:
    slots.update({k: variable_slot(v) for k, v in _dense("pre_logits", model.pre_logits).items()})
  if model.head is not None:
    slots.update({k: variable_slot(v) for k, v in _dense("head", model.head).items()})
  return Plan(f"{layout} (scan)" if scan else layout, slots, params, _hints(model, params))
