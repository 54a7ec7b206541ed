"""FID, IS and KID against independent NumPy computations; feature extractors; the gan_metrics evaluator."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from model_garden.evaluation import gan_features, gan_metrics


def _spd(eigenvalues, q):
  return (q * np.asarray(eigenvalues)) @ q.T


def test_symmetric_sqrtm_squares_back():
  rng = np.random.default_rng(0)
  a = rng.normal(size=(6, 6))
  s = a @ a.T
  root = gan_metrics.symmetric_sqrtm(s)
  np.testing.assert_allclose(root @ root, s, atol=1e-10)
  np.testing.assert_allclose(root, root.T, atol=1e-12)


def test_frechet_distance_on_commuting_covariances_has_closed_form():
  # With a shared eigenbasis, Tr sqrt(S_a^1/2 S_b S_a^1/2) = sum sqrt(a_i b_i).
  q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(5, 5)))
  a, b = np.array([4.0, 1.0, 0.5, 2.0, 9.0]), np.array([1.0, 4.0, 2.0, 0.5, 1.0])
  mu_a, mu_b = np.arange(5.0), np.arange(5.0) + 0.5
  expected = 5 * 0.25 + a.sum() + b.sum() - 2 * np.sqrt(a * b).sum()
  got = gan_metrics.frechet_distance_from_moments(mu_a, _spd(a, q), mu_b, _spd(b, q))
  np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_frechet_distance_general_case_matches_eigenvalues_of_the_product():
  # Tr sqrt(S_a S_b) = sum sqrt(eig(S_a S_b)) (real, non-negative: S_a S_b is similar to a PSD matrix).
  rng = np.random.default_rng(2)
  x, y = rng.normal(size=(7, 7)), rng.normal(size=(7, 7))
  s_a, s_b = x @ x.T + 0.1 * np.eye(7), y @ y.T
  tr_sqrt = np.sqrt(np.linalg.eigvals(s_a @ s_b).real.clip(0)).sum()
  expected = np.trace(s_a) + np.trace(s_b) - 2 * tr_sqrt
  got = gan_metrics.frechet_distance_from_moments(np.zeros(7), s_a, np.zeros(7), s_b)
  np.testing.assert_allclose(got, expected, rtol=1e-8)


def test_frechet_distance_of_feature_sets():
  rng = np.random.default_rng(3)
  a = rng.normal(size=(500, 4))
  assert gan_metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
  b = rng.normal(size=(400, 4)) * 2.0 + 1.0
  mu_b, cov_b = b.mean(0), np.cov(b, rowvar=False)  # unbiased (n - 1), as the metric
  expected = gan_metrics.frechet_distance_from_moments(a.mean(0), np.cov(a, rowvar=False), mu_b, cov_b)
  assert gan_metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-12)
  assert gan_metrics.frechet_distance(a.astype(np.float32), b) == pytest.approx(expected, rel=1e-5)
  with pytest.raises(ValueError, match="NaN"):
    gan_metrics.frechet_distance(np.full((3, 4), np.nan), b)


def test_frechet_distance_matches_a_scipy_sqrtm_computation():
  # pytorch-fid / clean-fid: diff.diff + Tr(S_a) + Tr(S_b) - 2 Tr(sqrtm(S_a S_b)), real part kept, with their
  # eps fallback; ours uses TF-GAN's symmetric form (no complex parts) and must agree.
  linalg = pytest.importorskip("scipy.linalg", reason="the SciPy reference needs scipy (pip install -e '.[dev]')")
  rng = np.random.default_rng(5)
  a = rng.normal(size=(300, 16)) @ rng.normal(size=(16, 16))
  b = rng.normal(size=(250, 16)) @ rng.normal(size=(16, 16)) * 0.7 + 0.3
  mu_a, mu_b = a.mean(0), b.mean(0)
  s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  covmean, _ = linalg.sqrtm(s_a @ s_b, disp=False)
  if not np.isfinite(covmean).all():
    offset = np.eye(16) * 1e-6
    covmean = linalg.sqrtm((s_a + offset) @ (s_b + offset))
  assert np.abs(np.diagonal(covmean).imag).max() < 1e-3
  diff = mu_a - mu_b
  expected = diff @ diff + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(covmean.real)
  assert gan_metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)


def test_inception_score():
  k = 10
  confident = np.eye(k)[np.arange(100) % k] * 50.0  # one sure class each, all classes equally often
  score, std = gan_metrics.inception_score(confident, splits=10)
  assert score == pytest.approx(k, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)
  assert gan_metrics.inception_score(np.zeros((20, k)), splits=2)[0] == pytest.approx(1.0)
  logits = np.random.default_rng(4).normal(size=(30, 5)) * 3
  p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  py = p.mean(0)
  expected = np.exp(np.mean(np.sum(p * (np.log(p) - np.log(py)), axis=1)))
  assert gan_metrics.inception_score(logits, splits=1)[0] == pytest.approx(expected, rel=1e-10)


def _mmd2_loops(x, y):
  d = x.shape[1]
  k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
  m, n = len(x), len(y)
  xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
  xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
  return xx + yy - 2 * xy


def test_kid_matches_plain_unbiased_mmd():
  rng = np.random.default_rng(5)
  a, b = rng.normal(size=(20, 3)), rng.normal(size=(20, 3)) + 0.5
  # One subset of all samples is a permutation of each set: the statistic does not change.
  kid, std = gan_metrics.kernel_inception_distance(a, b, num_subsets=1, max_subset_size=100)
  assert kid == pytest.approx(_mmd2_loops(a, b), rel=1e-10) and std == 0.0
  # Unequal set sizes: subsets of min(n_a, n_b) from each (compare_gan's block sizes got this wrong).
  c = rng.normal(size=(12, 3))
  kid, _ = gan_metrics.kernel_inception_distance(a, c, num_subsets=3, max_subset_size=100, seed=1)
  draws = np.random.default_rng(1)
  values = [_mmd2_loops(a[draws.choice(20, 12, replace=False)], c[draws.choice(12, 12, replace=False)])
            for _ in range(3)]
  assert kid == pytest.approx(np.mean(values), rel=1e-10)
  same = rng.normal(size=(300, 3))
  assert abs(gan_metrics.kernel_inception_distance(same[:150], same[150:], 10, 100)[0]) < 0.05


def test_network_features_and_offline_inception(monkeypatch):
  from model_garden import models  # pylint: disable=g-import-not-at-top
  net = models.get("resnet_small(num_classes=4, image_size=16, widths=(8,))")
  out = gan_features.NetworkFeatures(net, batch_size=3)(tf.zeros([5, 32, 32, 3]))  # resized to 16
  assert out["pool"].shape == (5, 8) and out["logits"].shape == (5, 4)

  def offline(**kwargs):
    raise OSError("URL fetch failure on https://storage.googleapis.com/...: [Errno -3] name resolution")

  monkeypatch.setattr(keras.applications, "InceptionV3", offline)
  with pytest.raises(gan_features.FeatureExtractorUnavailableError, match="~/.keras/models"):
    gan_features.get_feature_extractor("inception_v3")


def test_gan_metrics_evaluator_on_tiny_shapes(tiny_shapes):
  from model_garden import evaluation, models  # pylint: disable=g-import-not-at-top
  import model_garden.models.gan  # noqa: F401  pylint: disable=g-import-not-at-top
  from model_garden.evaluation import gan_evaluator  # noqa: F401  pylint: disable=g-import-not-at-top
  _, data_dir = tiny_shapes
  classifier = models.get("resnet_small(num_classes=8, image_size=32, widths=(8,))")
  features = gan_features.NetworkFeatures(classifier)
  ev = evaluation.EVALUATORS.get("gan_metrics", data={"name": "mg_shapes/tiny32", "split": "test"},
                                 pp="decode|value_range(-1, 1)|keep('image')", features=features, num_samples=40,
                                 batch_size=20, kid_subset_size=20, kid_subsets=5, is_splits=2, data_dir=data_dir)
  generator = models.get("dcgan_generator(image_size=32, ch=4, z_dim=8)")
  results = ev.run(generator)
  assert results["num_real"] == 40 and results["num_fake"] == 40
  assert np.isfinite([results["fid"], results["kid"], results["is"]]).all() and results["fid"] > 0
  assert ev.run(generator)["fid"] == pytest.approx(results["fid"])  # fixed seeds, cached real features
