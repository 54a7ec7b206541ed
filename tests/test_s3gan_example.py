"""examples/s3gan_mg_shapes.py runs end to end at tiny size: rotation net, label files, GANs, results files."""

import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# One variant per label mechanism and objective (file_label + gan, semi_supervised pseudo-labels + gan,
# -1 labels + s3gan with the rotation loss, unconditional ssgan); all nine cost ~8 s CPU each even eagerly.
VARIANTS = ("clustering", "s2gan", "s3gan_co", "ssgan")


def test_example_runs_tiny(tiny_shapes, tmp_path):
  _, data_dir = tiny_shapes
  workdir = tmp_path / "s3gan"
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "s3gan_mg_shapes.py"), "--tiny",
                         f"--data_dir={data_dir}", f"--workdir={workdir}", f"--variants={','.join(VARIANTS)}",
                         "--eval_init=0"], capture_output=True, text=True, timeout=600,
                        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  assert proc.returncode == 0, proc.stderr[-3000:]
  final = json.loads(proc.stdout.strip().splitlines()[-1])
  assert final["tiny"] is True and final["dataset"] == "mg_shapes/tiny32"
  assert set(final["fid"]) == set(VARIANTS) and all(math.isfinite(v) for v in final["fid"].values())

  summary = json.loads((workdir / "results.json").read_text())
  rows = {r["variant"]: r for r in summary["variants"]}
  assert list(rows) == list(VARIANTS)
  for row in rows.values():
    assert all(math.isfinite(row[k]) for k in ("fid", "kid", "is")), row
    assert row["steps"] == 2 and row["wall_seconds"] > 0 and row["cpu_seconds"] > 0
    assert (workdir / row["variant"] / "model.keras").exists()
  assert rows["clustering"]["label_accuracy"] == summary["labels"]["cluster"]["accuracy"]
  assert rows["s2gan"]["label_accuracy"] == summary["labels"]["s2gan"]["accuracy"]
  assert rows["ssgan"]["label_accuracy"] is None and rows["s3gan_co"]["head_accuracy"] is not None
  assert "s3gan(" in rows["s3gan_co"]["objective_spec"] and "ssgan(" in rows["ssgan"]["objective_spec"]

  for name in ("cluster", "s2gan", "random_init_cluster", "random_init_s2gan"):
    content = json.loads((workdir / "labels" / f"{name}.json").read_text())
    assert len(content["labels"]) == 256 and content["dataset"] == "mg_shapes/tiny32", name
  assert summary["labels"]["s2gan"]["num_labelled"] == 24
  assert 0.0 <= summary["labels"]["cluster"]["purity"] <= 1.0
  assert (workdir / "rotation" / "model.keras").exists()

  table = (workdir / "results.md").read_text()
  for variant in VARIANTS:
    assert f"| {variant} |" in table
  assert "| rotation-pretrained |" in table and "| random init (reference) |" in table
