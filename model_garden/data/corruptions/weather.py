"""Weather corruptions: snow, frost, fog, brightness (benchmark) and spatter (extra).

The paper files brightness under weather (sunlight). Each takes an NHWC float32 batch in [0, 1], a severity
1..5 and a stateless seed, and returns the batch in [0, 1].
"""

from __future__ import annotations

import tensorflow as tf

from model_garden.data.corruptions import filters, params, textures


def _split(seed, n):
  return tf.unstack(tf.random.experimental.stateless_split(seed, n))


def snow(x, severity, seed):
  """Snow flakes: zoomed thresholded noise, motion-blurred, added twice (as is and rotated 180 degrees).

  As the reference: N(mean, std) noise, clipped_zoom, zeroed below the threshold, truncated to uint8 (the
  PNG handed to ImageMagick), ImageMagick's -motion-blur at an angle uniform in [-135, -45) degrees
  (reimplemented: filters.motion_blur), rounded to 8 bits; the image is lifted towards
  max(x, 1.5 * gray + 0.5) with weight 1 - blend. Exact up to the random numbers and float32.
  """
  mean, std, zoom, threshold, radius, sigma, blend = params.SNOW[severity - 1]
  noise_seed, angle_seed = _split(seed, 2)
  shape = tf.shape(x)
  layer = mean + std * tf.random.stateless_normal([shape[0], shape[1], shape[2], 1], noise_seed)
  layer = filters.clipped_zoom(layer, zoom)
  layer = tf.where(layer < threshold, 0.0, layer)
  layer = tf.floor(tf.clip_by_value(layer, 0.0, 1.0) * 255.0)
  angles = tf.random.stateless_uniform([shape[0]], angle_seed, *params.SNOW_ANGLE, dtype=tf.float64)
  layer = tf.round(tf.clip_by_value(filters.motion_blur(layer, radius, sigma, angles), 0.0, 255.0)) / 255.0
  lifted = tf.maximum(x, filters.rgb_to_gray(x) * 1.5 + 0.5)
  x = blend * x + (1.0 - blend) * lifted
  return tf.clip_by_value(x + layer + tf.reverse(layer, axis=[1, 2]), 0.0, 1.0)


def frost(x, severity, seed):
  """clip(a * image + b * frost crop): APPROXIMATE, the frost photos are replaced by synthetic textures.

  The reference picks one of 5 frost photos (np.random.randint(5)) and a uniformly placed crop. Here the
  photos are textures.frost_textures() (procedural, 384 px): one of 5 is picked per image and a crop at a
  uniform offset in [0, 384 - size) is added. Images of 384 px or more use the textures bilinearly
  upscaled to (max side + 1) px, which enlarges the crystals.
  """
  image_weight, frost_weight = params.FROST[severity - 1]
  pick_seed, row_seed, col_seed = _split(seed, 3)
  shape = tf.shape(x)
  n, h, w = shape[0], shape[1], shape[2]
  bank = textures.frost_textures()
  size = textures.FROST_SIZE
  need = tf.maximum(h, w) + 1
  static_h, static_w = x.shape[1], x.shape[2]
  if static_h is not None and static_w is not None:
    if max(static_h, static_w) + 1 > size:
      side = max(static_h, static_w) + 1
      bank = tf.round(tf.image.resize(bank, [side, side]))
  else:
    bank = tf.cond(need > size, lambda: tf.round(tf.image.resize(bank, [need, need])), lambda: bank)
  side = tf.shape(bank)[1]
  index = tf.random.stateless_uniform([n], pick_seed, 0, params.FROST_NUM_TEXTURES, dtype=tf.int32)
  top = tf.random.stateless_uniform([n], row_seed, 0, side - h, dtype=tf.int32)
  left = tf.random.stateless_uniform([n], col_seed, 0, side - w, dtype=tf.int32)
  crops = tf.gather(bank, index)
  crops = tf.gather(crops, top[:, None] + tf.range(h)[None, :], axis=1, batch_dims=1)
  crops = tf.gather(crops, left[:, None] + tf.range(w)[None, :], axis=2, batch_dims=1)
  out = tf.clip_by_value(image_weight * x * 255.0 + frost_weight * crops, 0.0, 255.0) / 255.0
  out.set_shape(x.shape)
  return out


def _fog_mapsize(size: int) -> int:
  """The reference's 256, or the next power of two covering larger images (tfds' rule)."""
  mapsize = params.FOG_MAPSIZE
  while mapsize < size:
    mapsize *= 2
  return mapsize


def fog(x, severity, seed):
  """Adds a plasma fractal (diamond-square) and rescales by max / (max + strength).

  Exact up to the random numbers: the fractal is textures.plasma_fractal with the ImageNet-C script's
  mapsize 256, cropped to the top-left image-sized corner. Images over 256 px use the next power of two
  (as tfds does from 512), so larger images see the fractal at the same pixel scale.
  """
  strength, decay = params.FOG[severity - 1]
  shape = tf.shape(x)
  n, h, w = shape[0], shape[1], shape[2]
  static_h, static_w = x.shape[1], x.shape[2]
  if static_h is not None and static_w is not None:
    mapsize = _fog_mapsize(max(static_h, static_w))
  else:
    largest = tf.maximum(h, w)
    mapsize = tf.constant(params.FOG_MAPSIZE)
    mapsize = tf.while_loop(lambda m: m < largest, lambda m: m * 2, [mapsize])
  fractal = textures.plasma_fractal(seed, n, mapsize, decay)
  fractal = fractal[:, :h, :w, None]
  max_val = tf.reduce_max(x, axis=[1, 2, 3], keepdims=True)
  out = (x + strength * fractal) * max_val / (max_val + strength)
  out = tf.clip_by_value(out, 0.0, 1.0)
  out.set_shape(x.shape)
  return out


def brightness(x, severity, seed):
  """HSV value + c, clipped (skimage's rgb2hsv/hsv2rgb = tf.image's; exact up to float32)."""
  del seed
  hsv = tf.image.rgb_to_hsv(x)
  h, s, v = tf.unstack(hsv, axis=-1)
  v = tf.clip_by_value(v + params.BRIGHTNESS[severity - 1], 0.0, 1.0)
  return tf.clip_by_value(tf.image.hsv_to_rgb(tf.stack([h, s, v], axis=-1)), 0.0, 1.0)


def spatter(x, severity, seed):
  """Water drops (severities 1-3) or mud (4-5) from thresholded blurred noise.

  Water follows the reference step by step (cv2.Canny edges of the uint8 liquid layer, distance transform
  truncated at 20, 3x3 box blur, histogram equalisation, the emboss kernel saturated to uint8, box blur,
  times the liquid layer, normalised by its maximum) with TF reimplementations in `filters` (OpenCV's
  5x5 chamfer distance and Canny's suppression and hysteresis rules); the pale turquoise (175, 238, 238)
  is added to channels 0, 1, 2 as the script does. An image without any liquid gets no water (the
  reference would divide by zero). Mud is exact up to the random numbers.
  """
  mean, std, sigma, threshold, intensity, mud = params.SPATTER[severity - 1]
  shape = tf.shape(x)
  liquid = mean + std * tf.random.stateless_normal([shape[0], shape[1], shape[2], 1], seed)
  liquid = filters.gaussian_filter(liquid, sigma)
  liquid = tf.where(liquid < threshold, 0.0, liquid)
  if not mud:
    liquid = tf.floor(tf.clip_by_value(liquid * 255.0, 0.0, 255.0))  # .astype(np.uint8)
    edges = filters.canny(liquid, 50, 150)
    dist = filters.distance_to_zero(edges, 20.0)
    dist = tf.floor(filters.box_filter3(dist))
    dist = filters.equalize_hist(dist)
    emboss = [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]
    dist = tf.clip_by_value(tf.round(filters.correlate2d(dist, emboss, "reflect101")), 0.0, 255.0)
    dist = filters.box_filter3(dist)
    m = liquid * dist
    m = tf.math.divide_no_nan(m, tf.reduce_max(m, axis=[1, 2], keepdims=True)) * intensity
    color = tf.constant(params.SPATTER_WATER_COLOR, tf.float32) / 255.0
    return tf.clip_by_value(x + m * color, 0.0, 1.0)
  m = filters.gaussian_filter(tf.cast(liquid > threshold, tf.float32), intensity)
  m = tf.where(m < 0.8, 0.0, m)
  color = tf.constant(params.SPATTER_MUD_COLOR, tf.float32) / 255.0
  return tf.clip_by_value(x * (1.0 - m) + color * m, 0.0, 1.0)
