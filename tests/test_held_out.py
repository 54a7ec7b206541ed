"""held_out_combinations: a tfds split without some (shape, colour) pairs, or with only them."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from model_garden.data import get_dataset
from model_garden.data.held_out import HeldOutCombinations, combination_codes
from model_garden.data.sources import lookup_source

PAIRS = (("circle", "red"), ("star", 9), (7, "black"))  # Names and ids mix: ring = 7, cyan = 9.


def _labels(builder, split):
  ds = builder.as_dataset(split=split, decoders={"image": tfds.decode.SkipDecoding()})
  return [(int(e["label"]), int(e["colour"])) for e in ds]


def _read(spec, split, data_dir=None):
  ds = get_dataset(spec, split, batch_size=500, train=False, data_dir=data_dir,
                   pp="decode|keep('image', 'label', 'colour')")
  out = [(int(s), int(c)) for b in ds for s, c in zip(b["label"].numpy(), b["colour"].numpy())]
  return out, [b["image"].shape for b in ds]


def test_parts_split_the_examples_by_pair(tiny_shapes):
  builder, data_dir = tiny_shapes
  truth = _labels(builder, "train")
  held = {(0, 0), (4, 9), (7, 7)}  # circle-red, star-cyan, ring-black
  expected_held = [p for p in truth if p in held]
  assert expected_held, "the tiny split should hold some of these pairs"
  spec = "held_out_combinations(dataset='mg_shapes/tiny32', combinations={!r}, part={!r})"
  # No data_dir in the spec: the pipeline's data_dir is passed on.
  seen, shapes = _read(spec.format(PAIRS, "seen"), "train", data_dir)
  only, _ = _read(spec.format(PAIRS, "held_out"), "train", data_dir)
  assert sorted(only) == sorted(expected_held)
  assert sorted(seen) == sorted(p for p in truth if p not in held)
  assert shapes[0][1:] == (32, 32, 3)  # Images still decode: the source hands over encoded bytes.
  # Slicing happens before filtering.
  first, _ = _read(spec.format(PAIRS, "seen"), "train[:100]", data_dir)
  assert sorted(first) == sorted(p for p in truth[:100] if p not in held)


def test_codes_and_errors(tiny_shapes):
  _, data_dir = tiny_shapes
  np.testing.assert_array_equal(combination_codes([np.array([0, 4, 7]), np.array([0, 9, 7])], [8, 10]),
                                [0, 49, 77])
  source = HeldOutCombinations("mg_shapes/tiny32", PAIRS, data_dir=data_dir)
  assert source.depths_and_codes()[0] == (8, 10)
  np.testing.assert_array_equal(source.depths_and_codes()[1], [0, 49, 77])
  with pytest.raises(ValueError, match="part must be one of"):
    HeldOutCombinations("mg_shapes/tiny32", PAIRS, part="test")
  with pytest.raises(ValueError, match="one label per key"):
    HeldOutCombinations("mg_shapes/tiny32", (("circle",),))
  with pytest.raises(ValueError, match="'violet' is no colour"):
    HeldOutCombinations("mg_shapes/tiny32", (("circle", "violet"),), data_dir=data_dir).depths_and_codes()
  with pytest.raises(ValueError, match="no label id"):
    HeldOutCombinations("mg_shapes/tiny32", ((8, 0),), data_dir=data_dir).depths_and_codes()
  with pytest.raises(ValueError, match="'count' is not a ClassLabel"):
    HeldOutCombinations("mg_shapes/tiny32", ((1, 0),), keys=("count", "colour"),
                        data_dir=data_dir).depths_and_codes()


def test_lookup_source_passes_data_dir_only_when_the_spec_has_none(tiny_shapes):
  _, data_dir = tiny_shapes
  assert lookup_source("held_out_combinations(dataset='d', combinations=((0, 0),))", data_dir="/x").data_dir == "/x"
  spec = "held_out_combinations(dataset='d', combinations=((0, 0),), data_dir='/own')"
  assert lookup_source(spec, data_dir="/x").data_dir == "/own"
  assert lookup_source("mg_shapes/tiny32", data_dir=data_dir) is None
