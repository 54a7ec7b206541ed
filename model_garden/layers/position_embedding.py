"""Position embeddings of a 2-D patch grid: learned or fixed sin-cos, and their resampling."""

from __future__ import annotations

import math
from typing import Sequence, Tuple, Union

import keras
import numpy as np
from keras import ops

Grid = Union[int, Sequence[int]]


def posemb_sincos_2d(height: int, width: int, dim: int, temperature: float = 10_000.0) -> np.ndarray:
  """The fixed 2-D sin-cos embedding of MoCo v3 (Chen et al. 2021), as big_vision's `posemb="sincos2d"`.

  Returns a float32 array (1, height * width, dim) laid out `[sin(x f), cos(x f), sin(y f), cos(y f)]`
  where x is the column, y the row and f runs geometrically from 1 to 1/temperature over dim/4 values.
  """
  if dim % 4:
    raise ValueError(f"The sincos2d position embedding needs a width divisible by 4, got {dim}.")
  quarter = dim // 4
  freqs = temperature ** -(np.arange(quarter, dtype=np.float64) / max(quarter - 1, 1))
  rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
  angle_x = cols.reshape(-1, 1) * freqs[None, :]
  angle_y = rows.reshape(-1, 1) * freqs[None, :]
  table = np.concatenate([np.sin(angle_x), np.cos(angle_x), np.sin(angle_y), np.cos(angle_y)], axis=1)
  return table[None].astype(np.float32)


def _as_grid(grid: Grid) -> Tuple[int, int]:
  if isinstance(grid, (int, np.integer)):
    return int(grid), int(grid)
  height, width = grid
  return int(height), int(width)


def _resize_axis(array: np.ndarray, axis: int, size: int) -> np.ndarray:
  """Linear interpolation along one axis with the end points kept (scipy.ndimage.zoom, order=1)."""
  old = array.shape[axis]
  if old == size:
    return array
  # zoom maps output index i to input coordinate i * (old - 1) / (size - 1); one output sample reads 0.
  step = (old - 1) / (size - 1) if size > 1 else 0.0
  coords = np.minimum(np.arange(size) * step, old - 1)
  lo = np.floor(coords).astype(np.int64)
  hi = np.minimum(lo + 1, old - 1)
  frac = (coords - lo).reshape([-1 if a == axis else 1 for a in range(array.ndim)])
  return np.take(array, lo, axis=axis) * (1.0 - frac) + np.take(array, hi, axis=axis) * frac


def has_cls_row(tokens: int, old_grid: Grid | None = None) -> bool:
  """Whether `tokens` position embeddings hold a leading [cls] row: `old_grid` plus one, or a square plus one.

  Without `old_grid`, a square count (196) has no row and a square plus one (197, the vision_transformer
  layout) has one; other counts raise ValueError.
  """
  if old_grid is not None:
    old_h, old_w = _as_grid(old_grid)
    if tokens in (old_h * old_w, old_h * old_w + 1):
      return tokens == old_h * old_w + 1
    raise ValueError(f"old_grid {old_h}x{old_w} holds neither {tokens} position embeddings nor {tokens} "
                     "minus a [cls] row.")
  if _is_square(tokens):
    return False
  if _is_square(tokens - 1):
    return True
  raise ValueError(f"{tokens} position embeddings are neither a square grid nor a square grid plus a [cls] "
                   "row; pass old_grid=(h, w).")


def _is_square(n: int) -> bool:
  return n > 0 and math.isqrt(n) ** 2 == n


def resample_posemb(posemb, new_grid: Grid, old_grid: Grid | None = None,
                    cls_row: bool | None = None) -> np.ndarray:
  """Bilinearly resamples a (1, [1 +] h*w, dim) position embedding to another grid ("high-res fine-tuning").

  Matches big_vision's `resample_posemb` (scipy.ndimage.zoom with order=1: corners stay put), written
  with NumPy so scipy is not needed. Use it to run a model at a new resolution, e.g. a ViT-B/16 trained
  at 224 px (14x14 patches) fine-tuned at 384 px (24x24). A leading [cls] row (the vision_transformer
  layout, `vit(..., posemb_cls_row=True)`) is kept as it is and only the grid rows are resampled, as
  vision_transformer's `checkpoint.load_pretrained` does.

  Args:
    posemb: array-like of shape (1, tokens, dim).
    new_grid: the target grid, an int (square) or (height, width).
    old_grid: the source grid; default: square, sqrt of the token count (without the [cls] row).
    cls_row: whether row 0 is a [cls] row; default: detected from the count (see `has_cls_row`).

  Returns:
    A NumPy array (1, [1 +] new_height * new_width, dim) of the input's dtype, with the [cls] row kept.

  Example:
    >>> resample_posemb(model.posemb.pos_embedding.numpy(), new_grid=24).shape
    (1, 576, 768)
    >>> resample_posemb(np.zeros((1, 197, 768)), new_grid=24).shape   # [cls] row + 14x14 grid
    (1, 577, 768)
  """
  posemb = np.asarray(posemb)
  if posemb.ndim != 3 or posemb.shape[0] != 1:
    raise ValueError(f"A position embedding has shape (1, tokens, width), got {posemb.shape}.")
  tokens, dim = posemb.shape[1], posemb.shape[2]
  if cls_row is None:
    cls_row = has_cls_row(tokens, old_grid)
  prefix, grid_rows = posemb[:, :int(cls_row)], posemb[:, int(cls_row):]
  grid_tokens = grid_rows.shape[1]
  if old_grid is None:
    side = math.isqrt(grid_tokens)
    if side * side != grid_tokens:
      raise ValueError(f"{grid_tokens} position embeddings{' (after the [cls] row)' if cls_row else ''} are "
                       "not a square grid; pass old_grid=(h, w).")
    old_grid = side
  old_h, old_w = _as_grid(old_grid)
  new_h, new_w = _as_grid(new_grid)
  if old_h * old_w != grid_tokens:
    raise ValueError(f"old_grid {old_h}x{old_w} does not hold {grid_tokens} position embeddings"
                     f"{' (after the [cls] row)' if cls_row else ''}.")
  grid = grid_rows.reshape(old_h, old_w, dim).astype(np.float64)
  grid = _resize_axis(_resize_axis(grid, 0, new_h), 1, new_w)
  grid = grid.reshape(1, new_h * new_w, dim).astype(posemb.dtype)
  return np.concatenate([prefix, grid], axis=1) if cls_row else grid


@keras.saving.register_keras_serializable("model_garden")
class PositionEmbedding(keras.layers.Layer):
  """Flattens a (batch, h, w, width) patch grid into tokens and adds a position embedding.

  The learned embedding of "An Image is Worth 16x16 Words" (Dosovitskiy et al. 2021) or the fixed 2-D
  sin-cos one of "An Empirical Study of Training Self-Supervised Vision Transformers" (MoCo v3, Chen et
  al. 2021), as big_vision's `posemb` option. `kind="learn"` holds a parameter `pos_embedding`
  (1, h*w, width), initialised normal(1/sqrt(width)) as big_vision by default; it fits one grid, so other
  resolutions need `resample_posemb`. `kind="sincos2d"` adds the fixed embedding of `posemb_sincos_2d` and
  works at any resolution.

  By default the embedding has no [class]-token row (big_vision: it is added before a class token is
  prepended). `cls_row=True` gives the learned embedding a leading row for the class token, (1, 1 + h*w,
  width), as vision_transformer, which prepends the token first and then adds the embedding. `call` then
  adds the grid rows, and `add_cls_row` adds row 0 to the first token of the sequence once the class token
  is prepended: `add_cls_row(concat([cls, call(grid)]))` equals `concat([cls, tokens]) + pos_embedding`.

  Args:
    kind: "learn" or "sincos2d".
    temperature: sincos2d frequency range.
    cls_row: hold a leading [class]-token row (learned embeddings only).
    stddev: the learned embedding's initial standard deviation; None for 1/sqrt(width) (big_vision);
      vision_transformer uses 0.02.

  Example:
    >>> PositionEmbedding("learn")(tf.zeros([2, 14, 14, 768])).shape
    TensorShape([2, 196, 768])
  """

  KINDS = ("learn", "sincos2d")

  def __init__(self, kind: str = "learn", temperature: float = 10_000.0, cls_row: bool = False,
               stddev: float | None = None, **kwargs):
    super().__init__(**kwargs)
    if kind not in self.KINDS:
      raise ValueError(f"Unknown position embedding {kind!r}; expected one of {self.KINDS}.")
    if cls_row and kind != "learn":
      raise ValueError(f"A [cls] row needs a learned position embedding, not {kind!r}.")
    self.kind = kind
    self.temperature = float(temperature)
    self.cls_row = bool(cls_row)
    self.stddev = None if stddev is None else float(stddev)
    self.grid = None

  def build(self, input_shape):
    _, height, width, dim = input_shape
    self.grid = (height, width)
    if self.kind == "learn":
      if height is None or width is None:
        raise ValueError(f"{self.name}: a learned position embedding needs a known grid, got {input_shape}.")
      stddev = self.stddev if self.stddev is not None else 1.0 / math.sqrt(dim)
      self.pos_embedding = self.add_weight(
          name="pos_embedding", shape=(1, int(self.cls_row) + height * width, dim),
          initializer=keras.initializers.RandomNormal(stddev=stddev))
    self.built = True

  def call(self, grid):
    height, width, dim = grid.shape[1], grid.shape[2], grid.shape[3]
    tokens = ops.reshape(grid, (ops.shape(grid)[0], -1, dim))
    if self.kind == "sincos2d":
      if height is None or width is None:
        raise ValueError(f"{self.name}: sincos2d needs a static grid size, got {grid.shape}.")
      table = posemb_sincos_2d(height, width, dim, self.temperature)
      return tokens + ops.cast(table, tokens.dtype)
    if None not in (height, width) and (height, width) != tuple(self.grid):
      raise ValueError(
          f"{self.name}: the learned position embedding was built for a {self.grid[0]}x{self.grid[1]} patch "
          f"grid but the images give {height}x{width}. Build the model for this image size and load the "
          "weights with model_garden.convert (which resamples), or resample `pos_embedding` with "
          "resample_posemb.")
    table = self.pos_embedding[:, 1:] if self.cls_row else self.pos_embedding
    return tokens + ops.cast(table, tokens.dtype)

  def add_cls_row(self, tokens):
    """Adds the [cls] row to token 0 of `tokens` (batch, 1 + h*w, width), the prepended class token."""
    if not self.cls_row:
      raise ValueError(f"{self.name} has no [cls] row (cls_row=False).")
    first = tokens[:, :1] + ops.cast(self.pos_embedding[:, :1], tokens.dtype)
    return ops.concatenate([first, tokens[:, 1:]], axis=1)

  def compute_output_shape(self, input_shape):
    batch, height, width, dim = input_shape
    tokens = None if height is None or width is None else height * width
    return (batch, tokens, dim)

  def get_config(self):
    config = super().get_config()
    config.update({"kind": self.kind, "temperature": self.temperature, "cls_row": self.cls_row,
                   "stddev": self.stddev})
    return config
