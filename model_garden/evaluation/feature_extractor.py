"""The interface of the feature networks behind FID, KID and IS (`gan_features`, `inception_graph_features`)."""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np


class FeatureExtractorUnavailableError(RuntimeError):
  """The feature network's weights cannot be loaded (e.g. no internet for the Inception download)."""


class FeatureExtractor:
  """Interface: `extractor(images) -> {"pool": (n, d) float32, "logits": (n, k) float32 or None}`.

  `images` are float in [-1, 1], NHWC, any size (each extractor resizes to its input size with bilinear
  interpolation, no re-quantisation, as compare_gan feeds unquantised floats). `comparable_to_papers` says
  whether its FID/IS/KID can be compared with published numbers.
  """

  name = "features"
  comparable_to_papers = False

  def __call__(self, images) -> Dict[str, Optional[np.ndarray]]:
    raise NotImplementedError

  def extract(self, batches) -> Dict[str, Optional[np.ndarray]]:
    """Concatenates `self(batch)` over an iterable of image batches."""
    pools, logits = [], []
    for images in batches:
      out = self(images)
      pools.append(out["pool"])
      if out.get("logits") is not None:
        logits.append(out["logits"])
    if not pools:
      raise ValueError("No images to extract features from.")
    return {"pool": np.concatenate(pools), "logits": np.concatenate(logits) if logits else None}
