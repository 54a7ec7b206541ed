"""The robustness suite's datasets by spec: `get_ood_dataset("imagenet_v2(variant='matched-frequency')")`.

The sets of "On Robustness and Transferability of Convolutional Neural Networks" (Djolonga et al. 2021) and
google-research/robustness_metrics (`datasets/tfds.py`), with the label spaces of their authors' code, plus
mg_shapes variants that run offline:

  imagenet                      tfds imagenet2012[validation]                 1000 classes
  imagenet_real                 tfds imagenet2012_real[validation]            ReaL label sets (manual download)
  imagenet_v2(variant=...)      tfds imagenet_v2/<variant>[test]              matched-frequency, threshold-0.7,
                                                                              topimages
  imagenet_a / imagenet_r       tfds imagenet_a / imagenet_r [test]           200-class subsets
  imagenet_c(corruption, severity)  tfds imagenet2012_corrupted/<c>_<s>[validation]  (manual download);
                                with synthetic=True: imagenet2012[validation] corrupted on the fly
  objectnet(root=...)           the manual download                           113 classes (grouped)
  imagenet_vid_robust(root=...) / ytbb_robust(root=...)  the downloads        pm-k over 30 / 24 classes
  mg_shapes(config='px32', split='test')                                      8 shapes
  mg_shapes_real(config=..., split=...)   mg_shapes with constructed ReaL-style sets (pp op mg_shapes_real)
  mg_shapes_c(corruption, severity, config=..., split=...)  synthetic ImageNet-C corruptions of mg_shapes
  tfds(name=..., split=..., num_classes=...)                                  any tfds classification set

tfds-style names are accepted too: "imagenet_v2/matched-frequency", "imagenet2012_corrupted/fog_3",
"mg_shapes/px32", "imagenet2012_real".
"""

from __future__ import annotations

import re
from typing import List

from model_garden.data.robustness.label_space import LabelSpace
from model_garden.data.robustness.ood_dataset import OodDataset
from model_garden.registry import Registry, SpecError, parse_spec

OOD_DATASETS = Registry("robustness dataset")
register = OOD_DATASETS.register

IMAGENET_V2_VARIANTS = ("matched-frequency", "threshold-0.7", "topimages")
# robustness_metrics' variant names -> tfds config names.
_V2_ALIASES = {"MATCHED_FREQUENCY": "matched-frequency", "THRESHOLDED": "threshold-0.7", "TOP_IMAGES": "topimages"}
IMAGENET_MANUAL = ("needs the ImageNet tars (ILSVRC2012_img_val.tar; imagenet2012_corrupted also "
                   "ILSVRC2012_img_train.tar) from https://image-net.org/download-images in "
                   "<data_dir>/downloads/manual/")
MG_SHAPES_CLASSES = 8


def _check_corruption(corruption: str) -> None:
  try:
    from model_garden.data import corruptions  # pylint: disable=g-import-not-at-top
    known = list(getattr(corruptions, "ALL_CORRUPTIONS", corruptions.CORRUPTIONS))
  except (ImportError, AttributeError):
    return  # Checked when the corruptions are applied (a clear CorruptionsUnavailableError).
  if corruption not in known:
    raise SpecError(f"Unknown corruption {corruption!r}. Known: {', '.join(known)}.")


def _check_severity(severity) -> int:
  if int(severity) != severity or not 1 <= int(severity) <= 5:
    raise SpecError(f"Corruption severity must be an integer 1..5, got {severity!r}.")
  return int(severity)


@register("imagenet")
def imagenet(*, split: str = "validation") -> OodDataset:
  return OodDataset("imagenet", "imagenet2012", split, LabelSpace.for_dataset("imagenet"),
                    notes="tfds imagenet2012 " + IMAGENET_MANUAL)


@register("imagenet_real")
def imagenet_real(*, split: str = "validation") -> OodDataset:
  return OodDataset("imagenet_real", "imagenet2012_real", split, LabelSpace.for_dataset("imagenet"), metric="real",
                    label_pp="labelset(1000, key='real_label', key_result='real_label')|"
                             "copy('original_label', 'label')",
                    keys=("label", "real_label"), notes="tfds imagenet2012_real " + IMAGENET_MANUAL)


@register("imagenet_v2")
def imagenet_v2(*, variant: str = "matched-frequency") -> OodDataset:
  variant = _V2_ALIASES.get(variant, variant)
  if variant not in IMAGENET_V2_VARIANTS:
    raise SpecError(f"imagenet_v2 variant {variant!r} is unknown; use one of {IMAGENET_V2_VARIANTS}.")
  return OodDataset(f"imagenet_v2/{variant}", f"imagenet_v2/{variant}", "test", LabelSpace.for_dataset("imagenet"))


@register("imagenet_a")
def imagenet_a() -> OodDataset:
  return OodDataset("imagenet_a", "imagenet_a", "test", LabelSpace.for_dataset("imagenet_a"),
                    notes="predictions restricted to its 200 ImageNet classes")


@register("imagenet_r")
def imagenet_r() -> OodDataset:
  return OodDataset("imagenet_r", "imagenet_r", "test", LabelSpace.for_dataset("imagenet_r"),
                    notes="predictions restricted to its 200 ImageNet classes")


@register("imagenet_c")
def imagenet_c(*, corruption: str, severity: int, synthetic: bool = False) -> OodDataset:
  """tfds `imagenet2012_corrupted/<corruption>_<severity>`, or with `synthetic=True` the clean validation set
  corrupted on the fly by `model_garden.data.corruptions` at 224 px, then resized to the model's size."""
  _check_corruption(corruption)
  severity = _check_severity(severity)
  name = f"imagenet2012_corrupted/{corruption}_{severity}"
  if synthetic:
    return OodDataset(f"imagenet_c_synthetic/{corruption}_{severity}", "imagenet2012", "validation",
                      LabelSpace.for_dataset("imagenet"), corruption=(corruption, severity), corrupt_at=224,
                      notes="tfds imagenet2012 " + IMAGENET_MANUAL + "; corrupted by model_garden.data.corruptions")
  # tfds stores the 224 x 224 crops ImageNet-C was made from: resize only.
  return OodDataset(name, name, "validation", LabelSpace.for_dataset("imagenet"), crop="resize",
                    notes="tfds " + IMAGENET_MANUAL)


@register("objectnet")
def objectnet(*, root: str, restrict: bool = True, border: int = 2) -> OodDataset:
  import model_garden.data.robustness.objectnet_folder  # noqa: F401  pylint: disable=g-import-not-at-top
  return OodDataset("objectnet", f"objectnet(root={root!r})", "test",
                    LabelSpace.for_dataset("objectnet", restrict=restrict),
                    pre_pp=f"crop_border({int(border)})" if border else "",
                    notes="113 ImageNet-overlapping classes; ImageNet logits max-merged per ObjectNet class")


def _video(name: str, root: str) -> OodDataset:
  from model_garden.data.robustness.video_robust_folder import VideoRobustFolder  # pylint: disable=g-import-not-at-top
  reader = VideoRobustFolder(root, name)
  return OodDataset(name, f"{name}(root={root!r})", "test", LabelSpace.for_dataset(name), metric="pmk",
                    keys=("label", "frame_key"), reader=reader,
                    notes=f"{len(reader.anchors)} anchors; pm-k with k=10")


@register("imagenet_vid_robust")
def imagenet_vid_robust(*, root: str) -> OodDataset:
  return _video("imagenet_vid_robust", root)


@register("ytbb_robust")
def ytbb_robust(*, root: str) -> OodDataset:
  return _video("ytbb_robust", root)


@register("mg_shapes")
def mg_shapes(*, config: str = "px32", split: str = "test") -> OodDataset:
  return OodDataset(f"mg_shapes/{config}", f"mg_shapes/{config}", split,
                    LabelSpace.identity(MG_SHAPES_CLASSES, "mg_shapes"), crop="resize")


@register("mg_shapes_real")
def mg_shapes_real(*, config: str = "px32", split: str = "test") -> OodDataset:
  return OodDataset(f"mg_shapes_real/{config}", f"mg_shapes/{config}", split,
                    LabelSpace.identity(MG_SHAPES_CLASSES, "mg_shapes"), metric="real", crop="resize",
                    label_pp="mg_shapes_real()", keys=("label", "real_label"),
                    notes="constructed ReaL-style sets: shape + its low-resolution look-alike for small objects; "
                          "empty for four small objects")


@register("mg_shapes_c")
def mg_shapes_c(*, corruption: str, severity: int, config: str = "px32", split: str = "test") -> OodDataset:
  _check_corruption(corruption)
  severity = _check_severity(severity)
  return OodDataset(f"mg_shapes_c/{config}/{corruption}_{severity}", f"mg_shapes/{config}", split,
                    LabelSpace.identity(MG_SHAPES_CLASSES, "mg_shapes"), crop="resize",
                    corruption=(corruption, severity), notes="synthetic, model_garden.data.corruptions")


@register("tfds")
def tfds_dataset(*, name: str, split: str = "test", num_classes: int, crop: str = "imagenet",
                 label_key: str = "label") -> OodDataset:
  label_pp = f"copy('{label_key}', 'label')" if label_key != "label" else ""
  return OodDataset(name, name, split, LabelSpace.identity(num_classes, name), crop=crop, label_pp=label_pp)


def canonical_spec(name: str) -> str:
  """Maps tfds-style names to specs: "imagenet_v2/topimages" -> "imagenet_v2(variant='topimages')", ..."""
  name = name.strip()
  match = re.fullmatch(r"imagenet_v2/([\w.\-]+)", name)
  if match:
    return f"imagenet_v2(variant={match.group(1)!r})"
  match = re.fullmatch(r"imagenet2012_corrupted/(\w+?)_(\d)", name)
  if match:
    return f"imagenet_c(corruption={match.group(1)!r}, severity={match.group(2)})"
  match = re.fullmatch(r"mg_shapes/([\w\-]+)", name)
  if match:
    return f"mg_shapes(config={match.group(1)!r})"
  aliases = {"imagenet2012": "imagenet", "imagenet2012_real": "imagenet_real", "imagenet_v2": "imagenet_v2"}
  return aliases.get(name, name)


def get_ood_dataset(spec: str) -> OodDataset:
  """The `OodDataset` named by a spec or tfds-style name (see the module docstring)."""
  spec = canonical_spec(spec)
  name, _, _ = parse_spec(spec)
  if name not in OOD_DATASETS:
    raise SpecError(f"Unknown robustness dataset {name!r}. Known: {', '.join(OOD_DATASETS.names())}; or a "
                    "tfds-style name such as 'imagenet_v2/matched-frequency' or 'imagenet2012_corrupted/fog_3'.")
  return OOD_DATASETS.get(spec)


def split_specs(text: str) -> List[str]:
  """Splits a comma-separated list of specs on top-level commas: "a(x=1, y=2),b" -> ["a(x=1, y=2)", "b"]."""
  parts, depth, quote, current = [], 0, None, []
  for ch in text:
    if quote:
      quote = None if ch == quote else quote
    elif ch in "'\"":
      quote = ch
    elif ch in "([{":
      depth += 1
    elif ch in ")]}":
      depth -= 1
    elif ch == "," and depth == 0:
      parts.append("".join(current).strip())
      current = []
      continue
    current.append(ch)
  parts.append("".join(current).strip())
  return [p for p in parts if p]

