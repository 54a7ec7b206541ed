"""The labelled-subset selector and the semi-supervised stream (labelled/unlabelled mix, pseudo-labels)."""

import json
import os

import numpy as np
import pytest

from model_garden import data
from model_garden.data import semi_supervised
from model_garden.data.semi_supervised import read_labels, select_labelled, write_pseudo_labels

PP = "decode|value_range(-1, 1)|onehot(8)|keep('image', 'labels', 'labelled')"


def test_selector_balanced_deterministic_and_order_free():
  labels = np.repeat(np.arange(10), 50)
  ids = [f"ex{i}" for i in range(500)]
  chosen = select_labelled(labels, ids, fraction=0.1)
  assert len(chosen) == 50 and np.all(np.bincount(labels[chosen]) == 5)
  np.testing.assert_array_equal(chosen, select_labelled(labels, ids, count_per_class=5))
  assert not np.array_equal(chosen, select_labelled(labels, ids, fraction=0.1, seed=1))
  # The subset depends on the examples' ids, not on the order they are read in.
  order = np.random.default_rng(0).permutation(500)
  again = select_labelled(labels[order], [ids[i] for i in order], fraction=0.1)
  assert sorted(ids[i] for i in chosen) == sorted(ids[order[i]] for i in again)
  # S4L's ImageNet subsets: 10% -> 128 per class, 1% -> 13 per class.
  imagenet = np.repeat(np.arange(1000), 1281)[:1_281_167]
  assert len(select_labelled(imagenet, fraction=0.01)) == 13_000


def test_selector_errors():
  labels = np.array([0, 0, 0, 1])
  with pytest.raises(ValueError, match="exactly one"):
    select_labelled(labels)
  with pytest.raises(ValueError, match="Class 1 has 1 examples"):
    select_labelled(labels, count_per_class=2)
  with pytest.raises(ValueError, match=r"\(0, 1\]"):
    select_labelled(labels, fraction=1.5)


def test_stream_interleaves_labelled_and_unlabelled(tiny_shapes):
  _, data_dir = tiny_shapes
  ids, labels = read_labels("mg_shapes/tiny32", "train", data_dir=data_dir)
  subset = set(semi_supervised.labelled_ids("mg_shapes/tiny32", "train", fraction=0.1, data_dir=data_dir))
  assert len(subset) == 24  # 256 examples, 8 classes: round(0.1 * 256 / 8) = 3 per class
  spec = (f"semi_supervised(dataset='mg_shapes/tiny32', fraction=0.1, unlabelled_per_labelled=2, "
          f"data_dir='{data_dir}')")
  source = data.sources.lookup_source(spec)
  raw = list(source.as_dataset("train").take(60).as_numpy_iterator())
  flags = [int(ex["labelled"]) for ex in raw]
  assert flags == [1, 0, 0] * 20
  by_id = dict(zip(ids, labels))
  for ex in raw:
    tfds_id = ex["tfds_id"].decode()
    if ex["labelled"]:
      assert tfds_id in subset and ex["label"] == by_id[tfds_id]
    else:
      assert ex["label"] == -1  # no label leaks into the unlabelled stream
  # Within one pass over the subset (24 examples) no labelled example repeats.
  assert len({ex["tfds_id"] for ex in raw if ex["labelled"]}) == 20
  batch = next(iter(data.get_dataset(spec, "train", batch_size=6, shuffle_buffer=1, pp=PP)))
  np.testing.assert_array_equal(batch["labelled"], [1, 0, 0, 1, 0, 0])
  np.testing.assert_array_equal(batch["labels"].numpy().sum(-1), [1, 0, 0, 1, 0, 0])


def test_labelled_only_stream_covers_the_subset_each_pass(tiny_shapes):
  _, data_dir = tiny_shapes
  spec = (f"semi_supervised(dataset='mg_shapes/tiny32', count_per_class=2, unlabelled_per_labelled=0, "
          f"data_dir='{data_dir}')")
  raw = list(data.sources.lookup_source(spec).as_dataset("train").take(32).as_numpy_iterator())
  first, second = [ex["tfds_id"] for ex in raw[:16]], [ex["tfds_id"] for ex in raw[16:]]
  assert len(set(first)) == 16 and set(first) == set(second)
  assert all(ex["labelled"] == 1 for ex in raw)


def test_pseudo_labels_written_and_read_back(tiny_shapes, tmp_path):
  _, data_dir = tiny_shapes
  path = str(tmp_path / "labels.json")
  labels = write_pseudo_labels(lambda images: np.tile(np.eye(8)[5], (len(images), 1)), "mg_shapes/tiny32",
                               "train", pp="decode|value_range(-1, 1)", path=path, batch_size=100,
                               data_dir=data_dir)
  assert len(labels) == 256 and set(labels.values()) == {5}
  with open(path) as f:
    assert json.load(f)["split"] == "train"
  spec = (f"semi_supervised(dataset='mg_shapes/tiny32', fraction=0.1, pseudo_labels='{path}', "
          f"data_dir='{data_dir}')")
  subset = set(semi_supervised.labelled_ids("mg_shapes/tiny32", "train", fraction=0.1, data_dir=data_dir))
  ids, true = read_labels("mg_shapes/tiny32", "train", data_dir=data_dir)
  truth = dict(zip(ids, true))
  raw = list(data.sources.lookup_source(spec).as_dataset("train", seed=1).take(256).as_numpy_iterator())
  assert len({ex["tfds_id"] for ex in raw}) == 256 and all(ex["labelled"] == 1 for ex in raw)
  for ex in raw:
    tfds_id = ex["tfds_id"].decode()
    assert ex["label"] == (truth[tfds_id] if tfds_id in subset else 5)
  os.remove(path)
  with pytest.raises(FileNotFoundError, match="write_pseudo_labels"):
    data.sources.lookup_source(spec).as_dataset("train")
