"""Semi-supervised data: a deterministic labelled subset and batches that mix labelled and unlabelled images.

S4L ("S4L: Self-Supervised Semi-Supervised Learning", Zhai, Oliver, Kolesnikov, Beyer 2019) trains on
ImageNet with 10% (128 per class) or 1% (13 per class) of the labels and all images as unlabelled data;
google-research/s4l zips two input pipelines (the labelled subset, filtered by a list of file names, and
the whole training set) and feeds 256 labelled + 256 unlabelled images per step.

Here the two streams become one, so that the ordinary input pipeline, resume-by-skipping and the trainer
work unchanged. The layout every semi-supervised objective reads:

* `image`: as the preprocessing string makes it;
* `label`: the class for a labelled example, -1 for an unlabelled one (so no label can leak; `onehot(K)`
  turns -1 into an all-zero vector);
* `labelled`: int64 1 for an example of the labelled stream, 0 for one of the unlabelled stream.

The registered source `semi_supervised(dataset=..., fraction=0.1)` interleaves the streams exactly:
one labelled example, then `unlabelled_per_labelled` unlabelled ones, repeated (each stream shuffled and
repeated on its own, the labelled one once per pass over the subset). With the pipeline's own shuffle
off (`config.input.shuffle_buffer = 1`) a batch of B holds exactly B / (1 + k) labelled examples; with
it on, the proportion holds on average. Keep `config.input.cache = False` (the stream is infinite; the
labelled subset is cached inside the source).

Example config:
  config.input.data = dict(name="semi_supervised(dataset='mg_shapes/px32', fraction=0.1)", split="train")
  config.input.shuffle_buffer = 1
  config.input.cache = False
  config.input.pp = "decode|flip_lr|value_range(-1, 1)|onehot(8)|keep('image', 'labels', 'labelled')"

The same source gives the supervised baseline on the same labels (`unlabelled_per_labelled=0`) and the
pseudo-label training set (`pseudo_labels=FILE`: every example, labelled with its true label when in the
subset and with the file's label otherwise; see `write_pseudo_labels`).
"""

from __future__ import annotations

import json
import os
import zlib
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from model_garden.data.pipeline import get_builder
from model_garden.data.preprocess import get_preprocess_fn
from model_garden.data.sources import register


def select_labelled(labels: Sequence[int], ids: Optional[Sequence[str]] = None, *,
                    fraction: Optional[float] = None, count_per_class: Optional[int] = None,
                    seed: int = 0) -> np.ndarray:
  """Indices of a class-balanced labelled subset, chosen deterministically.

  Exactly one of `fraction` and `count_per_class`. A fraction f becomes a count per class,
  `max(1, round(f * N / C))` for N examples of C classes: S4L's balanced subsets (10% of ImageNet =
  128 per class, 1% = 13). Within a class, examples are ranked by crc32("{seed}:{id}") (id = the example's
  `tfds_id`, or its index when `ids` is None), so the subset depends on the examples' identities, not on the
  order they are read in; the first `count` of each class are taken.

  Args:
    labels: the class of every example.
    ids: stable identifiers of the examples (e.g. tfds ids); default their positions.
    fraction: share of the examples to label, in (0, 1].
    count_per_class: labelled examples per class.
    seed: which subset (S4L's `label_map_count_..._index_{seed}`).

  Returns:
    Sorted int64 indices into `labels`.

  Raises:
    ValueError: both or neither of fraction/count_per_class, a fraction outside (0, 1], or a class with
      fewer examples than the count (named, with its size).
  """
  labels = np.asarray(labels).reshape(-1)
  if (fraction is None) == (count_per_class is None):
    raise ValueError("Pass exactly one of fraction=... (e.g. 0.1) and count_per_class=... (e.g. 128).")
  classes = np.unique(labels)
  if fraction is not None:
    if not 0.0 < float(fraction) <= 1.0:
      raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
    count_per_class = max(1, int(round(float(fraction) * len(labels) / max(len(classes), 1))))
  count_per_class = int(count_per_class)
  if count_per_class < 1:
    raise ValueError(f"count_per_class must be >= 1, got {count_per_class}.")
  keys = [str(i) for i in range(len(labels))] if ids is None else [str(i) for i in ids]
  if len(keys) != len(labels):
    raise ValueError(f"{len(keys)} ids for {len(labels)} labels.")
  rank = np.array([zlib.crc32(f"{seed}:{key}".encode()) for key in keys], dtype=np.int64)
  chosen = []
  for cls in classes:
    members = np.flatnonzero(labels == cls)
    if len(members) < count_per_class:
      raise ValueError(f"Class {cls} has {len(members)} examples, fewer than count_per_class="
                       f"{count_per_class}. Lower the count (or fraction), or use a larger split.")
    order = np.lexsort((members, rank[members]))
    chosen.append(members[order[:count_per_class]])
  return np.sort(np.concatenate(chosen)).astype(np.int64)


def read_labels(dataset: str, split: str, *, data_dir: Optional[str] = None, label_key: str = "label"):
  """(tfds ids, labels) of every example of a tfds split, in file order, without decoding images."""
  builder = get_builder(dataset, data_dir=data_dir)
  if label_key not in builder.info.features:
    raise KeyError(f"{dataset} has no feature {label_key!r}; it has {sorted(builder.info.features)}. Pass "
                   "label_key=... .")
  ds = builder.as_dataset(split=split, shuffle_files=False, read_config=tfds.ReadConfig(add_tfds_id=True),
                          decoders=tfds.decode.PartialDecoding({label_key: True}))
  ids, labels = [], []
  for batch in ds.map(lambda ex: (ex["tfds_id"], ex[label_key])).batch(8192).as_numpy_iterator():
    ids.extend(i.decode() for i in batch[0])
    labels.append(batch[1])
  return ids, np.concatenate(labels) if labels else np.zeros([0], np.int64)


def labelled_ids(dataset: str, split: str, *, fraction: Optional[float] = None,
                 count_per_class: Optional[int] = None, seed: int = 0, data_dir: Optional[str] = None,
                 label_key: str = "label") -> List[str]:
  """The tfds ids of the labelled subset of `dataset`/`split` (see `select_labelled`)."""
  ids, labels = read_labels(dataset, split, data_dir=data_dir, label_key=label_key)
  chosen = select_labelled(labels, ids, fraction=fraction, count_per_class=count_per_class, seed=seed)
  return [ids[i] for i in chosen]


class SemiSupervised:
  """A tfds split as an interleaved stream of labelled and unlabelled examples (see the module docstring).

  Args:
    dataset: tfds name, e.g. "mg_shapes/px32" or "imagenet2012".
    fraction / count_per_class: the labelled subset (`select_labelled`), one of them required (with
      `pseudo_labels`, the subset keeps its true labels).
    unlabelled_per_labelled: unlabelled examples after each labelled one (S4L: 1, i.e. 256 + 256); 0 gives
      the labelled subset alone (the supervised baseline).
    pseudo_labels: a JSON file {tfds_id: label} (`write_pseudo_labels`): every example becomes labelled,
      with its true label inside the subset and the file's label elsewhere (S4L's pseudo-label training).
    selection_seed: which labelled subset.
    data_dir: tfds data_dir.
    label_key: the class feature.
    shuffle_buffer: shuffle buffer of each stream.
    cache_labelled: keep the labelled subset's encoded examples in memory.

  Example:
    >>> ds = model_garden.data.get_dataset("semi_supervised(dataset='mg_shapes/px32', fraction=0.1)",
    ...     "train", batch_size=64, shuffle_buffer=1,
    ...     pp="decode|value_range(-1, 1)|onehot(8)|keep('image', 'labels', 'labelled')")
  """

  def __init__(self, dataset: str, fraction: Optional[float] = None, count_per_class: Optional[int] = None,
               unlabelled_per_labelled: int = 1, pseudo_labels: Optional[str] = None, selection_seed: int = 0,
               data_dir: Optional[str] = None, label_key: str = "label", shuffle_buffer: int = 10_000,
               cache_labelled: bool = True):
    if fraction is None and count_per_class is None:
      raise ValueError("semi_supervised needs the labelled subset: fraction=0.1 or count_per_class=128.")
    if int(unlabelled_per_labelled) < 0:
      raise ValueError(f"unlabelled_per_labelled must be >= 0, got {unlabelled_per_labelled}.")
    self.dataset = dataset
    self.fraction = fraction
    self.count_per_class = count_per_class
    self.unlabelled_per_labelled = int(unlabelled_per_labelled)
    self.pseudo_labels = pseudo_labels
    self.selection_seed = int(selection_seed)
    self.data_dir = data_dir
    self.label_key = label_key
    self.shuffle_buffer = int(shuffle_buffer)
    self.cache_labelled = bool(cache_labelled)
    self._ids: Dict[str, List[str]] = {}

  def labelled_ids(self, split: str) -> List[str]:
    if split not in self._ids:
      self._ids[split] = labelled_ids(self.dataset, split, fraction=self.fraction,
                                      count_per_class=self.count_per_class, seed=self.selection_seed,
                                      data_dir=self.data_dir, label_key=self.label_key)
    return self._ids[split]

  def _base(self, split: str) -> tf.data.Dataset:
    builder = get_builder(self.dataset, data_dir=self.data_dir)
    decoders = {"image": tfds.decode.SkipDecoding()} if "image" in builder.info.features else None
    ds = builder.as_dataset(split=split, shuffle_files=False, decoders=decoders,
                            read_config=tfds.ReadConfig(add_tfds_id=True))
    key = self.label_key
    return ds.map(lambda ex: {"image": ex["image"], "label": tf.cast(ex[key], tf.int64),
                              "tfds_id": ex["tfds_id"]})

  def as_dataset(self, split: str, shuffle_files: bool = False, seed: int = 0) -> tf.data.Dataset:
    del shuffle_files  # Each stream is shuffled here, in training and evaluation alike.
    ids = self.labelled_ids(split)
    in_subset = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(ids), tf.ones([len(ids)], tf.int64)), default_value=0)
    base = self._base(split)
    if self.pseudo_labels:
      return self._pseudo_labelled(base, in_subset, seed)
    labelled = base.filter(lambda ex: in_subset.lookup(ex["tfds_id"]) > 0)
    labelled = labelled.map(lambda ex: {**ex, "labelled": tf.constant(1, tf.int64)})
    if self.cache_labelled:
      labelled = labelled.cache()
    labelled = labelled.shuffle(min(self.shuffle_buffer, len(ids)), seed=seed,
                                reshuffle_each_iteration=True).repeat()
    if not self.unlabelled_per_labelled:
      return labelled
    unlabelled = base.map(lambda ex: {**ex, "label": tf.constant(-1, tf.int64),
                                      "labelled": tf.constant(0, tf.int64)})
    unlabelled = unlabelled.shuffle(self.shuffle_buffer, seed=seed + 1, reshuffle_each_iteration=True).repeat()
    pattern = tf.constant([0] + [1] * self.unlabelled_per_labelled, tf.int64)
    choice = tf.data.Dataset.from_tensor_slices(pattern).repeat()
    return tf.data.Dataset.choose_from_datasets([labelled, unlabelled], choice)

  def _pseudo_labelled(self, base, in_subset, seed):
    labels = read_pseudo_labels(self.pseudo_labels)
    keys = sorted(labels)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant([labels[k] for k in keys], tf.int64)),
        default_value=-1)
    path = self.pseudo_labels

    def relabel(ex):
      pseudo = table.lookup(ex["tfds_id"])
      label = tf.where(in_subset.lookup(ex["tfds_id"]) > 0, ex["label"], pseudo)
      check = tf.debugging.Assert(label >= 0, ["No pseudo label in", path, "for example", ex["tfds_id"],
                                               "- regenerate the file on this split."])
      with tf.control_dependencies([check]):
        return {**ex, "label": tf.identity(label), "labelled": tf.constant(1, tf.int64)}

    return base.map(relabel).shuffle(self.shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()


@register("semi_supervised")
def semi_supervised(*, dataset: str, fraction: Optional[float] = None, count_per_class: Optional[int] = None,
                    unlabelled_per_labelled: int = 1, pseudo_labels: Optional[str] = None,
                    selection_seed: int = 0, data_dir: Optional[str] = None, label_key: str = "label",
                    shuffle_buffer: int = 10_000, cache_labelled: bool = True) -> SemiSupervised:
  """Spec factory: `semi_supervised(dataset='imagenet2012', count_per_class=128)` (S4L's 10%)."""
  return SemiSupervised(dataset, fraction=fraction, count_per_class=count_per_class,
                        unlabelled_per_labelled=unlabelled_per_labelled, pseudo_labels=pseudo_labels,
                        selection_seed=selection_seed, data_dir=data_dir, label_key=label_key,
                        shuffle_buffer=shuffle_buffer, cache_labelled=cache_labelled)


def read_pseudo_labels(path: str) -> Dict[str, int]:
  """The {tfds_id: label} map of a pseudo-label file."""
  if not os.path.exists(path):
    raise FileNotFoundError(f"Pseudo-label file {path} does not exist; write it with tools/gan_labels.py "
                            "(GAN labels from self-supervised features) or "
                            "model_garden.data.semi_supervised.write_pseudo_labels (tools/moam.py does).")
  with open(path) as f:
    content = json.load(f)
  return {str(k): int(v) for k, v in content["labels"].items()}


def write_pseudo_labels(predict_fn: Callable, dataset: str, split: str, *, pp: str, path: str,
                        batch_size: int = 256, data_dir: Optional[str] = None) -> Dict[str, int]:
  """Labels every example of a split with `argmax(predict_fn(images))` and writes {tfds_id: label}.

  S4L's `pseudo_labeling/generate_labels.py`: the teacher sees the evaluation preprocessing `pp` (no
  augmentation). The file is JSON `{"dataset", "split", "labels": {tfds_id: label}}`, written atomically.

  Args:
    predict_fn: float images [B, H, W, 3] -> logits [B, K] (e.g. a trained network).
    dataset, split: what to label.
    pp: deterministic preprocessing producing `image` (e.g. "decode|value_range(-1, 1)").
    path: output file.
    batch_size: prediction batch size.
    data_dir: tfds data_dir.

  Returns:
    The {tfds_id: label} map.
  """
  builder = get_builder(dataset, data_dir=data_dir)
  preprocess = get_preprocess_fn(pp)
  ds = builder.as_dataset(split=split, shuffle_files=False, read_config=tfds.ReadConfig(add_tfds_id=True),
                          decoders={"image": tfds.decode.SkipDecoding()})
  ds = ds.map(lambda ex: (ex["tfds_id"], preprocess({"image": ex["image"]})["image"]),
              num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)
  labels: Dict[str, int] = {}
  for ids, images in ds:
    predicted = np.argmax(np.asarray(predict_fn(images)), axis=-1)
    labels.update({i.decode(): int(p) for i, p in zip(ids.numpy(), predicted)})
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp"
  with open(tmp, "w") as f:
    json.dump({"dataset": dataset, "split": split, "labels": labels}, f)
  os.replace(tmp, path)
  return labels
