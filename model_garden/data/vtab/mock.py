"""`mock_vtab_data`: fake tfds data for every VTAB builder, for offline tests and smoke runs.

`tfds.testing.mock_data` alone fills sequences with 5-49 random entries, so CLEVR scenes would have up to
49 objects (count labels out of range) and KITTI depths would be random bytes. This context manager keeps
`mock_data`'s machinery (no files, no downloads, any data_dir) but supplies its own examples, with the
annotations the label functions read drawn from the real datasets' ranges:

  image                     random pixels at the feature's shape (unknown sides: 32 px); 0/1 for dSprites;
                            PNG bytes when the pipeline skips tfds decoding (pp starting with `decode`)
  every top-level ClassLabel uniform over its classes (label, label_orientation, label_azimuth, ...)
  clevr objects             3..10 objects, `size` and `pixel_coords` with depth z in [7, 11]
  kitti objects             0..6 objects, `type` in 0..7 (Car, Van, Truck = 0, 1, 2), `location` z in [1, 40]
  mg_shapes                 `count` 1..4

How it meets the pipeline: under `mock_data` a builder is never prepared, so `data.get_builder` calls
`download_and_prepare`, which `mock_data` turns into a no-op, and returns the builder (with
`download=False` it raises DatasetUnavailableError, as for a missing dataset). Every split string reads
`num_examples` examples (slices are not applied), and `info.splits` is empty, so split sizes are not
checked.
"""

from __future__ import annotations

import contextlib
import zlib

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

_UNKNOWN_SIDE = 32


@contextlib.contextmanager
def mock_vtab_data(num_examples: int = 16, seed: int = 0):
  """Within the context every tfds builder yields `num_examples` fake VTAB-shaped examples per split.

  Example:
    >>> with mock_vtab_data(num_examples=20):
    ...   ds = model_garden.data.get_dataset("clevr:3.*.*", "train[:800]", batch_size=8, train=False,
    ...                                      pp=task_pp("clevr_count", 16))
  """
  if num_examples < 1:
    raise ValueError(f"mock_vtab_data needs num_examples >= 1, got {num_examples}.")

  def as_dataset(builder, split, decoders=None, read_config=None, shuffle_files=False, **unused):
    del shuffle_files, unused
    encoded = bool(decoders) and "image" in decoders
    rng = np.random.default_rng([seed, zlib.crc32(builder.name.encode()), zlib.crc32(str(split).encode())])
    examples = [_example(builder, rng, encoded) for _ in range(num_examples)]
    if read_config is not None and read_config.add_tfds_id:
      for index, example in enumerate(examples):
        example["tfds_id"] = f"{builder.name}-{split}__{index}"
    signature = tf.nest.map_structure(_spec, examples[0])
    return tf.data.Dataset.from_generator(lambda: iter(examples), output_signature=signature)

  with tfds.testing.mock_data(num_examples=num_examples, as_dataset_fn=as_dataset):
    yield


def _spec(value):
  value = np.asarray(value)
  # Object annotations vary in length between examples; images and scalars have fixed shapes.
  shape = list(value.shape) if value.dtype == np.uint8 or not value.ndim else [None] + list(value.shape[1:])
  dtype = tf.string if value.dtype.kind in "SUO" else tf.as_dtype(value.dtype)
  return tf.TensorSpec(shape, dtype)


def _example(builder, rng, encoded):
  features = builder.info.features
  example = {}
  for key, feature in features.items():
    if isinstance(feature, tfds.features.ClassLabel):
      example[key] = np.int64(rng.integers(feature.num_classes))
  example["image"] = _image(builder.name, features["image"], rng, encoded)
  if builder.name == "clevr":
    n = int(rng.integers(3, 11))
    example["objects"] = {"size": rng.integers(2, size=n).astype(np.int64),
                          "pixel_coords": _coords(rng, n, 7.0, 11.0)}
  elif builder.name == "kitti":
    n = int(rng.integers(0, 7))
    example["objects"] = {"type": rng.integers(8, size=n).astype(np.int64),
                          "location": _coords(rng, n, 1.0, 40.0)}
  elif builder.name == "mg_shapes":
    example["count"] = np.int64(rng.integers(1, 5))
  return example


def _coords(rng, n, z_low, z_high):
  coords = rng.uniform(-10.0, 10.0, size=(n, 3)).astype(np.float32)
  coords[:, 2] = rng.uniform(z_low, z_high, size=n)
  return coords


def _image(name, feature, rng, encoded):
  shape = [_UNKNOWN_SIDE if side is None else side for side in feature.shape]
  high = 2 if name == "dsprites" else 256
  pixels = rng.integers(high, size=shape).astype(np.uint8)
  if encoded:
    return tf.io.encode_png(pixels).numpy()
  return pixels
