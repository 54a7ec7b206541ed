"""Every example in examples/ runs end to end at tiny size."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_classify_mg_shapes_example_runs(tmp_path):
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "classify_mg_shapes.py"), "--tiny",
                         f"--data_dir={tmp_path}"], capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "test: {'accuracy':" in proc.stdout
  assert "served classes:" in proc.stdout


def test_vtab_mg_shapes_example_runs(tmp_path):
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "vtab_mg_shapes.py"), "--tiny",
                         f"--workdir={tmp_path}"], capture_output=True, text=True, timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "Shapes-Count" in proc.stdout
