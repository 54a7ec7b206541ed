"""LiT two-tower checkpoints (`img/...`, `txt/...`, `t`) and their text towers, from big_vision / vision_transformer.

A LiT `.npz` (big_vision `two_towers` params, e.g. the published `LiT-B16B.npz`, `LiT-L16L.npz`) holds:

  img/...  the image tower in big_vision's ViT layout (converted by the ViT converter);
  txt/...  the text tower: big_vision's text transformer
             Embed_0/embedding (vocab, width), pos_embedding (1, L, width),
             Encoder_0/encoderblock_{i}/{LayerNorm_0, MultiHeadDotProductAttention_0, LayerNorm_1, MlpBlock_0}
             (or a scan-stacked Encoder_0/encoderblock/... with a leading depth axis),
             Encoder_0/encoder_norm, optional MAPHead_0, head/{kernel, bias};
           or flaxformer's BERT
             BertEncoder_0/embedder/embedders_{token,position,segment}_ids/embedding,
             BertEncoder_0/layer_norm, BertEncoder_0/encoder_block/layer_sequence/layers_{i}/
               attention_block/{attention_layer/{query,key,value}, dense_layer, layer_norm},
               mlp_block/{mlp/dense_layer, dense_layer, layer_norm},
             head/{kernel, bias};
  t        the log-temperature, shape (1,); `b`, the SigLIP bias, when present.

Every array keeps its Flax layout (Dense kernels (in, out), attention kernels (width, heads, head_dim));
BERT's flattened (width, width) attention kernels load into the same-shaped Keras Dense kernels. Older text
checkpoints with a second position embedding under `Encoder_0/pos_embedding` (added twice by mistake, as
big_vision's `text_transformer.load` notes) have it merged into `pos_embedding`.

Example:
  >>> from model_garden import convert
  >>> lit = models.get("two_towers(image=\\"vit(variant='B/16', pool='tok', posemb_cls_row=False, "
  ...                  "image_size=224)\\", text=\\"bert_encoder(variant='base')\\", out_dim=768)")
  >>> convert.load_npz_into(lit, "LiT-B16B.npz")
"""

from __future__ import annotations

import math
from typing import Dict, List

import numpy as np

from model_garden.convert.core import (Plan, Slot, converter_for, register_converter,
                                       stacked_slot, variable_slot)
from model_garden.models.bert_encoder import BertEncoder
from model_garden.models.text_transformer import TextTransformer
from model_garden.models.two_towers import TwoTowers

TEXT_TRANSFORMER = "big_vision_text_transformer"
BERT = "flaxformer_bert"
BLOCK = ("LayerNorm_0", "MultiHeadDotProductAttention_0", "LayerNorm_1", "MlpBlock_0")
SCAN_PREFIX = "Encoder_0/encoderblock/"


def _norm(prefix, norm):
  return {f"{prefix}/scale": norm.gamma, f"{prefix}/bias": norm.beta}


def _dense(prefix, dense):
  return {f"{prefix}/kernel": dense.kernel, f"{prefix}/bias": dense.bias}


def _encoder_block(prefix, block):
  variables = {**_norm(f"{prefix}/{BLOCK[0]}", block.norm_0), **_norm(f"{prefix}/{BLOCK[2]}", block.norm_1)}
  for part in ("query", "key", "value", "out"):
    variables[f"{prefix}/{BLOCK[1]}/{part}/kernel"] = getattr(block.attention, f"{part}_kernel")
    variables[f"{prefix}/{BLOCK[1]}/{part}/bias"] = getattr(block.attention, f"{part}_bias")
  variables.update(_dense(f"{prefix}/{BLOCK[3]}/Dense_0", block.mlp.dense_0))
  variables.update(_dense(f"{prefix}/{BLOCK[3]}/Dense_1", block.mlp.dense_1))
  return variables


def _map_head(head):
  variables = {"MAPHead_0/probe": head.probe, **_norm("MAPHead_0/LayerNorm_0", head.norm),
               **_dense("MAPHead_0/MlpBlock_0/Dense_0", head.mlp.dense_0),
               **_dense("MAPHead_0/MlpBlock_0/Dense_1", head.mlp.dense_1)}
  for part in ("query", "key", "value", "out"):
    variables[f"MAPHead_0/MultiHeadDotProductAttention_0/{part}/kernel"] = getattr(head.attention,
                                                                                  f"{part}_kernel")
    variables[f"MAPHead_0/MultiHeadDotProductAttention_0/{part}/bias"] = getattr(head.attention, f"{part}_bias")
  return variables


def _leading_rows_slot(variable) -> Slot:
  """A (1 or none, rows, width) embedding whose first rows are taken when the checkpoint has more."""
  shape = tuple(variable.shape)

  def fits(got):
    got = tuple(got)
    return got[-1] == shape[-1] and len(got) == len(shape) and got[:-2] == shape[:-2] and got[-2] >= shape[-2]

  def transform(array):
    return array[..., :shape[-2], :]

  return variable_slot(variable, transform, fits)


def _same_size_slot(variable) -> Slot:
  """Accepts any layout with the variable's number of elements (e.g. (width, heads, head_dim) kernels)."""
  size = math.prod(variable.shape)
  return variable_slot(variable, fits=lambda got: math.prod(got) == size)


@register_converter(TextTransformer)
def text_transformer_plan(model: TextTransformer, params: Dict[str, np.ndarray]) -> Plan:
  """big_vision's text transformer: `Embed_0`, `pos_embedding`, `Encoder_0/...`, `head` (loop or scan)."""
  params = dict(params)
  if "Encoder_0/pos_embedding" in params and "pos_embedding" in params:
    params["pos_embedding"] = params["pos_embedding"] + params.pop("Encoder_0/pos_embedding")
  slots: Dict[str, Slot] = {"Embed_0/embedding": variable_slot(model.embedding.embeddings),
                            "pos_embedding": _leading_rows_slot(model.pos_embedding)}
  scan = any(k.startswith(SCAN_PREFIX) for k in params)
  if scan:
    per_block = [_encoder_block(SCAN_PREFIX.rstrip("/"), block) for block in model.blocks]
    for key in per_block[0]:
      slots[key] = stacked_slot([variables[key] for variables in per_block])
  else:
    for i, block in enumerate(model.blocks):
      slots.update({k: variable_slot(v) for k, v in _encoder_block(f"Encoder_0/encoderblock_{i}", block).items()})
  slots.update({k: variable_slot(v) for k, v in _norm("Encoder_0/encoder_norm", model.encoder_norm).items()})
  if model.map_head is not None:
    slots.update({k: variable_slot(v) for k, v in _map_head(model.map_head).items()})
  if model.head is not None:
    slots.update({k: variable_slot(v) for k, v in _dense("head", model.head).items()})

  def hints(missing: List[str], unexpected: List[str], mismatched) -> List[str]:
    out = []
    if "head/kernel" in unexpected:
      out.append(f"The checkpoint's text head maps to {params['head/kernel'].shape[-1]}: set the text tower's "
                 "num_classes (two_towers out_dim) to that.")
    if "head/kernel" in missing:
      out.append("The checkpoint's text tower has no head: use out_dim=(..., None).")
    if "Embed_0/embedding" in mismatched:
      vocab, width = params["Embed_0/embedding"].shape
      out.append(f"The checkpoint's vocabulary has {vocab} rows and width {width}: set vocab_size={vocab} and "
                 "the text variant's width.")
    blocks = {k.split("/")[1] for k in params if k.startswith("Encoder_0/encoderblock_")}
    if blocks and len(blocks) != model.depth:
      out.append(f"The checkpoint's text tower has {len(blocks)} blocks, the model {model.depth}: set depth.")
    if any(k.startswith("MAPHead_0/") for k in unexpected):
      out.append("The checkpoint pools with a MAP head: use pool='map'.")
    if any(k.startswith("BertEncoder_0/") for k in unexpected):
      out.append("This is a BERT text tower: use text='bert_encoder(...)'.")
    return out

  return Plan(TEXT_TRANSFORMER + ("_scan" if scan else ""), slots, params, hints)


@register_converter(BertEncoder)
def bert_plan(model: BertEncoder, params: Dict[str, np.ndarray]) -> Plan:
  """flaxformer's `BertEncoder` as used by big_vision's `proj/flaxformer/bert.py` (`BertEncoder_0/...`)."""
  root = "BertEncoder_0"
  params = dict(params)
  embed = f"{root}/embedder"
  slots: Dict[str, Slot] = {
      f"{embed}/embedders_token_ids/embedding": variable_slot(model.token_embedding.embeddings),
      f"{embed}/embedders_position_ids/embedding": _leading_rows_slot(model.position_embedding.embeddings),
      f"{embed}/embedders_segment_ids/embedding": variable_slot(model.segment_embedding.embeddings),
  }
  slots.update({k: variable_slot(v) for k, v in _norm(f"{root}/layer_norm", model.layer_norm).items()})
  for i, layer in enumerate(model.encoder_layers):
    prefix = f"{root}/encoder_block/layer_sequence/layers_{i}"
    attention = f"{prefix}/attention_block"
    for part in ("query", "key", "value"):
      dense = getattr(layer, part)
      slots[f"{attention}/attention_layer/{part}/kernel"] = _same_size_slot(dense.kernel)
      slots[f"{attention}/attention_layer/{part}/bias"] = _same_size_slot(dense.bias)
    slots[f"{attention}/dense_layer/kernel"] = _same_size_slot(layer.attention_out.kernel)
    slots[f"{attention}/dense_layer/bias"] = variable_slot(layer.attention_out.bias)
    slots.update({k: variable_slot(v) for k, v in _norm(f"{attention}/layer_norm", layer.attention_norm).items()})
    slots.update({k: variable_slot(v) for k, v in _dense(f"{prefix}/mlp_block/mlp/dense_layer",
                                                          layer.mlp_in).items()})
    slots.update({k: variable_slot(v) for k, v in _dense(f"{prefix}/mlp_block/dense_layer",
                                                          layer.mlp_out).items()})
    slots.update({k: variable_slot(v) for k, v in _norm(f"{prefix}/mlp_block/layer_norm",
                                                         layer.mlp_norm).items()})
  if model.head is not None:
    slots.update({k: variable_slot(v) for k, v in _dense("head", model.head).items()})

  def hints(missing: List[str], unexpected: List[str], mismatched) -> List[str]:
    out = []
    layers = {k.split("/")[4] for k in params if "/layer_sequence/layers_" in k}
    if layers and len(layers) != model.depth:
      out.append(f"The checkpoint's BERT has {len(layers)} layers, the model {model.depth}: use "
                 "variant='base' (12) or 'large' (24).")
    if "head/kernel" in unexpected:
      out.append(f"The checkpoint's text head maps to {params['head/kernel'].shape[-1]}: set out_dim to it.")
    if any(k.startswith("Encoder_0/") or k.startswith("Embed_0/") for k in unexpected):
      out.append("This is a big_vision text transformer: use text='text_transformer(...)'.")
    return out

  return Plan(BERT, slots, params, hints)


@register_converter(TwoTowers)
def two_towers_plan(model: TwoTowers, params: Dict[str, np.ndarray]) -> Plan:
  """A two-tower checkpoint: `img/...` through the image tower's converter, `txt/...` through the text
  tower's, and `t` (and `b`)."""
  tower_params = {"img": {}, "txt": {}}
  rest = {}
  for key, value in params.items():
    top, _, sub = key.partition("/")
    if top in tower_params and sub:
      tower_params[top][sub] = value
    else:
      rest[key] = value
  slots: Dict[str, Slot] = {}
  merged: Dict[str, np.ndarray] = dict(rest)
  layouts, hint_fns = [], []
  for name in ("img", "txt"):
    tower = getattr(model, name)
    plan = converter_for(tower)(tower, tower_params[name])
    slots.update({f"{name}/{k}": s for k, s in plan.slots.items()})
    merged.update({f"{name}/{k}": v for k, v in plan.params.items()})
    layouts.append(f"{name}={plan.layout}")
    hint_fns.append((name, plan.hints))
  slots["t"] = variable_slot(model.t, fits=lambda got: math.prod(got) == 1)
  if model.b is not None:
    slots["b"] = variable_slot(model.b, fits=lambda got: math.prod(got) == 1)

  def hints(missing: List[str], unexpected: List[str], mismatched) -> List[str]:
    out = []
    for name, fn in hint_fns:
      strip = lambda keys, n=name: [k[len(n) + 1:] for k in keys if k.startswith(n + "/")]
      sub_mismatched = {k[len(name) + 1:]: v for k, v in mismatched.items() if k.startswith(name + "/")}
      out += [f"{name}: {h}" for h in fn(strip(missing), strip(unexpected), sub_mismatched)]
    if "b" in unexpected:
      out.append("The checkpoint has a SigLIP bias `b`: build the model with bias_init=... .")
    if "b" in missing:
      out.append("The checkpoint has no bias `b`: build the model with bias_init=None.")
    return out

  return Plan("two_towers(" + ", ".join(layouts) + ")", slots, merged, hints)
