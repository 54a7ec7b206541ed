"""Reading `.npz` checkpoints safely: never unpickle, decode bfloat16, pick the parameter sub-tree."""

from __future__ import annotations

import os
import zipfile
from typing import Dict, Optional, Tuple

import numpy as np

# Prefixes under which trainers store the parameters: big_vision (optax state) and old Flax optimizers.
PARAM_PREFIXES = ("params/", "opt/target/")


def decode_array(array: np.ndarray, key: str = "array") -> np.ndarray:
  """Returns a float32 copy of a checkpoint array.

  `np.save` cannot name bfloat16, so JAX checkpoints hold bf16 arrays as 2-byte void (`|V2`); their bits
  are the upper half of a float32, which is how they are decoded (no ml_dtypes needed).
  """
  dtype = array.dtype
  if dtype.kind == "V":
    if dtype.itemsize != 2 or dtype.fields is not None:
      raise ValueError(f"Checkpoint array {key!r} has an unknown raw dtype {dtype.str} ({dtype.itemsize} "
                       "bytes); only 2-byte void (bfloat16 as saved by JAX) is understood.")
    upper = np.ascontiguousarray(array).view(np.uint16).astype(np.uint32) << 16
    return upper.view(np.float32)
  if dtype.kind in "fc" or dtype.name == "bfloat16":
    return array.astype(np.float32)
  if dtype.kind in "iub":
    return array
  raise ValueError(f"Checkpoint array {key!r} has dtype {dtype}, which is not a parameter array.")


def split_source(source: str) -> Tuple[str, Optional[str]]:
  """Splits big_vision's "file.npz:img" (a sub-tree of the file) into ("file.npz", "img")."""
  source = os.fspath(source)
  if os.path.exists(source) or ":" not in source:
    return source, None
  path, _, subtree = source.rpartition(":")
  if path.endswith(".npz") or os.path.exists(path):
    return path, subtree.strip("/") or None
  return source, None


def read_npz(source: str, subtree: Optional[str] = None) -> Dict[str, np.ndarray]:
  """Reads an `.npz` checkpoint into a flat `{"a/b/c": float32 array}` dict, without unpickling.

  The parameters are taken from under `params/` or `opt/target/` when the file holds them there, and
  from under `subtree` (e.g. "img" for the image tower of a LiT file) when given; "file.npz:img" is
  the same as `subtree="img"`.

  Raises:
    ValueError: the file is not an npz, or holds pickled objects or arrays that are not parameters.
  """
  path, from_source = split_source(source)
  subtree = subtree or from_source
  if not os.path.exists(path):
    raise FileNotFoundError(f"No checkpoint file {path!r}.")
  if not zipfile.is_zipfile(path):
    raise ValueError(f"{path} is not an .npz file (a zip of .npy arrays). Checkpoints are read from .npz "
                     "only; pickles and other formats are never loaded.")
  params = {}
  try:
    with np.load(path, allow_pickle=False) as npz:
      for key in npz.files:
        params[key] = decode_array(npz[key], key)
  except ValueError as e:
    if "allow_pickle" in str(e) or "pickled" in str(e):
      raise ValueError(f"{path} holds pickled Python objects; model_garden never unpickles checkpoints "
                       "(that could run arbitrary code). Re-save the arrays with np.savez.") from None
    raise
  return select_params(params, subtree, source=path)


def select_params(params: Dict[str, np.ndarray], subtree: Optional[str] = None,
                  source: str = "checkpoint") -> Dict[str, np.ndarray]:
  """The parameters of a flat checkpoint dict, without their `params/` (or `opt/target/`) prefix."""
  for prefix in PARAM_PREFIXES:
    if any(k.startswith(prefix) for k in params):
      params = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
      break
  if subtree:
    prefix = subtree.strip("/") + "/"
    selected = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
    if not selected:
      tops = sorted({k.split("/", 1)[0] for k in params})
      raise ValueError(f"{source} has no sub-tree {subtree!r}; its top-level names are {tops}.")
    params = selected
  return params
