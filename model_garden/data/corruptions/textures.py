"""Procedural assets: the fog's plasma fractal and the frost textures, built from TF ops.

The fog fractal is the reference's diamond-square algorithm (same recurrence, same quirks, other random
numbers). The frost textures are NOT the six frost photographs ImageNet-C overlays (`frost1.png` ...
`frost6.jpg`): they are synthetic ice-crystal-like textures (cloudy fractal noise, ridged crystal boundaries
and needle-like dendrites along three directions 60 degrees apart), made here so that the package needs no
asset files. Frost numbers are therefore not comparable with the released ImageNet-C frost images.
"""

from __future__ import annotations

import math

import tensorflow as tf

from model_garden.data.corruptions import filters, params

FROST_SIZE = 384  # side of each generated frost texture; crops come from it as from the reference's photos
_FROST_SEED = 0x66726F7374  # "frost": textures are fixed assets, the same in every process
_FROST_CACHE = {}


def plasma_fractal(seed, batch, mapsize, wibble_decay: float) -> tf.Tensor:
  """[batch, mapsize, mapsize] heightmaps in [0, 1] by the reference's diamond-square recurrence.

  As in make_imagenet_c.py: start from a single 0 corner; at each of log2(mapsize) levels the square
  centres become the mean of their 4 corners plus wibble * U(-wibble, wibble), then the diamond centres the
  mean of their 4 neighbours plus the same kind of noise (wrapping around, as np.roll does); wibble starts at
  100 and is divided by `wibble_decay` per level. Finally the map is shifted and scaled to [0, 1].
  Vectorised: each level doubles the grid by interleaving (corners, diamonds, squares). `mapsize` is a
  power of two, a Python int or a scalar int32 tensor (then the levels run in a tf.while_loop).
  """
  if isinstance(mapsize, int):
    if mapsize < 1 or mapsize & (mapsize - 1):
      raise ValueError(f"mapsize must be a power of two, got {mapsize}.")
    levels = int(math.log2(mapsize))
  else:
    levels = tf.cast(tf.round(tf.math.log(tf.cast(mapsize, tf.float32)) / math.log(2.0)), tf.int32)

  def level_step(level, grid, wibble):
    shape = tf.shape(grid)
    n = shape[1]
    seeds = tf.random.experimental.stateless_split(
        tf.random.experimental.stateless_fold_in(seed, tf.cast(level, tf.int64)), 3)

    def noise(k):
      return wibble * tf.random.stateless_uniform([batch, n, n], seeds[k], -wibble, wibble)

    corners = grid
    squares = corners + tf.roll(corners, -1, axis=1)
    squares = (squares + tf.roll(squares, -1, axis=2)) / 4.0 + noise(0)
    # Diamonds between horizontally adjacent corners (rows of corners), then vertically adjacent ones.
    row_diamonds = (squares + tf.roll(squares, 1, axis=1) + corners + tf.roll(corners, -1, axis=2)) / 4.0
    row_diamonds += noise(1)
    col_diamonds = (squares + tf.roll(squares, 1, axis=2) + corners + tf.roll(corners, -1, axis=1)) / 4.0
    col_diamonds += noise(2)
    top = tf.reshape(tf.stack([corners, row_diamonds], axis=-1), [batch, n, 2 * n])
    bottom = tf.reshape(tf.stack([col_diamonds, squares], axis=-1), [batch, n, 2 * n])
    grid = tf.reshape(tf.stack([top, bottom], axis=2), [batch, 2 * n, 2 * n])
    return level + 1, grid, wibble / wibble_decay

  state = (tf.constant(0), tf.zeros([batch, 1, 1], tf.float32), tf.constant(100.0))
  if isinstance(levels, int):
    for _ in range(levels):
      state = level_step(*state)
  else:
    state = tf.while_loop(lambda level, grid, wibble: level < levels, level_step, state,
                          shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, None, None]),
                                            tf.TensorShape([])))
  grid = state[1]
  grid -= tf.reduce_min(grid, axis=[1, 2], keepdims=True)
  return grid / tf.reduce_max(grid, axis=[1, 2], keepdims=True)


def _value_noise(seed, size: int, cell: int) -> tf.Tensor:
  """Smooth noise in [0, 1] with features about `cell` pixels apart (bicubic upsampling of a grid)."""
  cells = size // cell + 2
  grid = tf.random.stateless_uniform([1, cells, cells, 1], seed)
  up = tf.image.resize(grid, [cells * cell, cells * cell], method="bicubic")
  return tf.clip_by_value(up[0, cell // 2:cell // 2 + size, cell // 2:cell // 2 + size, 0], 0.0, 1.0)


def _fractal_noise(seed, size: int, base_cell: int, octaves: int) -> tf.Tensor:
  total, norm = 0.0, 0.0
  for k in range(octaves):
    amplitude = 0.55 ** k
    total += amplitude * _value_noise(tf.random.experimental.stateless_fold_in(seed, k), size,
                                      max(2, base_cell >> k))
    norm += amplitude
  return total / norm


def _segments(seed, size: int, count: int, angle, length: int, centre=None):
  """Points of `count` fading line segments (2 * length + 1 px) along `angle` (radians, per segment).

  Returns ([count * (2 length + 1), 2] integer pixel coordinates, wrapped to the texture; their intensities;
  the float segment centres). Centres are uniform unless given.
  """
  if centre is None:
    centre = tf.random.stateless_uniform([count, 2], seed, 0.0, float(size))
  brightness = tf.random.stateless_uniform([count, 1], tf.random.experimental.stateless_fold_in(seed, 1),
                                           0.5, 1.0)
  t = tf.range(-length, length + 1, dtype=tf.float32)[None, :]
  angle = tf.broadcast_to(tf.convert_to_tensor(angle, tf.float32), [count])[:, None]
  rows = centre[:, :1] + t * tf.sin(angle)
  cols = centre[:, 1:] + t * tf.cos(angle)
  points = tf.stack([tf.round(rows), tf.round(cols)], axis=-1)
  points = tf.math.floormod(tf.cast(tf.reshape(points, [-1, 2]), tf.int32), size)
  fade = 1.0 - tf.abs(t) / (length + 1.0)
  return points, tf.reshape(brightness * fade, [-1]), centre


def _dendrites(seed, size: int, rotation: float) -> tf.Tensor:
  """Needle-like ice dendrites: trunks along three directions 60 degrees apart, side branches at +-60."""
  fold = lambda k: tf.random.experimental.stateless_fold_in(seed, k)  # noqa: E731
  canvas = tf.zeros([size, size])
  trunks_per_direction, branches_per_trunk = 180, 4
  for k in range(3):
    angle = rotation + k * math.pi / 3.0
    points, values, centres = _segments(fold(10 + k), size, trunks_per_direction, angle, 22)
    canvas = tf.tensor_scatter_nd_max(canvas, points, values)
    # Branch roots spread along each trunk.
    along = tf.random.stateless_uniform([trunks_per_direction, branches_per_trunk], fold(20 + k), -20.0, 20.0)
    roots = centres[:, None, :] + along[..., None] * tf.constant([math.sin(angle), math.cos(angle)])
    roots = tf.reshape(roots, [-1, 2])
    count = trunks_per_direction * branches_per_trunk
    side = tf.where(tf.random.stateless_uniform([count], fold(30 + k)) < 0.5, -1.0, 1.0)
    # A branch starts at its root: shift the centre by half its length along the branch direction.
    branch_angle = angle + side * (math.pi / 3.0)
    start = roots + 7.0 * tf.stack([tf.sin(branch_angle), tf.cos(branch_angle)], axis=-1)
    points, values, _ = _segments(fold(40 + k), size, count, branch_angle, 7, centre=start)
    canvas = tf.tensor_scatter_nd_max(canvas, points, 0.8 * values)
  return canvas


def make_frost_texture(index: int, size: int = FROST_SIZE) -> tf.Tensor:
  """One synthetic frost texture, [size, size, 3] float32 with integer values in [0, 255].

  Layers (all seeded by `index`, so a texture is a fixed asset): a cloudy fractal haze; ridged fractal
  noise (1 - |2n - 1|, sharpened) for the network of crystal boundaries; needle dendrites (line segments
  along three directions 60 degrees apart at a per-texture rotation, with side branches at +-60 degrees).
  The result is slightly blurred, tinted pale blue-white and quantised to 8 bits like a photo.
  """
  seed = tf.constant([_FROST_SEED, index], tf.int64)
  fold = lambda k: tf.random.experimental.stateless_fold_in(seed, k)  # noqa: E731
  haze = _fractal_noise(fold(1), size, 96, 5)
  ridges = 1.0 - tf.abs(2.0 * _fractal_noise(fold(2), size, 48, 4) - 1.0)
  ridges = ridges ** 6
  rotation = 2.0 * math.pi * ((0.6180339887 * (index + 1)) % 1.0)
  needles = _dendrites(fold(3), size, rotation)
  texture = 0.55 * haze + 0.35 * ridges + 0.6 * needles
  texture = filters.gaussian_filter(texture[None, :, :, None], 0.7, mode="wrap")[0]
  texture = tf.clip_by_value(texture, 0.0, 1.0)
  tint = tf.constant([0.84, 0.92, 1.0])
  return tf.round(255.0 * tf.clip_by_value(texture * tint + tf.constant([0.02, 0.04, 0.08]), 0.0, 1.0))


def frost_textures(size: int = FROST_SIZE) -> tf.Tensor:
  """The bank of params.FROST_NUM_TEXTURES frost textures, [5, size, size, 3] float32 in [0, 255].

  Built once per process and size outside any graph being traced (tf.init_scope) and embedded as a uint8
  constant, so a tf.data map does not regenerate them per image.
  """
  key = int(size)
  if key not in _FROST_CACHE:
    with tf.init_scope():
      bank = tf.stack([make_frost_texture(i, key) for i in range(params.FROST_NUM_TEXTURES)])
      bank = tf.cast(bank, tf.uint8)
      if not tf.executing_eagerly():  # a TF1-style graph: nothing to cache
        return tf.cast(bank, tf.float32)
      _FROST_CACHE[key] = bank.numpy()
  return tf.cast(tf.constant(_FROST_CACHE[key]), tf.float32)
