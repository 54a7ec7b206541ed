"""Label sources of the S3GAN family as preprocessing ops: one label, random labels, labels from a file.

"High-Fidelity Image Generation With Fewer Labels" (Lucic, Tschannen, Ritter, Zhai, Bachem, Gelly 2019)
compares conditional GANs trained on ImageNet with labels from several sources. compare_gan builds each as a
dataset class (`datasets.py`); here each is an op of the preprocessing string, so any dataset gets it:

* SINGLE LABEL (`single_class_imagenet_128`, every label 0, 1 class):        `single_label()`
* RANDOM LABEL (`random_class_imagenet_128`, uniform over the classes):    `random_label(1000)`
* CLUSTERING / S2GAN (labels inferred offline; compare_gan's `replace_labels.file_pattern`, TFRecords of
  {file_name, label}): `file_label('labels.json')`, a file of tools/gan_labels.py keyed by tfds id.

Random labels and resampling. compare_gan draws `tf.random.uniform` in `_parse_fn`, so an image gets a new
label every time it is read. `random_label` draws from `op_rng(example, ...)`, the stateless seed the input
pipeline derives from (seed, position of the example in the stream). `data/pipeline.py` numbers examples
*after* `repeat()` (`repeat -> enumerate -> _rng`), so the second pass over an image has another position
and therefore another label, as in compare_gan; and because the numbers are fixed by the seed, a resumed
run (which skips the examples already seen) draws exactly the labels of an uninterrupted one. An
evaluation pipeline (`train=False`) reads each example once, in order, so its labels are fixed per seed.

Example:
  config.input.pp = "decode|random_label(8)|value_range(-1, 1)|keep('image', 'label')"
"""

from __future__ import annotations

import tensorflow as tf

from model_garden.data.preprocess import op_rng, register


def _check_key(key, op_name: str) -> str:
  if not isinstance(key, str) or not key:
    raise ValueError(f"{op_name}: key must be a non-empty feature name such as 'label', got {key!r}.")
  return key


@register("single_label")
def single_label(key: str = "label", value: int = 0):
  """Sets `key` to the constant int64 `value` (0): compare_gan's `single_class_*` datasets (1 class).

  The conditional GAN then has `label_classes=1`: its class embedding is one learned vector, which makes it
  the paper's SINGLE LABEL baseline (an unconditional GAN with conditional-BN/projection machinery).
  """
  _check_key(key, "single_label")
  if isinstance(value, bool) or not isinstance(value, int) or value < 0:
    raise ValueError(f"single_label: value must be a class id >= 0 (e.g. single_label(value=0)), got {value!r}.")

  def op(example):
    example = dict(example)
    example[key] = tf.constant(value, tf.int64)
    return example
  return op


@register("random_label")
def random_label(num_classes: int, key: str = "label"):
  """Sets `key` to an int64 uniform in [0, num_classes): compare_gan's `random_class_*` datasets.

  Drawn from `op_rng(example, "random_label")` (for another `key`, the salt names the key too, so two such
  ops draw independently): reproducible per pipeline seed and resume point, and a new draw on every pass
  over the data (see the module docstring).
  """
  _check_key(key, "random_label")
  if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
    raise ValueError(f"random_label: num_classes must be a positive int, the number of classes of the "
                     f"conditional GAN (e.g. random_label(1000) for ImageNet), got {num_classes!r}.")
  salt = "random_label" if key == "label" else f"random_label:{key}"

  def op(example):
    example = dict(example)
    example[key] = tf.random.stateless_uniform([], seed=op_rng(example, salt), minval=0, maxval=num_classes,
                                               dtype=tf.int64)
    return example
  return op


@register("file_label")
def file_label(path: str, key: str = "label", id_key: str = "tfds_id", missing: int | None = None):
  """Sets `key` to the label a pseudo-label file gives the example's `id_key` (its tfds id).

  The file is the JSON `{"dataset", "split", "labels": {tfds_id: label}}` of tools/gan_labels.py (k-means
  cluster ids, or S2GAN's classifier labels) and of `semi_supervised.write_pseudo_labels`. Unlike
  `semi_supervised(pseudo_labels=FILE)`, which keeps the true label of the labelled subset, every example
  gets the file's label, as CLUSTERING needs (cluster ids are not class ids). Put the op before
  `keep(...)`: the input pipeline drops `tfds_id` after preprocessing.

  An example missing from the file fails its preprocessing; the input pipeline reports that as a
  CorruptExampleError naming the example: regenerate the file on the same dataset and split, or pass
  `missing=-1` to leave such examples unlabelled (an all-zero one-hot).

  Args:
    path: the label file.
    key: where to write the label.
    id_key: the feature holding the example's id.
    missing: label of examples absent from the file; None makes them an error.
  """
  # Imported here: semi_supervised imports the pipeline, which must not need this module to load.
  from model_garden.data.semi_supervised import read_pseudo_labels  # pylint: disable=import-outside-toplevel
  _check_key(key, "file_label")
  labels = read_pseudo_labels(path)
  if not labels:
    raise ValueError(f"file_label: {path} holds no labels; regenerate it with tools/gan_labels.py.")
  keys = sorted(labels)
  table = tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant([labels[k] for k in keys], tf.int64)),
      default_value=-1 if missing is None else int(missing))

  def op(example):
    if id_key not in example:
      raise KeyError(f"file_label('{path}') looks examples up by {id_key!r}, which this example lacks (it has "
                     f"{sorted(example)}). Read the data with model_garden.data.get_dataset (it adds tfds_id) "
                     "and put file_label before keep(...).")
    example = dict(example)
    label = table.lookup(example[id_key])
    if missing is None:
      check = tf.debugging.Assert(label >= 0, [f"file_label: no label in {path} for example",
                                               example[id_key], "- regenerate it with tools/gan_labels.py on "
                                               "this dataset and split, or pass missing=-1."])
      with tf.control_dependencies([check]):
        label = tf.identity(label)
    example[key] = label
    return example
  return op
