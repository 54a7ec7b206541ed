"""tools/fit_scaling_law.py: recovers a known saturating power law, writes fit.json and a PNG, errors."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "fit_scaling_law.py")


@pytest.fixture(scope="module")
def law():
  spec = importlib.util.spec_from_file_location("model_garden_tools_fit_scaling_law", TOOL)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _points(law, a, b, c, d, lo, hi, n=25, noise=0.003, seed=0):
  compute = np.geomspace(lo, hi, n)
  clean = law.saturating_power_law(compute, a, b, c, d)
  return compute, clean * (1 + noise * np.random.default_rng(seed).normal(size=n))


@pytest.mark.parametrize("true", [
    dict(a=0.5, b=0.35, c=0.1, d=0.5, lo=0.1, hi=1e4),     # core-days-like units
    dict(a=2.0, b=0.6, c=0.05, d=3.0, lo=0.1, hi=1e3),
    dict(a=0.3, b=0.5, c=0.0, d=0.0, lo=1.0, hi=1e4),      # a pure power law: c and d at their bounds
])
def test_recovers_known_law(law, true):
  compute, error = _points(law, true["a"], true["b"], true["c"], true["d"], true["lo"], true["hi"])
  fit = law.fit_saturating_power_law(compute, error)
  for key in "abcd":
    if true[key]:
      assert fit[key] == pytest.approx(true[key], rel=0.05), (key, fit, true)
    else:
      assert fit[key] < 0.02 * max(true["a"], 1.0), (key, fit)
  # The optimiser reaches at least the true parameters' residual (it is the least-squares optimum).
  true_rmse = np.sqrt(np.mean((law.saturating_power_law(compute, true["a"], true["b"], true["c"], true["d"])
                               - error) ** 2))
  assert fit["rmse"] <= true_rmse * (1 + 1e-6)


def test_units_do_not_matter(law):
  compute, error = _points(law, 0.5, 0.35, 0.1, 0.5, 0.1, 1e4)
  small = law.fit_saturating_power_law(compute, error)
  big = law.fit_saturating_power_law(compute * 1e18, error)  # The same points in FLOPs instead of days.
  assert big["b"] == pytest.approx(small["b"], rel=1e-3) and big["c"] == pytest.approx(small["c"], rel=1e-3)
  assert big["d"] == pytest.approx(small["d"] * 1e18, rel=1e-2)


def test_run_writes_json_and_png(law, tmp_path):
  from PIL import Image  # pylint: disable=import-outside-toplevel
  compute, error = _points(law, 2.0, 0.6, 0.05, 3.0, 0.1, 1e3, n=12)
  csv_path = tmp_path / "points.csv"
  rows = [f"m{i},{c:.10g},{e:.10g}" for i, (c, e) in enumerate(zip(compute, error))]
  # A dominated point (more compute, worse error) that --frontier leaves out.
  csv_path.write_text("\n".join(["model,flops,err"] + rows + ["bad,500.0,0.9"]) + "\n")
  out = tmp_path / "out"
  result = subprocess.run([sys.executable, TOOL, f"--input={csv_path}", f"--output_dir={out}",
                           "--compute_column=flops", "--error_column=err", "--frontier", "--extrapolate=10"],
                          capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr
  fit = json.loads((out / "fit.json").read_text())
  assert {"a", "b", "c", "d", "rmse"} <= set(fit)
  assert fit["num_points"] == 12 and fit["num_points_in_file"] == 13
  assert fit["b"] == pytest.approx(0.6, rel=0.05)
  with Image.open(out / "fit.png") as image:
    image.load()
    assert image.size[0] >= 400 and image.size[1] >= 300
    colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 5  # Axes, points and curve were drawn, not a blank page.


def test_missing_column_names_the_columns_found(law, tmp_path):
  csv_path = tmp_path / "bad.csv"
  csv_path.write_text("flops,accuracy\n1,0.5\n2,0.6\n")
  with pytest.raises(ValueError, match=r"no column 'compute' or 'error'.*\['flops', 'accuracy'\]"):
    law.run(str(csv_path), str(tmp_path / "out"))
  result = subprocess.run([sys.executable, TOOL, f"--input={csv_path}", f"--output_dir={tmp_path / 'o'}",
                           "--compute_column=flops"], capture_output=True, text=True, timeout=60, check=False)
  assert result.returncode != 0
  assert "no column 'error'" in result.stderr and "accuracy" in result.stderr
  csv_path.write_text("compute,error\n1,0.5\n2,oops\n3,0.3\n4,0.2\n")
  with pytest.raises(ValueError, match="line 3"):
    law.run(str(csv_path), str(tmp_path / "out"))
  with pytest.raises(ValueError, match="at least 4 points"):
    law.fit_saturating_power_law([1, 2, 3], [0.5, 0.4, 0.3])
