"""GAN sample-quality metrics on features: FID, Inception Score, KID (NumPy, float64, no SciPy).

Which numbers are comparable to the papers': only those computed on the features of the original FID
Inception network (the TF graph `inception-2015-12-05`, `pool_3` 2048-d features and its 1008 logits; TF-GAN,
TTUR, pytorch-fid's ported weights) from images resized to 299x299, with the papers' sample sizes (compare_gan:
10k generated vs 10k real for CIFAR-10 and CelebA, the study; 50k for ImageNet) and reference split.
`inception_graph_features.InceptionGraphFeatures` (`features="inception_2015_12_05"`) is that graph with
compare_gan's preprocessing.
`keras.applications.InceptionV3`'s ImageNet weights are a different network (pytorch-fid #11): FID/IS/KID
with it (`gan_features.InceptionV3Features`) are only comparable with each other, and so are the numbers on
any other classifier's features (`gan_features.NetworkFeatures`, e.g. a model_garden classifier's
`pre_logits` on mg_shapes). FID also depends on the number of samples (it is biased upwards for small n).

Reference formulas (TF-GAN `frechet_classifier_distance_from_activations`, `classifier_score_from_logits`;
Binkowski et al. 2018 for KID):
  FID = ||mu_a - mu_b||^2 + Tr(S_a) + Tr(S_b) - 2 Tr(sqrt(sqrt(S_a) S_b sqrt(S_a)))
  IS  = exp(E_x KL(p(y|x) || p(y)))
  KID = unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, averaged over random subsets.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np


def _features(x, name: str) -> np.ndarray:
  x = np.asarray(x, dtype=np.float64)
  if x.ndim != 2:
    raise ValueError(f"{name} must be a (num_samples, num_features) matrix, got shape {x.shape}.")
  if x.shape[0] < 2:
    raise ValueError(f"{name} needs at least 2 samples for a covariance, got {x.shape[0]}.")
  if not np.all(np.isfinite(x)):
    raise ValueError(f"{name} contains NaN or infinite values.")
  return x


def symmetric_sqrtm(matrix) -> np.ndarray:
  """The PSD square root of a symmetric matrix via eigh (negative round-off eigenvalues clipped to 0)."""
  matrix = np.asarray(matrix, dtype=np.float64)
  values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
  return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def moments(features) -> Tuple[np.ndarray, np.ndarray]:
  """Mean and unbiased (n - 1) covariance of (n, d) features, in float64."""
  x = _features(features, "features")
  return x.mean(axis=0), np.cov(x, rowvar=False, ddof=1).reshape(x.shape[1], x.shape[1])


def frechet_distance_from_moments(mu_a, sigma_a, mu_b, sigma_b) -> float:
  """||mu_a - mu_b||^2 + Tr(S_a) + Tr(S_b) - 2 Tr(sqrt(sqrt(S_a) S_b sqrt(S_a))), in float64.

  sqrt(S_a) S_b sqrt(S_a) is symmetric PSD and similar to S_a S_b, so the trace of its square root is
  the sum of the square roots of its (real, non-negative) eigenvalues: no complex parts arise (the SciPy
  `sqrtm(S_a S_b)` route needs an epsilon fallback and an imaginary-part check; this does not).
  """
  mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
  sigma_a, sigma_b = np.asarray(sigma_a, np.float64), np.asarray(sigma_b, np.float64)
  if mu_a.shape != mu_b.shape or sigma_a.shape != sigma_b.shape:
    raise ValueError(f"Feature dimensions differ: {mu_a.shape} vs {mu_b.shape}.")
  root_a = symmetric_sqrtm(sigma_a)
  product = root_a @ sigma_b @ root_a
  eigenvalues = np.linalg.eigvalsh((product + product.T) / 2.0)
  trace_sqrt = np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None)))
  distance = np.sum(np.square(mu_a - mu_b)) + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * trace_sqrt
  return float(max(distance, 0.0))


def frechet_distance(features_a, features_b) -> float:
  """FID between two (n, d) feature sets (e.g. Inception pool3 of real and generated images)."""
  mu_a, sigma_a = moments(_features(features_a, "features_a"))
  mu_b, sigma_b = moments(_features(features_b, "features_b"))
  return frechet_distance_from_moments(mu_a, sigma_a, mu_b, sigma_b)


def inception_score(logits, splits: int = 10) -> Tuple[float, float]:
  """(mean, std) over `splits` equal parts of exp(E_x KL(p(y|x) || p(y))), p = softmax(logits), float64.

  The improved-GAN/Mimicry protocol (10 splits; each split's own marginal p(y)). compare_gan/TF-GAN compute
  one score over the whole set: `splits=1` (std 0). Log-probabilities work as logits.
  """
  logits = _features(logits, "logits")
  n = logits.shape[0]
  if not 1 <= splits <= n:
    raise ValueError(f"splits must be between 1 and the number of samples ({n}), got {splits}.")
  shifted = logits - logits.max(axis=1, keepdims=True)
  log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
  scores = []
  for part in np.array_split(np.arange(n), splits):
    lp = log_p[part]
    log_marginal = np.log(np.mean(np.exp(lp), axis=0))
    kl = np.sum(np.exp(lp) * (lp - log_marginal), axis=1)
    scores.append(np.exp(np.mean(kl)))
  return float(np.mean(scores)), float(np.std(scores))


def _unbiased_mmd2(x, y) -> float:
  d = x.shape[1]
  k_xx = (x @ x.T / d + 1.0) ** 3
  k_yy = (y @ y.T / d + 1.0) ** 3
  k_xy = (x @ y.T / d + 1.0) ** 3
  m, n = x.shape[0], y.shape[0]
  return float((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1)) + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
               - 2.0 * k_xy.mean())


def kernel_inception_distance(features_a, features_b, num_subsets: int = 100, max_subset_size: int = 1000,
                              seed: int = 0) -> Tuple[float, float]:
  """(mean, std) of the unbiased MMD^2 with the cubic kernel (x.y / d + 1)^3 over random subsets.

  "Demystifying MMD GANs" (Binkowski et al. 2018), with clean-fid/torch-fidelity's protocol: each of the
  `num_subsets` subsets draws m = min(n_a, n_b, max_subset_size) samples from each set without replacement.
  compare_gan's block version mis-sizes the generated blocks (it uses the real set's sizes); this does not.
  """
  a, b = _features(features_a, "features_a"), _features(features_b, "features_b")
  if a.shape[1] != b.shape[1]:
    raise ValueError(f"Feature dimensions differ: {a.shape[1]} vs {b.shape[1]}.")
  m = min(a.shape[0], b.shape[0], int(max_subset_size))
  rng = np.random.default_rng(seed)
  values = [_unbiased_mmd2(a[rng.choice(a.shape[0], m, replace=False)],
                           b[rng.choice(b.shape[0], m, replace=False)]) for _ in range(int(num_subsets))]
  return float(np.mean(values)), float(np.std(values))
