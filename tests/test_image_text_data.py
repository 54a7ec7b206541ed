"""Image-text readers (CSV, JSONL, TFRecord) through the pipeline, one caption sampled per image per step."""

import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from model_garden.data import image_text
from model_garden.data.pipeline import get_dataset
from model_garden.text import ops_text  # noqa: F401  (registers sample_caption, tokenize)

PP = "decode|resize(8)|value_range(-1, 1)|sample_caption|fixed_captions(3)|keep('image', 'texts', 'captions')"


def _images(root, n=4):
  paths = []
  for i in range(n):
    path = os.path.join(root, f"img{i}.png")
    Image.fromarray(np.full((10, 12, 3), 40 * i, np.uint8)).save(path)
    paths.append(path)
  return paths


CAPTIONS = [["a red circle", "one red disc"], ["two blue stars"], ["a green ring", "green donut", "a ring"],
            ["yellow hearts"]]


def test_csv_groups_captions_per_image_and_samples_one_per_step(tmp_path):
  paths = _images(tmp_path)
  with open(tmp_path / "pairs.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["image", "caption"])
    for path, captions in zip(paths, CAPTIONS):
      for caption in captions:
        writer.writerow([os.path.basename(path), caption])
  spec = f"image_text_csv(path={str(tmp_path / 'pairs.csv')!r}, image_root={str(tmp_path)!r})"
  ds = get_dataset(spec, "train", batch_size=4, pp=PP, train=False)
  batch = next(iter(ds))
  assert batch["image"].shape == (4, 8, 8, 3)
  texts = [t.decode() for t in batch["texts"].numpy()]
  assert all(t in c for t, c in zip(texts, CAPTIONS))
  # Training stream: the same image comes back with (eventually) other captions.
  seen = set()
  for batch in get_dataset(spec, "train", batch_size=4, pp=PP, train=True, shuffle_buffer=1).take(12):
    seen.update(t.decode() for t in batch["texts"].numpy())
  assert seen == {c for cs in CAPTIONS for c in cs}
  sliced = get_dataset(spec, "train[:50%]", batch_size=4, pp=PP, train=False)
  assert next(iter(sliced))["image"].shape[0] == 2
  with pytest.raises(ValueError, match="{split}"):
    get_dataset(spec, "test", batch_size=4, pp=PP, train=False)


def test_jsonl_and_tfrecord_sources(tmp_path):
  paths = _images(tmp_path)
  with open(tmp_path / "pairs_train.jsonl", "w") as f:
    for path, captions in zip(paths, CAPTIONS):
      f.write(json.dumps({"image": path, "captions": captions}) + "\n")
  spec = f"image_text_jsonl(path={str(tmp_path / 'pairs_{split}.jsonl')!r})"
  batch = next(iter(get_dataset(spec, "train", batch_size=4, pp=PP, train=False)))
  assert batch["captions"].shape == (4, 3)
  assert [c.decode() for c in batch["captions"].numpy()[1]] == ["two blue stars", "", ""]
  shard = str(tmp_path / "train-0.tfrecord")
  image_text.write_tfrecord(shard, [{"image": open(p, "rb").read(), "captions": c}
                                    for p, c in zip(paths, CAPTIONS)])
  spec = f"image_text_tfrecord(pattern={str(tmp_path / '{split}-*.tfrecord')!r})"
  batch = next(iter(get_dataset(spec, "train", batch_size=4, pp=PP, train=False)))
  texts = [t.decode() for t in batch["texts"].numpy()]
  assert all(t in c for t, c in zip(texts, CAPTIONS))
  with open(tmp_path / "bad_train.jsonl", "w") as f:
    f.write(json.dumps({"img": "x.png", "caption": "x"}) + "\n")
  with pytest.raises(KeyError, match="needs 'image'"):
    image_text.image_text_jsonl(path=str(tmp_path / "bad_{split}.jsonl")).grouped("train")


def test_split_parsing():
  assert image_text.parse_split("train[:90%]") == ("train", None, "90%")
  assert image_text.slice_split(list(range(10)), "train[2:5]") == [2, 3, 4]
  assert image_text.slice_split(list(range(10)), "train[80%:]") == [8, 9]
  with pytest.raises(ValueError, match="not understood"):
    image_text.parse_split("train[::2]")


def test_coco_captions_source_flattens_captions(tmp_path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  def as_dataset(self, split, **kwargs):  # COCO's nesting: captions is a sequence of {id, text}.
    del self, split, kwargs
    return tf.data.Dataset.from_tensors({
        "image": tf.constant(b"png bytes"), "image/id": tf.constant(7, tf.int64), "tfds_id": tf.constant("c:0"),
        "captions": {"id": tf.constant([1, 2], tf.int64), "text": tf.constant(["a cat", "a sleeping cat"])}})

  with tfds.testing.mock_data(as_dataset_fn=as_dataset, data_dir=str(tmp_path)):
    example = next(iter(image_text.coco_captions(data_dir=str(tmp_path)).as_dataset("val")))
  assert example["image"].numpy() == b"png bytes"
  assert [c.decode() for c in example["captions"].numpy()] == ["a cat", "a sleeping cat"]
