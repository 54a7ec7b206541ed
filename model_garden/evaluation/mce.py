"""Corruption errors (CE), mean CE (mCE) and relative mCE on ImageNet-C, normalised by AlexNet.

Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions and Perturbations"
(ICLR 2019), section 3:
  CE_c          = sum_s E_{s,c} / sum_s E^AlexNet_{s,c}
  relative CE_c = sum_s (E_{s,c} - E_clean) / sum_s (E^AlexNet_{s,c} - E^AlexNet_clean)
  mCE, relative mCE = their means over the 15 benchmark corruptions (often reported x 100).
As summing over the 5 severities equals averaging, a corruption's errors may also be given as the mean over
severities; robustness_metrics' `imagenet_variants` report computes exactly that (error = 1 - accuracy).

Usage:
  >>> errors = {c: [0.3, 0.35, 0.4, 0.5, 0.6] for c in CORRUPTIONS}   # top-1 error per severity 1..5
  >>> mce(errors)                                  # a fraction; x 100 for the paper's percentages
  >>> relative_mce(errors, clean_error=0.24)
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence, Union

import numpy as np

from model_garden.data.corruptions.params import CORRUPTIONS, EXTRA_CORRUPTIONS

# AlexNet's top-1 error on ImageNet-C per corruption and severity 1..5 (torchvision's AlexNet, 50,000
# validation images each), as tabulated in UCSC-VLAA/RobustCNN `timm/utils/imagenet_c.py`. Their means are
# the paper's Appendix C AlexNet errors that robustness_metrics hard-codes rounded to 3 decimals
# (gaussian_noise 0.886 ... jpeg_compression 0.607); tests/test_mce.py checks that.
ALEXNET_ERRORS: Dict[str, tuple] = {
    "gaussian_noise": (0.69528, 0.82542, 0.93554, 0.98138, 0.99452),
    "shot_noise": (0.71224, 0.85108, 0.93574, 0.98182, 0.99146),
    "impulse_noise": (0.78374, 0.89808, 0.94870, 0.98720, 0.99548),
    "defocus_blur": (0.65624, 0.73202, 0.85036, 0.91364, 0.94714),
    "glass_blur": (0.64308, 0.75054, 0.88806, 0.91622, 0.93344),
    "motion_blur": (0.58430, 0.70048, 0.82108, 0.89750, 0.92638),
    "zoom_blur": (0.70008, 0.76992, 0.80784, 0.84198, 0.87198),
    "snow": (0.71726, 0.88392, 0.86468, 0.91870, 0.94952),
    "frost": (0.61390, 0.79734, 0.88790, 0.89942, 0.93430),
    "fog": (0.67474, 0.76050, 0.84378, 0.87260, 0.94500),
    "brightness": (0.45140, 0.48502, 0.54048, 0.62166, 0.72440),
    "contrast": (0.64548, 0.76150, 0.88874, 0.97760, 0.99270),
    "elastic_transform": (0.52596, 0.70116, 0.55686, 0.64076, 0.80554),
    "pixelate": (0.52218, 0.54620, 0.73728, 0.87092, 0.91262),
    "jpeg_compression": (0.51002, 0.54718, 0.57294, 0.65458, 0.74778),
}
# AlexNet's clean top-1 error as robustness_metrics uses it for relative mCE.
ALEXNET_CLEAN_ERROR = 0.4348
# The 4 extra corruptions: AlexNet's mean error over severities only, from a third-party evaluation table
# (not checked against the paper, which benchmarks the 15 above). A mean suffices for CE (a ratio of means);
# they never enter mCE.
ALEXNET_EXTRA_MEAN_ERRORS: Dict[str, float] = {
    "speckle_noise": 0.845, "gaussian_blur": 0.787, "spatter": 0.718, "saturate": 0.658,
}

Errors = Union[float, Sequence[float], Mapping[int, float]]


def _mean_error(errors: Errors, corruption: str, what: str) -> float:
  """The mean over severities 1..5 of one corruption's errors (a float is taken as that mean)."""
  if isinstance(errors, Mapping):
    if sorted(errors) != [1, 2, 3, 4, 5]:
      raise ValueError(f"{what} for {corruption!r} must have severities 1..5, got keys {sorted(errors)}.")
    values = [errors[s] for s in range(1, 6)]
  elif isinstance(errors, (int, float, np.floating, np.integer)):
    values = [float(errors)]
  else:
    values = [float(v) for v in np.asarray(errors, np.float64).ravel()]
    if len(values) != 5:
      raise ValueError(f"{what} for {corruption!r} must be 5 errors (severities 1..5) or their mean, "
                       f"got {len(values)} values.")
  for v in values:
    if not 0.0 <= v <= 1.0:
      raise ValueError(f"{what} for {corruption!r} must be error rates in [0, 1], got {v}. Pass errors, "
                       "not accuracies or percentages (error = 1 - accuracy; divide % by 100).")
  return float(np.mean(values))


def _check_complete(model_errors: Mapping[str, Errors], corruptions: Sequence[str]) -> None:
  missing = [c for c in corruptions if c not in model_errors]
  if missing:
    raise ValueError(f"Errors are missing for {missing}; mCE averages over all of {list(corruptions)}. "
                     "Pass corruptions=[...] to average over a subset (not comparable with the paper).")


def corruption_errors(model_errors: Mapping[str, Errors],
                      baseline_errors: Mapping[str, Errors] = ALEXNET_ERRORS,
                      corruptions: Sequence[str] = CORRUPTIONS) -> Dict[str, float]:
  """CE_c = sum_s E_{s,c} / sum_s E^baseline_{s,c} for each corruption in `corruptions`."""
  _check_complete(model_errors, corruptions)
  baseline = dict(ALEXNET_EXTRA_MEAN_ERRORS) if baseline_errors is ALEXNET_ERRORS else {}
  baseline.update(baseline_errors)
  out = {}
  for c in corruptions:
    if c not in baseline:
      raise ValueError(f"No baseline errors for {c!r}; known: {sorted(baseline)}.")
    out[c] = _mean_error(model_errors[c], c, "errors") / _mean_error(baseline[c], c, "baseline errors")
  return out


def relative_corruption_errors(model_errors: Mapping[str, Errors], clean_error: float,
                               baseline_errors: Mapping[str, Errors] = ALEXNET_ERRORS,
                               baseline_clean_error: float = ALEXNET_CLEAN_ERROR,
                               corruptions: Sequence[str] = CORRUPTIONS) -> Dict[str, float]:
  """Relative CE_c = sum_s (E_{s,c} - E_clean) / sum_s (E^baseline_{s,c} - E^baseline_clean)."""
  _check_complete(model_errors, corruptions)
  clean = _mean_error(clean_error, "clean", "clean error")
  base_clean = _mean_error(baseline_clean_error, "clean", "baseline clean error")
  baseline = dict(ALEXNET_EXTRA_MEAN_ERRORS) if baseline_errors is ALEXNET_ERRORS else {}
  baseline.update(baseline_errors)
  out = {}
  for c in corruptions:
    if c not in baseline:
      raise ValueError(f"No baseline errors for {c!r}; known: {sorted(baseline)}.")
    gap = _mean_error(baseline[c], c, "baseline errors") - base_clean
    out[c] = (_mean_error(model_errors[c], c, "errors") - clean) / gap
  return out


def mce(model_errors: Mapping[str, Errors], baseline_errors: Mapping[str, Errors] = ALEXNET_ERRORS,
        corruptions: Sequence[str] = CORRUPTIONS) -> float:
  """Mean corruption error: the mean of CE_c over the 15 benchmark corruptions (a fraction; x100 for %)."""
  return float(np.mean(list(corruption_errors(model_errors, baseline_errors, corruptions).values())))


def relative_mce(model_errors: Mapping[str, Errors], clean_error: float,
                 baseline_errors: Mapping[str, Errors] = ALEXNET_ERRORS,
                 baseline_clean_error: float = ALEXNET_CLEAN_ERROR,
                 corruptions: Sequence[str] = CORRUPTIONS) -> float:
  """Relative mCE: the mean of relative CE_c (how much accuracy drops under corruption, vs AlexNet's drop)."""
  return float(np.mean(list(relative_corruption_errors(
      model_errors, clean_error, baseline_errors, baseline_clean_error, corruptions).values())))


def mce_report(model_errors: Mapping[str, Errors], clean_error: float | None = None,
               baseline_errors: Mapping[str, Errors] = ALEXNET_ERRORS,
               baseline_clean_error: float = ALEXNET_CLEAN_ERROR) -> Dict[str, float]:
  """robustness_metrics-style keys: imagenet_c/{c}/ce, .../relative_ce, imagenet_c/mce, .../relative_mce.

  Extra corruptions present in `model_errors` get a CE (against AlexNet's published means) but stay out of
  the means. Relative numbers need `clean_error`.
  """
  out = {}
  ces = corruption_errors(model_errors, baseline_errors)
  extra = [c for c in EXTRA_CORRUPTIONS if c in model_errors]
  if extra:
    ces.update(corruption_errors(model_errors, baseline_errors, extra))
  for c, v in ces.items():
    out[f"imagenet_c/{c}/ce"] = v
  out["imagenet_c/mce"] = float(np.mean([ces[c] for c in CORRUPTIONS]))
  if clean_error is not None:
    rel = relative_corruption_errors(model_errors, clean_error, baseline_errors, baseline_clean_error)
    for c, v in rel.items():
      out[f"imagenet_c/{c}/relative_ce"] = v
    out["imagenet_c/relative_mce"] = float(np.mean(list(rel.values())))
  return out
