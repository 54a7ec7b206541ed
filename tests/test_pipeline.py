"""The input pipeline: determinism, resume by skipping, corrupt examples, unavailable datasets."""

import os
import socket
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import model_garden
from model_garden.data import CorruptExampleError, DatasetUnavailableError, get_builder, get_dataset
from model_garden.data.preprocess import PreprocessConfigError

PP = "decode|random_crop(28)|flip_lr|value_range(-1, 1)|onehot(8)|keep('image', 'labels')"


def _batches(ds, n):
  return [{k: v.numpy() for k, v in b.items()} for b in ds.take(n)]


def test_batches_have_the_promised_shapes(tiny_shapes):
  _, data_dir = tiny_shapes
  ds = get_dataset("mg_shapes/tiny32", "train", batch_size=8, pp=PP, data_dir=data_dir)
  batch = _batches(ds, 1)[0]
  assert sorted(batch) == ["image", "labels"]
  assert batch["image"].shape == (8, 28, 28, 3) and batch["image"].dtype == np.float32
  assert -1.0 <= batch["image"].min() and batch["image"].max() <= 1.0
  np.testing.assert_array_equal(batch["labels"].sum(-1), np.ones(8))


def test_same_seed_same_stream_other_seed_other_stream(tiny_shapes):
  _, data_dir = tiny_shapes
  make = lambda seed: get_dataset("mg_shapes/tiny32", "train", batch_size=8, pp=PP, data_dir=data_dir,
                                  seed=seed, shuffle_buffer=64)
  a, b, c = _batches(make(0), 3), _batches(make(0), 3), _batches(make(1), 3)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x["image"], y["image"])
  assert not all(np.array_equal(x["image"], z["image"]) for x, z in zip(a, c))


def test_skip_examples_resumes_the_exact_stream(tiny_shapes):
  _, data_dir = tiny_shapes
  kwargs = dict(batch_size=8, pp=PP, data_dir=data_dir, seed=3, shuffle_buffer=64)
  full = _batches(get_dataset("mg_shapes/tiny32", "train", **kwargs), 40)  # > 1 epoch of 256
  resumed = _batches(get_dataset("mg_shapes/tiny32", "train", skip_examples=35 * 8, **kwargs), 5)
  for x, y in zip(full[35:], resumed):
    np.testing.assert_array_equal(x["image"], y["image"])
    np.testing.assert_array_equal(x["labels"], y["labels"])


def test_eval_is_one_ordered_pass_with_partial_batch(tiny_shapes):
  _, data_dir = tiny_shapes
  ds = get_dataset("mg_shapes/tiny32", "test", batch_size=10, train=False, data_dir=data_dir,
                   pp="decode|value_range(-1, 1)|keep('image', 'label')")
  sizes = [b["image"].shape[0] for b in ds]
  assert sizes == [10] * 6 + [4]


class BrokenImages(tfds.core.GeneratorBasedBuilder):
  """Six examples of raw image bytes, the fourth of them corrupt."""

  VERSION = tfds.core.Version("1.0.0")

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
        "image": tfds.features.Tensor(shape=(), dtype=np.str_), "label": np.int64}))

  def _split_generators(self, dl_manager):
    return {"train": self._generate_examples()}

  def _generate_examples(self):
    good = tf.io.encode_png(tf.zeros([8, 8, 3], tf.uint8)).numpy()
    for i in range(6):
      yield i, {"image": b"not an image at all" if i == 3 else good, "label": i}


def _broken_dir(tmp_path):
  BrokenImages(data_dir=str(tmp_path)).download_and_prepare()
  return str(tmp_path)


def test_corrupt_example_error_names_it(tmp_path):
  data_dir = _broken_dir(tmp_path)
  ds = get_dataset("broken_images", "train", batch_size=2, train=False, data_dir=data_dir,
                   pp="decode|value_range(-1, 1)|keep('image', 'label')")
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"CorruptExampleError(.|\n)*broken_images-train"):
    _batches(ds, 10)


def test_corrupt_example_skip_and_count(tmp_path):
  data_dir = _broken_dir(tmp_path)
  ds = get_dataset("broken_images", "train", batch_size=1, train=False, data_dir=data_dir, on_corrupt="skip",
                   pp="decode|value_range(-1, 1)|keep('image', 'label')")
  labels = sorted(int(b["label"][0]) for b in ds)
  assert labels == [0, 1, 2, 4, 5]
  assert ds.corrupt_counter.value() == 1


def test_trainer_turns_corrupt_data_into_a_named_error(tmp_path):
  from model_garden.configs import mg_shapes_classification
  data_dir = _broken_dir(tmp_path)
  config = mg_shapes_classification.get_config("runlocal")
  config.input.data_dir = data_dir
  config.input.data = dict(name="broken_images", split="train")
  config.input.batch_size = 2
  config.input.pp = "decode|resize(32)|value_range(-1, 1)|onehot(8)|keep('image', 'labels')"
  config.evals = {}
  with pytest.raises(CorruptExampleError, match="broken_images-train"):
    model_garden.training.train(config, str(tmp_path / "w"), verbose=0)


def test_unprepared_dataset_offline_names_data_dir(tmp_path):
  with pytest.raises(DatasetUnavailableError, match=rf"'mnist'.*data_dir={tmp_path}"):
    get_builder("mnist", data_dir=str(tmp_path), download=False)


def test_manual_dataset_names_manual_dir(tmp_path):
  with pytest.raises(DatasetUnavailableError, match=r"manual_dir=.*downloads/manual"):
    get_builder("imagenet2012", data_dir=str(tmp_path), download=True)


def test_unknown_dataset(tmp_path):
  with pytest.raises(DatasetUnavailableError, match="no dataset named"):
    get_builder("mg_shapez", data_dir=str(tmp_path))


def test_image_folder_source_by_spec(tmp_path):
  for split, counts in (("train", (3, 2)), ("test", (1, 1))):
    for label, (name, count) in enumerate(zip(("cats", "dogs"), counts)):
      folder = tmp_path / split / name
      folder.mkdir(parents=True)
      for i in range(count):
        image = tf.fill([6 + i, 5, 3], tf.constant(40 * (label + 1), tf.uint8))
        (folder / f"{i}.png").write_bytes(tf.io.encode_png(image).numpy())
  (tmp_path / "train" / "dogs" / "broken.png").write_bytes(b"nope")
  spec = f"image_folder(root='{tmp_path}')"
  ds = get_dataset(spec, "train", batch_size=1, train=False, on_corrupt="skip",
                   pp="decode|resize(4)|value_range(0, 1)|keep('image', 'label')")
  got = sorted((int(b["label"][0]), round(float(b["image"][0, 0, 0, 0]) * 255)) for b in ds)
  assert got == [(0, 40)] * 3 + [(1, 80)] * 2
  assert ds.corrupt_counter.value() == 1
  with pytest.raises(FileNotFoundError, match="splits found"):
    get_dataset(spec, "validation", batch_size=1, train=False)
  assert "image_folder" in model_garden.data.DATASETS.names()
  # The same source as a spec mapping (a config's input.data.name whose fields override from the command line).
  mapped = get_dataset(dict(name="image_folder", root=str(tmp_path)), "test", batch_size=2, train=False,
                       pp="decode|resize(4)|keep('label')")
  assert sorted(next(iter(mapped))["label"].numpy().tolist()) == [0, 1]
  with pytest.raises(model_garden.registry.SpecError, match="Unknown dataset 'image_foldr'.*'image_folder'"):
    get_dataset(dict(name="image_foldr", root=str(tmp_path)), "test", batch_size=2)  # a mapping is no tfds name


# -- The parallel guard ------------------------------------------------------------------------------------
GOOD_PNG = tf.io.encode_png(tf.fill([4, 4, 3], tf.constant(7, tf.uint8))).numpy()


def _numbered_images(n, bad, upstream_error_at=None):
  """Examples {tfds_id: "id<i>", image: PNG bytes (junk for i in `bad`), label: i}."""
  def example(i):
    image = tf.where(tf.reduce_any(tf.equal(i, tf.constant(sorted(bad) or [-1], tf.int64))),
                     tf.constant(b"junk"), tf.constant(GOOD_PNG))
    checks = []
    if upstream_error_at is not None:
      checks.append(tf.debugging.Assert(tf.not_equal(i, upstream_error_at), ["upstream check failed at", i]))
    with tf.control_dependencies(checks):
      return {"tfds_id": tf.strings.join(["id", tf.strings.as_string(i)]), "image": image, "label": tf.identity(i)}
  return tf.data.Dataset.range(n).map(example)


def _decode_and_label(example):
  return {"image": tf.io.decode_png(example["image"], channels=3), "label": example["label"]}


@pytest.mark.parametrize("window_size", [8, 32])
def test_guard_drops_and_counts_exactly_the_failures_in_order(window_size):
  # Failures at a window's start and end, three in a row across a boundary, and the very last example
  # (in a partial window): the survivors come in input order and the count is exact.
  bad = {0, 7, 8, 9, 23, 49}
  ds = model_garden.data.guarded_map(_numbered_images(50, bad), _decode_and_label, on_corrupt="skip",
                                     window_size=window_size)
  labels = [int(e["label"]) for e in ds]
  assert labels == [i for i in range(50) if i not in bad]
  assert ds.corrupt_counter.value() == len(bad)


def test_guard_window_holds_at_most_64_mib_of_outputs():
  from model_garden.data.pipeline import _window_size
  spec = lambda shape, dtype=tf.float32: {"image": tf.TensorSpec(shape, dtype), "label": tf.TensorSpec([], tf.int64)}
  assert _window_size(spec([224, 224, 3])) == 64 * 2 ** 20 // (224 * 224 * 3 * 4 + 8) == 111
  assert _window_size(spec([32, 32, 3], tf.uint8)) == 128  # Small outputs: the full window.
  assert _window_size(spec([None, None, 3])) == 128  # Unknown sizes: the default.
  assert _window_size(spec([1024, 1024, 3])) == 8


def test_guard_error_names_the_first_failure_in_stream_order():
  ds = model_garden.data.guarded_map(_numbered_images(50, {13, 14, 40}), _decode_and_label, window_size=8)
  seen = []
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"CorruptExampleError(.|\n)*\[id13\]"):
    for example in ds:
      seen.append(int(example["label"]))
  assert seen == list(range(13)) + [15]  # Everything before it (and its window's survivors), in order.


def test_guard_error_when_a_whole_window_fails():
  ds = model_garden.data.guarded_map(_numbered_images(24, set(range(8, 16))), _decode_and_label, window_size=8)
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[id8\]"):
    list(ds)


def test_guard_does_not_swallow_upstream_errors():
  # An error raised before preprocessing (reading, a dataset spec's own check) is not a corrupt example.
  ds = model_garden.data.guarded_map(_numbered_images(40, {3}, upstream_error_at=20), _decode_and_label,
                                     on_corrupt="skip", window_size=8)
  with pytest.raises(tf.errors.InvalidArgumentError, match="upstream check failed"):
    list(ds)


def test_guarded_unguarded_and_one_thread_streams_are_identical(tiny_shapes):
  _, data_dir = tiny_shapes
  make = lambda **kw: _batches(get_dataset("mg_shapes/tiny32", "train", batch_size=8, pp=PP, data_dir=data_dir,
                                           seed=5, shuffle_buffer=64, **kw), 12)
  guarded, unguarded = make(), make(on_corrupt="off")
  one_thread = make(threadpool_size=1, max_intra_op_parallelism=1)
  for a, b, c in zip(guarded, unguarded, one_thread):
    np.testing.assert_array_equal(a["image"], b["image"])
    np.testing.assert_array_equal(a["image"], c["image"])
    np.testing.assert_array_equal(a["labels"], c["labels"])


def test_tf_data_options_reach_the_dataset(tiny_shapes):
  _, data_dir = tiny_shapes
  ds = get_dataset("mg_shapes/tiny32", "train", batch_size=8, pp=PP, data_dir=data_dir, threadpool_size=3,
                   max_intra_op_parallelism=1, ram_budget_gb=0.5)
  options = ds.options()
  assert options.threading.private_threadpool_size == 3
  assert options.threading.max_intra_op_parallelism == 1
  assert options.autotune.ram_budget == 2 ** 29
  with pytest.raises(ValueError, match="threadpool_size must be a positive int"):
    get_dataset("mg_shapes/tiny32", "train", batch_size=8, pp=PP, data_dir=data_dir, threadpool_size=0)
  with pytest.raises(ValueError, match="on_corrupt must be one of"):
    get_dataset("mg_shapes/tiny32", "train", batch_size=8, pp=PP, data_dir=data_dir, on_corrupt="ignore")


def test_each_epoch_is_complete_before_the_next(tiny_shapes):
  _, data_dir = tiny_shapes
  ds = get_dataset("mg_shapes/tiny32", "train", batch_size=16, data_dir=data_dir, shuffle_buffer=1000,
                   pp="decode|copy('tfds_id', 'id')|keep('id')")
  ids = [i for b in _batches(ds, 32) for i in b["id"].tolist()]  # Two epochs of 256.
  assert len(set(ids[:256])) == 256 and set(ids[:256]) == set(ids[256:])
  assert ids[:256] != ids[256:]  # Reshuffled.


# -- Per-host input ------------------------------------------------------------------------------------------
IDS_PP = "decode|copy('tfds_id', 'id')|keep('id')"


def _host_ids(data_dir, pipeline_id, steps, skip_examples=0):
  """Per-replica batches of ids of one of two hosts (2 replicas each, global batch 8)."""
  context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                                       num_replicas_in_sync=4)
  ds = get_dataset("mg_shapes/tiny32", "train", batch_size=8, data_dir=data_dir, pp=IDS_PP, seed=3,
                   shuffle_buffer=64, skip_examples=skip_examples, input_context=context)
  # Each step, a host feeds its 2 replicas one per-replica batch each.
  return [b["id"].tolist() for b in _batches(ds, 2 * steps)]


def test_hosts_read_disjoint_shares_that_cover_each_epoch(tiny_shapes):
  _, data_dir = tiny_shapes
  hosts = [_host_ids(data_dir, i, steps=40) for i in range(2)]  # 40 steps x 8 = 320 > one epoch of 256.
  for batches in hosts:
    assert {len(b) for b in batches} == {2}  # Per-replica batch = 8 global / 4 replicas.
  epoch = [[i for b in batches[:64] for i in b] for batches in hosts]  # 32 steps x 4 per host = 128.
  assert len(set(epoch[0])) == len(set(epoch[1])) == 128
  assert not set(epoch[0]) & set(epoch[1])
  all_ids = {b["tfds_id"].numpy() for b in _builder_examples(tiny_shapes)}
  assert set(epoch[0]) | set(epoch[1]) == all_ids
  second = [{i for b in batches[64:] for i in b} for batches in hosts]  # Next epoch: same host share.
  assert second[0] <= set(epoch[0]) and second[1] <= set(epoch[1])


def _builder_examples(tiny_shapes):
  builder, _ = tiny_shapes
  return builder.as_dataset(split="train", read_config=tfds.ReadConfig(add_tfds_id=True),
                            decoders={"image": tfds.decode.SkipDecoding()})


def test_resume_skips_each_hosts_share(tiny_shapes):
  _, data_dir = tiny_shapes
  for host in range(2):
    full = _host_ids(data_dir, host, steps=40)
    resumed = _host_ids(data_dir, host, steps=10, skip_examples=30 * 8)  # Resume at step 30 (global).
    assert resumed == full[60:80]
  with pytest.raises(ValueError, match="must divide by the 2 input pipelines"):
    _host_ids(data_dir, 0, steps=1, skip_examples=7)


def test_image_folder_hosts_read_disjoint_files(tmp_path):
  for i in range(7):
    folder = tmp_path / "train" / ("a" if i % 2 else "b")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{i}.png").write_bytes(GOOD_PNG)
  spec = f"image_folder(root='{tmp_path}')"
  shares = []
  for host in range(2):
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=host, num_replicas_in_sync=2)
    ds = get_dataset(spec, "train", batch_size=2, train=False, pp=IDS_PP, input_context=context)
    shares.append([i.decode() for b in ds for i in b["id"].numpy()])
  assert sorted(len(s) for s in shares) == [3, 4] and not set(shares[0]) & set(shares[1])
  assert sorted(os.path.basename(p) for s in shares for p in s) == [f"{i}.png" for i in range(7)]


def test_skip_counter_works_in_a_strategy_scope(tmp_path):
  data_dir = _broken_dir(tmp_path)
  strategy = tf.distribute.MirroredStrategy(["CPU:0"])
  made = []
  with strategy.scope():
    def dataset_fn(context):
      made.append(get_dataset("broken_images", "train", batch_size=1, train=False, data_dir=data_dir,
                              on_corrupt="skip", pp="decode|value_range(-1, 1)|keep('image', 'label')",
                              input_context=context))
      return made[-1]
    labels = sorted(int(b["label"][0]) for b in strategy.distribute_datasets_from_function(dataset_fn))
  assert labels == [0, 1, 2, 4, 5]
  assert made[0].corrupt_counter.value() == 1
  assert not isinstance(made[0].corrupt_counter.variable, tf.distribute.DistributedValues)


# -- Configuration errors -----------------------------------------------------------------------------------
def test_a_crop_larger_than_the_images_fails_when_the_pipeline_is_built(tiny_shapes):
  _, data_dir = tiny_shapes
  for op, on_corrupt in (("random_crop(64)", "error"), ("central_crop((16, 40))", "off")):
    with pytest.raises(PreprocessConfigError) as raised:
      get_dataset("mg_shapes/tiny32", "train", batch_size=8, data_dir=data_dir, on_corrupt=on_corrupt,
                  pp=f"decode|{op}|value_range(-1, 1)|keep('image')")
    message = str(raised.value)
    assert f"Preprocessing op {op!r} (op 2 of" in message and "32x32" in message, message
    assert "\n" not in message and "StagingError" not in message  # One line, not a tf.data trace.
    assert ("64x64" if "64" in op else "16x40") in message


def test_a_crop_larger_than_some_images_names_the_op_and_sizes_at_run_time(tmp_path):
  # Images of unknown size (a folder): the check runs per image.
  for i, size in enumerate((12, 6, 12)):
    folder = tmp_path / "train" / "a"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{i}.png").write_bytes(tf.io.encode_png(tf.zeros([size, size, 3], tf.uint8)).numpy())
  spec = f"image_folder(root='{tmp_path}')"
  pp = "decode|random_crop(8)|keep('image')"
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"random_crop\(8\) needs images of at least 8x8"):
    list(get_dataset(spec, "train", batch_size=1, train=False, on_corrupt="off", pp=pp))
  ds = get_dataset(spec, "train", batch_size=1, train=False, on_corrupt="skip", pp=pp)
  assert len(list(ds)) == 2 and ds.corrupt_counter.value() == 1


# -- Offline ---------------------------------------------------------------------------------------------------
class NeedsNetwork(tfds.core.GeneratorBasedBuilder):
  """A dataset whose preparation downloads a file (from a host that never resolves)."""

  VERSION = tfds.core.Version("1.0.0")

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({"label": np.int64}))

  def _split_generators(self, dl_manager):
    path = dl_manager.download("https://data.example.invalid/labels.txt")
    return {"train": self._generate_examples(path)}

  def _generate_examples(self, path):
    for i, line in enumerate(path.read_text().split()):
      yield i, {"label": int(line)}


def test_offline_download_fails_fast_and_cleans_up(tmp_path, monkeypatch):
  probed = []

  def unreachable(host, port):  # Stands in for the real probe: tests never touch the network.
    probed.append((host, port))
    return f"cannot resolve {host} (test)"

  monkeypatch.setattr(model_garden.data.downloads, "probe_host", unreachable)
  for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
    monkeypatch.delenv(variable, raising=False)
  started = time.monotonic()
  with pytest.raises(DatasetUnavailableError, match=r"'needs_network'.*network is unreachable.*"
                                                   r"data\.example\.invalid/labels\.txt cannot be downloaded"):
    get_builder("needs_network", data_dir=str(tmp_path))
  assert time.monotonic() - started < 10
  assert probed == [("data.example.invalid", 443)]
  left = [p for p in tmp_path.rglob("*")]
  assert not [p for p in left if ".tmp" in p.name or ".incomplete" in p.name], left
  assert not [p for p in left if p.is_dir() and not any(p.iterdir())], left


def test_probe_answers_for_local_ports():
  with socket.socket() as server:
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    assert model_garden.data.downloads.probe_host("127.0.0.1", server.getsockname()[1]) is None
  with socket.socket() as closed:
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
  reason = model_garden.data.downloads.probe_host("127.0.0.1", port, timeout=2)
  assert reason.startswith("cannot connect to 127.0.0.1:")


def test_download_endpoint_goes_through_the_proxy(monkeypatch):
  monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
  monkeypatch.delenv("no_proxy", raising=False)
  monkeypatch.delenv("NO_PROXY", raising=False)
  endpoint = model_garden.data.downloads.endpoint
  assert endpoint("https://storage.googleapis.com/x.gz") == ("proxy.internal", 3128)
  monkeypatch.setenv("no_proxy", "storage.googleapis.com")
  assert endpoint("https://storage.googleapis.com/x.gz") == ("storage.googleapis.com", 443)
  assert endpoint("http://example.org:8000/a") == ("example.org", 8000)


def test_remove_leftovers_keeps_what_existed_and_completed_downloads(tmp_path):
  downloads = model_garden.data.downloads
  (tmp_path / "downloads" / "kept_empty").mkdir(parents=True)
  before = downloads.leftovers_since([str(tmp_path / "downloads"), str(tmp_path / "ds")])
  (tmp_path / "downloads" / "ds" / "a.zip.tmp.0f1e").mkdir(parents=True)
  (tmp_path / "downloads" / "ds" / "a.zip.tmp.0f1e" / "a.zip").write_text("partial")
  (tmp_path / "downloads" / "done.zip").write_text("complete")
  (tmp_path / "ds" / "1.0.0").mkdir(parents=True)
  downloads.remove_leftovers([str(tmp_path / "downloads"), str(tmp_path / "ds")], before)
  assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == [
      "downloads", "downloads/done.zip", "downloads/kept_empty"]
