"""tfds -> preprocessing string -> shuffle, global batch, prefetch.

The stream is deterministic for a given seed: examples are numbered in stream order, each gets a
stateless `_rng` seed from (seed, number), and `skip_examples` drops raw examples *before* decoding, so a
resumed run continues with exactly the batches an uninterrupted run would have seen, at little cost.
"""

from __future__ import annotations

import os
from typing import Optional

import tensorflow as tf
import tensorflow_datasets as tfds

from model_garden.data.preprocess import RNG_KEY, get_preprocess_fn, split_pp
from model_garden.data.sources import lookup_source
from model_garden.registry import Spec


class DatasetUnavailableError(RuntimeError):
  """A tfds dataset is not prepared and cannot be prepared here."""


class CorruptExampleError(RuntimeError):
  """An example failed to preprocess (typically undecodable image bytes)."""


def default_data_dir() -> str:
  return os.environ.get("TFDS_DATA_DIR") or os.path.join(os.path.expanduser("~"), "tensorflow_datasets")


def get_builder(name: str, data_dir: Optional[str] = None, download: bool = True):
  """The prepared tfds builder for `name` ("mg_shapes/px32"), preparing it if allowed and possible."""
  data_dir = data_dir or default_data_dir()
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise DatasetUnavailableError(f"tfds has no dataset named {name!r}: {e}") from None
  if _is_prepared(builder):
    return builder
  manual_dir = os.path.join(data_dir, "downloads", "manual")
  instructions = getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)
  fix = (f"Prepare it where the network allows (python -c \"import tensorflow_datasets as tfds; "
         f"tfds.builder('{name}', data_dir='{data_dir}').download_and_prepare()\") and copy "
         f"{data_dir}/{builder.info.full_name} here, or pass data_dir=... pointing at a prepared copy.")
  if instructions:
    fix = (f"It needs a manual download: place the original files in manual_dir={manual_dir} "
           f"({instructions.strip().splitlines()[0] if instructions.strip() else 'see the tfds catalog'}), "
           f"then rerun. " + fix)
  if not download:
    raise DatasetUnavailableError(
        f"tfds dataset {name!r} is not prepared in data_dir={data_dir} and downloading is off. " + fix)
  try:
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
  except Exception as e:  # pylint: disable=broad-except
    raise DatasetUnavailableError(
        f"tfds dataset {name!r} is not prepared in data_dir={data_dir} and preparing it failed "
        f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}). This machine may be offline. "
        + fix) from e
  return builder


def _is_prepared(builder) -> bool:
  try:
    return builder.is_prepared()
  except AttributeError:
    return os.path.exists(os.path.join(builder.data_dir, "dataset_info.json"))


def get_dataset(name: Spec, split: str, *, batch_size: int, pp: str = "", data_dir: Optional[str] = None,
                train: bool = True, seed: int = 0, shuffle_buffer: int = 10_000, skip_examples: int = 0,
                cache: bool = False, on_corrupt: str = "error", download: bool = True,
                drop_remainder: Optional[bool] = None, num_parallel_calls=tf.data.AUTOTUNE) -> tf.data.Dataset:
  """A batched dataset of preprocessed examples.

  Args:
    name: tfds name, with config, e.g. "mg_shapes/px32" or "cifar10", or a registered dataset spec
      such as "image_folder(root='/data/pets')" or `dict(name="image_folder", root="/data/pets")` (see
      `DATASETS`).
    split: tfds split string, e.g. "train[:90%]".
    batch_size: the global batch size (tf.distribute splits it across replicas).
    pp: preprocessing string, e.g. "decode|flip_lr|value_range(-1, 1)|onehot(8)|keep('image', 'labels')".
    data_dir: tfds data_dir (default $TFDS_DATA_DIR or ~/tensorflow_datasets).
    train: repeat forever and shuffle (True), or one ordered pass for evaluation (False).
    seed: seed of the file order, the shuffle buffer and every random op.
    shuffle_buffer: examples in the shuffle buffer.
    skip_examples: raw examples to drop from the start of the stream (resume).
    cache: cache the decoded-free raw examples in memory (small datasets).
    on_corrupt: "error" raises CorruptExampleError naming the example; "skip" drops and counts it
      (the returned dataset's `corrupt_counter.value()`).
    download: try `download_and_prepare` if the dataset is not prepared.
    drop_remainder: default True for training, False for evaluation.

  Returns:
    A `tf.data.Dataset` of dicts; bookkeeping keys starting with `_` are removed.

  Example:
    >>> ds = get_dataset("mg_shapes/px32", "train", batch_size=64,
    ...                  pp="decode|flip_lr|value_range(-1, 1)|onehot(8)|keep('image', 'labels')")
  """
  if on_corrupt not in ("error", "skip"):
    raise ValueError(f"on_corrupt must be 'error' or 'skip', got {on_corrupt!r}.")
  source = lookup_source(name, data_dir=data_dir)
  if source is not None:
    ds = source.as_dataset(split, shuffle_files=train, seed=seed)
  else:
    builder = get_builder(name, data_dir=data_dir, download=download)
    ops = split_pp(pp)
    decode_in_pp = bool(ops) and ops[0].split("(")[0] == "decode"
    decoders = None
    if decode_in_pp and "image" in builder.info.features:
      decoders = {"image": tfds.decode.SkipDecoding()}
    read_config = tfds.ReadConfig(shuffle_seed=seed, add_tfds_id=True)
    ds = builder.as_dataset(split=split, shuffle_files=train, decoders=decoders, read_config=read_config)
  if cache:
    ds = ds.cache()
  if train:
    ds = ds.repeat()
  ds = ds.enumerate().map(_attach_rng(seed), num_parallel_calls=num_parallel_calls)
  if train and shuffle_buffer > 1:
    ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  if skip_examples:
    ds = ds.skip(skip_examples)
  ds = guarded_map(ds, get_preprocess_fn(pp), on_corrupt=on_corrupt, num_parallel_calls=num_parallel_calls)
  counter = getattr(ds, "corrupt_counter", None)
  ds = ds.map(_drop_private, num_parallel_calls=num_parallel_calls)
  drop = train if drop_remainder is None else drop_remainder
  ds = ds.batch(batch_size, drop_remainder=drop, num_parallel_calls=num_parallel_calls)
  ds = ds.prefetch(tf.data.AUTOTUNE)
  if counter is not None:
    ds.corrupt_counter = counter  # type: ignore[attr-defined]
  return ds


def _attach_rng(seed: int):
  def attach(index, example):
    example = dict(example)
    example["_index"] = index
    example[RNG_KEY] = tf.random.experimental.stateless_fold_in(
        tf.constant([seed, 0], tf.int64), index)
    return example
  return attach


def _drop_private(example):
  return {k: v for k, v in example.items() if not k.startswith("_") and k != "tfds_id"}


class _SkipCounter:
  """Counts skipped examples (a variable read after iteration: `counter.value()`)."""

  def __init__(self):
    self.variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="corrupt_examples_skipped")

  def value(self) -> int:
    return int(self.variable.numpy())


def guarded_map(ds: tf.data.Dataset, fn, *, on_corrupt: str = "error", num_parallel_calls=None):
  """`ds.map(fn)` where an example that makes `fn` fail is named (error) or dropped and counted (skip).

  Each example is mapped inside its own one-element dataset with `ignore_errors`, followed by a flagged
  placeholder: whichever comes first is taken, so a failure is detected in-graph and the example's
  `tfds_id` (or stream number) can be put in the message instead of a bare decoder error.
  """
  out_spec = ds.map(fn).element_spec
  counter = _SkipCounter() if on_corrupt == "skip" else None

  def example_id(example):
    if "tfds_id" in example:
      return example["tfds_id"]
    return tf.strings.as_string(example.get("_index", tf.constant(-1, tf.int64)))

  def attempt(example):
    ident = example_id(example)
    good = tf.data.Dataset.from_tensors(example).map(lambda e: (fn(e), True)).ignore_errors()
    bad = tf.data.Dataset.from_tensors((_placeholder(out_spec), False))
    return good.concatenate(bad).take(1).map(lambda out, ok: (out, ok, ident))

  ds = ds.interleave(attempt, cycle_length=1, block_length=1)
  if on_corrupt == "skip":
    def count_and_keep(out, ok, ident):
      del out, ident
      return tf.cond(ok, lambda: tf.constant(True),
                     lambda: tf.greater_equal(counter.variable.assign_add(1), 0) & False)
    ds = ds.filter(count_and_keep)
    ds = ds.map(lambda out, ok, ident: out)
    ds.corrupt_counter = counter  # type: ignore[attr-defined]
    return ds

  def check(out, ok, ident):
    with tf.control_dependencies([tf.debugging.Assert(
        ok, ["CorruptExampleError: preprocessing failed for example", ident,
             "- the image bytes are probably corrupt. Fix or remove it, or set on_corrupt='skip' "
             "(config.input.on_corrupt) to drop and count such examples."], summarize=3)]):
      return tf.nest.map_structure(tf.identity, out)
  return ds.map(check, num_parallel_calls=num_parallel_calls)


def _placeholder(spec):
  def zeros(s):
    shape = [d if d is not None else 0 for d in s.shape.as_list()] if s.shape.rank is not None else []
    return tf.zeros(shape, s.dtype) if s.dtype != tf.string else tf.fill(shape, "")
  return tf.nest.map_structure(zeros, spec)
