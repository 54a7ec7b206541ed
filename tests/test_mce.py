"""mCE and relative mCE against hand computations and the published AlexNet numbers."""

import numpy as np
import pytest

from model_garden.data.corruptions import CORRUPTIONS
from model_garden.evaluation import mce as mce_lib

# robustness_metrics/reports/imagenet_variants.py: AlexNet's mean errors (paper, Appendix C), 3 decimals.
_ROBUSTNESS_METRICS_ALEXNET = {
    "gaussian_noise": 0.886, "shot_noise": 0.894, "impulse_noise": 0.923, "defocus_blur": 0.820,
    "glass_blur": 0.826, "motion_blur": 0.786, "zoom_blur": 0.798, "snow": 0.867, "frost": 0.827,
    "fog": 0.819, "brightness": 0.565, "contrast": 0.853, "elastic_transform": 0.646, "pixelate": 0.718,
    "jpeg_compression": 0.607,
}


def test_alexnet_table_matches_published_means():
  assert list(mce_lib.ALEXNET_ERRORS) == list(CORRUPTIONS)
  for c, errors in mce_lib.ALEXNET_ERRORS.items():
    assert len(errors) == 5
    assert round(float(np.mean(errors)), 3) == pytest.approx(_ROBUSTNESS_METRICS_ALEXNET[c], abs=1e-9), c
  # AlexNet against itself: every CE is 1.
  assert mce_lib.mce(mce_lib.ALEXNET_ERRORS) == pytest.approx(1.0)
  assert mce_lib.relative_mce(mce_lib.ALEXNET_ERRORS, mce_lib.ALEXNET_CLEAN_ERROR) == pytest.approx(1.0)


def test_mce_and_relative_mce_by_hand():
  rng = np.random.default_rng(0)
  errors = {c: list(rng.uniform(0.2, 0.9, 5)) for c in CORRUPTIONS}
  clean = 0.25
  ce, rel = [], []
  for c in CORRUPTIONS:
    ours, alex = errors[c], mce_lib.ALEXNET_ERRORS[c]
    ce.append(sum(ours) / sum(alex))
    rel.append(sum(e - clean for e in ours) / sum(a - mce_lib.ALEXNET_CLEAN_ERROR for a in alex))
  assert mce_lib.mce(errors) == pytest.approx(np.mean(ce), rel=1e-12)
  assert mce_lib.relative_mce(errors, clean) == pytest.approx(np.mean(rel), rel=1e-12)
  # A corruption's errors may be given as their mean, or as {severity: error}.
  means = {c: float(np.mean(v)) for c, v in errors.items()}
  assert mce_lib.mce(means) == pytest.approx(np.mean(ce), rel=1e-12)
  by_severity = {c: dict(zip(range(1, 6), v)) for c, v in errors.items()}
  assert mce_lib.mce(by_severity) == pytest.approx(np.mean(ce), rel=1e-12)
  report = mce_lib.mce_report({**errors, "spatter": 0.5}, clean_error=clean)
  assert report["imagenet_c/mce"] == pytest.approx(np.mean(ce), rel=1e-12)
  assert report["imagenet_c/relative_mce"] == pytest.approx(np.mean(rel), rel=1e-12)
  assert report["imagenet_c/fog/ce"] == pytest.approx(ce[CORRUPTIONS.index("fog")], rel=1e-12)
  assert report["imagenet_c/spatter/ce"] == pytest.approx(0.5 / 0.718)


def test_custom_baseline_and_errors():
  errors = {c: [0.5] * 5 for c in CORRUPTIONS}
  baseline = {c: [0.25] * 5 for c in CORRUPTIONS}
  assert mce_lib.mce(errors, baseline) == pytest.approx(2.0)
  with pytest.raises(ValueError, match="missing"):
    mce_lib.mce({"fog": [0.5] * 5})
  with pytest.raises(ValueError, match="percentages"):
    mce_lib.mce({c: [50.0] * 5 for c in CORRUPTIONS})
  with pytest.raises(ValueError, match="5 errors"):
    mce_lib.mce({c: [0.5] * 4 for c in CORRUPTIONS})
