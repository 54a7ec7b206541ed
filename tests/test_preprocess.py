"""Preprocessing ops: values against hand computations, determinism from the example seed."""

import numpy as np
import pytest
import tensorflow as tf

from model_garden.data import get_preprocess_fn, split_pp
from model_garden.data.preprocess import RNG_KEY


def _example(h=6, w=8, seed=(1, 2)):
  image = tf.reshape(tf.range(h * w * 3, dtype=tf.int32) % 256, (h, w, 3))
  return {"image": tf.cast(image, tf.uint8), "label": tf.constant(2), RNG_KEY: tf.constant(seed, tf.int64)}


def test_split_pp_respects_quotes_and_brackets():
  assert split_pp("decode|keep('a|b', 'c')|resize((2, 3))") == ["decode", "keep('a|b', 'c')",
                                                                 "resize((2, 3))"]


def test_value_range_maps_0_255_to_minus1_1():
  out = get_preprocess_fn("value_range(-1, 1)")({"image": tf.constant([[[0, 127.5, 255]]])})
  np.testing.assert_allclose(out["image"].numpy().ravel(), [-1.0, 0.0, 1.0])
  out = get_preprocess_fn("value_range(0, 1, clip_values=True)")({"image": tf.constant([[[300.0]]])})
  assert out["image"].numpy().item() == 1.0


def test_onehot_and_keep():
  out = get_preprocess_fn("onehot(4)|keep('labels')")(_example())
  np.testing.assert_array_equal(out["labels"].numpy(), [0, 0, 1, 0])
  assert sorted(k for k in out if not k.startswith("_")) == ["labels"]
  multi = get_preprocess_fn("onehot(4, key='l', multi=True)")({"l": tf.constant([0, 3])})
  np.testing.assert_array_equal(multi["labels"].numpy(), [1, 0, 0, 1])


def test_concat_onehot_is_a_multi_hot_over_both_label_spaces():
  pp = get_preprocess_fn("concat_onehot((3, 4), ('label', 'colour'), on=0.9, off=0.05)")
  out = pp({"label": tf.constant(2, tf.int64), "colour": tf.constant(1, tf.int64)})
  np.testing.assert_allclose(out["labels"].numpy(), [0.05, 0.05, 0.9, 0.05, 0.9, 0.05, 0.05])
  batched = pp({"label": tf.constant([0, 1]), "colour": tf.constant([3, 0])})["labels"].numpy()
  np.testing.assert_allclose(batched, [[0.9, .05, .05, .05, .05, .05, 0.9], [.05, 0.9, .05, 0.9, .05, .05, .05]])
  with pytest.raises(ValueError, match="one positive int depth per key"):
    get_preprocess_fn("concat_onehot((8,), ('label', 'colour'))")
  with pytest.raises(KeyError, match="colour"):
    get_preprocess_fn("concat_onehot((3, 4), ('label', 'colour'))")({"label": tf.constant(0)})


def test_keep_names_missing_keys():
  with pytest.raises(KeyError, match="nope"):
    get_preprocess_fn("keep('image', 'nope')")(_example())


def test_central_crop_takes_the_middle():
  out = get_preprocess_fn("central_crop(4)")(_example())
  np.testing.assert_array_equal(out["image"].numpy(), _example()["image"].numpy()[1:5, 2:6])


def test_resize_small_keeps_aspect_ratio():
  out = get_preprocess_fn("resize_small(3)")(_example(6, 8))
  assert out["image"].shape == (3, 4, 3)
  assert out["image"].dtype == tf.uint8


def test_resize_then_value_range_matches_serving_preprocessing():
  from model_garden.export import preprocess_uint8
  ex = _example()
  out = get_preprocess_fn("resize(12)|value_range(-1, 1)")(ex)
  served = preprocess_uint8(ex["image"][None], 12)[0]
  np.testing.assert_array_equal(out["image"].numpy(), served.numpy())


def test_random_ops_are_deterministic_per_example_seed():
  fn = get_preprocess_fn("random_crop(4)|flip_lr|inception_crop(5)")
  a = fn(_example(seed=(3, 4)))["image"].numpy()
  b = fn(_example(seed=(3, 4)))["image"].numpy()
  np.testing.assert_array_equal(a, b)
  others = [fn(_example(seed=(s, 0)))["image"].numpy() for s in range(8)]
  assert any(not np.array_equal(a, o) for o in others)
  assert a.shape == (5, 5, 3)


def test_flip_lr_is_really_random():
  fn = get_preprocess_fn("flip_lr")
  base = _example()["image"].numpy()
  flipped = [np.array_equal(fn(_example(seed=(s, 7)))["image"].numpy(), base[:, ::-1]) for s in range(64)]
  assert 16 < sum(flipped) < 48  # BiT's TF2 input pipeline always flipped; ours flips half the time.


def test_random_crop_is_a_crop():
  out = get_preprocess_fn("random_crop(4)")(_example())["image"].numpy()
  base = _example()["image"].numpy()
  found = any(np.array_equal(out, base[i:i + 4, j:j + 4]) for i in range(3) for j in range(5))
  assert found


def test_random_op_without_seed_explains():
  with pytest.raises(Exception, match="per-example seed"):
    get_preprocess_fn("flip_lr")({"image": tf.zeros((4, 4, 3), tf.uint8)})


def test_decode_png_roundtrip():
  image = _example()["image"]
  out = get_preprocess_fn("decode")({"image": tf.io.encode_png(image)})
  np.testing.assert_array_equal(out["image"].numpy(), image.numpy())


def test_randaugment_keeps_shape_and_dtype():
  out = get_preprocess_fn("randaugment(num_ops=2, magnitude=0.5)")({"image": tf.ones((16, 16, 3),
                                                                                     tf.uint8) * 100})
  assert out["image"].shape == (16, 16, 3) and out["image"].dtype == tf.uint8


def test_crops_larger_than_the_image_name_the_op_and_sizes():
  from model_garden.data import PreprocessConfigError
  with pytest.raises(PreprocessConfigError, match=r"'random_crop\(7\)' \(op 2 of .*needs images of at least "
                                                  r"7x7 \(height x width\), but they are 6x8"):
    get_preprocess_fn("flip_lr|random_crop(7)")(_example(6, 8))
  with pytest.raises(PreprocessConfigError, match=r"central_crop\(\(4, 9\)\) needs .* 4x9 .* 6x8"):
    get_preprocess_fn("central_crop((4, 9))")(_example(6, 8))
  # Exactly the image's size fits.
  assert get_preprocess_fn("random_crop((6, 8))")(_example(6, 8))["image"].shape == (6, 8, 3)


def test_static_shapes_reach_the_ops_after_decode():
  fn = get_preprocess_fn("decode|random_crop(5)", static_shapes={"image": (6, 8, None)})
  spec = {"image": tf.TensorSpec([], tf.string), RNG_KEY: tf.TensorSpec([2], tf.int64)}
  out = tf.function(fn).get_concrete_function(spec).structured_outputs
  assert out["image"].shape.as_list() == [5, 5, 3]
  too_big = get_preprocess_fn("decode|random_crop(7)", static_shapes={"image": (6, 8, None)})
  with pytest.raises(Exception, match=r"random_crop\(7\).*6x8"):
    tf.function(too_big).get_concrete_function(spec)
  png = tf.io.encode_png(_example(4, 4)["image"])  # A 4x4 image where 6x8 was promised fails at run time.
  with pytest.raises(tf.errors.InvalidArgumentError):
    tf.function(get_preprocess_fn("decode", static_shapes={"image": (6, 8, None)}))({"image": png})
