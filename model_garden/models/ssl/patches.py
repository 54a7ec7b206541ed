"""Patch geometry shared by the patch-based pretext tasks and their evaluation (no layers here).

"Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov, Zhai, Beyer 2019), after
`image_to_patches` in google/revisiting-self-supervised `patch_model_preprocess.py`: an S x S image is cut
into a `grid` x `grid` grid of cells of `S // grid` pixels (row-major order: cell k is row k // grid,
column k % grid), and a `patch_size` square is cropped from each cell at an offset in
[0, cell - patch_size] (random in training: the "jitter" that hides edge continuity; centred in
evaluation). Jigsaw and Relative Patch Location train on 255 px crops (85 px cells, 64 px patches,
jitter 21) and evaluate on 192 px crops (64 px cells, no jitter).
"""

from __future__ import annotations

import math

from keras import ops

from model_garden.layers.tensor_ops import stateless_uniform


def cell_geometry(image_size: int, grid: int, patch_size: int | None):
  """(cell, patch, jitter) for a square image; raises a ValueError naming the fix if they do not fit."""
  cell = int(image_size) // int(grid)
  patch = cell if patch_size is None else int(patch_size)
  if cell < 1 or patch < 1 or patch > cell:
    raise ValueError(f"A {grid}x{grid} grid on {image_size} px images has {cell} px cells, which cannot hold "
                     f"{patch} px patches. Use images of at least {grid * patch} px or a smaller patch_size.")
  return cell, patch, cell - patch


def grid_patches(images, grid: int = 3, patch_size: int | None = None, offsets=None):
  """Crops one patch per grid cell: [B, S, S, C] -> [B, grid * grid, P, P, C].

  Args:
    images: a batch of square images with static size.
    grid: cells per side.
    patch_size: side P of the patches (default: the cell size, i.e. no jitter).
    offsets: int32 [B, grid * grid, 2] (row, column) offsets of each patch inside its cell, each in
      [0, cell - P]; default: centred, (cell - P) // 2.

  Returns:
    The patches, cell-major in row-major cell order.
  """
  size = images.shape[1]
  if size is None or images.shape[2] != size:
    raise ValueError(f"grid_patches needs square images of static size, got shape {images.shape}.")
  cell, patch, jitter = cell_geometry(size, grid, patch_size)
  count = grid * grid
  if offsets is None:  # Static crops: nine slices, no gather.
    start = jitter // 2
    crops = [images[:, r * cell + start:r * cell + start + patch, c * cell + start:c * cell + start + patch]
             for r in range(grid) for c in range(grid)]
    return ops.stack(crops, axis=1)
  offsets = ops.cast(offsets, "int32")
  cells = ops.arange(count, dtype="int32")
  origin = ops.stack([cells // grid, cells % grid], axis=-1) * cell  # [count, 2]
  top_left = origin[None] + offsets  # [B, count, 2]
  steps = ops.arange(patch, dtype="int32")
  rows = top_left[..., 0:1] + steps  # [B, count, P]
  cols = top_left[..., 1:2] + steps
  # Rows first ([B, count * P, S, C]), then each patch's columns.
  picked = ops.take_along_axis(images, ops.reshape(rows, (-1, count * patch, 1, 1)), axis=1)
  picked = ops.reshape(picked, (-1, count, patch, size, images.shape[-1]))
  return ops.take_along_axis(picked, ops.reshape(cols, (-1, count, 1, patch, 1)), axis=3)


def random_offsets(batch, grid: int, jitter: int, seed):
  """Uniform int32 offsets in [0, jitter] for every (image, cell), from a stateless `seed`."""
  return stateless_uniform([batch, grid * grid, 2], seed, minval=0, maxval=jitter + 1, dtype="int32")


def per_image_standardization(images):
  """`tf.image.per_image_standardization` on the last three axes of any-rank input.

  (x - mean) / max(std, 1 / sqrt(N)), N = pixels * channels: the original's trick that removes each
  patch's low-level colour statistics so a patch task cannot be solved from them.
  """
  axes = [-3, -2, -1]
  mean = ops.mean(images, axis=axes, keepdims=True)
  variance = ops.mean(ops.square(images - mean), axis=axes, keepdims=True)
  count = ops.cast(math.prod(images.shape[-3:]), images.dtype)
  return (images - mean) / ops.maximum(ops.sqrt(variance), ops.rsqrt(count))
