"""The VTAB report: per-task test accuracy, group means and the VTAB mean, as markdown, CSV, JSON and PNG.

VTAB's score is the unweighted mean top-1 accuracy over its 19 tasks, reported with the Natural (7),
Specialized (4) and Structured (8) means (task_adaptation `docs/data/results.csv`; e.g. Sup-100%:
66.4 = mean of 19, groups 73.5 / 82.5 / 52.1). Means over an incomplete set of tasks are marked "k/N".
Tasks outside the benchmark (group "extra", e.g. mg_shapes) get their own mean and never enter VTAB's.
"""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any, Dict, List, Sequence

from model_garden.data.vtab import EXTRA_GROUP, GROUPS, TASKS

_GROUP_ORDER = GROUPS + (EXTRA_GROUP,)
_GROUP_TITLES = {"natural": "Natural", "specialized": "Specialized", "structured": "Structured",
                 EXTRA_GROUP: "Extra (not VTAB)"}
_GROUP_COLOURS = {"natural": (76, 144, 214), "specialized": (230, 145, 56), "structured": (88, 170, 96),
                  EXTRA_GROUP: (150, 110, 190), "mean": (90, 90, 90)}


def _mean(values: Sequence[float]):
  return sum(values) / len(values) if values else None


def summarize(results: List[Dict[str, Any]]) -> Dict[str, Any]:
  """Group means and the VTAB mean (accuracy in [0, 1]) of task results (`VtabProtocol.run_task`'s).

  Returns:
    {"natural": mean or None, "specialized": ..., "structured": ..., "extra": ..., "vtab": the mean over
     the official tasks present, "counts": {group: [done, total]}, "complete": all 19 present}.
  """
  by_group = {group: [r["accuracy"] for r in results if r["group"] == group] for group in _GROUP_ORDER}
  totals = {group: sum(1 for t in TASKS.values() if t.group == group) for group in GROUPS}
  totals[EXTRA_GROUP] = len(by_group[EXTRA_GROUP])
  official = [r["accuracy"] for r in results if r["group"] in GROUPS]
  summary = {group: _mean(values) for group, values in by_group.items()}
  summary["vtab"] = _mean(official)
  summary["counts"] = {group: [len(by_group[group]), totals[group]] for group in _GROUP_ORDER}
  summary["counts"]["vtab"] = [len(official), len(TASKS)]
  summary["complete"] = len({r["task"] for r in results if r["group"] in GROUPS}) == len(TASKS)
  return summary


def _percent(value) -> str:
  return "-" if value is None else f"{100.0 * value:.1f}"


def _mean_rows(summary) -> List[tuple]:
  """(label, group key, mean, done, total) for the groups present and the VTAB mean."""
  rows = []
  for group in _GROUP_ORDER:
    done, total = summary["counts"][group]
    if done:
      rows.append((f"{_GROUP_TITLES[group]} mean", group, summary[group], done, total))
  done, total = summary["counts"]["vtab"]
  if done:
    rows.append(("VTAB mean", "mean", summary["vtab"], done, total))
  return rows


def markdown_table(report: Dict[str, Any]) -> str:
  """The report as a markdown table: one row per task, then the means (incomplete ones marked k/N)."""
  results, summary = report["results"], report["summary"]
  lines = ["| group | task | test accuracy (%) | best lr | best steps | val200 accuracy (%) | "
           "test examples |",
           "|---|---|---:|---:|---:|---:|---:|"]
  order = {group: i for i, group in enumerate(_GROUP_ORDER)}
  for r in sorted(results, key=lambda r: order[r["group"]]):
    lines.append(f"| {r['group']} | {r['display_name']} (`{r['task']}`) | {_percent(r['accuracy'])} | "
                 f"{r['best']['lr']:g} | {r['best']['steps']} | {_percent(r['best']['val_accuracy'])} | "
                 f"{r['test_examples']} |")
  for label, _, value, done, total in _mean_rows(summary):
    note = "" if done == total else f" ({done}/{total} tasks)"
    lines.append(f"| | **{label}**{note} | **{_percent(value)}** | | | | |")
  for task in sorted(report.get("unavailable", {})):
    lines.append(f"| | `{task}`: dataset unavailable (reason in report.json) | - | | | | |")
  return "\n".join(lines) + "\n"


def csv_text(report: Dict[str, Any]) -> str:
  """One row per task (accuracy in %), then `mean/<group>` rows and `mean/vtab`."""
  out = io.StringIO()
  writer = csv.writer(out, lineterminator="\n")
  writer.writerow(["task", "display_name", "group", "accuracy", "best_lr", "best_steps", "val_accuracy",
                   "test_examples", "tasks_done", "tasks_total"])
  for r in report["results"]:
    writer.writerow([r["task"], r["display_name"], r["group"], f"{100 * r['accuracy']:.2f}",
                     r["best"]["lr"], r["best"]["steps"], f"{100 * r['best']['val_accuracy']:.2f}",
                     r["test_examples"], "", ""])
  for label, group, value, done, total in _mean_rows(report["summary"]):
    key = "mean/vtab" if group == "mean" else f"mean/{group}"
    writer.writerow([key, label, group, f"{100 * value:.2f}", "", "", "", "", done, total])
  return out.getvalue()


def draw_bar_chart(report: Dict[str, Any], path: str, width: int = 0, height: int = 420) -> str:
  """A PNG bar chart (PIL): one bar per task coloured by group, then the group and VTAB means."""
  from PIL import Image, ImageDraw, ImageFont  # pylint: disable=g-import-not-at-top
  order = {group: i for i, group in enumerate(_GROUP_ORDER)}
  bars = [(r["display_name"], r["accuracy"], r["group"]) for r in sorted(report["results"],
                                                                          key=lambda r: order[r["group"]])]
  bars += [(label.replace(" mean", "\nmean"), value, group) for label, group, value, _, _ in
           _mean_rows(report["summary"])]
  slot, left, right, top, bottom = 50, 48, 16, 36, 92
  width = width or max(320, left + right + slot * max(len(bars), 1))
  image = Image.new("RGB", (width, height), "white")
  draw = ImageDraw.Draw(image)
  font = ImageFont.load_default()
  plot_h = height - top - bottom
  draw.text((left, 8), "VTAB test accuracy (%)", fill="black", font=font)
  for tick in range(0, 101, 20):
    y = top + plot_h - plot_h * tick / 100
    draw.line([(left, y), (width - right, y)], fill=(225, 225, 225))
    draw.text((8, y - 6), f"{tick:3d}", fill=(90, 90, 90), font=font)
  for i, (label, value, group) in enumerate(bars):
    x0 = left + i * slot + 6
    x1 = x0 + slot - 12
    bar_h = plot_h * max(0.0, min(1.0, value or 0.0))
    colour = _GROUP_COLOURS.get(group, (120, 120, 120))
    draw.rectangle([x0, top + plot_h - bar_h, x1, top + plot_h], fill=colour)
    draw.text((x0, top + plot_h - bar_h - 12), _percent(value), fill="black", font=font)
    for j, part in enumerate(_wrap(label, 8)[:4]):
      draw.text((x0 - 4, top + plot_h + 6 + 12 * j), part, fill="black", font=font)
  draw.line([(left, top + plot_h), (width - right, top + plot_h)], fill="black")
  image.save(path, format="PNG")
  return path


def _wrap(label: str, chars: int) -> List[str]:
  parts = []
  for piece in label.replace("-", "-\n").split("\n"):
    while len(piece) > chars:
      parts.append(piece[:chars])
      piece = piece[chars:]
    if piece:
      parts.append(piece)
  return parts


def write_report(report: Dict[str, Any], directory: str) -> Dict[str, str]:
  """Writes `report.md`, `report.csv`, `report.json` and `report.png` into `directory`; returns the paths."""
  os.makedirs(directory, exist_ok=True)
  paths = {ext: os.path.join(directory, f"report.{ext}") for ext in ("md", "csv", "json", "png")}
  with open(paths["md"], "w") as f:
    f.write(markdown_table(report))
  with open(paths["csv"], "w") as f:
    f.write(csv_text(report))
  with open(paths["json"], "w") as f:
    json.dump({k: v for k, v in report.items() if k != "files"}, f, indent=2, default=str)
    f.write("\n")
  draw_bar_chart(report, paths["png"])
  return paths
