"""The input pipeline: determinism, resume by skipping, corrupt examples, unavailable datasets."""

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import model_garden
from model_garden.data import CorruptExampleError, DatasetUnavailableError, get_builder, get_dataset

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
