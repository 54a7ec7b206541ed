"""Image-text datasets named by spec: COCO captions (tfds), CSV / JSONL files of image paths and captions, and
TFRecord shards. Every source yields one example per image with its encoded `image` bytes, all its
`captions` (a string vector) and a `tfds_id`, so the usual pipeline applies:

  get_dataset("image_text_csv(path='/data/pairs.csv', image_root='/data/images')", "train", batch_size=256,
              pp="decode|resize(224)|value_range(-1, 1)|sample_caption|tokenize(16, model='sp.model')|"
                 "keep('image', 'labels')")

`sample_caption` draws one caption per image per step with the example's seed (see model_garden.text),
so a caption set is seen in full over the epochs, and a resumed run draws the same captions. Images with
different numbers of captions cannot be batched with their `captions` kept: evaluations that keep them
(retrieval) add `fixed_captions(n)` to the pp, which cuts or pads the vector with empty strings.
mg_shapes (a tfds name) already has a `captions` feature and needs no source.

The readers are reached through their registered specs (`image_text_csv(...)`, `image_text_jsonl(...)`,
`image_text_tfrecord(...)`, `coco_captions`), which return an object with `as_dataset(split, shuffle_files,
seed)` as every `DATASETS` source.

Splits: a `{split}` in a path is replaced by the split's name (`pairs_{split}.csv`); without it the file is
the `train` split. Any split may be sliced as in tfds: `train[:90%]`, `train[1000:]`.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import tensorflow as tf

from model_garden.data.sources import register

_SPLIT_RE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*(?:\[\s*([^:\]]*?)\s*:\s*([^:\]]*?)\s*\])?\s*$")


def parse_split(split: str) -> Tuple[str, Optional[str], Optional[str]]:
  """"train[:90%]" -> ("train", None, "90%")."""
  match = _SPLIT_RE.match(split)
  if not match:
    raise ValueError(f"Split {split!r} is not understood; write 'name' or 'name[start:stop]' with integers "
                     "or percentages, e.g. 'train[:90%]'.")
  name, start, stop = match.groups()
  return name, (start or None), (stop or None)


def _bound(value: Optional[str], total: int) -> Optional[int]:
  if value is None:
    return None
  if value.endswith("%"):
    return round(float(value[:-1]) * total / 100)
  return int(value)


def slice_split(items: list, split: str) -> list:
  """The part of `items` a tfds-style slice selects (`[a:b]` in examples or percents)."""
  _, start, stop = parse_split(split)
  return items[_bound(start, len(items)):_bound(stop, len(items))]


def _split_path(path: str, split: str, what: str) -> str:
  name = parse_split(split)[0]
  if "{split}" in path:
    path = path.replace("{split}", name)
  elif name != "train":
    raise ValueError(f"{what}: the file {path!r} is the 'train' split; for split {name!r} put '{{split}}' in "
                     "the path (e.g. pairs_{split}.csv) or slice train, e.g. 'train[90%:]'.")
  return path


def _check_file(path: str, what: str) -> None:
  if not os.path.exists(path):
    raise FileNotFoundError(f"{what}: no file {path!r}.")


def group_captions(pairs) -> "OrderedDict[str, List[str]]":
  """(image, caption) pairs -> {image: [captions...]} in order of first appearance; empty captions dropped."""
  grouped: "OrderedDict[str, List[str]]" = OrderedDict()
  for image, caption in pairs:
    captions = grouped.setdefault(image, [])
    if isinstance(caption, (list, tuple)):
      captions.extend(str(c) for c in caption if str(c).strip())
    elif caption is not None and str(caption).strip():
      captions.append(str(caption))
  return grouped


def _from_grouped(grouped, image_root: Optional[str], split: str, what: str,
                  shuffle_files: bool, seed: int) -> tf.data.Dataset:
  items = [(image, captions) for image, captions in grouped.items() if captions]
  dropped = len(grouped) - len(items)
  items = slice_split(items, split)
  if not items:
    raise ValueError(f"{what}: split {split!r} holds no image with a caption"
                     + (f" ({dropped} images had none)." if dropped else "."))
  paths = [os.path.join(image_root, p) if image_root and not os.path.isabs(p) else p for p, _ in items]
  captions = tf.ragged.constant([c for _, c in items], dtype=tf.string)
  ds = tf.data.Dataset.from_tensor_slices({"tfds_id": paths, "captions": captions})
  if shuffle_files:
    ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=False)

  def read(example):
    return {"tfds_id": example["tfds_id"], "captions": example["captions"],
            "image": tf.io.read_file(example["tfds_id"])}
  return ds.map(read, num_parallel_calls=tf.data.AUTOTUNE)


class _ImageTextCsv:
  """A CSV file of (image path, caption) rows, one row per caption; rows of one image are grouped.

  Example:
    >>> ds = get_dataset("image_text_csv(path='/data/pairs_{split}.csv', image_root='/data/img')", "train", ...)
  """

  def __init__(self, path: str, image_root: Optional[str] = None, image_key: str = "image",
               caption_key: str = "caption", delimiter: str = ","):
    self.path, self.image_root = path, image_root
    self.image_key, self.caption_key, self.delimiter = image_key, caption_key, delimiter

  def grouped(self, split: str):
    path = _split_path(self.path, split, "image_text_csv")
    _check_file(path, "image_text_csv")
    with open(path, newline="", encoding="utf-8") as f:
      reader = csv.DictReader(f, delimiter=self.delimiter)
      missing = [k for k in (self.image_key, self.caption_key) if k not in (reader.fieldnames or [])]
      if missing:
        raise KeyError(f"image_text_csv: {path} has no column {missing}; its header is {reader.fieldnames}. "
                       "Pass image_key=... / caption_key=....")
      return group_captions((row[self.image_key], row[self.caption_key]) for row in reader)

  def as_dataset(self, split: str, shuffle_files: bool = False, seed: int = 0) -> tf.data.Dataset:
    return _from_grouped(self.grouped(split), self.image_root, split, f"image_text_csv({self.path})",
                         shuffle_files, seed)


class _ImageTextJsonl:
  """A JSON-lines file: `{"image": path, "caption": text}` or `{"image": path, "captions": [texts]}` per line.

  Example:
    >>> ds = get_dataset("image_text_jsonl(path='/data/pairs.jsonl')", "train[:90%]", ...)
  """

  def __init__(self, path: str, image_root: Optional[str] = None, image_key: str = "image",
               caption_key: str = "caption"):
    self.path, self.image_root, self.image_key, self.caption_key = path, image_root, image_key, caption_key

  def grouped(self, split: str):
    path = _split_path(self.path, split, "image_text_jsonl")
    _check_file(path, "image_text_jsonl")
    pairs = []
    with open(path, encoding="utf-8") as f:
      for number, line in enumerate(f, 1):
        if not line.strip():
          continue
        try:
          record = json.loads(line)
        except json.JSONDecodeError as e:
          raise ValueError(f"image_text_jsonl: {path} line {number} is not JSON ({e.msg}).") from None
        keys = [k for k in (self.caption_key, self.caption_key + "s") if k in record]
        if self.image_key not in record or not keys:
          raise KeyError(f"image_text_jsonl: {path} line {number} needs '{self.image_key}' and "
                         f"'{self.caption_key}' (or '{self.caption_key}s'); it has {sorted(record)}.")
        pairs.append((record[self.image_key], record[keys[0]]))
    return group_captions(pairs)

  def as_dataset(self, split: str, shuffle_files: bool = False, seed: int = 0) -> tf.data.Dataset:
    return _from_grouped(self.grouped(split), self.image_root, split, f"image_text_jsonl({self.path})",
                         shuffle_files, seed)


class _ImageTextTfrecord:
  """TFRecord shards of `tf.train.Example`s with encoded image bytes and one or more captions (bytes_list).

  Example:
    >>> ds = get_dataset("image_text_tfrecord(pattern='/data/{split}-*.tfrecord')", "train", ...)
  """

  def __init__(self, pattern: str, image_key: str = "image", caption_key: str = "caption"):
    self.pattern, self.image_key, self.caption_key = pattern, image_key, caption_key

  def as_dataset(self, split: str, shuffle_files: bool = False, seed: int = 0) -> tf.data.Dataset:
    pattern = _split_path(self.pattern, split, "image_text_tfrecord")
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
      raise FileNotFoundError(f"image_text_tfrecord: no files match {pattern!r}.")
    if parse_split(split)[1:] != (None, None):
      raise ValueError(f"image_text_tfrecord reads whole shards; split {split!r} cannot be sliced. Use "
                       "separate shard patterns per split ('{split}' in the pattern).")
    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_files:
      ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=False)
    ds = tf.data.TFRecordDataset(ds)
    spec = {self.image_key: tf.io.FixedLenFeature([], tf.string),
            self.caption_key: tf.io.VarLenFeature(tf.string)}

    def parse(index, record):
      example = tf.io.parse_single_example(record, spec)
      return {"image": example[self.image_key],
              "captions": tf.sparse.to_dense(example[self.caption_key], default_value=""),
              "tfds_id": tf.strings.join([pattern, tf.strings.as_string(index)], separator=":")}
    return ds.enumerate().map(parse, num_parallel_calls=tf.data.AUTOTUNE)


class _CocoCaptions:
  """tfds `coco_captions` with each image's captions flattened to a string vector (`captions`).

  The dataset must be prepared (it needs a download); `data_dir` defaults to the pipeline's.

  Example:
    >>> ds = get_dataset("coco_captions", "val", batch_size=256, pp="decode|resize(224)|...")
  """

  def __init__(self, data_dir: Optional[str] = None, name: str = "coco_captions"):
    self.data_dir, self.name = data_dir, name

  def as_dataset(self, split: str, shuffle_files: bool = False, seed: int = 0) -> tf.data.Dataset:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    from model_garden.data.pipeline import get_builder  # pylint: disable=g-import-not-at-top
    builder = get_builder(self.name, data_dir=self.data_dir)
    read_config = tfds.ReadConfig(shuffle_seed=seed, add_tfds_id=True)
    ds = builder.as_dataset(split=split, shuffle_files=shuffle_files, read_config=read_config,
                            decoders={"image": tfds.decode.SkipDecoding()})
    return ds.map(lambda ex: {"image": ex["image"], "captions": ex["captions"]["text"],
                              "tfds_id": ex["tfds_id"]}, num_parallel_calls=tf.data.AUTOTUNE)


@register("image_text_csv")
def image_text_csv(*, path: str, image_root: Optional[str] = None, image_key: str = "image",
                   caption_key: str = "caption", delimiter: str = ",") -> _ImageTextCsv:
  """Spec factory: `image_text_csv(path='/data/pairs_{split}.csv', image_root='/data/images')`."""
  return _ImageTextCsv(path, image_root=image_root, image_key=image_key, caption_key=caption_key,
                      delimiter=delimiter)


@register("image_text_jsonl")
def image_text_jsonl(*, path: str, image_root: Optional[str] = None, image_key: str = "image",
                     caption_key: str = "caption") -> _ImageTextJsonl:
  """Spec factory: `image_text_jsonl(path='/data/pairs.jsonl')`."""
  return _ImageTextJsonl(path, image_root=image_root, image_key=image_key, caption_key=caption_key)


@register("image_text_tfrecord")
def image_text_tfrecord(*, pattern: str, image_key: str = "image",
                        caption_key: str = "caption") -> _ImageTextTfrecord:
  """Spec factory: `image_text_tfrecord(pattern='/data/{split}-*.tfrecord')`."""
  return _ImageTextTfrecord(pattern, image_key=image_key, caption_key=caption_key)


@register("coco_captions")
def coco_captions(*, data_dir: Optional[str] = None) -> _CocoCaptions:
  """Spec factory: `coco_captions` or `coco_captions(data_dir='/data/tfds')`."""
  return _CocoCaptions(data_dir=data_dir)


def write_tfrecord(path: str, examples: List[Dict], image_key: str = "image",
                   caption_key: str = "caption") -> str:
  """Writes `[{"image": bytes, "captions": [str, ...]}, ...]` as one TFRecord shard (tools and tests)."""
  with tf.io.TFRecordWriter(path) as writer:
    for example in examples:
      feature = {
          image_key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[example["image"]])),
          caption_key: tf.train.Feature(bytes_list=tf.train.BytesList(
              value=[c.encode("utf-8") for c in example["captions"]])),
      }
      writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
  return path
