"""The papers' FID Inception graph extractor, end to end on a tiny GraphDef with the real graph's tensor names."""

import os
import tarfile
import time

import numpy as np
import pytest
import tensorflow as tf

from model_garden.evaluation import gan_features
from model_garden.evaluation import inception_graph_features as igf

CHANNEL_FEATURES = 4
CLASSES = 6
_RNG = np.random.default_rng(0)
PATTERN = (_RNG.normal(size=(299, 299, CHANNEL_FEATURES)) / 299).astype(np.float32)  # pool_3 = <image, pattern>
LOGIT_WEIGHTS = _RNG.normal(size=(3 * CHANNEL_FEATURES, CLASSES)).astype(np.float32)


def _write_tiny_inception_graph(path):
  """A frozen GraphDef shaped like inceptionv1_for_inception_score.pb: a JPEG-decoding front end ending in
  `Mul` (the feed point), `pool_3` of shape (n, 1, 1, d) and `logits` of shape (n, classes)."""
  graph = tf.Graph()
  with graph.as_default():
    contents = tf.compat.v1.placeholder(tf.string, [], name="DecodeJpeg/contents")  # never fed: pruned away
    decoded = tf.cast(tf.io.decode_jpeg(contents, channels=3), tf.float32)[None]
    resized = tf.compat.v1.image.resize_bilinear(decoded, [299, 299])
    mul = tf.multiply(resized - 128.0, 1.0 / 128.0, name="Mul")
    per_channel = tf.einsum("nhwc,hwk->nck", mul, tf.constant(PATTERN))
    pool = tf.reshape(per_channel, [-1, 1, 1, 3 * CHANNEL_FEATURES], name="pool_3")
    logits = tf.matmul(tf.reshape(pool, [-1, 3 * CHANNEL_FEATURES]), tf.constant(LOGIT_WEIGHTS), name="logits")
  assert (mul.name, pool.name, logits.name) == (igf.INCEPTION_INPUT, igf.INCEPTION_POOL, igf.INCEPTION_LOGITS)
  with open(path, "wb") as f:
    f.write(graph.as_graph_def().SerializeToString())
  return str(path)


@pytest.fixture(scope="module")
def tiny_graph(tmp_path_factory):
  return _write_tiny_inception_graph(tmp_path_factory.mktemp("inception") / igf.INCEPTION_FROZEN_GRAPH)


def _np_resize_bilinear_tf1(images, size):
  """TF1 ResizeBilinear (align_corners=False, half_pixel_centers=False): source = dest * in / out."""
  def taps(in_size):
    source = np.arange(size) * (in_size / size)
    low = np.floor(source).astype(int)
    return low, np.minimum(low + 1, in_size - 1), source - low

  y0, y1, fy = taps(images.shape[1])
  x0, x1, fx = taps(images.shape[2])
  fx, fy = fx[None, None, :, None], fy[None, :, None, None]
  rows = lambda y: images[:, y][:, :, x0] * (1 - fx) + images[:, y][:, :, x1] * fx  # noqa: E731
  return rows(y0) * (1 - fy) + rows(y1) * fy


def _np_features(images):
  """compare_gan: [0, 255] floats (here (x + 1) * 127.5), gray tiled to RGB, TF1 bilinear to 299, (x - 128) / 128."""
  pixels = (images.astype(np.float64) + 1.0) * 127.5
  if pixels.shape[-1] == 1:
    pixels = np.tile(pixels, [1, 1, 1, 3])
  inputs = (_np_resize_bilinear_tf1(pixels, 299) - 128.0) / 128.0
  pool = np.einsum("nhwc,hwk->nck", inputs, PATTERN.astype(np.float64)).reshape(len(images), -1)
  return inputs, pool, pool @ LOGIT_WEIGHTS.astype(np.float64)


@pytest.mark.parametrize("channels", [3, 1])
def test_extraction_end_to_end_matches_numpy(tiny_graph, channels):
  images = np.random.default_rng(channels).uniform(-1, 1, (5, 7, 9, channels)).astype(np.float32)
  images[0, 0, 0] = -1.0
  images[1, 0, 0] = 1.0
  extractor = gan_features.get_feature_extractor(tiny_graph)
  assert isinstance(extractor, igf.InceptionGraphFeatures) and extractor.comparable_to_papers
  extractor.batch_size = 2  # three batches, the last one short
  inputs, pool, logits = _np_features(images)
  np.testing.assert_allclose(igf.preprocess_for_inception_graph(images).numpy(), inputs, rtol=1e-5, atol=1e-5)
  out = extractor(images)
  assert out["pool"].shape == (5, 3 * CHANNEL_FEATURES) and out["logits"].shape == (5, CLASSES)
  np.testing.assert_allclose(out["pool"], pool, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(out["logits"], logits, rtol=1e-4, atol=1e-4)
  # The resize is TF1's, not tf.image.resize's half-pixel one: that would give other features.
  half_pixel = tf.image.resize((images + 1.0) * 127.5, (299, 299), method="bilinear").numpy()
  if channels == 1:
    half_pixel = np.tile(half_pixel, [1, 1, 1, 3])
  other = np.einsum("nhwc,hwk->nck", (half_pixel - 128.0) / 128.0, PATTERN).reshape(5, -1)
  assert np.max(np.abs(other - pool)) > 100 * 1e-4 * (1 + np.max(np.abs(pool)))


def test_images_outside_minus_one_one_are_refused(tiny_graph):
  extractor = igf.InceptionGraphFeatures(tiny_graph)
  with pytest.raises(ValueError, match=r"\[-1, 1\].*\[0, 2\]"):
    extractor(np.full((1, 4, 4, 3), 2.0, np.float32) * np.array([0, 1, 1], np.float32))


def test_graph_found_in_the_cache_folder_or_its_tarball(tiny_graph, tmp_path, monkeypatch):
  monkeypatch.setenv(igf.INCEPTION_DIR_ENV, str(tmp_path))
  with tarfile.open(tmp_path / igf.INCEPTION_TARBALL, "w:gz") as tar:
    tar.add(tiny_graph, arcname=igf.INCEPTION_FROZEN_GRAPH)
  found = igf.find_inception_graph(download=False)  # extracted from the tarball next to it
  assert found == str(tmp_path / igf.INCEPTION_FROZEN_GRAPH)
  with open(found, "rb") as a, open(tiny_graph, "rb") as b:
    assert a.read() == b.read()
  extractor = igf.InceptionGraphFeatures(download=False)
  assert extractor.graph_path == found and extractor(np.zeros((2, 8, 8, 3), np.float32))["pool"].shape == (2, 12)


def test_offline_error_names_the_file_the_url_and_the_folder(tmp_path, monkeypatch):
  monkeypatch.setenv(igf.INCEPTION_DIR_ENV, str(tmp_path))
  with pytest.raises(gan_features.FeatureExtractorUnavailableError) as info:
    igf.InceptionGraphFeatures(download=False)
  message = str(info.value)
  for text in (igf.INCEPTION_FROZEN_GRAPH, igf.INCEPTION_URL, str(tmp_path), igf.INCEPTION_DIR_ENV):
    assert text in message
  # A download that cannot connect (a closed local port; no network involved) fails at once, same message.
  start = time.monotonic()
  with pytest.raises(gan_features.FeatureExtractorUnavailableError, match="download from http://127.0.0.1:9/"):
    igf.find_inception_graph(str(tmp_path), url="http://127.0.0.1:9/" + igf.INCEPTION_TARBALL)
  assert time.monotonic() - start < igf.DOWNLOAD_TIMEOUT_S
  assert os.listdir(tmp_path) == []  # no partial file left behind


def test_wrong_files_are_named(tmp_path):
  garbage = tmp_path / "garbage.pb"
  garbage.write_bytes(b"\xff\x00 not a protobuf \x12")
  with pytest.raises(ValueError, match="garbage.pb"):
    igf.load_graph_def(str(garbage))
  graph = tf.Graph()
  with graph.as_default():
    tf.multiply(tf.compat.v1.placeholder(tf.float32, [None], name="x"), 2.0, name="Mul")
  other = tmp_path / "other.pb"
  other.write_bytes(graph.as_graph_def().SerializeToString())
  with pytest.raises(ValueError, match="pool_3:0, logits:0"):
    igf.load_graph_def(str(other))


def test_gan_metrics_evaluator_with_the_graph_path(tiny_graph, tiny_shapes):
  from model_garden import evaluation, models  # pylint: disable=g-import-not-at-top
  import model_garden.models.gan  # noqa: F401  pylint: disable=g-import-not-at-top
  from model_garden.evaluation import gan_evaluator  # noqa: F401  pylint: disable=g-import-not-at-top
  _, data_dir = tiny_shapes
  ev = evaluation.EVALUATORS.get("gan_metrics", data={"name": "mg_shapes/tiny32", "split": "test"},
                                 pp="decode|value_range(-1, 1)|keep('image')", features=tiny_graph, num_samples=16,
                                 batch_size=8, kid_subset_size=8, kid_subsets=2, is_splits=1, data_dir=data_dir)
  results = ev.run(models.get("dcgan_generator(image_size=32, ch=4, z_dim=8)"))
  assert results["num_real"] == 16 and results["num_fake"] == 16
  assert np.isfinite([results["fid"], results["kid"], results["is"]]).all() and results["fid"] > 0
