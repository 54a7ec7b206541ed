r"""Robustness report of one model: OOD datasets and ImageNet-C corruptions -> CSV, markdown and PNG plots.

The evaluation suite of "On Robustness and Transferability of Convolutional Neural Networks" (Djolonga et
al. 2021) and google-research/robustness_metrics' `imagenet_variants` report: top-1 accuracy on ImageNet,
ReaL, ImageNet-V2, ImageNet-A/-R (predictions restricted to their 200 classes), ObjectNet (113 overlapping
classes), pm-k on the video sets, and accuracy per corruption and severity with the mean corruption error.

Usage:
  python tools/robustness.py --model=workdir/model.keras --output_dir=/tmp/report \
      --datasets=imagenet,imagenet_real,imagenet_v2/matched-frequency,imagenet_a,imagenet_r \
      --corruptions=all --severities=1,2,3,4,5
  # offline: mg_shapes, its constructed ReaL sets and synthetic corruptions (model_garden.data.corruptions)
  python tools/robustness.py --model=workdir/model.keras --output_dir=/tmp/report \
      --datasets=mg_shapes/px32,mg_shapes_real --corruption_dataset=mg_shapes/px32 --corruptions=all

Datasets are specs or tfds-style names (see model_garden/data/robustness/catalog.py), comma-separated:
  imagenet, imagenet_real, imagenet_v2/{matched-frequency,threshold-0.7,topimages}, imagenet_a, imagenet_r,
  "objectnet(root='/data/objectnet-1.0')", "imagenet_vid_robust(root=...)", "ytbb_robust(root=...)",
  mg_shapes/<config>, "mg_shapes_real(config='px32')", "tfds(name='cifar10', split='test', num_classes=10)".
Corruptions come from tfds `imagenet2012_corrupted/<corruption>_<severity>` (--corruption_dataset=imagenet_c,
the default), or are synthesised by model_garden.data.corruptions on ImageNet validation at 224 px
(imagenet_c_synthetic) or on an mg_shapes config (mg_shapes/<config>; at its own resolution, so blurs and
displacements, given in pixels of 224 crops, are relatively much stronger).

Writes into --output_dir: results.csv (one row per dataset x corruption x severity x metric), results.md
(the tables), results.json, corruptions.png (accuracy per corruption against severity), corruptions_grid.png
(the same as a table of coloured cells) and datasets.png (accuracy per dataset).
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402  (TensorFlow is imported where used, so that --help is instant)

SEVERITIES = (1, 2, 3, 4, 5)
# The 15 benchmark corruptions (Hendrycks & Dietterich 2019), used when the corruptions package is missing.
IMAGENET_C = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
              "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
              "jpeg_compression")
DEFAULT_DATASETS = "imagenet,imagenet_real,imagenet_v2/matched-frequency,imagenet_a,imagenet_r"


def load_network(model: str):
  """A network from a `.keras` file or a model spec (built, random weights)."""
  import model_garden  # pylint: disable=g-import-not-at-top  (registers the serialisables)
  if model.endswith(".keras"):
    if not os.path.exists(model):
      raise FileNotFoundError(f"--model={model}: no such .keras file.")
    return model_garden.load_model(model)
  return model_garden.models.get(model)


def corruption_names(spec: str) -> List[str]:
  """"all" -> the 15 benchmark corruptions; "none" or "" -> []; else the comma-separated names."""
  spec = (spec or "").strip()
  if spec in ("", "none"):
    return []
  try:
    from model_garden.data import corruptions  # pylint: disable=g-import-not-at-top
    known = list(corruptions.CORRUPTIONS)
  except (ImportError, AttributeError):
    known = list(IMAGENET_C)
  if spec == "all":
    return known
  names = [n.strip() for n in spec.split(",") if n.strip()]
  extra = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
  unknown = [n for n in names if n not in known and n not in extra]
  if unknown:
    raise ValueError(f"Unknown corruptions {unknown}; known: {', '.join(known + list(extra))}.")
  return names


def corruption_spec(base: str, corruption: str, severity: int) -> str:
  if base in ("imagenet_c", "imagenet_c_synthetic"):
    synthetic = ", synthetic=True" if base == "imagenet_c_synthetic" else ""
    return f"imagenet_c(corruption={corruption!r}, severity={severity}{synthetic})"
  if base.startswith("mg_shapes"):
    config = base.split("/", 1)[1] if "/" in base else "px32"
    return f"mg_shapes_c(corruption={corruption!r}, severity={severity}, config={config!r})"
  raise ValueError(f"--corruption_dataset must be imagenet_c, imagenet_c_synthetic or mg_shapes/<config>, got "
                   f"{base!r}.")


def clean_spec(base: str) -> str:
  return "imagenet" if base.startswith("imagenet_c") else base


# -- Evaluating one dataset ---------------------------------------------------------------------------------

def evaluate_dataset(predict, ood, batch_size: int, image_size: int, data_dir: Optional[str] = None,
                     download: bool = True, max_examples: Optional[int] = None) -> Dict[str, float]:
  """The numbers of one `OodDataset`: {"accuracy", ...} depending on its metric, plus "num_examples"."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from model_garden.evaluation import real as real_lib  # pylint: disable=g-import-not-at-top
  from model_garden.evaluation.video_pmk import PAPER_K, pm_k_accuracy  # pylint: disable=g-import-not-at-top
  space = ood.label_space

  def logits_of(images):
    logits = predict(tf.constant(images))
    if logits.shape[-1] != space.num_model_classes:
      raise ValueError(f"The model has {logits.shape[-1]} outputs but {ood.name} expects "
                       f"{space.num_model_classes}-way logits ({space}).")
    return logits

  batches = ood.batches(batch_size, image_size, data_dir=data_dir, download=download, max_examples=max_examples)
  if ood.metric == "real":
    out = real_lib.evaluate_real(lambda images: logits_of(images).numpy(), batches, ks=(1,))
    return {"accuracy": out["accuracy"], "real_accuracy": out["real_accuracy"], "num_examples": out["num_examples"],
            "num_real_scored": out["num_real_scored"]}
  if ood.metric == "pmk":
    predictions, keys = {}, []
    for batch in batches:
      predicted = space.predict(logits_of(batch["image"])).numpy()[:, 0]
      for key, value in zip(batch["frame_key"], predicted):
        key = key.decode() if isinstance(key, bytes) else str(key)
        predictions[key] = int(value)
        keys.append(key)
    reader = ood.reader
    anchors = [a for a in reader.anchors if a in predictions]
    if not anchors:
      raise ValueError(f"{ood.name}: no anchor frame was predicted (max_examples too small?).")
    # With max_examples, neighbours that were not read are dropped rather than counted.
    pmsets = {a: [f for f in reader.pmsets[a] if f in predictions] for a in anchors}
    pm0 = pm_k_accuracy(anchors, predictions, reader.labels, k=0, neighbours=pmsets)
    pmk = pm_k_accuracy(anchors, predictions, reader.labels, k=None, neighbours=pmsets)
    return {"accuracy": pm0, f"pm{PAPER_K}_accuracy": pmk, "num_examples": len(keys), "num_anchors": len(anchors)}
  correct = total = outside = 0
  for batch in batches:
    labels = np.asarray(batch["label"]).reshape(-1)
    predicted = space.predict(logits_of(batch["image"])).numpy()[:, 0]
    columns = space.to_columns(labels).numpy()
    outside += int(np.sum(columns < 0))
    correct += int(np.sum((predicted == labels) & (columns >= 0)))
    total += len(labels)
  if not total:
    raise ValueError(f"{ood.name}: the dataset is empty.")
  out = {"accuracy": correct / total, "num_examples": total}
  if outside:
    out["num_outside_label_space"] = outside
  return out


# -- The report ---------------------------------------------------------------------------------------------

def run(model: str, output_dir: str, datasets: str = DEFAULT_DATASETS, corruptions: str = "none",
        severities: Sequence[int] = SEVERITIES, corruption_dataset: str = "imagenet_c",
        data_dir: Optional[str] = None, batch_size: int = 64, image_size: Optional[int] = None,
        max_examples: Optional[int] = None, download: bool = True, log=print) -> Dict:
  """Evaluates `model` and writes the report into `output_dir`; returns the results dict."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from model_garden.data import robustness  # pylint: disable=g-import-not-at-top
  network = load_network(model)
  size = int(image_size or getattr(network, "image_size", None) or 224)

  @tf.function(reduce_retracing=True)
  def predict(images):
    return tf.cast(network(images, training=False), tf.float32)

  kwargs = dict(batch_size=batch_size, image_size=size, data_dir=data_dir, download=download,
                max_examples=max_examples)
  results = {"model": model, "image_size": size, "datasets": {}, "corruptions": {}, "notes": []}
  for spec in robustness.split_specs(datasets or ""):
    start = time.time()
    try:
      ood = robustness.get_ood_dataset(spec)
      numbers = evaluate_dataset(predict, ood, **kwargs)
    except Exception as e:  # pylint: disable=broad-except  (one unavailable set must not sink the report)
      note = f"{spec}: skipped - {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
      results["notes"].append(note)
      log(note)
      continue
    numbers["notes"] = ood.notes
    results["datasets"][ood.name] = numbers
    log(f"{ood.name}: " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                    for k, v in numbers.items() if k != "notes") + f" ({time.time() - start:.1f}s)")
  names = corruption_names(corruptions)
  if names:
    clean_name = robustness.get_ood_dataset(clean_spec(corruption_dataset)).name
    clean = results["datasets"].get(clean_name)
    if clean is None:
      try:
        clean = evaluate_dataset(predict, robustness.get_ood_dataset(clean_spec(corruption_dataset)), **kwargs)
      except Exception as e:  # pylint: disable=broad-except
        results["notes"].append(f"clean {clean_name}: skipped - {type(e).__name__}: {e}")
    results["clean"] = {"dataset": clean_name, "accuracy": clean["accuracy"] if clean else None}
    for corruption in names:
      for severity in severities:
        spec = corruption_spec(corruption_dataset, corruption, int(severity))
        try:
          numbers = evaluate_dataset(predict, robustness.get_ood_dataset(spec), **kwargs)
        except robustness.CorruptionsUnavailableError as e:
          note = f"corruptions skipped: {e}"
          results["notes"].append(note)
          log(note)
          names = []
          break
        except Exception as e:  # pylint: disable=broad-except
          note = f"{spec}: skipped - {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
          results["notes"].append(note)
          log(note)
          continue
        results["corruptions"].setdefault(corruption, {})[int(severity)] = numbers["accuracy"]
        log(f"{corruption} {severity}: accuracy={numbers['accuracy']:.4f}")
      if not names:
        break
    results["corruption_summary"] = corruption_summary(results["corruptions"], corruption_dataset,
                                                       results["clean"]["accuracy"], results["notes"])
  write_report(results, output_dir)
  return results


def corruption_summary(table: Dict[str, Dict[int, float]], corruption_dataset: str,
                       clean_accuracy: Optional[float], notes: List[str]) -> Dict:
  """Mean accuracy over everything, per corruption, and the mCE when it is defined (ImageNet-C, all 15)."""
  if not table:
    return {}
  per_corruption = {c: float(np.mean(list(s.values()))) for c, s in table.items()}
  summary = {"mean_accuracy": float(np.mean([a for s in table.values() for a in s.values()])),
             "mean_accuracy_per_corruption": per_corruption,
             "unnormalized_mean_error": float(np.mean([1.0 - a for a in per_corruption.values()]))}
  if not corruption_dataset.startswith("imagenet_c"):
    notes.append("mCE is not reported: it normalises by AlexNet's ImageNet-C errors, which only apply to "
                 "ImageNet-C; 'unnormalized_mean_error' is the mean over corruptions of 1 - mean accuracy.")
    return summary
  try:
    from model_garden.evaluation import mce  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    notes.append(f"mCE not computed: model_garden.evaluation.mce is not available ({e}).")
    return summary
  # CE and mCE (Hendrycks & Dietterich 2019) are defined over severities 1..5 against AlexNet's errors.
  full = {c: {s: 1.0 - a for s, a in sev.items()} for c, sev in table.items() if sorted(sev) == list(SEVERITIES)}
  if len(full) < len(table):
    notes.append("CE needs all five severities; corruptions with fewer are left out of CE and mCE.")
  if not full:
    return summary
  try:
    summary["corruption_error"] = mce.corruption_errors(full, corruptions=list(full))
    benchmark = list(mce.CORRUPTIONS)
    if all(c in full for c in benchmark):
      summary["mce"] = mce.mce(full)
      if clean_accuracy is not None:
        summary["relative_mce"] = mce.relative_mce(full, 1.0 - clean_accuracy)
    else:
      missing = [c for c in benchmark if c not in full]
      notes.append(f"mCE needs the 15 benchmark corruptions at severities 1..5; missing {missing}.")
  except ValueError as e:
    notes.append(f"mCE not computed: {e}")
  return summary


# -- Writing ------------------------------------------------------------------------------------------------

def _fmt(value) -> str:
  if value is None:
    return "-"
  if isinstance(value, float):
    return "nan" if math.isnan(value) else f"{value:.4f}"
  return str(value)


def write_report(results: Dict, output_dir: str) -> None:
  os.makedirs(output_dir, exist_ok=True)
  rows = []
  for name, numbers in results["datasets"].items():
    for metric, value in numbers.items():
      if metric in ("notes",) or metric.startswith("num_"):
        continue
      rows.append({"dataset": name, "corruption": "", "severity": "", "metric": metric, "value": value,
                   "num_examples": numbers.get("num_examples", "")})
  corruption_base = results.get("clean", {}).get("dataset", "")
  for corruption, by_severity in results["corruptions"].items():
    for severity, accuracy in sorted(by_severity.items()):
      rows.append({"dataset": corruption_base, "corruption": corruption, "severity": severity,
                   "metric": "accuracy", "value": accuracy, "num_examples": ""})
  with open(os.path.join(output_dir, "results.csv"), "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=["dataset", "corruption", "severity", "metric", "value", "num_examples"])
    writer.writeheader()
    writer.writerows(rows)
  with open(os.path.join(output_dir, "results.json"), "w") as f:
    json.dump(results, f, indent=2, default=float)
  with open(os.path.join(output_dir, "results.md"), "w") as f:
    f.write(markdown(results))
  if results["datasets"]:
    plot_bars(os.path.join(output_dir, "datasets.png"),
              {n: v["accuracy"] for n, v in results["datasets"].items()}, "top-1 accuracy per dataset")
  if results["corruptions"]:
    clean = results.get("clean", {}).get("accuracy")
    plot_corruption_lines(os.path.join(output_dir, "corruptions.png"), results["corruptions"], clean)
    plot_corruption_grid(os.path.join(output_dir, "corruptions_grid.png"), results["corruptions"], clean)


def markdown(results: Dict) -> str:
  lines = [f"# Robustness report: {results['model']}", "", f"Image size {results['image_size']}.", ""]
  if results["datasets"]:
    metrics = []
    for numbers in results["datasets"].values():
      metrics += [m for m in numbers if m not in metrics and m != "notes" and not m.startswith("num_")]
    lines += ["| dataset | " + " | ".join(metrics) + " | examples | notes |",
              "|---|" + "---|" * (len(metrics) + 2)]
    for name, numbers in results["datasets"].items():
      lines.append(f"| {name} | " + " | ".join(_fmt(numbers.get(m)) for m in metrics) +
                   f" | {numbers.get('num_examples', '')} | {numbers.get('notes', '')} |")
    lines.append("")
  if results["corruptions"]:
    severities = sorted({s for v in results["corruptions"].values() for s in v})
    clean = results.get("clean", {})
    lines += [f"## Corruptions ({clean.get('dataset', '')}; clean accuracy {_fmt(clean.get('accuracy'))})", "",
              "| corruption | " + " | ".join(f"severity {s}" for s in severities) + " | mean |",
              "|---|" + "---|" * (len(severities) + 1)]
    for corruption, by_severity in results["corruptions"].items():
      values = [by_severity.get(s) for s in severities]
      mean = float(np.mean([v for v in values if v is not None]))
      lines.append(f"| {corruption} | " + " | ".join(_fmt(v) for v in values) + f" | {_fmt(mean)} |")
    summary = results.get("corruption_summary", {})
    lines.append("")
    for key in ("mean_accuracy", "unnormalized_mean_error", "mce", "relative_mce"):
      if key in summary:
        lines.append(f"- {key}: {_fmt(summary[key])}" + (" (x100 for the paper's %)" if "mce" in key else ""))
    if summary.get("corruption_error"):
      lines.append("- CE per corruption (vs AlexNet): " + ", ".join(
          f"{c} {_fmt(v)}" for c, v in summary["corruption_error"].items()))
    lines.append("")
  if results["notes"]:
    lines += ["## Notes", ""] + [f"- {n}" for n in results["notes"]] + [""]
  return "\n".join(lines)


# -- PNG plots (PIL) ----------------------------------------------------------------------------------------

_PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
            (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (0, 0, 128), (128, 0, 0),
            (0, 128, 0), (128, 128, 0), (0, 128, 128), (90, 90, 200), (200, 90, 90), (90, 200, 90), (60, 60, 60)]


def _canvas(size):
  from PIL import Image, ImageDraw, ImageFont  # pylint: disable=import-outside-toplevel
  image = Image.new("RGB", size, "white")
  return image, ImageDraw.Draw(image), ImageFont.load_default()


def plot_corruption_lines(path: str, table: Dict[str, Dict[int, float]], clean: Optional[float],
                          size=(900, 560)) -> None:
  """Accuracy against severity (0 = clean, when known), one coloured line per corruption, with a legend."""
  image, draw, font = _canvas(size)
  width, height = size
  left, right, top, bottom = 60, 190, 40, 50
  severities = sorted({s for v in table.values() for s in v})
  xs = ([0] if clean is not None else []) + severities
  x_lo, x_hi = min(xs), max(xs)

  def px(x, y):
    fx = (x - x_lo) / (x_hi - x_lo) if x_hi > x_lo else 0.5
    return left + fx * (width - left - right), height - bottom - y * (height - top - bottom)

  for tick in np.linspace(0, 1, 6):
    _, y = px(x_lo, tick)
    draw.line([(left, y), (width - right, y)], fill=(228, 228, 228))
    draw.text((18, y - 6), f"{tick:.1f}", fill="black", font=font)
  for x in xs:
    gx, _ = px(x, 0)
    draw.text((gx - 3, height - bottom + 8), "clean" if x == 0 else str(x), fill="black", font=font)
  draw.rectangle((left, top, width - right, height - bottom), outline="black")
  for i, (corruption, by_severity) in enumerate(table.items()):
    colour = _PALETTE[i % len(_PALETTE)]
    points = ([(0, clean)] if clean is not None else []) + sorted(by_severity.items())
    coords = [px(x, y) for x, y in points]
    if len(coords) > 1:
      draw.line(coords, fill=colour, width=2)
    for cx, cy in coords:
      draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=colour)
    ly = top + 14 * i
    draw.line([(width - right + 12, ly + 6), (width - right + 32, ly + 6)], fill=colour, width=3)
    draw.text((width - right + 38, ly), corruption, fill="black", font=font)
  draw.text((left, 14), "top-1 accuracy per corruption against severity", fill="black", font=font)
  draw.text(((width - right + left) // 2 - 20, height - 22), "severity", fill="black", font=font)
  image.save(path)


def plot_corruption_grid(path: str, table: Dict[str, Dict[int, float]], clean: Optional[float]) -> None:
  """A table of cells (corruption x severity) coloured from red (0) to green (1), values written in."""
  severities = sorted({s for v in table.values() for s in v})
  columns = (["clean"] if clean is not None else []) + [f"s{s}" for s in severities]
  cell_w, cell_h, label_w, head_h = 70, 22, 140, 40
  size = (label_w + cell_w * len(columns) + 10, head_h + cell_h * len(table) + 10)
  image, draw, font = _canvas(size)
  draw.text((8, 8), "top-1 accuracy", fill="black", font=font)
  for j, name in enumerate(columns):
    draw.text((label_w + j * cell_w + 20, head_h - 16), name, fill="black", font=font)
  for i, (corruption, by_severity) in enumerate(table.items()):
    y = head_h + i * cell_h
    draw.text((8, y + 5), corruption, fill="black", font=font)
    values = ([clean] if clean is not None else []) + [by_severity.get(s) for s in severities]
    for j, value in enumerate(values):
      x = label_w + j * cell_w
      if value is None:
        fill = (240, 240, 240)
      else:
        v = min(max(float(value), 0.0), 1.0)
        fill = (int(230 - 150 * v), int(90 + 130 * v), 90)
      draw.rectangle((x, y, x + cell_w - 2, y + cell_h - 2), fill=fill)
      draw.text((x + 14, y + 5), _fmt(value)[:5], fill="black", font=font)
  image.save(path)


def plot_bars(path: str, values: Dict[str, float], title: str, size=(900, 420)) -> None:
  """One bar per dataset, value written above it."""
  image, draw, font = _canvas(size)
  width, height = size
  left, right, top, bottom = 60, 20, 40, 90
  n = max(len(values), 1)
  slot = (width - left - right) / n
  for tick in np.linspace(0, 1, 6):
    y = height - bottom - tick * (height - top - bottom)
    draw.line([(left, y), (width - right, y)], fill=(228, 228, 228))
    draw.text((18, y - 6), f"{tick:.1f}", fill="black", font=font)
  for i, (name, value) in enumerate(values.items()):
    x0 = left + i * slot + slot * 0.15
    x1 = left + (i + 1) * slot - slot * 0.15
    v = 0.0 if value is None or math.isnan(value) else min(max(float(value), 0.0), 1.0)
    y = height - bottom - v * (height - top - bottom)
    draw.rectangle((x0, y, x1, height - bottom), fill=_PALETTE[i % len(_PALETTE)])
    draw.text((x0, y - 14), _fmt(value)[:6], fill="black", font=font)
    draw.text((x0, height - bottom + 8 + 12 * (i % 3)), name[:28], fill="black", font=font)
  draw.rectangle((left, top, width - right, height - bottom), outline="black")
  draw.text((left, 14), title, fill="black", font=font)
  image.save(path)


# -- Command line -------------------------------------------------------------------------------------------

def main(argv=None):
  import argparse  # pylint: disable=import-outside-toplevel
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model", required=True, help="A .keras file or a model spec.")
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--datasets", default=DEFAULT_DATASETS, help="Comma-separated dataset specs or names.")
  parser.add_argument("--corruptions", default="none", help="all, none, or comma-separated corruption names.")
  parser.add_argument("--severities", default="1,2,3,4,5")
  parser.add_argument("--corruption_dataset", default="imagenet_c",
                      help="imagenet_c (tfds imagenet2012_corrupted), imagenet_c_synthetic (ImageNet validation "
                           "corrupted by model_garden.data.corruptions) or mg_shapes/<config> (synthetic).")
  parser.add_argument("--data_dir", default=None)
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--image_size", type=int, default=None)
  parser.add_argument("--max_examples", type=int, default=None, help="Per dataset and per corruption.")
  parser.add_argument("--no_download", action="store_true")
  parser.add_argument("--verbose", action="store_true", help="Show the traceback of every error and the INFO logs.")
  args = parser.parse_args(argv)
  try:
    severities = [int(s) for s in args.severities.split(",") if s.strip()]
    if any(not 1 <= s <= 5 for s in severities):
      raise ValueError(f"--severities must be integers 1..5, got {args.severities!r}.")
    results = run(args.model, args.output_dir, datasets=args.datasets, corruptions=args.corruptions,
                  severities=severities, corruption_dataset=args.corruption_dataset, data_dir=args.data_dir,
                  batch_size=args.batch_size, image_size=args.image_size, max_examples=args.max_examples,
                  download=not args.no_download)
  except (ValueError, FileNotFoundError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(markdown(results))
  print(f"Wrote {args.output_dir}/results.{{csv,md,json}} and plots.")
  return 0


if __name__ == "__main__":
  import _command  # pylint: disable=g-import-not-at-top  (tools/_command.py)
  sys.exit(_command.guard(main))
