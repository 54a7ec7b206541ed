"""TF building blocks shared by the corruptions: border modes, filters, resampling, colour.

Everything works on float32 NHWC batches and runs in graph mode (tf.data). numpy only builds small constant
kernels from the severity tables when a function is traced; no numpy runs per image.

Border modes use scipy's / OpenCV's meanings, named explicitly:
  'edge'        a a a | a b c d | d d d   (scipy 'nearest', cv2 BORDER_REPLICATE, ImageMagick edge pixels)
  'symmetric'   c b a | a b c d | d c b   (scipy / skimage 'reflect')
  'reflect101'  d c b | a b c d | c b a   (cv2 BORDER_REFLECT_101, numpy / tf 'reflect', scipy 'mirror')
  'wrap'        b c d | a b c d | a b c
Padding by more than the image size folds again (as scipy does), so every size works.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import tensorflow as tf

MODES = ("edge", "symmetric", "reflect101", "wrap")


def fold_indices(idx: tf.Tensor, n, mode: str) -> tf.Tensor:
  """Maps integer indices (any value) into [0, n) by the border `mode`."""
  idx = tf.convert_to_tensor(idx)
  n = tf.cast(n, idx.dtype)
  if mode == "edge":
    return tf.clip_by_value(idx, 0, n - 1)
  if mode == "wrap":
    return tf.math.floormod(idx, n)
  if mode == "symmetric":
    period = 2 * n
    i = tf.math.floormod(idx, period)
    return tf.where(i >= n, period - 1 - i, i)
  if mode == "reflect101":
    period = tf.maximum(2 * n - 2, 1)
    i = tf.math.floormod(idx, period)
    return tf.where(i >= n, period - i, i)
  raise ValueError(f"Unknown border mode {mode!r}; use one of {MODES}.")


def pad_axis(x: tf.Tensor, axis: int, before: int, after: int, mode: str) -> tf.Tensor:
  """Pads `x` along `axis` by `before`/`after` entries filled by the border `mode`."""
  if before == 0 and after == 0:
    return x
  n = tf.shape(x)[axis]
  idx = fold_indices(tf.range(-before, n + after), n, mode)
  return tf.gather(x, idx, axis=axis)


def _to_planes(x):
  """[N, H, W, C] -> [N * C, H, W, 1]: every channel of every image filtered on its own."""
  shape = tf.shape(x)
  planes = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [-1, shape[1], shape[2], 1])
  return planes, shape


def _from_planes(planes, shape, static_shape):
  out = tf.transpose(tf.reshape(planes, [shape[0], shape[3], shape[1], shape[2]]), [0, 2, 3, 1])
  out.set_shape(static_shape)
  return out


def correlate2d(x: tf.Tensor, kernel, mode: str) -> tf.Tensor:
  """Same-size 2-D correlation of each channel with `kernel` ([kh, kw], odd sizes, anchor at the centre).

  With mode='reflect101' this is cv2.filter2D's default; OpenCV filters correlate (no kernel flip). Kernels
  from 7x7 up go through an FFT of the padded image (5-10x faster than conv2d for defocus's 17-21 px
  disks; differences ~1e-6 of the value range).
  """
  kernel = np.asarray(kernel, np.float32)
  kh, kw = kernel.shape
  planes, shape = _to_planes(x)
  planes = pad_axis(pad_axis(planes, 1, kh // 2, kh // 2, mode), 2, kw // 2, kw // 2, mode)
  if kh * kw < 49:
    out = tf.nn.conv2d(planes, tf.constant(kernel[:, :, None, None]), strides=1, padding="VALID")
    return _from_planes(out, shape, x.shape)
  planes = planes[..., 0]
  ph, pw = tf.shape(planes)[1], tf.shape(planes)[2]
  # Circular convolution with the flipped kernel: output i lands at i + (k - 1), past any wrap-around.
  flipped = tf.pad(tf.constant(kernel[::-1, ::-1].copy()), [[0, ph - kh], [0, pw - kw]])
  spectrum = tf.signal.rfft2d(planes) * tf.signal.rfft2d(flipped)[None]
  out = tf.signal.irfft2d(spectrum, fft_length=[ph, pw])[:, kh - 1:, kw - 1:, None]
  return _from_planes(out, shape, x.shape)


def correlate1d(x: tf.Tensor, kernel, axis: int, mode: str) -> tf.Tensor:
  """Same-size 1-D correlation along axis 1 (rows) or 2 (columns) of an NHWC batch."""
  kernel = np.asarray(kernel, np.float32)
  radius = len(kernel) // 2
  if radius >= 48:
    return _correlate1d_matrix(x, kernel, axis, mode)
  planes, shape = _to_planes(x)
  planes = pad_axis(planes, axis, radius, radius, mode)
  k = kernel[:, None] if axis == 1 else kernel[None, :]
  out = tf.nn.conv2d(planes, tf.constant(k[:, :, None, None]), strides=1, padding="VALID")
  return _from_planes(out, shape, x.shape)


def _correlate1d_matrix(x, kernel, axis, mode):
  """Long kernels (elastic's sigma of 171 px spans 1027 taps) as one [n, n] matrix: O(n^2), not O(n k)."""
  n = tf.shape(x)[axis]
  radius = len(kernel) // 2
  taps = tf.range(-radius, radius + 1)
  rows = tf.range(n)[:, None]
  src = fold_indices(rows + taps[None, :], n, mode)
  weights = tf.broadcast_to(tf.constant(kernel)[None, :], tf.shape(src))
  matrix = tf.math.unsorted_segment_sum(tf.reshape(weights, [-1]), tf.reshape(rows * n + src, [-1]), n * n)
  matrix = tf.reshape(matrix, [n, n])
  if axis == 1:
    return tf.einsum("ij,njwc->niwc", matrix, x)
  return tf.einsum("ij,nhjc->nhic", matrix, x)


@functools.lru_cache(maxsize=None)
def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> np.ndarray:
  """scipy.ndimage.gaussian_filter1d's kernel: radius int(truncate * sigma + 0.5), normalised."""
  radius = int(truncate * float(sigma) + 0.5)
  t = np.arange(-radius, radius + 1, dtype=np.float64)
  phi = np.exp(-0.5 * t * t / float(sigma) ** 2)
  return phi / phi.sum()


def gaussian_filter(x: tf.Tensor, sigma: float, truncate: float = 4.0, mode: str = "edge") -> tf.Tensor:
  """skimage.filters.gaussian on an NHWC batch: each channel blurred over H and W (not across channels).

  skimage's defaults are truncate=4 and mode='nearest' ('edge' here).
  """
  kernel = gaussian_kernel1d(float(sigma), float(truncate))
  return correlate1d(correlate1d(x, kernel, 1, mode), kernel, 2, mode)


def box_filter3(x: tf.Tensor) -> tf.Tensor:
  """cv2.blur(x, (3, 3)): the normalised 3x3 box, BORDER_REFLECT_101."""
  k = np.full([3], 1.0 / 3.0)
  return correlate1d(correlate1d(x, k, 1, "reflect101"), k, 2, "reflect101")


def lerp_along(x: tf.Tensor, coords: tf.Tensor, axis: int, mode: str) -> tf.Tensor:
  """Linear interpolation of `x` at float `coords` (one coordinate per output index) along one axis."""
  n = tf.shape(x)[axis]
  coords = tf.cast(coords, tf.float64)
  base = tf.floor(coords)
  frac = tf.cast(coords - base, tf.float32)
  i0 = tf.cast(base, tf.int32)
  lo = tf.gather(x, fold_indices(i0, n, mode), axis=axis)
  hi = tf.gather(x, fold_indices(i0 + 1, n, mode), axis=axis)
  shape = [1, 1, 1, 1]
  shape[axis] = -1
  return lo + (hi - lo) * tf.reshape(frac, shape)


def sample_bilinear(x: tf.Tensor, rows: tf.Tensor, cols: tf.Tensor, mode: str) -> tf.Tensor:
  """Bilinear samples of an NHWC batch at per-pixel float coordinates `rows`, `cols` ([N, H', W']).

  Neighbours outside the image come from the border `mode` (scipy map_coordinates' convention for order=1).
  """
  shape = tf.shape(x)
  h, w, c = shape[1], shape[2], shape[3]
  flat = tf.reshape(x, [shape[0], -1, c])
  r0f, c0f = tf.floor(rows), tf.floor(cols)
  wr, wc = (rows - r0f)[..., None], (cols - c0f)[..., None]
  r0, c0 = tf.cast(r0f, tf.int32), tf.cast(c0f, tf.int32)

  def at(r, col):
    idx = fold_indices(r, h, mode) * w + fold_indices(col, w, mode)
    return tf.gather(flat, idx, batch_dims=1)

  top = at(r0, c0) * (1 - wc) + at(r0, c0 + 1) * wc
  bottom = at(r0 + 1, c0) * (1 - wc) + at(r0 + 1, c0 + 1) * wc
  return top * (1 - wr) + bottom * wr


def clipped_zoom(x: tf.Tensor, zoom: float) -> tf.Tensor:
  """The reference's clipped_zoom: scipy.ndimage.zoom(order=1) of the central crop, trimmed to size.

  The crop is ceil(n / zoom) pixels, zoomed to round(crop * zoom) with scipy's corner-aligned mapping
  (input = output * (crop - 1) / (zoomed - 1)) and trimmed centrally. Rows and columns are handled
  separately (tfds' generalisation; the ImageNet-C script assumed square images).
  """
  shape = tf.shape(x)
  for axis in (1, 2):
    n = tf.cast(shape[axis], tf.float64)
    crop = tf.math.ceil(n / zoom)
    top = tf.math.floordiv(n - crop, 2.0)
    zoomed = tf.round(crop * zoom)  # Python's round(): half to even, as tf.round
    trim = tf.math.floordiv(zoomed - n, 2.0)
    scale = tf.math.divide_no_nan(crop - 1.0, zoomed - 1.0)
    coords = top + (tf.range(n, dtype=tf.float64) + trim) * scale
    x = lerp_along(x, coords, axis, "edge")
  return x


def correlate2d_per_image(x: tf.Tensor, kernels: tf.Tensor, radius: int, mode: str) -> tf.Tensor:
  """Same-size correlation of image n (all channels) with kernels[n] ([N, 2r + 1, 2r + 1]), by FFT."""
  size = 2 * radius + 1
  padded = pad_axis(pad_axis(x, 1, radius, radius, mode), 2, radius, radius, mode)
  planes = tf.transpose(padded, [0, 3, 1, 2])  # [N, C, H + 2r, W + 2r]
  ph, pw = tf.shape(planes)[2], tf.shape(planes)[3]
  flipped = tf.pad(tf.reverse(kernels, axis=[1, 2]), [[0, 0], [0, ph - size], [0, pw - size]])
  spectrum = tf.signal.rfft2d(planes) * tf.signal.rfft2d(flipped)[:, None]
  out = tf.signal.irfft2d(spectrum, fft_length=[ph, pw])[:, :, size - 1:, size - 1:]
  out = tf.transpose(out, [0, 2, 3, 1])
  out.set_shape(x.shape)
  return out


def motion_blur(x: tf.Tensor, radius: float, sigma: float, angles: tf.Tensor) -> tf.Tensor:
  """ImageMagick 6's MotionBlurImage (`-motion-blur RxS+A`) on an NHWC batch, one angle per image.

  Facts from MagickCore/effect.c: width = 2 * ceil(radius) + 1 taps; tap i weighs exp(-i^2 / (2 sigma^2)),
  normalised (a one-sided Gaussian: the blur trails in one direction); tap i reads the pixel at
  (x + ceil(i cos(a) - 0.5), y + ceil(i sin(a) - 0.5)), with edge pixels outside the image. The taps are
  scattered into one sparse kernel per image, applied by FFT (taps landing on the same pixel add up, as
  the sum over taps does).
  """
  width = 2 * int(math.ceil(radius)) + 1
  taps = np.exp(-(np.arange(width, dtype=np.float64) ** 2) / (2.0 * sigma * sigma))
  taps /= taps.sum()
  theta = tf.cast(angles, tf.float64) * (math.pi / 180.0)
  i = tf.range(width, dtype=tf.float64)[None, :]
  dx = tf.cast(tf.math.ceil(i * tf.cos(theta)[:, None] - 0.5), tf.int32) + width
  dy = tf.cast(tf.math.ceil(i * tf.sin(theta)[:, None] - 0.5), tf.int32) + width
  size = 2 * width + 1
  flat = dy * size + dx  # [N, width] positions in the [size, size] kernel
  weights = tf.constant(taps, tf.float32)[None, :, None]
  kernels = tf.reduce_sum(tf.one_hot(flat, size * size, dtype=tf.float32) * weights, axis=1)
  kernels = tf.reshape(kernels, [-1, size, size])
  return correlate2d_per_image(x, kernels, width, "edge")


def rgb_to_gray(x: tf.Tensor) -> tf.Tensor:
  """cv2.COLOR_RGB2GRAY on float images: 0.299 R + 0.587 G + 0.114 B, keeping a channel axis."""
  return tf.reduce_sum(x * tf.constant([0.299, 0.587, 0.114], x.dtype), axis=-1, keepdims=True)


def shift2d(x: tf.Tensor, dy: int, dx: int, fill: float) -> tf.Tensor:
  """x[:, i - dy, j - dx] with `fill` where that falls outside the image (static integer shifts)."""
  shape = tf.shape(x)
  h, w = shape[1], shape[2]
  pads = [[0, 0], [max(dy, 0), max(-dy, 0)], [max(dx, 0), max(-dx, 0)], [0, 0]]
  padded = tf.pad(x, pads, constant_values=fill)
  return padded[:, max(-dy, 0):max(-dy, 0) + h, max(-dx, 0):max(-dx, 0) + w, :]


def canny(image: tf.Tensor, low: float, high: float) -> tf.Tensor:
  """cv2.Canny(uint8 image, low, high) with its defaults (3x3 Sobel, L1 gradient), on [N, H, W, 1].

  Sobel with BORDER_REPLICATE; non-maximum suppression in four directions with OpenCV's comparisons
  (tan 22.5 / tan 67.5 sectors, `m > one neighbour and m >= the other`); hysteresis: pixels above `low`
  that survive suppression join the edge when 8-connected to a pixel above `high`. Returns 0/1 float.
  """
  img = tf.cast(image, tf.float32)
  sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
  gx = correlate2d(img, sobel_x, "edge")
  gy = correlate2d(img, sobel_x.T, "edge")
  mag = tf.abs(gx) + tf.abs(gy)
  # OpenCV pads the magnitude with zeros for the neighbour comparisons.
  left, right = shift2d(mag, 0, 1, 0.0), shift2d(mag, 0, -1, 0.0)
  up, down = shift2d(mag, 1, 0, 0.0), shift2d(mag, -1, 0, 0.0)
  up_left, down_right = shift2d(mag, 1, 1, 0.0), shift2d(mag, -1, -1, 0.0)
  up_right, down_left = shift2d(mag, 1, -1, 0.0), shift2d(mag, -1, 1, 0.0)
  ax, ay = tf.abs(gx), tf.abs(gy)
  tan22 = 0.4142135623730950488
  horizontal = ay < ax * tan22
  vertical = ay > ax * (tan22 + 2.0)
  same_sign = tf.equal(gx >= 0, gy >= 0)  # OpenCV: s = (xs ^ ys) < 0 ? -1 : 1
  keep_h = (mag > left) & (mag >= right)
  keep_v = (mag > up) & (mag >= down)
  keep_d = tf.where(same_sign, (mag > up_left) & (mag > down_right), (mag > up_right) & (mag > down_left))
  keep = tf.where(horizontal, keep_h, tf.where(vertical, keep_v, keep_d))
  candidate = keep & (mag > math.floor(low))
  strong = candidate & (mag > math.floor(high))
  candidate_f = tf.cast(candidate, tf.float32)

  def grow(edges, _):
    grown = tf.nn.max_pool2d(edges, 3, 1, "SAME") * candidate_f
    return tf.maximum(edges, grown), tf.reduce_any(grown > edges)

  edges, changed = grow(tf.cast(strong, tf.float32), None)
  edges, _ = tf.while_loop(lambda e, c: c, lambda e, c: grow(e, c), (edges, changed))
  edges.set_shape(image.shape)
  return edges


# OpenCV's 5x5 chamfer mask for DIST_L2 (distransform.cpp): a = 1, b = 1.4, c = 2.1969.
_CHAMFER5 = tuple((dy, dx, w) for dy in range(-2, 3) for dx in range(-2, 3)
                  for w in [{1: 1.0, 2: 1.4, 5: 2.1969}.get(dy * dy + dx * dx)] if w is not None)


def distance_to_zero(mask_zero: tf.Tensor, cap: float) -> tf.Tensor:
  """cv2.distanceTransform(src, DIST_L2, 5) followed by a truncation at `cap`, on [N, H, W, 1].

  `mask_zero` is 1 where src == 0. The chamfer distance is the shortest path over the 5x5 mask's steps; with
  every step >= 1, `ceil(cap)` rounds of parallel relaxation (a min-plus erosion with the mask) find every
  distance up to `cap` exactly.
  """
  big = 1e4
  weights = np.full([5, 5], big, np.float32)
  weights[2, 2] = 0.0
  for dy, dx, w in _CHAMFER5:
    weights[dy + 2, dx + 2] = w
  # erosion2d computes min(value - filter): a filter of -weights adds the step costs.
  structure = tf.constant(-weights[:, :, None])
  dist = (1.0 - tf.cast(mask_zero, tf.float32)) * big
  for _ in range(int(math.ceil(cap))):
    dist = tf.nn.erosion2d(dist, structure, [1, 1, 1, 1], "SAME", "NHWC", [1, 1, 1, 1])
  return tf.minimum(dist, cap)


def equalize_hist(image: tf.Tensor) -> tf.Tensor:
  """cv2.equalizeHist per image on integer-valued [N, H, W, 1] float input in [0, 255].

  lut[i] = round(255 * (cdf[i] - hist[i0]) / (total - hist[i0])) with i0 the lowest occupied bin;
  a constant image maps to itself.
  """
  shape = tf.shape(image)
  n = shape[0]
  values = tf.cast(tf.reshape(image, [n, -1]), tf.int32)
  offsets = tf.range(n)[:, None] * 256
  hist = tf.reshape(tf.math.bincount(tf.reshape(values + offsets, [-1]), minlength=256 * n,
                                     maxlength=256 * n, dtype=tf.float32), [n, 256])
  total = tf.cast(tf.shape(values)[1], tf.float32)
  first = tf.argmax(tf.cast(hist > 0, tf.int32), axis=1, output_type=tf.int32)
  first_count = tf.gather(hist, first, batch_dims=1)[:, None]
  cdf = tf.cumsum(hist, axis=1)
  scale = 255.0 / tf.maximum(total - first_count, 1.0)
  lut = tf.clip_by_value(tf.round((cdf - first_count) * scale), 0.0, 255.0)
  bins = tf.range(256)[None, :]
  lut = tf.where(bins < first[:, None], 0.0, lut)
  constant = tf.equal(first_count[:, 0], total)
  lut = tf.where(constant[:, None], tf.cast(first[:, None], tf.float32), lut)
  out = tf.gather(lut, values, batch_dims=1)
  return tf.reshape(out, shape)
