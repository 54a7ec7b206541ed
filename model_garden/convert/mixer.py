"""MLP-Mixer checkpoints: the `.npz` layout of vision_transformer's `models_mixer.py`.

Keys: `stem/{kernel,bias}`, `MixerBlock_{i}/LayerNorm_{0,1}/{scale,bias}`,
`MixerBlock_{i}/{token_mixing,channel_mixing}/Dense_{0,1}/{kernel,bias}`, `pre_head_layer_norm/{scale,bias}`
and `head/{kernel,bias}` (files such as `gs://mixer_models/imagenet21k/Mixer-B_16.npz`).
"""

from __future__ import annotations

from typing import Dict, List

import numpy as np

from model_garden.convert.core import Plan, register_converter, variable_slot
from model_garden.models.mixer import MlpMixer

LAYOUT = "mlp_mixer"


def _variables(model: MlpMixer) -> Dict[str, object]:
  variables = {"stem/kernel": model.stem.kernel, "stem/bias": model.stem.bias,
               "pre_head_layer_norm/scale": model.pre_head_layer_norm.gamma,
               "pre_head_layer_norm/bias": model.pre_head_layer_norm.beta}
  for i, block in enumerate(model.blocks):
    prefix = f"MixerBlock_{i}"
    for name, norm in (("LayerNorm_0", block.norm_0), ("LayerNorm_1", block.norm_1)):
      variables[f"{prefix}/{name}/scale"] = norm.gamma
      variables[f"{prefix}/{name}/bias"] = norm.beta
    for name, mlp in (("token_mixing", block.token_mixing), ("channel_mixing", block.channel_mixing)):
      for dense_name, dense in (("Dense_0", mlp.dense_0), ("Dense_1", mlp.dense_1)):
        variables[f"{prefix}/{name}/{dense_name}/kernel"] = dense.kernel
        variables[f"{prefix}/{name}/{dense_name}/bias"] = dense.bias
  if model.head is not None:
    variables["head/kernel"] = model.head.kernel
    variables["head/bias"] = model.head.bias
  return variables


def _hints(params):
  def hints(missing: List[str], unexpected: List[str], mismatched) -> List[str]:
    out = []
    if "head/kernel" in params and ("head/kernel" in mismatched or "head/kernel" in unexpected):
      classes = params["head/kernel"].shape[-1]
      out.append(f"The checkpoint's head has {classes} classes: use num_classes={classes}, or "
                 "dont_load=('head/.*',) to keep a freshly initialised head.")
    token_kernel = "MixerBlock_0/token_mixing/Dense_0/kernel"
    if token_kernel in mismatched and token_kernel in params:
      tokens = params[token_kernel].shape[0]
      out.append(f"The checkpoint's token-mixing MLPs take {tokens} patches; the Mixer cannot be resampled: "
                 "use the image_size it was trained at.")
    if any(k.startswith("MixerBlock_") for k in missing + unexpected):
      out.append("The number of blocks differs: check the variant.")
    return out

  return hints


@register_converter(MlpMixer)
def mixer_plan(model: MlpMixer, params: Dict[str, np.ndarray]) -> Plan:
  """The slots of an `MlpMixer` in the official Mixer layout."""
  slots = {key: variable_slot(variable) for key, variable in _variables(model).items()}
  return Plan(LAYOUT, slots, params, _hints(params))
