"""Procedural scenes and captions for `mg_shapes`, kept free of TensorFlow.

The renderer is a pure function of a `numpy.random.Generator`, so every example is reproducible from its seed
alone and examples can be generated in any order, in any process. Keeping it apart from the tfds builder lets
tests and notebooks draw scenes directly, without preparing a dataset.

Scenes are deliberately unambiguous: all objects of an image share one shape, colour and size and sit together
in one region, so that each label (and every caption) describes the whole image. Every decision about the
scene is drawn from the generator before any pixel noise, so the same seed depicts the same scene at every
image size.
"""

from __future__ import annotations

import colorsys
import io
import re
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

# Eight shapes whose silhouettes stay distinct even at 32 px (a hexagon or pentagon would blur into a circle).
SHAPES: Tuple[str, ...] = ("circle", "square", "triangle", "diamond", "star", "cross", "heart", "ring")
COLOURS: Dict[str, Tuple[int, int, int]] = {
    "red": (215, 30, 30),
    "green": (30, 150, 50),
    "blue": (30, 80, 225),
    "yellow": (250, 220, 30),
    "purple": (130, 45, 175),
    "orange": (250, 130, 0),
    "white": (250, 250, 250),
    "black": (12, 12, 12),
    "pink": (245, 115, 190),
    "cyan": (20, 200, 220),
}
COLOUR_NAMES: Tuple[str, ...] = tuple(COLOURS)
SIZES: Tuple[str, ...] = ("small", "large")
POSITIONS: Tuple[str, ...] = ("left", "right", "top", "bottom", "center")
BACKGROUNDS: Tuple[str, ...] = ("solid", "gradient", "noise", "stripes")
MAX_COUNT = 4
NUM_CAPTIONS = 5

# Geometry, in units of the image side. Cells are spaced PITCH apart; a large object is at most
# 0.27 so that neighbouring objects never touch, even with the in-cell jitter below.
_PITCH = 0.31
_MARGIN = 0.03
_GROUP_JITTER = 0.03  # Towards the middle, for groups pushed against an edge.
_FREE_JITTER = 0.08  # Along an axis where the group is centred.
_OBJECT_SIDE = {"small": (0.16, 0.18), "large": (0.24, 0.27)}
# (rows, cols, horizontal anchor, vertical anchor) of each region's grid. The whole group is pushed against
# the region's edge (or centred) so that its centroid, not just one object, says where it is.
_REGIONS = {
    "left": (3, 2, "start", "center"),
    "right": (3, 2, "end", "center"),
    "top": (2, 3, "center", "start"),
    "bottom": (2, 3, "center", "end"),
    "center": (2, 2, "center", "center"),
}
_SUPERSAMPLE = 4  # Shapes are drawn this many times larger, then box-filtered: cheap anti-aliasing.

# Backgrounds are desaturated so they never read as one of the object colours.
_MIN_RGB_DISTANCE = 110.0
_MIN_LUMA_DIFFERENCE = 35.0
_NOISE_STD = 6.0


# --------------------------------------------------------------------------------------------- geometry ---

def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
  """One of `options`, uniformly; several times cheaper than `rng.choice` for short sequences."""
  return options[int(rng.integers(len(options)))]


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
  angles = -np.pi / 2 + np.arange(2 * points) * np.pi / points
  radii = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
  return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _heart(num_points: int = 48) -> np.ndarray:
  t = np.linspace(0, 2 * np.pi, num_points, endpoint=False)
  x = 16 * np.sin(t) ** 3
  y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
  return np.stack([x, -y], axis=1)  # Image y grows downwards.


def _cross(thickness: float = 0.38) -> np.ndarray:
  a, b = (1 - thickness) / 2, (1 + thickness) / 2
  return np.array([(a, 0), (b, 0), (b, a), (1, a), (1, b), (b, b), (b, 1), (a, 1), (a, b), (0, b), (0, a),
                   (a, a)], dtype=np.float64)


_POLYGONS = {
    "square": np.array([(0, 0), (1, 0), (1, 1), (0, 1)], dtype=np.float64),
    "triangle": np.array([(0.5, 0), (1, 0.866), (0, 0.866)]),
    "diamond": np.array([(0.5, 0), (0.92, 0.5), (0.5, 1), (0.08, 0.5)]),
    "star": _star(),
    "cross": _cross(),
    "heart": _heart(),
}
# Shapes that fill their box completely look bigger than the rest at the same side; shrink them a little.
_SHAPE_SCALE = {"square": 0.86, "cross": 0.95}
_RING_HOLE = 0.5


def _fit(points: np.ndarray, box: Tuple[float, float, float, float]) -> np.ndarray:
  """Scales `points` uniformly to fit `box` (x0, y0, x1, y1), centred."""
  lo, hi = points.min(axis=0), points.max(axis=0)
  scale = min(box[2] - box[0], box[3] - box[1]) / float((hi - lo).max())
  centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
  return (points - (lo + hi) / 2) * scale + centre


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: Tuple[float, float, float, float]) -> np.ndarray:
  """Fills `shape` inside `box` on a mask; returns its tight extent (x0, y0, x1, y1) in mask pixels."""
  cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
  half = (box[2] - box[0]) / 2 * _SHAPE_SCALE.get(shape, 1.0)
  box = (cx - half, cy - half, cx + half, cy + half)
  if shape in ("circle", "ring"):
    draw.ellipse(box, fill=255)
    if shape == "ring":
      r = half * _RING_HOLE
      draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=0)
    return np.array(box)
  points = _fit(_POLYGONS[shape], box)
  draw.polygon([tuple(p) for p in points], fill=255)
  return np.concatenate([points.min(axis=0), points.max(axis=0)])


def _group_origin(anchor: str, extent: float, rng: np.random.Generator) -> float:
  if anchor == "start":
    return _MARGIN + rng.uniform(0, _GROUP_JITTER)
  if anchor == "end":
    return 1 - _MARGIN - extent - rng.uniform(0, _GROUP_JITTER)
  jitter = min(_FREE_JITTER, (1 - 2 * _MARGIN - extent) / 2)
  return (1 - extent) / 2 + rng.uniform(-jitter, jitter)


def _pick_cells(position: str, count: int, rng: np.random.Generator) -> np.ndarray:
  """`count` distinct cells, filling the line along the region's edge first (e.g. the outer column for
  "left"), so that a group of three on the left is one column at the edge, not a block reaching the middle."""
  rows, cols, x_anchor, y_anchor = _REGIONS[position]
  index = np.arange(rows * cols).reshape(rows, cols)
  edges = {("start", "x"): index[:, 0], ("end", "x"): index[:, -1], ("start", "y"): index[0],
           ("end", "y"): index[-1]}
  outer = edges.get((x_anchor, "x"), edges.get((y_anchor, "y")))
  if outer is None:  # Centred both ways: any cells.
    return np.sort(rng.permutation(rows * cols)[:count])
  inner = np.array([cell for cell in index.ravel() if cell not in outer])
  on_edge = min(count, len(outer))
  chosen = np.concatenate([outer[rng.permutation(len(outer))[:on_edge]],
                           inner[rng.permutation(len(inner))[:count - on_edge]]])
  return np.sort(chosen)


def _layout(position: str, count: int, side: float,
            rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
  """Places `count` objects in distinct cells of the region's grid, the group pushed against the region's
  edge; returns (cells, boxes as x0, y0, x1, y1 in [0, 1])."""
  _, cols, x_anchor, y_anchor = _REGIONS[position]
  cells = _pick_cells(position, count, rng)
  r, c = cells // cols, cells % cols
  x0 = _group_origin(x_anchor, (c.max() - c.min() + 1) * _PITCH, rng)
  y0 = _group_origin(y_anchor, (r.max() - r.min() + 1) * _PITCH, rng)
  slack = _PITCH - side
  # Jitter within the cell, at most a quarter of the slack either way, so neighbours keep a gap.
  jitter = rng.uniform(-0.25, 0.25, size=(count, 2)) * slack
  left = x0 + (c - c.min()) * _PITCH + slack / 2 + jitter[:, 0]
  top = y0 + (r - r.min()) * _PITCH + slack / 2 + jitter[:, 1]
  boxes = np.stack([left, top, left + side, top + side], axis=1)
  return cells.astype(np.int64), boxes


# ------------------------------------------------------------------------------------------ background ---

def _luma(rgb: np.ndarray) -> float:
  return float(np.dot(rgb, (0.2126, 0.7152, 0.0722)))


def _contrasts(colour: np.ndarray, background: np.ndarray) -> bool:
  margin = 2 * _NOISE_STD
  return (np.linalg.norm(background - colour) >= _MIN_RGB_DISTANCE + margin and
          abs(_luma(background) - _luma(colour)) >= _MIN_LUMA_DIFFERENCE + margin)


def _tint(hue: float, saturation: float, value: float) -> np.ndarray:
  return 255.0 * np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, float(np.clip(value, 0, 1))))


def _background_colours(colour: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray, str]:
  """Two nearby desaturated tints (light or dark) that both contrast with `colour`; also 'light'/'dark'."""
  for _ in range(32):
    tone = "light" if rng.random() < 0.5 else "dark"
    value = rng.uniform(0.72, 0.95) if tone == "light" else rng.uniform(0.08, 0.32)
    hue, saturation = rng.random(), rng.uniform(0.0, 0.25)
    step = rng.uniform(0.06, 0.18) * (1 if rng.random() < 0.5 else -1)
    first = _tint(hue, saturation, value)
    second = _tint(hue + rng.uniform(-0.08, 0.08), saturation, value + step)
    if _contrasts(colour, first) and _contrasts(colour, second):
      return first, second, tone
  # Unreachable in practice for the palette above; a fixed fallback keeps the function total.
  dark, light = np.full(3, 30.0), np.full(3, 230.0)
  if abs(_luma(colour) - _luma(dark)) > abs(_luma(colour) - _luma(light)):
    return dark, dark, "dark"
  return light, light, "light"


def _background(kind: str, first: np.ndarray, second: np.ndarray, size: int,
                rng: np.random.Generator) -> np.ndarray:
  """A (size, size, 3) float32 background of the given kind between two tints."""
  first, second = first.astype(np.float32), second.astype(np.float32)
  if kind == "solid":
    return np.broadcast_to(first, (size, size, 3))
  if kind == "noise":
    return first + np.float32(_NOISE_STD) * rng.standard_normal((size, size, 3), dtype=np.float32)
  angle = rng.uniform(0, np.pi)
  y, x = np.mgrid[0:size, 0:size].astype(np.float32) + np.float32(0.5)
  projection = x * np.float32(np.cos(angle)) + y * np.float32(np.sin(angle))
  if kind == "gradient":
    t = (projection - projection.min()) / max(float(np.ptp(projection)), 1e-6)
  else:  # stripes
    period = np.float32(rng.uniform(size / 8, size / 4))
    t = np.floor(projection / period) % 2
  return first + t[..., None] * (second - first)


# --------------------------------------------------------------------------------------------- captions ---

_SHAPE_WORDS = {  # singular -> plural; the first entry is the class name.
    "circle": {"circle": "circles", "disc": "discs", "round dot": "round dots"},
    "square": {"square": "squares", "block": "blocks"},
    "triangle": {"triangle": "triangles"},
    "diamond": {"diamond": "diamonds", "rhombus": "rhombuses"},
    "star": {"star": "stars"},
    "cross": {"cross": "crosses", "plus sign": "plus signs"},
    "heart": {"heart": "hearts"},
    "ring": {"ring": "rings", "donut": "donuts", "hollow circle": "hollow circles"},
}
_SIZE_WORDS = {"small": ("small", "tiny", "little"), "large": ("large", "big", "huge")}
_NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}
_WHERE = {
    "left": ("on the left", "in the left part of the picture", "on the left side",
             "at the left of the image"),
    "right": ("on the right", "in the right part of the picture", "on the right side",
              "at the right of the image"),
    "top": ("at the top", "in the upper part of the picture", "near the top of the image", "along the top"),
    "bottom": ("at the bottom", "in the lower part of the picture", "near the bottom of the image",
               "along the bottom"),
    "center": ("in the center", "in the middle", "in the centre of the picture",
               "in the middle of the image"),
}
_BACKGROUND_WORDS = {"solid": ("plain", "uniform"), "gradient": ("gradient", "shaded"),
                     "noise": ("grainy", "noisy"), "stripes": ("striped",)}
# Fields: {n} a count phrase ("a", "two", "3"), {num} the number word, {digit} the numeral, {noun} the shape
# agreeing with the count, {be} is/are, {them} "two of them" or "just one", {size}, {colour}, {where}, {bg}.
_TEMPLATES = (
    "{n} {size} {colour} {noun} {where}",
    "a photo of {digit} {colour} {noun}",
    "there {be} {n} {size} {colour} {noun} {where}",
    "{colour} {noun}, {them}, {where}",
    "{where}, {n} {colour} {noun}",
    "an image of {n} {size} {colour} {noun}",
    "{n} {colour} {noun} {be} {where}",
    "{n} {noun}, {size} and {colour}, {where}",
    "a picture showing {n} {size} {colour} {noun} {where}",
    "{n} {colour} {noun} on a {tone} {bg} background",
    "{num} {size} {noun} in {colour} {where}",
    "the picture contains {n} {colour} {noun} {where}",
)


def _fix_articles(text: str) -> str:
  return re.sub(r"\ba (?=[aeiou])", "an ", text)


def _caption(template: str, scene: Dict, rng: np.random.Generator) -> str:
  count = scene["count"]
  singular = _pick(rng, tuple(_SHAPE_WORDS[scene["label"]]))
  noun = singular if count == 1 else _SHAPE_WORDS[scene["label"]][singular]
  if count == 1:
    n = _pick(rng, ["a", "one", "a single"])
  else:
    n = _pick(rng, [_NUMBER_WORDS[count], _NUMBER_WORDS[count], str(count)])
  fields = {
      "n": n,
      "num": _NUMBER_WORDS[count],
      "digit": "one" if count == 1 else str(count),
      "noun": noun,
      "be": "is" if count == 1 else "are",
      "them": "just one" if count == 1 else f"{_NUMBER_WORDS[count]} of them",
      "size": _pick(rng, _SIZE_WORDS[scene["size"]]),
      "colour": scene["colour"],
      "where": _pick(rng, _WHERE[scene["position"]]),
      "tone": scene["tone"],
      "bg": _pick(rng, _BACKGROUND_WORDS[scene["background"]]),
  }
  return _fix_articles(template.format(**fields))


def captions(scene: Dict, rng: np.random.Generator, num: int = NUM_CAPTIONS) -> List[str]:
  """`num` captions of a scene, each from a different template, with synonyms drawn from `rng`."""
  chosen = rng.permutation(len(_TEMPLATES))[:num]
  return [_caption(_TEMPLATES[i], scene, rng) for i in chosen]


def shape_words(shape: str) -> Dict[str, str]:
  """The singular -> plural words a caption may use for `shape` (the class name first)."""
  return dict(_SHAPE_WORDS[shape])


def count_words(count: int) -> Tuple[str, ...]:
  """The tokens a caption may use for `count`."""
  if count == 1:
    return ("a", "an", "one", "single", "1")
  return (_NUMBER_WORDS[count], str(count))


# -------------------------------------------------------------------------------------------- rendering ---

def _object_mask(shape: str, boxes: np.ndarray, image_size: int) -> Tuple[np.ndarray, np.ndarray]:
  """Anti-aliased coverage in [0, 1] of all objects, and their tight bboxes (x0, y0, x1, y1) in [0, 1]."""
  big = image_size * _SUPERSAMPLE
  mask = Image.new("L", (big, big), 0)
  draw = ImageDraw.Draw(mask)
  extents = np.stack([_draw_shape(draw, shape, tuple(box * big)) for box in boxes])
  alpha = np.asarray(mask.resize((image_size, image_size), Image.Resampling.BOX), dtype=np.float32) / 255
  return alpha, np.clip(extents / big, 0.0, 1.0)


def _scene(rng: np.random.Generator) -> Dict:
  """Every discrete and geometric choice of an example, independent of the image size."""
  colour = _pick(rng, COLOUR_NAMES)
  size = _pick(rng, SIZES)
  scene = {
      "label": _pick(rng, SHAPES),
      "colour": colour,
      "size": size,
      "count": int(rng.integers(1, MAX_COUNT + 1)),
      "position": _pick(rng, POSITIONS),
      "background": _pick(rng, BACKGROUNDS),
  }
  side = rng.uniform(*_OBJECT_SIDE[size])
  scene["cells"], scene["boxes"] = _layout(scene["position"], scene["count"], side, rng)
  first, second, scene["tone"] = _background_colours(np.array(COLOURS[colour], dtype=np.float64), rng)
  scene["tints"] = (first, second)
  return scene


def render_example(rng: np.random.Generator, image_size: int) -> Dict:
  """Draws one example from `rng`.

  Args:
    rng: the example's own generator, e.g. `np.random.default_rng([split_id, index])`.
    image_size: side S of the square image, in pixels (16 or more).

  Returns:
    A dict with `image` (S, S, 3) uint8; `label` (shape name), `colour`, `size`, `position` (names) and
    `count` (1..4); `objects` with `bbox` (count, 4) float32 normalized (ymin, xmin, ymax, xmax) and `cell`
    (count,) int64, the index (row * cols + col) of the object's cell in its region's grid; `captions`, a
    list of NUM_CAPTIONS strings; and `background`, the background kind (not a dataset feature).
  """
  if image_size < 16:
    raise ValueError(f"image_size must be at least 16 pixels, got {image_size}.")
  scene = _scene(rng)
  texts = captions(scene, rng)
  first, second = scene["tints"]
  background = _background(scene["background"], first, second, image_size, rng)
  alpha, extents = _object_mask(scene["label"], scene["boxes"], image_size)
  colour = np.array(COLOURS[scene["colour"]], dtype=np.float32)
  alpha = alpha[..., None]
  image = background * (1 - alpha) + colour * alpha
  image = np.clip(np.round(image), 0, 255).astype(np.uint8)
  bbox = extents[:, [1, 0, 3, 2]].astype(np.float32)  # (x0, y0, x1, y1) -> (ymin, xmin, ymax, xmax)
  return {
      "image": image,
      "label": scene["label"],
      "colour": scene["colour"],
      "size": scene["size"],
      "count": scene["count"],
      "position": scene["position"],
      "objects": {"bbox": bbox, "cell": scene["cells"]},
      "captions": texts,
      "background": scene["background"],
  }


def encode_png(image: np.ndarray) -> bytes:
  """PNG bytes of a uint8 image; PIL's encoder is deterministic and much cheaper than a TF graph call."""
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, format="PNG")
  return buffer.getvalue()


def contact_sheet(images: Sequence[np.ndarray], columns: int = 8) -> np.ndarray:
  """Tiles equally sized images into one array, for eyeballing the renderer."""
  rows = -(-len(images) // columns)
  size = images[0].shape[0]
  sheet = np.full((rows * (size + 2), columns * (size + 2), 3), 128, dtype=np.uint8)
  for i, image in enumerate(images):
    r, c = divmod(i, columns)
    sheet[r * (size + 2):r * (size + 2) + size, c * (size + 2):c * (size + 2) + size] = image
  return sheet
