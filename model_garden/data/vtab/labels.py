"""VTAB's label functions: a decoded tfds example dict -> `{"image": uint8 HxWx3, "label": int64}`.

Pure TensorFlow, so each runs inside `tf.data` (the `vtab_label(task)` pp op calls them). The structured
tasks derive their label from annotations; the formulas and constants are those of
google-research/task_adaptation (`data/clevr.py`, `kitti.py`, `dsprites.py`, `smallnorb.py`):

  clevr_count                     label = number of objects - 3           (3..10 objects -> 0..7)
  clevr_closest_object_distance   d = min over objects of pixel_coords z; label = the largest i with
                                  thresholds[i] < d, thresholds [0, 8, 8.5, 9, 9.5, 10, 100] (6 bins)
  kitti_closest_vehicle_distance  d = min z of the vehicles (type < 3: Car, Van, Truck), or 1000 without
                                  one; thresholds [-100, 8, 20, 999]: <8 m, 8-20 m, >20 m, no vehicle
  dsprites(attribute)             label = floor(value / (num_values / num_classes)); image tiled to 3
                                  channels and multiplied by 255 (tfds stores 0/1 pixels)
  smallnorb(attribute)            label = the raw attribute; image tiled to 3 channels
  image_label                     label = example["label"] (natural, specialized tasks and DMLab)

"The largest i with thresholds[i] < d" is computed as (number of thresholds below d) - 1, which equals
task_adaptation's `reduce_max(where(thresholds - d < 0))` for the increasing thresholds used; for d at or
below the first threshold (no such i: impossible for these datasets) it gives -1, an all-zero one-hot.
"""

from __future__ import annotations

from typing import Dict, Sequence

import tensorflow as tf

CLEVR_DISTANCE_THRESHOLDS = (0.0, 8.0, 8.5, 9.0, 9.5, 10.0, 100.0)
KITTI_VEHICLE_DISTANCE_THRESHOLDS = (-100.0, 8.0, 20.0, 999.0)
KITTI_VEHICLE_TYPES = 3  # tfds kitti `objects/type` ids 0, 1, 2: Car, Van, Truck
KITTI_NO_VEHICLE_DISTANCE = 1000.0

Example = Dict[str, tf.Tensor]


def rgb(image) -> tf.Tensor:
  """A uint8 HxWx3 image: 1-channel images are tiled to 3 channels (as VTAB does), 3-channel ones kept."""
  image = tf.convert_to_tensor(image)
  if image.shape.rank != 3:
    raise ValueError(f"VTAB label functions take one decoded HxWxC image, got shape {image.shape}. Decode "
                     "the image first (pp `decode(channels=...)`).")
  channels = image.shape[-1]
  if channels == 1:
    return tf.tile(image, [1, 1, 3])
  if channels == 3:
    return image
  raise ValueError(f"VTAB images have 1 or 3 channels, got shape {image.shape}. Decode with "
                   "`decode(channels=3)` (or `channels=1` for dSprites and smallNORB).")


def bin_index(value, thresholds: Sequence[float]) -> tf.Tensor:
  """The largest i with thresholds[i] < value (int64), for increasing `thresholds`."""
  thresholds = tf.constant(thresholds, tf.float32)
  below = tf.cast(tf.less(thresholds, tf.cast(value, tf.float32)), tf.int64)
  return tf.reduce_sum(below) - 1


def _out(image, label) -> Example:
  return {"image": rgb(image), "label": tf.cast(label, tf.int64)}


def image_label(example: Example, label_key: str = "label") -> Example:
  """Natural and specialized tasks, DMLab: the tfds label as is."""
  return _out(example["image"], example[label_key])


def clevr_count(example: Example) -> Example:
  """CLEVR count_all: the number of objects minus 3 (8 classes)."""
  return _out(example["image"], tf.size(example["objects"]["size"], out_type=tf.int64) - 3)


def clevr_closest_object_distance(example: Example) -> Example:
  """CLEVR closest_object_distance: the nearest object's depth (pixel_coords z) in 6 bins."""
  depth = tf.reduce_min(example["objects"]["pixel_coords"][:, 2])
  return _out(example["image"], bin_index(depth, CLEVR_DISTANCE_THRESHOLDS))


def kitti_closest_vehicle_distance(example: Example) -> Example:
  """KITTI closest_vehicle_distance: nearest Car/Van/Truck depth (location z) in 3 bins, or "no vehicle"."""
  objects = example["objects"]
  is_vehicle = tf.less(tf.cast(objects["type"], tf.int64), KITTI_VEHICLE_TYPES)
  depths = tf.boolean_mask(tf.cast(objects["location"][:, 2], tf.float32), is_vehicle)
  depths = tf.concat([depths, tf.constant([KITTI_NO_VEHICLE_DISTANCE], tf.float32)], axis=0)
  return _out(example["image"], bin_index(tf.reduce_min(depths), KITTI_VEHICLE_DISTANCE_THRESHOLDS))


def dsprites(attribute: str, num_values: int, num_classes: int):
  """dSprites: `attribute` (num_values discrete values) grouped into num_classes equal bins; 0/1 pixels
  scaled to 0/255."""
  width = float(num_values) / float(num_classes)

  def label_fn(example: Example) -> Example:
    label = tf.math.floordiv(tf.cast(example[attribute], tf.float32), width)
    return _out(rgb(example["image"]) * 255, label)

  label_fn.__name__ = f"dsprites_{attribute}_{num_classes}"
  return label_fn


def smallnorb(attribute: str):
  """smallNORB: the raw `attribute` (label_azimuth: 18 classes, label_elevation: 9)."""
  def label_fn(example: Example) -> Example:
    return _out(example["image"], example[attribute])

  label_fn.__name__ = f"smallnorb_{attribute}"
  return label_fn


def mg_shapes_count(example: Example) -> Example:
  """mg_shapes (extra task, not VTAB): the number of objects, 1..4, as classes 0..3."""
  return _out(example["image"], tf.cast(example["count"], tf.int64) - 1)


def mg_shapes_position(example: Example) -> Example:
  """mg_shapes (extra task, not VTAB): the region holding the objects (5 classes)."""
  return _out(example["image"], example["position"])
