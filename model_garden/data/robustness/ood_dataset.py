"""One evaluation dataset of the robustness suite: where its images come from and how its labels are scored."""

from __future__ import annotations

import dataclasses
from typing import Dict, Iterator, Optional, Tuple

import numpy as np

from model_garden.data.robustness.label_space import LabelSpace

METRICS = ("accuracy", "real", "pmk")
CROPS = ("imagenet", "resize", "none")


class CorruptionsUnavailableError(RuntimeError):
  """The synthetic corruptions package (`model_garden.data.corruptions`) cannot be imported or used."""


def _require_corruptions() -> None:
  """Imports `model_garden.data.corruptions` (which registers the `corrupt` pp op) or explains what is missing."""
  try:
    from model_garden.data import corruptions  # pylint: disable=g-import-not-at-top
    getattr(corruptions, "corrupt")
  except (ImportError, AttributeError) as e:
    raise CorruptionsUnavailableError(
        "Synthetic corruptions need model_garden.data.corruptions (its `corrupt` pp op), which is not available "
        f"here ({type(e).__name__}: {e}). Evaluate the tfds 'imagenet2012_corrupted/<corruption>_<severity>' "
        "sets instead (imagenet_c(corruption=..., severity=...)).") from e


@dataclasses.dataclass
class OodDataset:
  """An evaluation set of the robustness suite (see `catalog.py` for the registered ones).

  Args:
    name: display name, e.g. "imagenet_v2/matched-frequency".
    source: what `model_garden.data.get_dataset` reads: a tfds name or a dataset spec ("objectnet(root=...)").
    split: the split to read.
    label_space: how model logits map to the dataset's labels.
    metric: "accuracy" (top-1 in the label space), "real" (ReaL: `real_label` multi-hot sets) or "pmk"
      (video sets: pm-0 and pm-k over `reader`'s neighbourhoods).
    crop: "imagenet" (resize the short side to size/0.875, central crop: robustness_metrics'
      `resize_small(256)|central_crop(224)` at 224), "resize" (straight to size x size; for pre-cropped
      sets such as ImageNet-C and for mg_shapes) or "none".
    pre_pp: pp ops right after `decode`, e.g. ObjectNet's "crop_border(2)".
    label_pp: pp ops adding label keys, e.g. "labelset(1000, key='real_label', key_result='real_label')".
    keys: the example keys to keep (besides `image`).
    corruption: (name, severity) of a synthetic ImageNet-C corruption (`model_garden.data.corruptions`'s
      `corrupt` pp op, seeded per example), applied after the crop; None for none.
    corrupt_at: corrupt at this square size and resize to the model's size afterwards (224 for ImageNet:
      the corruption parameters are in pixels of ImageNet-C's 224 crops); None corrupts at the model's size.
    reader: the `VideoRobustFolder` of a pm-k set.
    notes: manual-download or label-space remarks shown in reports.
  """
  name: str
  source: str
  split: str
  label_space: LabelSpace
  metric: str = "accuracy"
  crop: str = "imagenet"
  pre_pp: str = ""
  label_pp: str = ""
  keys: Tuple[str, ...] = ("label",)
  corruption: Optional[Tuple[str, int]] = None
  corrupt_at: Optional[int] = None
  reader: object = None
  notes: str = ""

  def __post_init__(self):
    if self.metric not in METRICS:
      raise ValueError(f"OodDataset {self.name}: metric must be one of {METRICS}, got {self.metric!r}.")
    if self.crop not in CROPS:
      raise ValueError(f"OodDataset {self.name}: crop must be one of {CROPS}, got {self.crop!r}.")

  def pp(self, image_size: int) -> str:
    """The pp string: decoded images resized to `image_size`, as float32 in [0, 255] (scaled later)."""
    ops = ["decode"]
    if self.pre_pp:
      ops.append(self.pre_pp)
    size = self.corrupt_at if self.corruption is not None and self.corrupt_at else image_size
    if self.crop == "imagenet":
      ops += [f"resize_small({int(round(size / 0.875))})", f"central_crop({size})"]
    elif self.crop == "resize":
      ops.append(f"resize({size})")
    if self.corruption is not None:
      _require_corruptions()
      ops.append(f"corrupt({self.corruption[0]!r}, {int(self.corruption[1])})")
      if size != image_size:
        ops.append(f"resize({image_size})")
    if self.label_pp:
      ops.append(self.label_pp)
    ops.append("keep(" + ", ".join(repr(k) for k in ("image",) + tuple(self.keys)) + ")")
    return "|".join(ops)

  def batches(self, batch_size: int, image_size: int, data_dir: Optional[str] = None, download: bool = True,
              max_examples: Optional[int] = None, seed: int = 0) -> Iterator[Dict[str, np.ndarray]]:
    """Numpy batches with `image` float32 in [-1, 1] and the label keys.

    `seed` seeds the corruptions (the pipeline's per-example `_rng`), so reruns corrupt identically.
    """
    from model_garden.data.pipeline import get_dataset  # pylint: disable=g-import-not-at-top
    import model_garden.data.robustness.ops  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
    ds = get_dataset(self.source, self.split, batch_size=batch_size, pp=self.pp(image_size), data_dir=data_dir,
                     train=False, download=download, seed=seed)
    seen = 0
    for batch in ds:
      batch = {k: v.numpy() for k, v in batch.items()}
      if max_examples is not None:
        keep = max_examples - seen
        if keep <= 0:
          break
        batch = {k: v[:keep] for k, v in batch.items()}
      batch["image"] = batch["image"].astype(np.float32) / 127.5 - 1.0
      seen += len(batch["image"])
      yield batch

  def describe(self) -> str:
    extra = f"; {self.notes}" if self.notes else ""
    return f"{self.name}: {self.source}[{self.split}], {self.label_space}, metric={self.metric}{extra}"
