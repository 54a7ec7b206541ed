"""The `mg_shapes` tfds builder: a dataset every demo, example and test can prepare offline in under a minute.

Real datasets need downloads, manual steps or hours of preparation; the project's demos and tests must run on
a fresh, offline machine. So this dataset is rendered on the fly by `render.py` while tfds prepares it, with
one seeded generator per example, which makes it byte-for-byte reproducible and independent of generation
order. Its labels cover the project's task families at once: the shape for classification, captions for
image-text training, counts, positions and boxes for structured outputs, and the images themselves for
generative models.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Iterator, Tuple

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from model_garden.data.mg_shapes import render

_DESCRIPTION = ("Procedurally rendered images of one to four objects sharing a shape, colour and size, "
                "grouped in one region; with shape labels, colours, sizes, counts, positions, boxes and five "
                "captions per image. Generated locally: no download.")
_SPLIT_IDS = {"train": 0, "validation": 1, "test": 2}  # Disjoint seeds: rng = default_rng([split_id, index]).


@dataclasses.dataclass(eq=False)
class MgShapesConfig(tfds.core.BuilderConfig):
  """An `mg_shapes` variant: image side and split sizes.

  Attributes:
    image_size: side of the square RGB images, in pixels (16 or more).
    num_train: examples in the `train` split (positive).
    num_validation: examples in the `validation` split (0 drops the split).
    num_test: examples in the `test` split (0 drops the split).

  Name custom configs after their content (e.g. "tiny32"): tfds stores a prepared config under
  `<data_dir>/mg_shapes/<name>/<version>`, so two different configs must not share a name in one data_dir.
  """
  image_size: int = 64
  num_train: int = 10_000
  num_validation: int = 1_000
  num_test: int = 2_000

  def __post_init__(self):
    if self.image_size < 16:
      raise ValueError(f"MgShapesConfig.image_size must be at least 16, got {self.image_size}.")
    if self.num_train < 1 or self.num_validation < 0 or self.num_test < 0:
      raise ValueError("MgShapesConfig needs num_train >= 1 and num_validation, num_test >= 0; got "
                       f"{self.num_train}, {self.num_validation}, {self.num_test}.")
    if self.description is None:
      self.description = (f"{self.image_size}x{self.image_size} px; {self.num_train} train, "
                          f"{self.num_validation} validation, {self.num_test} test examples.")

  @property
  def split_sizes(self) -> Dict[str, int]:
    sizes = {"train": self.num_train, "validation": self.num_validation, "test": self.num_test}
    return {split: n for split, n in sizes.items() if n > 0}


class MgShapes(tfds.core.GeneratorBasedBuilder):
  """mg_shapes: procedurally rendered coloured shapes with labels, boxes and captions; no download.

  Each image shows one to four objects that share one shape, one colour and one size, grouped in one region
  of the image, on a background that contrasts with them (a plain tint, a gradient, light noise or faint
  stripes). Shapes (8): circle, square, triangle, diamond, star, cross, heart, ring. Colours (10): red,
  green, blue, yellow, purple, orange, white, black, pink, cyan. Sizes: small, large. Positions: left, right,
  top, bottom, center.

  Features:
    image: (S, S, 3) uint8, PNG-encoded.
    label: ClassLabel, the shape (8 classes); `supervised_keys` is ("image", "label").
    colour: ClassLabel, the objects' colour (10 classes).
    size: ClassLabel, "small" or "large".
    count: int64 scalar, the number of objects, 1..4.
    position: ClassLabel, the region holding the group: left, right, top, bottom, center.
    objects: Sequence of {bbox: BBoxFeature (normalized ymin, xmin, ymax, xmax, tight around the drawn
      shape), cell: int64 (row * cols + col in the region's grid: 3x2 for left/right, 2x3 for top/bottom,
      2x2 for center)}, one entry per object; boxes never overlap.
    captions: Sequence(Text(), length=5), five captions from different templates with synonyms and number
      words, e.g. "two small red triangles on the left", "a photo of 2 red triangles", "red triangles, two
      of them, on the left".

  Configs (`tfds.load("mg_shapes/<name>")`; the default is "px64"):
    px32: 32x32 px, 10,000 train / 1,000 validation / 2,000 test.
    px64: 64x64 px, 10,000 / 1,000 / 2,000.
    px224: 224x224 px, 5,000 / 500 / 1,000.
  Any `MgShapesConfig` can be passed instead. Example `index` of split `s` is drawn from
  `np.random.default_rng([s, index])` (train 0, validation 1, test 2), so splits are disjoint, a smaller
  config holds a prefix of a larger one, and the same example shows the same scene at every image size.

  Example:
    >>> import model_garden.data.mg_shapes  # registers the builder
    >>> ds = tfds.load("mg_shapes/px32", split="train", as_supervised=True)
    >>> tiny = MgShapesConfig(name="tiny", image_size=32, num_train=64, num_validation=16, num_test=16)
    >>> builder = tfds.builder("mg_shapes", config=tiny, data_dir="/tmp/tfds")
    >>> builder.download_and_prepare()
    >>> ds = builder.as_dataset(split="train")
  """

  # Prepared data is cached per version: bump it whenever `render.py` changes what a seed draws.
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [
      MgShapesConfig(name="px32", image_size=32, num_train=10_000, num_validation=1_000, num_test=2_000),
      MgShapesConfig(name="px64", image_size=64, num_train=10_000, num_validation=1_000, num_test=2_000),
      MgShapesConfig(name="px224", image_size=224, num_train=5_000, num_validation=500, num_test=1_000),
  ]
  DEFAULT_BUILDER_CONFIG_NAME = "px64"
  # tfds derives this from the module with `importlib_resources`, which it no longer installs on Python >= 3.9
  # (ModuleNotFoundError in `download_and_prepare`); tfds only uses it to look for a checksums file.
  code_path = epath.Path(__file__)

  def _info(self) -> tfds.core.DatasetInfo:
    size = self.builder_config.image_size
    return tfds.core.DatasetInfo(
        builder=self,
        description=_DESCRIPTION,
        features=features(size),
        supervised_keys=("image", "label"),
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # Nothing to download: every example is rendered.
    return {split: self._generate_examples(_SPLIT_IDS[split], n)
            for split, n in self.builder_config.split_sizes.items()}

  def _generate_examples(self, split_id: int, num_examples: int) -> Iterator[Tuple[int, Dict]]:
    size = self.builder_config.image_size
    for index in range(num_examples):
      yield index, _to_features(render.render_example(np.random.default_rng([split_id, index]), size))


def features(image_size: int) -> tfds.features.FeaturesDict:
  """The feature spec of `mg_shapes` at `image_size` pixels."""
  return tfds.features.FeaturesDict({
      "image": tfds.features.Image(shape=(image_size, image_size, 3), encoding_format="png"),
      "label": tfds.features.ClassLabel(names=render.SHAPES, doc="The objects' shape."),
      "colour": tfds.features.ClassLabel(names=render.COLOUR_NAMES, doc="The objects' colour."),
      "size": tfds.features.ClassLabel(names=render.SIZES, doc="The objects' size."),
      "count": tfds.features.Scalar(np.int64, doc=f"Number of objects, 1..{render.MAX_COUNT}."),
      "position": tfds.features.ClassLabel(names=render.POSITIONS, doc="Region of the image holding them."),
      "objects": tfds.features.Sequence({
          "bbox": tfds.features.BBoxFeature(),
          "cell": tfds.features.Scalar(np.int64, doc="Cell of the object in its region's grid."),
      }),
      "captions": tfds.features.Sequence(tfds.features.Text(), length=render.NUM_CAPTIONS,
                                         doc="Five captions from different templates."),
  })


def _to_features(example: Dict) -> Dict:
  """The renderer's dict in the form tfds encodes; the image is PNG-encoded here (deterministically)."""
  return {
      "image": render.encode_png(example["image"]),
      "label": example["label"],
      "colour": example["colour"],
      "size": example["size"],
      "count": np.int64(example["count"]),
      "position": example["position"],
      "objects": {"bbox": list(example["objects"]["bbox"]), "cell": example["objects"]["cell"]},
      "captions": example["captions"],
  }
