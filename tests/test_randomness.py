"""objectives.randomness: the draws equal TensorFlow's own without XLA, agree under XLA, and take global-batch rows;
pretext.crop_and_resize equals tf.image.crop_and_resize and compiles with XLA."""

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from model_garden import models, objectives
from model_garden.objectives import randomness
from model_garden.objectives.randomness import BatchRows
from model_garden.objectives.ssl import pretext

# Seeds with negative words: XLA reads those otherwise than TensorFlow's kernels, randomness canonicalises them.
SEEDS = [tf.constant([3, 4], tf.int64), tf.constant([-1171984841, 7], tf.int64), tf.constant([5, -2**40], tf.int64)]


def _xla(fn, *args):
  return tf.function(fn, jit_compile=True)(*args)


def test_uniform_is_tensorflows_own_draw_and_the_same_under_xla():
  for seed in SEEDS:
    canonical = randomness.canonical_seed(seed)
    assert np.all(canonical.numpy() >= 0) and np.all(canonical.numpy() < 2**32)
    unit = randomness.uniform([5, 7], seed)
    np.testing.assert_array_equal(unit, tf.random.stateless_uniform([5, 7], canonical))
    np.testing.assert_array_equal(_xla(lambda s: randomness.uniform([5, 7], s), seed), unit)
    draw = randomness.uniform([5, 7], seed, -2.0, 3.0)
    np.testing.assert_array_equal(draw, tf.random.stateless_uniform([5, 7], canonical, -2.0, 3.0))
    # XLA fuses the scaling into one multiply-add: the last bit may differ.
    np.testing.assert_allclose(_xla(lambda s: randomness.uniform([5, 7], s, -2.0, 3.0), seed), draw, atol=3e-7)
    ints = randomness.uniform_int([9], seed, 0, 5)
    np.testing.assert_array_equal(_xla(lambda s: randomness.uniform_int([9], s, 0, 5), seed), ints)
  # TensorFlow's own float draw is not what XLA computes: the reason this module exists.
  plain = tf.random.stateless_uniform([64], SEEDS[0])
  assert not np.array_equal(_xla(lambda s: tf.random.stateless_uniform([64], s), SEEDS[0]), plain)


def test_fold_in_and_split_stay_canonical_and_agree_under_xla():
  seed = SEEDS[1]
  for fn in (lambda s: randomness.fold_in(s, 12), lambda s: randomness.split(s, 3)):
    eager = fn(seed).numpy()
    assert np.all(eager >= 0) and np.all(eager < 2**32)
    np.testing.assert_array_equal(_xla(fn, seed), eager)
  np.testing.assert_array_equal(randomness.fold_in(seed, 12), randomness.canonical_seed(
      tf.random.experimental.stateless_fold_in(randomness.canonical_seed(seed), tf.constant(12, tf.int64))))


def test_normal_is_box_muller_of_the_uniform_pairs_as_tensorflows_kernel():
  for seed in SEEDS:
    draw = randomness.normal([3, 5], seed)  # 15 values: the last pair is cut
    np.testing.assert_allclose(draw, tf.random.stateless_normal([3, 5], randomness.canonical_seed(seed)), atol=1e-6)
    u = randomness.uniform([16], seed).numpy().reshape(8, 2)
    radius = np.sqrt(-2 * np.log(np.maximum(u[:, 0], 1e-7)))
    by_hand = np.stack([np.sin(2 * np.pi * u[:, 1]) * radius, np.cos(2 * np.pi * u[:, 1]) * radius], 1).ravel()
    np.testing.assert_allclose(draw.numpy().ravel(), by_hand[:15], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_xla(lambda s: randomness.normal([3, 5], s), seed), draw, atol=1e-6)


@pytest.mark.parametrize("a, b", [(0.2, 0.2), (2.5, 1.0)])
def test_gamma_and_beta_follow_their_distributions_and_agree_under_xla(a, b):
  seed = tf.constant([0, 11], tf.int64)
  n = 20000
  gammas = randomness.gamma([n], seed, a).numpy()
  assert scipy.stats.kstest(gammas, scipy.stats.gamma(a).cdf).pvalue > 1e-3
  draws = np.sort(randomness.beta([n], seed, a, b).numpy())
  # Kolmogorov-Smirnov below 0.999: Beta(0.2, 0.2) puts 1.6% of its mass within float32's last step below 1,
  # which rounds to 1.0. 1.95 / sqrt(n) is the 0.1% critical value.
  below = draws < 0.999
  cdf = scipy.stats.beta(a, b).cdf(draws[below].astype(np.float64))
  upper = np.arange(1, n + 1)[below] / n
  statistic = max(np.max(upper - cdf), np.max(cdf - (upper - 1.0 / n)))
  assert statistic < 1.95 / np.sqrt(n), statistic
  np.testing.assert_allclose(_xla(lambda s: randomness.beta([64], s, a, b), seed), randomness.beta([64], seed, a, b),
                             rtol=1e-5, atol=1e-7)
  with pytest.raises(ValueError, match="positive"):
    randomness.beta([2], seed, 0.0, 1.0)


def test_rows_take_the_global_draw_at_this_computations_rows():
  seed = SEEDS[2]
  whole = randomness.uniform([6, 2], seed)
  second_half = BatchRows.strided(3, 1, 3, 6)  # replica 1 of 2, three rows each
  np.testing.assert_array_equal(randomness.uniform([3, 2], seed, rows=second_half), whole[3:])
  interleaved = BatchRows.strided(1, 2, 3, 6)  # the GAN's rows of replica 1 of 2: 1, 3, 5
  np.testing.assert_array_equal(randomness.uniform([3, 2], seed, rows=interleaved), whole.numpy()[1::2])
  views = second_half.repeat(2)  # two rows per example, image-major
  np.testing.assert_array_equal(views.indices, [6, 7, 8, 9, 10, 11])
  np.testing.assert_allclose(randomness.normal([6], seed, rows=views), randomness.normal([12], seed)[6:], atol=0)
  np.testing.assert_array_equal(randomness.uniform([4, 2], seed, rows=BatchRows.all(4)),
                                randomness.uniform([4, 2], seed))
  ones = tf.ones([3, 1000])
  dropped = randomness.dropout(ones, 0.25, seed, rows=second_half).numpy()
  assert set(np.unique(dropped)) == {0.0, np.float32(1.0 / 0.75)} and abs((dropped == 0).mean() - 0.25) < 0.03
  np.testing.assert_array_equal(dropped, randomness.dropout(tf.ones([6, 1000]), 0.25, seed).numpy()[3:])


def test_an_objectives_batch_rows_follow_replica_and_micro_batch():
  net = models.get("resnet_small(num_classes=4, widths=(4,), groups=2, image_size=8)")
  objective = objectives.get("entmin", network=net)
  assert objective.batch_rows(5).is_all
  object.__setattr__(objective, "_micro_batch", (1, 2))  # as the gradient accumulation sets it
  rows = objective.batch_rows(3)
  np.testing.assert_array_equal(rows.indices, [3, 4, 5])
  assert int(rows.total) == 6


def test_crop_and_resize_equals_tensorflows_and_compiles_with_xla():
  images = tf.random.stateless_uniform((3, 13, 11, 3), (1, 2), -1, 1)
  boxes = pretext.random_boxes(20, tf.constant([3, 4], tf.int64))
  index = tf.constant(np.random.default_rng(0).integers(0, 3, 20), tf.int32)
  for size in (1, 7, 16):
    ours = pretext.crop_and_resize(images, boxes, index, size)
    np.testing.assert_allclose(ours, tf.image.crop_and_resize(images, boxes, index, [size, size]), atol=1e-6)
    np.testing.assert_allclose(_xla(pretext.crop_and_resize, images, boxes, index, size), ours, atol=1e-5)
  # A box edge past the image (float rounding of 1.0): TensorFlow writes zeros there, this clamps to the border.
  edge = tf.constant([[0.5, 0.5, 1.0 + 1e-6, 1.0 + 1e-6]])
  theirs = tf.image.crop_and_resize(images, edge, [0], [4, 4]).numpy()
  ours = pretext.crop_and_resize(images, edge, [0], 4).numpy()
  assert np.all(theirs[0, -1] == 0)
  np.testing.assert_allclose(ours[0, -1, -1], images.numpy()[0, -1, -1], atol=1e-5)
  np.testing.assert_allclose(ours[0, :-1, :-1], theirs[0, :-1, :-1], atol=1e-5)


def test_gan_latents_are_the_generators_prior():
  for distribution in ("uniform", "normal"):
    g = models.get(f"sndcgan_generator(image_size=8, ch=2, z_dim=4, z_distribution='{distribution}')")
    d = models.get("sndcgan_discriminator(image_size=8, ch=2)")
    gan = objectives.get("gan", generator=g, discriminator=d)
    seed = tf.constant([3, 4], tf.int32)  # (the generator casts seeds to int32)
    np.testing.assert_allclose(gan.sample_latents(6, seed), g.sample_latents(6, seed), atol=1e-6)
