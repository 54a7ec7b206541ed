"""mg_shapes: the feature spec, labels agreeing with captions and pixels, determinism, and registration."""

import collections
import os
import re

import numpy as np
import pytest
import tensorflow_datasets as tfds

from model_garden.data import mg_shapes
from model_garden.data.mg_shapes import render

_SPLITS = ("train", "validation", "test")


def _tiny(name="tiny_t", image_size=32, num_train=48, num_validation=16, num_test=16):
  return mg_shapes.MgShapesConfig(name=name, image_size=image_size, num_train=num_train,
                                  num_validation=num_validation, num_test=num_test)


def _prepare(data_dir, config):
  builder = tfds.builder("mg_shapes", config=config, data_dir=str(data_dir))
  builder.download_and_prepare()
  return builder


def _examples(builder, split, **kwargs):
  return list(tfds.as_numpy(builder.as_dataset(split=split, **kwargs)))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  builder = _prepare(tmp_path_factory.mktemp("mg_shapes_a"), _tiny())
  return builder, {split: _examples(builder, split) for split in _SPLITS}


@pytest.fixture(scope="module")
def rendered():
  """A few hundred scenes straight from the renderer (cheaper than preparing them)."""
  return [render.render_example(np.random.default_rng([0, i]), 32) for i in range(400)]


def _names(builder, key, value):
  return builder.info.features[key].int2str(int(value))


def test_registered_with_builtin_configs():
  assert "mg_shapes" in tfds.list_builders()
  assert [c.name for c in mg_shapes.MgShapes.BUILDER_CONFIGS] == ["px32", "px64", "px224"]
  builder = tfds.builder("mg_shapes", data_dir=os.devnull)  # Not prepared: only the info is read.
  assert builder.builder_config.name == "px64"
  assert builder.info.features["image"].shape == (64, 64, 3)
  assert tfds.builder("mg_shapes/px224", data_dir=os.devnull).info.features["image"].shape == (224, 224, 3)


def test_bad_config_is_refused():
  with pytest.raises(ValueError, match="image_size"):
    _tiny(image_size=8)
  with pytest.raises(ValueError, match="num_train"):
    _tiny(num_train=0)


def test_features_shapes_and_dtypes(built):
  builder, examples = built
  info = builder.info
  assert set(info.features) == {"image", "label", "colour", "size", "count", "position", "objects",
                                "captions"}
  assert info.supervised_keys == ("image", "label")
  assert info.features["label"].names == list(render.SHAPES) and len(render.SHAPES) >= 8
  assert len(info.features["colour"].names) >= 8
  assert info.features["size"].names == ["small", "large"]
  assert info.features["position"].names == ["left", "right", "top", "bottom", "center"]
  assert {s: info.splits[s].num_examples for s in _SPLITS} == {"train": 48, "validation": 16, "test": 16}
  for ex in examples["train"]:
    assert ex["image"].shape == (32, 32, 3) and ex["image"].dtype == np.uint8
    for key in ("label", "colour", "size", "count", "position"):
      assert ex[key].shape == () and ex[key].dtype == np.int64
    assert 1 <= ex["count"] <= 4
    assert ex["objects"]["bbox"].shape == (ex["count"], 4) and ex["objects"]["bbox"].dtype == np.float32
    assert ex["objects"]["cell"].shape == (ex["count"],) and ex["objects"]["cell"].dtype == np.int64
    assert ex["captions"].shape == (render.NUM_CAPTIONS,)


def _mentions(caption, phrase):
  return re.search(r"\b" + re.escape(phrase) + r"\b", caption) is not None


def test_captions_agree_with_labels(built):
  builder, examples = built
  for ex in examples["train"] + examples["test"]:
    shape, colour = _names(builder, "label", ex["label"]), _names(builder, "colour", ex["colour"])
    count = int(ex["count"])
    words = render.shape_words(shape)
    captions = [c.decode() for c in ex["captions"]]
    assert len(set(captions)) == len(captions), captions
    for caption in captions:
      assert _mentions(caption, colour), caption
      assert any(_mentions(caption, w) for w in render.count_words(count)), caption
      if count == 1:
        assert any(_mentions(caption, w) for w in words), caption
        assert not any(_mentions(caption, w) for w in words.values()), caption  # never "one circles"
      else:
        assert any(_mentions(caption, w) for w in words.values()), caption
      assert not re.search(r"\ba [aeiou]", caption), caption  # "an orange star", not "a orange star"


def test_two_builds_are_byte_identical(built, tmp_path):
  first, _ = built
  second = _prepare(tmp_path, _tiny())
  skip = {"image": tfds.decode.SkipDecoding()}
  for split in _SPLITS:
    a, b = _examples(first, split, decoders=skip), _examples(second, split, decoders=skip)
    assert [x["image"] for x in a] == [x["image"] for x in b]  # The PNG bytes themselves.
    assert [list(x["captions"]) for x in a] == [list(x["captions"]) for x in b]


def test_renderer_is_deterministic_and_size_independent():
  a = render.render_example(np.random.default_rng([0, 7]), 32)
  b = render.render_example(np.random.default_rng([0, 7]), 32)
  big = render.render_example(np.random.default_rng([0, 7]), 64)
  np.testing.assert_array_equal(a["image"], b["image"])
  for key in ("label", "colour", "size", "count", "position", "captions"):
    assert a[key] == big[key]
  np.testing.assert_array_equal(a["objects"]["cell"], big["objects"]["cell"])
  np.testing.assert_allclose(a["objects"]["bbox"], big["objects"]["bbox"], atol=0.02)


def test_splits_differ(built):
  _, examples = built
  images = {split: [ex["image"].tobytes() for ex in examples[split]] for split in _SPLITS}
  assert not set(images["train"]) & set(images["validation"])
  assert not set(images["train"]) & set(images["test"])
  assert not set(images["validation"]) & set(images["test"])


def test_every_value_occurs(rendered):
  for key, values in (("label", render.SHAPES), ("colour", render.COLOUR_NAMES), ("size", render.SIZES),
                      ("position", render.POSITIONS), ("count", (1, 2, 3, 4)),
                      ("background", render.BACKGROUNDS)):
    seen = collections.Counter(ex[key] for ex in rendered)
    assert set(seen) == set(values), (key, seen)


def _assert_boxes_valid(bbox, cells, position):
  assert np.all(bbox >= 0.0) and np.all(bbox <= 1.0)
  assert np.all(bbox[:, 0] < bbox[:, 2]) and np.all(bbox[:, 1] < bbox[:, 3])
  rows, cols, _, _ = render._REGIONS[position]  # pylint: disable=protected-access
  assert len(set(cells.tolist())) == len(cells) and np.all((0 <= cells) & (cells < rows * cols))
  for i in range(len(bbox)):
    for j in range(i + 1, len(bbox)):
      overlap_y = min(bbox[i, 2], bbox[j, 2]) - max(bbox[i, 0], bbox[j, 0])
      overlap_x = min(bbox[i, 3], bbox[j, 3]) - max(bbox[i, 1], bbox[j, 1])
      assert overlap_y <= 0 or overlap_x <= 0, (bbox[i], bbox[j])


def test_bboxes_inside_and_disjoint(built, rendered):
  builder, examples = built
  for ex in examples["train"]:
    position = _names(builder, "position", ex["position"])
    _assert_boxes_valid(ex["objects"]["bbox"], ex["objects"]["cell"], position)
  for ex in rendered:
    _assert_boxes_valid(ex["objects"]["bbox"], ex["objects"]["cell"], ex["position"])


def _pixel_box(bbox, size, grow=0):
  ymin, xmin, ymax, xmax = bbox * size
  return (max(int(np.floor(ymin)) - grow, 0), max(int(np.floor(xmin)) - grow, 0),
          min(int(np.ceil(ymax)) + grow, size), min(int(np.ceil(xmax)) + grow, size))


def test_object_colour_is_drawn_inside_each_box_only(built):
  """Renderer correctness on the decoded PNGs: each box holds its colour, nothing outside the boxes does."""
  builder, examples = built
  for ex in examples["train"]:
    image = ex["image"].astype(np.float64)
    colour = np.array(render.COLOURS[_names(builder, "colour", ex["colour"])], dtype=np.float64)
    distance = np.linalg.norm(image - colour, axis=-1)
    outside = np.ones(distance.shape, dtype=bool)
    for bbox in ex["objects"]["bbox"]:
      y0, x0, y1, x1 = _pixel_box(bbox, 32)
      assert distance[y0:y1, x0:x1].min() < 40, (bbox, distance[y0:y1, x0:x1].min())
      y0, x0, y1, x1 = _pixel_box(bbox, 32, grow=1)
      outside[y0:y1, x0:x1] = False
    assert distance[outside].min() > 60


def test_tfds_load_offline(tmp_path):
  config = _tiny(name="tiny_load", num_train=8, num_validation=4, num_test=4)
  ds = tfds.load("mg_shapes", split="train", data_dir=str(tmp_path), builder_kwargs={"config": config},
                 as_supervised=True, download_and_prepare_kwargs={
                     "download_config": tfds.download.DownloadConfig(try_download_gcs=False)})
  images, labels = next(iter(tfds.as_numpy(ds.batch(8))))
  assert images.shape == (8, 32, 32, 3) and labels.shape == (8,)
  assert not [p for p in tmp_path.glob("downloads/**/*") if p.is_file()]  # Nothing was downloaded.
  # Once prepared, a custom config is found again by name alone ("mg_shapes/<name>").
  reloaded = tfds.builder("mg_shapes/tiny_load", data_dir=str(tmp_path))
  assert reloaded.info.splits["train"].num_examples == 8
  assert reloaded.info.features["image"].shape == (32, 32, 3)
