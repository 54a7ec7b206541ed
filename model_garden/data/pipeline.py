"""tfds -> shuffle -> preprocessing string in parallel, guarded -> per-host batch -> prefetch.

The stream is deterministic for a given seed: each epoch is shuffled (raw, still encoded examples) and
finished before the next, examples are numbered in stream order, each gets a stateless `_rng` seed from
(seed, host, number), and `skip_examples` drops raw examples *before* decoding, so a resumed run continues
with exactly the batches an uninterrupted run would have seen, at little cost.

Preprocessing runs in parallel in window-sized chunks (`_guarded`): an example whose preprocessing fails
is named by its tfds_id (on_corrupt="error") or dropped and counted ("skip") for about the cost of one
hash-table insert per example, and the output order is the input order. An op that cannot apply to the
data's known shapes (random_crop(64) on 32 px images) is a `PreprocessConfigError` when the pipeline is
built. Under `tf.distribute`, `get_dataset(..., input_context=ctx)` builds one host's pipeline for
`strategy.distribute_datasets_from_function` (see its docstring for the contract).
"""

from __future__ import annotations

import inspect
import os
import zlib
from typing import Optional

import tensorflow as tf
import tensorflow_datasets as tfds

from model_garden.data import downloads
from model_garden.data.preprocess import RNG_KEY, PreprocessConfigError, get_preprocess_fn, split_pp
from model_garden.data.sources import lookup_source
from model_garden.registry import Spec


class DatasetUnavailableError(RuntimeError):
  """A tfds dataset is not prepared and cannot be prepared here."""


class CorruptExampleError(RuntimeError):
  """An example failed to preprocess (typically undecodable image bytes)."""


def default_data_dir() -> str:
  return os.environ.get("TFDS_DATA_DIR") or os.path.join(os.path.expanduser("~"), "tensorflow_datasets")


def get_builder(name: str, data_dir: Optional[str] = None, download: bool = True):
  """The prepared tfds builder for `name` ("mg_shapes/px32"), preparing it if allowed and possible.

  Offline, a dataset that needs a download fails within seconds (each download host is probed once
  before tfds' own retries, see `downloads.guard_downloads`), and what the failed attempt created under
  data_dir (empty folders, partial `*.tmp.*` downloads) is removed.
  """
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
  roots = [os.path.join(data_dir, "downloads"), os.path.join(data_dir, builder.name)]
  before = downloads.leftovers_since(roots)
  downloads.guard_downloads(builder)
  try:
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
  except Exception as e:  # pylint: disable=broad-except
    downloads.remove_leftovers(roots, before)
    offline = _cause(e, downloads.NetworkUnreachableError)
    if offline is not None:
      raise DatasetUnavailableError(
          f"tfds dataset {name!r} is not prepared in data_dir={data_dir} and the network is unreachable: "
          f"{offline}. " + fix) from None
    raise DatasetUnavailableError(
        f"tfds dataset {name!r} is not prepared in data_dir={data_dir} and preparing it failed "
        f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}). This machine may be offline. "
        + fix) from e
  return builder


def _cause(error: BaseException, kind: type) -> Optional[BaseException]:
  """`error` or the first exception of type `kind` in its chain (tfds re-raises with added context)."""
  seen = set()
  while error is not None and id(error) not in seen:
    if isinstance(error, kind):
      return error
    seen.add(id(error))
    error = error.__cause__ or error.__context__
  return None


def _is_prepared(builder) -> bool:
  try:
    return builder.is_prepared()
  except AttributeError:
    return os.path.exists(os.path.join(builder.data_dir, "dataset_info.json"))


ON_CORRUPT = ("error", "skip", "off")
# Examples per guarded window, at most: a window's fixed cost (a few small datasets) is spread over them.
# A window of preprocessed outputs is buffered while earlier windows are consumed, so large outputs get
# fewer examples per window: at most GUARD_WINDOW_BYTES of them (e.g. 111 float32 images of 224 px).
GUARD_WINDOW = 128
GUARD_WINDOW_BYTES = 64 * 2 ** 20


def get_dataset(name: Spec, split: str, *, batch_size: int, pp: str = "", data_dir: Optional[str] = None,
                train: bool = True, seed: int = 0, shuffle_buffer: int = 10_000, skip_examples: int = 0,
                cache: bool = False, on_corrupt: str = "error", download: bool = True,
                drop_remainder: Optional[bool] = None, num_parallel_calls=tf.data.AUTOTUNE,
                input_context: Optional[tf.distribute.InputContext] = None,
                threadpool_size: Optional[int] = None, max_intra_op_parallelism: Optional[int] = None,
                ram_budget_gb: Optional[float] = None) -> tf.data.Dataset:
  """A batched dataset of preprocessed examples (one host's share when `input_context` is given).

  Args:
    name: tfds name, with config, e.g. "mg_shapes/px32" or "cifar10", or a registered dataset spec
      such as "image_folder(root='/data/pets')" or `dict(name="image_folder", root="/data/pets")` (see
      `DATASETS`).
    split: tfds split string, e.g. "train[:90%]".
    batch_size: the global batch size. Without `input_context` the dataset yields global batches (for
      `strategy.experimental_distribute_dataset` or one device); with it, per-replica batches of
      `input_context.get_per_replica_batch_size(batch_size)` = batch_size / replicas.
    pp: preprocessing string, e.g. "decode|flip_lr|value_range(-1, 1)|onehot(8)|keep('image', 'labels')".
    data_dir: tfds data_dir (default $TFDS_DATA_DIR or ~/tensorflow_datasets).
    train: repeat forever and shuffle (True), or one ordered pass for evaluation (False).
    seed: seed of the file order, the shuffle buffer and every random op.
    shuffle_buffer: raw (still encoded) examples in the shuffle buffer; each epoch is shuffled anew
      and finishes before the next one starts.
    skip_examples: examples already consumed *in total over all hosts* (a resumed run passes
      `step * batch_size`); each of the `num_input_pipelines` hosts drops its share, before decoding.
    cache: cache the raw (decode-free) examples in memory (small datasets).
    on_corrupt: what happens to an example whose preprocessing fails. "error": the stream stops with
      CorruptExampleError naming its tfds_id, after the other examples of its window (at most 128
      examples and one epoch); "skip": it is dropped and counted (the returned dataset's
      `corrupt_counter.value()`); "off": no guard, a plain parallel map (TensorFlow's own error, which
      does not name the example). Errors before preprocessing (reading) always stop the stream.
    download: try `download_and_prepare` if the dataset is not prepared.
    drop_remainder: default True for training, False for evaluation.
    num_parallel_calls: parallelism of the preprocessing (default: autotuned).
    input_context: per-host input under `strategy.distribute_datasets_from_function`: this pipeline
      reads the `input_pipeline_id`-th of `num_input_pipelines` even parts of `split` (tfds reads only
      those records; dataset specs shard their files), shuffles and seeds its random ops with its own
      seed, skips `skip_examples / num_input_pipelines`, and batches per replica.
    threadpool_size: tf.data private thread pool size (`options.threading.private_threadpool_size`;
      big_vision uses 48 on TPU hosts), and the number of guarded windows preprocessed at once. None:
      TensorFlow's shared pool, and one window per core.
    max_intra_op_parallelism: threads one op of the pipeline may use
      (`options.threading.max_intra_op_parallelism`; big_vision uses 1). None: TensorFlow's default.
    ram_budget_gb: RAM autotune may spend on buffers (`options.autotune.ram_budget`). None: TensorFlow's
      default, half of the machine's memory.

  Returns:
    A `tf.data.Dataset` of dicts; bookkeeping keys starting with `_` and `tfds_id` are removed.

  Raises:
    PreprocessConfigError: an op of `pp` cannot apply to the data's known shapes (e.g. random_crop(64)
      on 32 px images), raised here, while the pipeline is built.
    DatasetUnavailableError: the dataset is not prepared and cannot be prepared here.

  The distributed training contract (what a trainer passes):

    ds = strategy.distribute_datasets_from_function(lambda ctx: get_dataset(
        name, split, batch_size=GLOBAL_BATCH, pp=pp, seed=seed, skip_examples=step * GLOBAL_BATCH,
        input_context=ctx, ...))

  `batch_size` and `skip_examples` are global numbers on every host: the global batch must divide by
  the number of replicas and `skip_examples` by the number of hosts. The hosts read disjoint parts of
  the split, so over the hosts every example of an epoch is seen exactly once (tfds splits the examples
  as evenly as possible), and a resumed run sees, on every host, the batches an uninterrupted run would
  have seen. With one input pipeline (or `input_context=None`) the stream is the single-host stream.
  With on_corrupt="skip", each host's count is the `corrupt_counter` of the dataset its call returned
  (keep a reference to it inside the dataset function; the distributed dataset does not carry it).

  Example:
    >>> ds = get_dataset("mg_shapes/px32", "train", batch_size=64,
    ...                  pp="decode|flip_lr|value_range(-1, 1)|onehot(8)|keep('image', 'labels')")
  """
  if on_corrupt not in ON_CORRUPT:
    raise ValueError(f"on_corrupt must be one of {', '.join(map(repr, ON_CORRUPT))}, got {on_corrupt!r}.")
  options = _options(threadpool_size, max_intra_op_parallelism, ram_budget_gb, input_context)
  pipeline_id, num_pipelines = 0, 1
  local_batch = batch_size
  if input_context is not None:
    pipeline_id, num_pipelines = input_context.input_pipeline_id, input_context.num_input_pipelines
    local_batch = input_context.get_per_replica_batch_size(batch_size)
  if skip_examples % num_pipelines:
    raise ValueError(f"skip_examples={skip_examples} (examples consumed over all hosts) must divide by the "
                     f"{num_pipelines} input pipelines; pass step * global batch size.")
  local_skip = skip_examples // num_pipelines
  local_seed = _pipeline_seed(seed, pipeline_id)

  static_shapes = None
  source = lookup_source(name, data_dir=data_dir)
  if source is not None:
    ds = _source_dataset(source, split, train, seed, pipeline_id, num_pipelines)
  else:
    builder = get_builder(name, data_dir=data_dir, download=download)
    ops = split_pp(pp)
    decode_in_pp = bool(ops) and ops[0].split("(")[0] == "decode"
    decoders = None
    if decode_in_pp and "image" in builder.info.features:
      decoders = {"image": tfds.decode.SkipDecoding()}
      static_shapes = _known_image_shape(builder.info.features["image"])
    host_split = tfds.even_splits(split, num_pipelines)[pipeline_id] if num_pipelines > 1 else split
    read_config = tfds.ReadConfig(shuffle_seed=seed, add_tfds_id=True)
    ds = builder.as_dataset(split=host_split, shuffle_files=train, decoders=decoders, read_config=read_config)
  if cache:
    ds = ds.cache()
  epoch = int(ds.cardinality())  # Examples per epoch on this host, when known (tfds: always).
  if train:
    if shuffle_buffer > 1:
      ds = ds.shuffle(shuffle_buffer, seed=local_seed, reshuffle_each_iteration=True)
    ds = ds.repeat()
  ds = ds.enumerate()  # The example's position in this pipeline's stream: its `_rng` and its place.
  if local_skip:
    ds = ds.skip(local_skip)
  prepare = _prepare_fn(get_preprocess_fn(pp, static_shapes), seed, pipeline_id)
  counter = None
  try:  # Tracing the preprocessing here raises a configuration error now, not per example later.
    if on_corrupt == "off":
      ds = ds.map(prepare, num_parallel_calls=num_parallel_calls, deterministic=True)
    else:
      # A failure is reported at the end of its window: a window of at most one epoch bounds the delay.
      ds, counter = _guarded(ds, prepare, on_corrupt, first_position=local_skip,
                             max_window_size=epoch if epoch > 0 else None,
                             cycle_length=threadpool_size or tf.data.AUTOTUNE, num_parallel_calls=num_parallel_calls)
  except Exception as e:  # pylint: disable=broad-except
    config_error = _cause(e, PreprocessConfigError)
    if config_error is None:
      raise
    # AutoGraph wraps it in a StagingError with the trace; the message alone says what to fix.
    raise PreprocessConfigError(str(config_error)) from None
  drop = train if drop_remainder is None else drop_remainder
  ds = ds.batch(local_batch, drop_remainder=drop, num_parallel_calls=num_parallel_calls)
  ds = ds.prefetch(tf.data.AUTOTUNE).with_options(options)
  if counter is not None:
    ds.corrupt_counter = counter  # type: ignore[attr-defined]
  return ds


def _options(threadpool_size, max_intra_op_parallelism, ram_budget_gb, input_context) -> tf.data.Options:
  options = tf.data.Options()
  for flag, value in (("threadpool_size", threadpool_size),
                      ("max_intra_op_parallelism", max_intra_op_parallelism)):
    if value is not None and (not isinstance(value, int) or value < 1):
      raise ValueError(f"{flag} must be a positive int or None (TensorFlow's default), got {value!r}.")
  if ram_budget_gb is not None and not ram_budget_gb > 0:
    raise ValueError(f"ram_budget_gb must be positive or None (half the machine's memory), got {ram_budget_gb!r}.")
  if threadpool_size is not None:
    options.threading.private_threadpool_size = threadpool_size
  if max_intra_op_parallelism is not None:
    options.threading.max_intra_op_parallelism = max_intra_op_parallelism
  if ram_budget_gb is not None:
    options.autotune.ram_budget = int(ram_budget_gb * 2 ** 30)
  if input_context is not None:
    # The pipeline is already this host's share: a strategy must not shard it again.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
  return options


def _pipeline_seed(seed: int, pipeline_id: int) -> int:
  """The shuffle seed of one host's pipeline: `seed` itself on the first (the single-host stream)."""
  if not pipeline_id:
    return seed
  return zlib.crc32(f"{seed}/{pipeline_id}".encode()) & 0x7FFFFFFF


def _source_dataset(source, split: str, train: bool, seed: int, pipeline_id: int, num_pipelines: int):
  """A dataset spec's raw examples, this pipeline's share of them when there are several pipelines."""
  if num_pipelines == 1:
    return source.as_dataset(split, shuffle_files=train, seed=seed)
  if "shard" in inspect.signature(source.as_dataset).parameters:
    return source.as_dataset(split, shuffle_files=train, seed=seed, shard=(pipeline_id, num_pipelines))
  # Every host shuffles the files with the same seed, so the shards are disjoint and cover the split.
  return source.as_dataset(split, shuffle_files=train, seed=seed).shard(num_pipelines, pipeline_id)


def _known_image_shape(feature):
  """{"image": (h, w, None)} for an image feature of fixed height and width, else None."""
  shape = getattr(feature, "shape", None)
  if shape is None or len(shape) != 3 or shape[0] is None or shape[1] is None:
    return None
  return {"image": (int(shape[0]), int(shape[1]), None)}


def _prepare_fn(preprocess, seed: int, pipeline_id: int):
  """(position, raw example) -> public preprocessed example, random ops seeded from the position."""
  base = tf.constant([seed, pipeline_id], tf.int64)

  def prepare(position, example):
    example = dict(example)
    example["_index"] = position
    example[RNG_KEY] = tf.random.experimental.stateless_fold_in(base, position)
    return _public(preprocess(example))
  return prepare


def _public(example):
  return {k: v for k, v in example.items() if not k.startswith("_") and k != "tfds_id"}


class _SkipCounter:
  """Counts skipped examples (a variable read after iteration: `counter.value()`)."""

  def __init__(self):
    # One plain CPU variable per host's pipeline, even inside a strategy scope (see _plain_variable).
    with tf.init_scope(), tf.device("CPU:0"):
      self.variable = _plain_variable()

  def value(self) -> int:
    return int(self.variable.numpy())


def _plain_variable():
  if not tf.distribute.has_strategy():
    return tf.Variable(0, dtype=tf.int64, trainable=False, name="corrupt_examples_skipped")
  # In a strategy scope tf.Variable goes through the strategy's variable creator: a distributed variable,
  # whose creation under MultiWorkerMirroredStrategy is a collective every worker must join, while each
  # host counts its own pipeline's examples. Constructing the resource variable class itself bypasses it.
  from tensorflow.python.ops import resource_variable_ops  # pylint: disable=g-import-not-at-top
  return resource_variable_ops.ResourceVariable(0, dtype=tf.int64, trainable=False,
                                                name="corrupt_examples_skipped")


def guarded_map(ds: tf.data.Dataset, fn, *, on_corrupt: str = "error", window_size: Optional[int] = None,
                cycle_length=tf.data.AUTOTUNE, num_parallel_calls=tf.data.AUTOTUNE) -> tf.data.Dataset:
  """`ds.map(fn)` in parallel, where an example that makes `fn` fail is named (error) or dropped and counted.

  See `_guarded` for how; the example is named by its `tfds_id`, or by its position in `ds`.
  """
  if on_corrupt not in ("error", "skip"):
    raise ValueError(f"on_corrupt must be 'error' or 'skip', got {on_corrupt!r}.")
  out, counter = _guarded(ds.enumerate(), lambda position, example: fn(example), on_corrupt,
                          window_size=window_size, cycle_length=cycle_length,
                          num_parallel_calls=num_parallel_calls)
  if counter is not None:
    out.corrupt_counter = counter  # type: ignore[attr-defined]
  return out


def _guarded(ds: tf.data.Dataset, prepare, on_corrupt: str, *, first_position: int = 0,
             window_size: Optional[int] = None, max_window_size: Optional[int] = None,
             cycle_length=tf.data.AUTOTUNE, num_parallel_calls=tf.data.AUTOTUNE):
  """Applies `prepare(position, example)` to `(position, example)` pairs in parallel, guarding failures.

  The positions must be consecutive from `first_position` (an enumerated stream, maybe skipped). The
  stream is cut into windows of `window_size` examples, which a deterministic parallel interleave
  preprocesses concurrently, each with `ignore_errors`: a failure inside a window drops only that example,
  while an error from upstream (reading, a dataset spec's own checks) still stops the stream, as it is
  raised outside the windows. Each example that preprocesses records its position in a hash table; after
  a window's examples, a check (once per window, not per example) looks the window's positions up, raises
  CorruptExampleError naming the first missing example's tfds_id (or its position) for "error", or adds
  the number missing to the counter for "skip", and forgets them: a failure is reported after the
  survivors of its window (at most `max_window_size` examples). The output order is the input order.
  Per example this costs one table insert over a parallel map; per window, a few small datasets.
  Up to about `cycle_length` windows of outputs are buffered (`_window_size` bounds a window's bytes).

  Returns:
    (dataset of prepare's outputs, `_SkipCounter` or None).
  """
  example_spec = ds.element_spec[1]
  out_spec = ds.map(prepare).element_spec  # Traces once here, so configuration errors surface now.
  window_size = window_size or _window_size(out_spec)
  if max_window_size:
    window_size = min(window_size, max_window_size)
  has_id = isinstance(example_spec, dict) and "tfds_id" in example_spec
  counter = _SkipCounter() if on_corrupt == "skip" else None
  with tf.init_scope():
    done = tf.lookup.experimental.MutableHashTable(tf.int64, tf.int64, default_value=-1,
                                                   name="preprocessed_positions")

  def prepare_and_record(position, example):
    out = prepare(position, example)
    # Runs only once every output exists, i.e. when preprocessing succeeded.
    with tf.control_dependencies(tf.nest.flatten(out)):
      recorded = done.insert(tf.reshape(position, [1]), tf.ones([1], tf.int64))
    with tf.control_dependencies([recorded]):
      return tf.nest.map_structure(tf.identity, out)

  def preprocess_window(index, window):
    positions, examples = window
    first = first_position + index * window_size
    expected = first + tf.range(positions.cardinality())  # A window's datasets know their size.

    def name(offset):  # Read from the window only when something failed.
      if has_id:
        return examples["tfds_id"].skip(tf.cast(offset, tf.int64)).take(1).get_single_element()
      return tf.strings.join(["stream position ", tf.strings.as_string(first + tf.cast(offset, tf.int64))])

    def check(_):
      survived = done.lookup(expected) >= 0
      missing = tf.reduce_sum(tf.cast(tf.logical_not(survived), tf.int64))
      with tf.control_dependencies([done.remove(expected)]):
        if counter is not None:
          checked = counter.variable.assign_add(missing)
        else:
          failed = tf.cond(missing > 0, lambda: name(tf.argmin(tf.cast(survived, tf.int32))),
                           lambda: tf.constant(""))
          checked = tf.debugging.Assert(
              tf.equal(missing, 0),
              ["CorruptExampleError: preprocessing failed for example", failed,
               "- its image bytes are probably corrupt, or an op cannot apply to it (e.g. a crop larger "
               "than the image). Fix or remove it, or set on_corrupt='skip' (config.input.on_corrupt) to "
               "drop and count such examples."], summarize=3)
      with tf.control_dependencies([checked]):
        return tf.nest.map_structure(tf.identity, _placeholder(out_spec))

    survivors = tf.data.Dataset.zip((positions, examples)).map(prepare_and_record).ignore_errors()
    # Iterated after the survivors: it yields nothing, it only checks.
    return survivors.concatenate(tf.data.Dataset.range(1).map(check).filter(lambda *_: False))

  ds = ds.window(window_size).enumerate()
  if cycle_length == 1:
    # One window at a time: in the consumer's thread, without handing each example between threads.
    return ds.interleave(preprocess_window, cycle_length=1, block_length=window_size), counter
  ds = ds.interleave(preprocess_window, cycle_length=cycle_length, block_length=window_size,
                     num_parallel_calls=num_parallel_calls, deterministic=True)
  return ds, counter


def _window_size(out_spec) -> int:
  """GUARD_WINDOW examples, fewer if that many outputs of fixed shape would exceed GUARD_WINDOW_BYTES."""
  size = 0
  for spec in tf.nest.flatten(out_spec):
    if not spec.shape.is_fully_defined() or spec.dtype == tf.string:
      return GUARD_WINDOW  # Unknown sizes: the default.
    size += spec.shape.num_elements() * spec.dtype.size
  return int(max(8, min(GUARD_WINDOW, GUARD_WINDOW_BYTES // max(size, 1))))


def _placeholder(spec):
  def zeros(s):
    shape = [d if d is not None else 0 for d in s.shape.as_list()] if s.shape.rank is not None else []
    return tf.zeros(shape, s.dtype) if s.dtype != tf.string else tf.fill(shape, "")
  return tf.nest.map_structure(zeros, spec)
