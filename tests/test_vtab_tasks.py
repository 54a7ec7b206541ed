"""VTAB task table: exact split strings, structured label functions, pp op, mock data, manual downloads."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import model_garden  # noqa: F401  (registers pp ops, mg_shapes)
from model_garden.data import DatasetUnavailableError, get_builder, get_dataset
from model_garden.data import vtab
from model_garden.data.vtab import labels
from model_garden.registry import SpecError

_OFFICIAL = {
    "train": "train", "val": "validation", "trainval": "train+validation", "test": "test",
    "train800": "train[:800]", "val200": "validation[:200]", "train800val200": "train[:800]+validation[:200]",
}


def _percent(n, test="test"):
  return {"train": f"train[:{n}]", "val": f"train[{n}:]", "trainval": "train", "test": test,
          "train800": "train[:800]", "val200": f"train[{n}:{n + 200}]",
          "train800val200": f"train[:800]+train[{n}:{n + 200}]"}


def _three_way(n_train, n_val):
  end = n_train + n_val
  return {"train": f"train[:{n_train}]", "val": f"train[{n_train}:{end}]", "trainval": f"train[:{end}]",
          "test": f"train[{end}:]", "train800": "train[:800]", "val200": f"train[{n_train}:{n_train + 200}]",
          "train800val200": f"train[:800]+train[{n_train}:{n_train + 200}]"}


_SMALLNORB = {"train": "train", "val": "test[:50%]", "trainval": "train+test[:50%]", "test": "test[50%:]",
              "train800": "train[:800]", "val200": "test[:200]", "train800val200": "train[:800]+test[:200]"}

# Written out by hand from task_adaptation's rules and the tfds split sizes:
# 90% of 3060 = 2754; 90% of 50000 = 45000; 80% of 3680 = 2944; 90% of 73257 = 65931; 90% of 70000 = 63000;
# 60/20% of 27000 = 16200/5400; of 31500 = 18900/6300; 80/10% of 737280 = 589824/73728.
EXPECTED_SPLITS = {
    "caltech101": _percent(2754),
    "cifar100": _percent(45000),
    "dtd": _OFFICIAL,
    "oxford_flowers102": _OFFICIAL,
    "oxford_iiit_pet": _percent(2944),
    "svhn": _percent(65931),
    "sun397": _OFFICIAL,
    "patch_camelyon": _OFFICIAL,
    "eurosat": _three_way(16200, 5400),
    "resisc45": _three_way(18900, 6300),
    "diabetic_retinopathy": _OFFICIAL,
    "clevr_count": _percent(63000, test="validation"),
    "clevr_distance": _percent(63000, test="validation"),
    "dmlab": _OFFICIAL,
    "kitti_distance": _OFFICIAL,
    "dsprites_location": _three_way(589824, 73728),
    "dsprites_orientation": _three_way(589824, 73728),
    "smallnorb_azimuth": _SMALLNORB,
    "smallnorb_elevation": _SMALLNORB,
}

EXPECTED_CLASSES = {
    "caltech101": 102, "cifar100": 100, "dtd": 47, "oxford_flowers102": 102, "oxford_iiit_pet": 37, "svhn": 10,
    "sun397": 397, "patch_camelyon": 2, "eurosat": 10, "resisc45": 45, "diabetic_retinopathy": 5,
    "clevr_count": 8, "clevr_distance": 6, "dmlab": 6, "kitti_distance": 4, "dsprites_location": 16,
    "dsprites_orientation": 16, "smallnorb_azimuth": 18, "smallnorb_elevation": 9,
}


# -- The table ------------------------------------------------------------------------------------------------

def test_table_has_the_19_tasks_in_three_groups():
  assert list(vtab.TASKS) == list(EXPECTED_SPLITS)
  groups = [t.group for t in vtab.TASKS.values()]
  assert (groups.count("natural"), groups.count("specialized"), groups.count("structured")) == (7, 4, 8)
  assert {n: t.num_classes for n, t in vtab.TASKS.items()} == EXPECTED_CLASSES
  assert not set(vtab.EXTRA_TASKS) & set(vtab.TASKS)
  assert all(not t.official for t in vtab.EXTRA_TASKS.values())
  assert vtab.TASKS["clevr_count"].builder == "clevr:3.*.*"
  assert vtab.TASKS["kitti_distance"].builder == "kitti:3.1.0"
  assert vtab.TASKS["dmlab"].builder == "dmlab:2.0.1"
  assert vtab.TASKS["diabetic_retinopathy"].builder == "diabetic_retinopathy_detection/btgraham-300:3.*.*"


@pytest.mark.parametrize("name", list(EXPECTED_SPLITS))
def test_every_split_string_is_exact(name):
  task = vtab.TASKS[name]
  assert dict(task.splits) == EXPECTED_SPLITS[name]
  assert tuple(task.splits) == vtab.SPLIT_NAMES
  for split in vtab.SPLIT_NAMES:
    assert task.split(split) == EXPECTED_SPLITS[name][split]


@pytest.mark.parametrize("name", list(EXPECTED_SPLITS))
def test_splits_read_1000_examples_inside_train_and_val(name):
  task = vtab.TASKS[name]
  sizes = task.split_sizes
  count = lambda split: vtab.splits.num_examples(task.split(split), sizes)  # noqa: E731
  assert (count("train800"), count("val200"), count("train800val200")) == (800, 200, 1000)
  assert count("trainval") == count("train") + count("val")

  def ranges(split):
    return vtab.splits.split_ranges(task.split(split), sizes)

  def overlap(x, y):
    return any(s == t and max(a, c) < min(b, d) for s, a, b in x for t, c, d in y)

  def inside(x, y):
    return all(any(s == t and c <= a and b <= d for t, c, d in y) for s, a, b in x)

  train, val, test = ranges("train"), ranges("val"), ranges("test")
  assert not overlap(train, val) and not overlap(train, test) and not overlap(val, test)
  assert inside(ranges("train800"), train) and inside(ranges("val200"), val)
  assert ranges("train800val200") == ranges("train800") + ranges("val200")


def test_split_sizes_resolve_like_tfds():
  assert vtab.splits.split_ranges("train[:800]+train[45000:45200]", {"train": 50000}) == [
      ("train", 0, 800), ("train", 45000, 45200)]
  assert vtab.splits.num_examples("test[50%:]", {"test": 24300}) == 12150
  with pytest.raises(KeyError, match="validation"):
    vtab.splits.num_examples("validation[:200]", {"train": 10})


def test_builders_resolve_and_match_classes_channels_and_manual_flags():
  """The installed tfds knows every builder/version; classes, image channels, manual downloads agree."""
  attributes = {"dsprites_location": ("label_x_position", 32), "dsprites_orientation": ("label_orientation", 40),
                "smallnorb_azimuth": ("label_azimuth", 18), "smallnorb_elevation": ("label_elevation", 9)}
  for name, task in vtab.TASKS.items():
    builder = tfds.builder(task.builder)
    features = builder.info.features
    if name in attributes:
      attribute, values = attributes[name]
      assert features[attribute].num_classes == values, name
    elif task.label_fn is labels.image_label:
      assert features["label"].num_classes == task.num_classes, name
    assert (features["image"].shape[-1] or 3) == task.image_channels, name
    assert bool(getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)) == bool(task.manual_download), name


def test_select_tasks():
  assert len(vtab.select_tasks("all")) == 19
  assert [t.name for t in vtab.select_tasks("specialized")] == [
      "patch_camelyon", "eurosat", "resisc45", "diabetic_retinopathy"]
  names = [t.name for t in vtab.select_tasks("natural, clevr_count,cifar100")]
  assert len(names) == 8 and names[-1] == "clevr_count"
  assert [t.name for t in vtab.select_tasks("mg_shapes_count,mg_shapes_position")] == [
      "mg_shapes_count", "mg_shapes_position"]
  with pytest.raises(SpecError, match="clevr_count"):
    vtab.get_task("clevr_cnt")
  with pytest.raises(SpecError):
    vtab.select_tasks("")
  with pytest.raises(SpecError, match="no split"):
    vtab.TASKS["dtd"].split("val800")


# -- Label functions ------------------------------------------------------------------------------------------

def _rgb(h=4, w=5):
  return tf.constant(np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3))


def _clevr(depths):
  n = len(depths)
  coords = np.zeros((n, 3), np.float32)
  coords[:, 2] = depths
  return {"image": _rgb(), "objects": {"size": tf.zeros([n], tf.int64), "pixel_coords": tf.constant(coords)}}


@pytest.mark.parametrize("num_objects,label", [(3, 0), (5, 2), (10, 7)])
def test_clevr_count(num_objects, label):
  out = labels.clevr_count(_clevr([9.0] * num_objects))
  assert int(out["label"]) == label and out["label"].dtype == tf.int64
  assert out["image"].dtype == tf.uint8 and out["image"].shape == (4, 5, 3)


@pytest.mark.parametrize("depths,label", [
    ([7.5, 12.0, 9.0], 0),   # (0, 8]
    ([8.0, 11.0, 11.0], 0),  # 8 itself is not above the threshold 8
    ([8.2, 9.9, 10.0], 1),   # (8, 8.5]
    ([8.7, 9.2, 9.3], 2),
    ([11.0, 9.2, 9.8], 3),   # the nearest object counts: 9.2 in (9, 9.5]
    ([9.7, 9.9, 10.0], 4),
    ([10.5, 10.1, 12.0], 5),  # (10, 100]
])
def test_clevr_closest_object_distance(depths, label):
  assert int(labels.clevr_closest_object_distance(_clevr(depths))["label"]) == label


def _kitti(types, depths):
  location = np.zeros((len(depths), 3), np.float32)
  location[:, 2] = depths
  return {"image": _rgb(), "objects": {"type": tf.constant(types, tf.int64),
                                       "location": tf.constant(location)}}


@pytest.mark.parametrize("types,depths,label", [
    ([], [], 3),                  # no objects: "no vehicle"
    ([3, 4, 5, 6, 7], [2.0, 3.0, 4.0, 5.0, 6.0], 3),  # pedestrians, cyclists, trams, misc: no vehicle
    ([0, 3], [5.0, 1.0], 0),      # car at 5 m; the nearer pedestrian is ignored
    ([1], [8.0], 0),              # 8 m is not above 8
    ([2, 0], [15.0, 30.0], 1),    # truck at 15 m
    ([0], [20.0], 1),
    ([0, 1], [25.0, 50.0], 2),
])
def test_kitti_closest_vehicle_distance(types, depths, label):
  assert int(labels.kitti_closest_vehicle_distance(_kitti(types, depths))["label"]) == label


def test_dsprites_bins_and_image():
  orientation = vtab.TASKS["dsprites_orientation"].label_fn
  location = vtab.TASKS["dsprites_location"].label_fn
  image = tf.constant(np.eye(64, dtype=np.uint8)[:, :, None])
  for value, label in [(0, 0), (2, 0), (3, 1), (5, 2), (39, 15)]:  # floor(value / 2.5)
    out = orientation({"image": image, "label_orientation": tf.constant(value, tf.int64)})
    assert int(out["label"]) == label
  for value, label in [(0, 0), (1, 0), (2, 1), (31, 15)]:  # floor(value / 2)
    assert int(location({"image": image, "label_x_position": tf.constant(value, tf.int64)})["label"]) == label
  out = orientation({"image": image, "label_orientation": tf.constant(0, tf.int64)})
  assert out["image"].shape == (64, 64, 3) and out["image"].dtype == tf.uint8
  np.testing.assert_array_equal(out["image"].numpy()[..., 1], np.eye(64) * 255)


def test_smallnorb_raw_attribute_and_tiled_image():
  image = tf.constant(np.arange(96 * 96, dtype=np.uint8).reshape(96, 96, 1))
  example = {"image": image, "label_azimuth": tf.constant(17, tf.int64), "label_elevation": tf.constant(8, tf.int64)}
  out = vtab.TASKS["smallnorb_azimuth"].label_fn(example)
  assert int(out["label"]) == 17
  np.testing.assert_array_equal(out["image"].numpy(), np.repeat(image.numpy(), 3, axis=-1))
  assert int(vtab.TASKS["smallnorb_elevation"].label_fn(example)["label"]) == 8


def test_image_label_and_mg_shapes_labels():
  out = labels.image_label({"image": _rgb(), "label": tf.constant(4, tf.int64), "id": tf.constant("x")})
  assert sorted(out) == ["image", "label"] and int(out["label"]) == 4
  assert int(labels.mg_shapes_count({"image": _rgb(), "count": tf.constant(4, tf.int64)})["label"]) == 3
  assert int(labels.mg_shapes_position({"image": _rgb(), "position": tf.constant(2, tf.int64)})["label"]) == 2
  with pytest.raises(ValueError, match="channels"):
    labels.image_label({"image": tf.zeros([4, 4, 4], tf.uint8), "label": 0})


def test_label_functions_run_inside_tf_data():
  ds = tf.data.Dataset.from_generator(
      lambda: iter([_kitti([0, 3], [25.0, 1.0]), _kitti([], [])]),
      output_signature={"image": tf.TensorSpec([4, 5, 3], tf.uint8),
                        "objects": {"type": tf.TensorSpec([None], tf.int64),
                                    "location": tf.TensorSpec([None, 3], tf.float32)}})
  got = [int(ex["label"]) for ex in ds.map(labels.kitti_closest_vehicle_distance)]
  assert got == [2, 3]


# -- Preprocessing through the pipeline -----------------------------------------------------------------------

def test_task_pp_string():
  assert vtab.task_pp("dsprites_orientation", 224) == (
      "decode(channels=1)|vtab_label('dsprites_orientation')|resize(224)|value_range(-1, 1)|onehot(16)|"
      "keep('image', 'labels')")
  assert vtab.task_pp(vtab.TASKS["cifar100"], 32).startswith("decode(channels=3)|vtab_label('cifar100')|resize(32)")


@pytest.mark.parametrize("name", ["clevr_count", "clevr_distance", "kitti_distance", "dsprites_orientation",
                                  "smallnorb_elevation"])
def test_pipeline_on_mock_data(name):
  task = vtab.TASKS[name]
  with vtab.mock_vtab_data(num_examples=12):
    ds = get_dataset(task.builder, task.split("train800val200"), batch_size=5, pp=vtab.task_pp(task, 16),
                     train=False, data_dir="/nonexistent/tfds")
    batches = list(ds)
  assert [int(b["image"].shape[0]) for b in batches] == [5, 5, 2]  # eval keeps the last partial batch
  images = np.concatenate([b["image"].numpy() for b in batches])
  onehot = np.concatenate([b["labels"].numpy() for b in batches])
  assert images.shape == (12, 16, 16, 3) and images.min() >= -1.0 and images.max() <= 1.0
  np.testing.assert_array_equal(onehot.sum(-1), np.ones(12))  # every label in 0..num_classes-1
  assert onehot.shape[-1] == task.num_classes


def test_plain_tfds_mock_data_works_with_get_builder():
  """Under mock_data a builder is never prepared; get_builder's download_and_prepare is mocked away."""
  with tfds.testing.mock_data(num_examples=3):
    builder = get_builder("cifar100:3.*.*", data_dir="/nonexistent/tfds")
    assert len(list(builder.as_dataset(split="train[:800]"))) == 3
    with pytest.raises(DatasetUnavailableError, match="downloading is off"):
      get_builder("cifar100:3.*.*", data_dir="/nonexistent/tfds", download=False)


# -- Availability ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,files", [("resisc45", "NWPU-RESISC45"),
                                        ("diabetic_retinopathy", "trainLabels.csv")])
def test_manual_download_error_names_files_and_manual_dir(tmp_path, name, files):
  with pytest.raises(DatasetUnavailableError) as info:
    vtab.prepare_task(name, data_dir=str(tmp_path), download=False)
  message = str(info.value)
  assert files in message and name in message
  assert f"manual_dir={tmp_path}/downloads/manual" in message


def test_split_sizes_checked_against_prepared_builder(tiny_shapes):
  _, data_dir = tiny_shapes
  task = vtab.get_task("mg_shapes_count").with_builder("mg_shapes/tiny32")
  assert vtab.prepare_task(task, data_dir=data_dir, download=False).info.splits["train"].num_examples == 256
  wrong = task.with_builder("mg_shapes/tiny32", {"train": 10000, "validation": 64, "test": 64})
  with pytest.raises(vtab.SplitSizeMismatchError, match="train: expected 10000, prepared 256"):
    vtab.prepare_task(wrong, data_dir=data_dir, download=False)
