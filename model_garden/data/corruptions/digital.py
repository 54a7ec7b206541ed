"""Digital corruptions: contrast, elastic, pixelate, JPEG (benchmark) and saturate (extra).

Each takes an NHWC float32 batch in [0, 1], a severity 1..5 and a stateless seed, and returns the batch in
[0, 1].
"""

from __future__ import annotations

import tensorflow as tf

from model_garden.data.corruptions import filters, params


def contrast(x, severity, seed):
  """(x - per-channel mean) * c + mean, clipped (exact)."""
  del seed
  means = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
  return tf.clip_by_value((x - means) * params.CONTRAST[severity - 1] + means, 0.0, 1.0)


def _affine_from_points(src, dst):
  """cv2.getAffineTransform for batches: [N, 3, 2] point triples -> [N, 3, 2] A with [x y 1] @ A = dst."""
  ones = tf.ones_like(src[..., :1])
  return tf.linalg.solve(tf.concat([src, ones], axis=-1), dst)


def elastic_transform(x, severity, seed):
  """A random affine warp, then a smooth random displacement field (scipy map_coordinates, order 1).

  As the reference: three points around the centre (at +-min(H, W) // 3, written in OpenCV's (x, y) order
  from (H // 2, W // 2) as the script does) moved by U(-range, range); cv2.warpAffine (bilinear,
  BORDER_REFLECT_101); displacements alpha * gaussian(U(-1, 1), sigma, mode='reflect', truncate=3) per axis;
  map_coordinates(order=1, mode='reflect'). Approximate only in that OpenCV quantises warp coordinates to
  1/32 px and the bilinear sampling here is exact. The 244-based parameters are the script's own.
  """
  alpha, sigma, affine_range = params.ELASTIC_TRANSFORM[severity - 1]
  affine_seed, dx_seed, dy_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
  shape = tf.shape(x)
  n, h, w = shape[0], shape[1], shape[2]
  hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
  center = tf.stack([tf.floor(hf / 2.0), tf.floor(wf / 2.0)])
  half = tf.floor(tf.minimum(hf, wf) / 3.0)
  pts1 = tf.stack([center + half, tf.stack([center[0] + half, center[1] - half]), center - half])
  pts1 = tf.broadcast_to(pts1[None], [n, 3, 2])
  pts2 = pts1 + tf.random.stateless_uniform([n, 3, 2], affine_seed, -affine_range, affine_range)
  inverse = _affine_from_points(pts2, pts1)  # output (x, y) -> source (x, y)
  cols = tf.range(wf)[None, None, :]
  rows = tf.range(hf)[None, :, None]
  a = inverse[:, :, None, None, :]
  src_x = a[:, 0, ..., 0] * cols + a[:, 1, ..., 0] * rows + a[:, 2, ..., 0]
  src_y = a[:, 0, ..., 1] * cols + a[:, 1, ..., 1] * rows + a[:, 2, ..., 1]
  warped = filters.sample_bilinear(x, src_y, src_x, "reflect101")

  def field(field_seed):
    u = tf.random.stateless_uniform([n, h, w, 1], field_seed, -1.0, 1.0)
    return alpha * filters.gaussian_filter(u, sigma, truncate=3.0, mode="symmetric")[..., 0]

  out = filters.sample_bilinear(warped, rows + field(dy_seed), cols + field(dx_seed), "symmetric")
  out = tf.clip_by_value(out, 0.0, 1.0)
  out.set_shape(x.shape)
  return out


def _box_matrix(n_in, n_out):
  """PIL's BOX resampling as an [n_out, n_in] matrix (Pillow's precompute_coeffs with box_filter).

  Downscaling: output o averages the inputs whose centres fall in [o * s, (o + 1) * s), s = n_in / n_out;
  upscaling: output o copies input floor((o + 0.5) * s).
  """
  scale = tf.cast(n_in, tf.float64) / tf.cast(n_out, tf.float64)
  o = tf.range(tf.cast(n_out, tf.float64))[:, None]
  j = tf.range(tf.cast(n_in, tf.float64))[None, :]
  lo = tf.floor(o * scale + 0.5)
  hi = tf.floor((o + 1.0) * scale + 0.5)
  nearest = tf.floor((o + 0.5) * scale)
  down = tf.cast((j >= lo) & (j < hi), tf.float64)
  up = tf.cast(tf.equal(j, nearest), tf.float64)
  matrix = tf.where(scale >= 1.0, down, up)
  return tf.cast(matrix / tf.reduce_sum(matrix, axis=1, keepdims=True), tf.float32)


def _pil_box_resize(x255, height, width):
  """PIL Image.resize((width, height), BOX) of 8-bit images: horizontal pass, round, vertical, round."""
  shape = tf.shape(x255)
  x255 = tf.einsum("vw,nhwc->nhvc", _box_matrix(shape[2], width), x255)
  x255 = tf.clip_by_value(tf.floor(x255 + 0.5), 0.0, 255.0)
  x255 = tf.einsum("uh,nhwc->nuwc", _box_matrix(shape[1], height), x255)
  return tf.clip_by_value(tf.floor(x255 + 0.5), 0.0, 255.0)


def pixelate(x, severity, seed):
  """PIL BOX resize to int(size * c), then BOX back (the ImageNet-C script; tfds uses PIL's default filter).

  Exact up to Pillow's fixed-point rounding of the averages.
  """
  del seed
  c = params.PIXELATE[severity - 1]
  shape = tf.shape(x)
  h, w = shape[1], shape[2]
  small_h = tf.maximum(tf.cast(tf.floor(tf.cast(h, tf.float64) * c), tf.int32), 1)
  small_w = tf.maximum(tf.cast(tf.floor(tf.cast(w, tf.float64) * c), tf.int32), 1)
  x255 = tf.round(x * 255.0)  # the reference resizes the uint8 PIL image
  out = _pil_box_resize(_pil_box_resize(x255, small_h, small_w), h, w) / 255.0
  out.set_shape(x.shape)
  return out


def jpeg_roundtrip(x, quality: int):
  """Encodes as 8-bit JPEG at `quality` and decodes (libjpeg's ISLOW DCT both ways, 4:2:0 chroma, as PIL)."""
  u8 = tf.cast(tf.clip_by_value(tf.round(x * 255.0), 0.0, 255.0), tf.uint8)

  def one(image):
    encoded = tf.io.encode_jpeg(image, quality=int(quality), chroma_downsampling=True)
    return tf.io.decode_jpeg(encoded, channels=0, dct_method="INTEGER_ACCURATE")

  out = tf.map_fn(one, u8, fn_output_signature=tf.TensorSpec([None, None, x.shape[-1]], tf.uint8))
  out = tf.cast(out, tf.float32) / 255.0
  out.set_shape(x.shape)
  return out


def jpeg_compression(x, severity, seed):
  """JPEG at quality c (tf.io.encode_jpeg = libjpeg, as PIL's save; exact-ish: library versions differ)."""
  del seed
  return jpeg_roundtrip(x, params.JPEG_COMPRESSION[severity - 1])


def saturate(x, severity, seed):
  """HSV saturation * a + b, clipped (exact up to float32)."""
  del seed
  scale, shift = params.SATURATE[severity - 1]
  h, s, v = tf.unstack(tf.image.rgb_to_hsv(x), axis=-1)
  s = tf.clip_by_value(s * scale + shift, 0.0, 1.0)
  return tf.clip_by_value(tf.image.hsv_to_rgb(tf.stack([h, s, v], axis=-1)), 0.0, 1.0)
