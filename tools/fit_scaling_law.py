r"""Fits the saturating power law E = a (C + d)^(-b) + c to (compute, error) points; writes a fit and plot.

The functional form of "Scaling Vision Transformers" (Zhai et al. 2021): error falls as a power of compute,
saturates towards an irreducible error `c` at large compute, and flattens at small compute through the
offset `d`. Fitted by non-linear least squares written in numpy (no SciPy): for fixed (b, d) the model is
linear in (a, c), which are solved in closed form (constrained to a >= 0, c >= 0); (b, d) are searched on a
log-spaced grid and refined by Nelder-Mead in (log b, log d) - "variable projection", which keeps the
4-parameter fit robust with only a handful of points.

Usage:
  python tools/fit_scaling_law.py --input=points.csv --output_dir=/tmp/law \
      [--compute_column=compute --error_column=error] [--relative] [--frontier] [--extrapolate=10]

`points.csv` has a header row; other columns are ignored. Writes `fit.json` (a, b, c, d, rmse, ...) and
`fit.png` (log-log plot of the points and the fitted curve, drawn with PIL).
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

FORMULA = "E = a * (C + d)^(-b) + c"
# Search box of the exponent b and of the offset d (relative to the geometric mean of the compute).
B_RANGE = (1e-3, 10.0)
D_REL_RANGE = (1e-9, 1e4)


def saturating_power_law(compute, a: float, b: float, c: float, d: float) -> np.ndarray:
  """E = a (C + d)^(-b) + c."""
  return a * (np.asarray(compute, np.float64) + d) ** (-b) + c


# -- Fitting -------------------------------------------------------------------------------------------------

def _solve_linear(f: np.ndarray, error: np.ndarray, w: np.ndarray) -> Tuple[float, float, float]:
  """(a, c, weighted SSE) minimising sum w (a f + c - E)^2 subject to a >= 0, c >= 0."""
  sw, swf, swe = w.sum(), (w * f).sum(), (w * error).sum()
  swff, swfe = (w * f * f).sum(), (w * f * error).sum()
  det = sw * swff - swf * swf
  candidates = []
  if det > 1e-12 * max(sw * swff, 1e-300):
    a = (sw * swfe - swf * swe) / det
    c = (swff * swe - swf * swfe) / det
    if a >= 0 and c >= 0:
      candidates.append((a, c))
  # Boundary solutions (the constrained optimum lies on one when the free one is infeasible).
  if swff > 0:
    candidates.append((max(swfe / swff, 0.0), 0.0))
  candidates.append((0.0, max(swe / sw, 0.0)))
  best = None
  for a, c in candidates:
    sse = float((w * (a * f + c - error) ** 2).sum())
    if best is None or sse < best[2]:
      best = (float(a), float(c), sse)
  return best


def _nelder_mead(fn: Callable[[np.ndarray], float], x0: np.ndarray, step: float = 0.5,
                 max_iter: int = 2000, xtol: float = 1e-9, ftol: float = 1e-14) -> Tuple[np.ndarray, float]:
  """Minimises `fn` from `x0` with the Nelder-Mead simplex (standard coefficients 1, 2, 1/2, 1/2)."""
  n = len(x0)
  simplex = [np.asarray(x0, np.float64)] + [x0 + step * np.eye(n)[i] for i in range(n)]
  values = [fn(x) for x in simplex]
  for _ in range(max_iter):
    order = np.argsort(values)
    simplex, values = [simplex[i] for i in order], [values[i] for i in order]
    spread = max(np.max(np.abs(x - simplex[0])) for x in simplex[1:])
    if spread < xtol or abs(values[-1] - values[0]) <= ftol * (abs(values[0]) + 1e-300):
      break
    centroid = np.mean(simplex[:-1], axis=0)
    worst = simplex[-1]
    reflected = centroid + (centroid - worst)
    f_r = fn(reflected)
    if f_r < values[0]:
      expanded = centroid + 2.0 * (centroid - worst)
      f_e = fn(expanded)
      simplex[-1], values[-1] = (expanded, f_e) if f_e < f_r else (reflected, f_r)
    elif f_r < values[-2]:
      simplex[-1], values[-1] = reflected, f_r
    else:
      # Contract towards the better of the worst point and its reflection.
      inside = f_r >= values[-1]
      contracted = centroid + 0.5 * ((worst if inside else reflected) - centroid)
      f_c = fn(contracted)
      if f_c < min(values[-1], f_r):
        simplex[-1], values[-1] = contracted, f_c
      else:  # Shrink everything towards the best point.
        simplex = [simplex[0]] + [simplex[0] + 0.5 * (x - simplex[0]) for x in simplex[1:]]
        values = [values[0]] + [fn(x) for x in simplex[1:]]
  best = int(np.argmin(values))
  return simplex[best], values[best]


def fit_saturating_power_law(compute: Sequence[float], error: Sequence[float], relative: bool = False,
                             grid_size: int = 40, restarts: int = 4) -> Dict[str, float]:
  """Least-squares fit of E = a (C + d)^(-b) + c with a, c, d >= 0 and b > 0.

  Args:
    compute: positive compute values (any unit; the fit is reported in that unit).
    error: the error at each compute.
    relative: minimise squared *relative* residuals ((pred - E) / E)^2 instead of absolute ones, so small
      errors at large compute weigh as much as large errors at small compute.
    grid_size: grid points per axis of the (b, d) initial search.
    restarts: Nelder-Mead refinements, started from the best grid points.

  Returns:
    dict with a, b, c, d, rmse (absolute), relative_rmse and num_points.
  """
  compute = np.asarray(compute, np.float64).reshape(-1)
  error = np.asarray(error, np.float64).reshape(-1)
  if compute.shape != error.shape:
    raise ValueError(f"compute and error differ in length: {compute.size} vs {error.size}.")
  if compute.size < 4:
    raise ValueError(f"Fitting 4 parameters (a, b, c, d) needs at least 4 points, got {compute.size}.")
  if not (np.all(np.isfinite(compute)) and np.all(np.isfinite(error))):
    raise ValueError("compute and error must be finite numbers.")
  if np.any(compute <= 0):
    raise ValueError(f"compute must be positive (a power law in compute), got min {compute.min()}.")
  if relative and np.any(error <= 0):
    raise ValueError("relative=True needs positive errors.")
  # Work with compute / geometric mean so (C + d)^-b stays O(1) whatever the unit (FLOPs, core-days).
  scale = float(np.exp(np.mean(np.log(compute))))
  x = compute / scale
  weights = 1.0 / error ** 2 if relative else np.ones_like(error)
  log_b_box, log_d_box = np.log(B_RANGE), np.log(D_REL_RANGE)

  def inner(theta):
    log_b = np.clip(theta[0], *log_b_box)
    log_d = np.clip(theta[1], *log_d_box)
    f = (x + np.exp(log_d)) ** (-np.exp(log_b))
    a, c, sse = _solve_linear(f, error, weights)
    return a, c, sse, np.exp(log_b), np.exp(log_d)

  def objective(theta):
    # A quadratic wall outside the box keeps the simplex inside without a hard constraint.
    outside = (max(0.0, log_b_box[0] - theta[0], theta[0] - log_b_box[1]) ** 2 +
               max(0.0, log_d_box[0] - theta[1], theta[1] - log_d_box[1]) ** 2)
    return inner(theta)[2] * (1.0 + outside)

  log_bs = np.linspace(np.log(0.01), np.log(5.0), grid_size)
  # d from "negligible" to well beyond the data, relative to the normalised compute.
  log_ds = np.linspace(np.log(max(D_REL_RANGE[0], 1e-6 * x.min())), np.log(min(D_REL_RANGE[1], 10 * x.max())),
                       grid_size)
  grid = [(objective(np.array([lb, ld])), lb, ld) for lb in log_bs for ld in log_ds]
  grid.sort(key=lambda t: t[0])
  best_theta, best_value = None, np.inf
  starts = []
  for _, lb, ld in grid:  # Distinct starting points: skip near-duplicates of ones already taken.
    if all(abs(lb - s[0]) + abs(ld - s[1]) > 0.5 for s in starts):
      starts.append((lb, ld))
    if len(starts) == restarts:
      break
  for start in starts:
    theta, value = _nelder_mead(objective, np.array(start), step=0.3)
    theta, value = _nelder_mead(objective, theta, step=0.05)  # Restart: escapes a collapsed simplex.
    if value < best_value:
      best_theta, best_value = theta, value
  a_rel, c, _, b, d_rel = inner(best_theta)
  # Undo the normalisation: a (C/s + d/s)^-b = a s^b (C + d)^-b.
  a, d = a_rel * scale ** b, d_rel * scale
  prediction = saturating_power_law(compute, a, b, c, d)
  residual = prediction - error
  return {
      "a": float(a), "b": float(b), "c": float(c), "d": float(d),
      "rmse": float(np.sqrt(np.mean(residual ** 2))),
      "relative_rmse": float(np.sqrt(np.mean((residual / error) ** 2))) if np.all(error > 0) else None,
      "num_points": int(compute.size),
  }


def pareto_frontier(compute: np.ndarray, error: np.ndarray) -> np.ndarray:
  """Indices of the points no cheaper-or-equal point beats (the compute/error frontier), by compute."""
  order = np.lexsort((error, compute))
  keep, best = [], np.inf
  for i in order:
    if error[i] < best:
      keep.append(i)
      best = error[i]
  return np.array(keep, np.int64)


# -- Input -------------------------------------------------------------------------------------------------

def read_points(path: str, compute_column: str = "compute",
                error_column: str = "error") -> Tuple[np.ndarray, np.ndarray]:
  """(compute, error) float arrays from a CSV with a header row; errors name the columns found."""
  with open(path, newline="") as f:
    reader = csv.DictReader(f)
    found = [c for c in (reader.fieldnames or [])]
    missing = [c for c in (compute_column, error_column) if c not in found]
    if missing:
      raise ValueError(f"{path}: no column {' or '.join(repr(c) for c in missing)}; columns found: {found}. "
                       "Pass --compute_column=... --error_column=... naming two of them.")
    compute, error = [], []
    for line, row in enumerate(reader, start=2):
      try:
        compute.append(float(row[compute_column]))
        error.append(float(row[error_column]))
      except (TypeError, ValueError):
        raise ValueError(f"{path}, line {line}: {compute_column}={row[compute_column]!r}, "
                         f"{error_column}={row[error_column]!r} are not both numbers.") from None
  return np.array(compute), np.array(error)


# -- Plot ----------------------------------------------------------------------------------------------------

def _log_ticks(lo: float, hi: float):
  """Tick values for a log axis over [lo, hi]: decades, plus 2 and 5 multiples when it spans few."""
  first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
  mults = (1,) if last - first > 3 else (1, 2, 5)
  return [m * 10.0 ** e for e in range(first, last + 1) for m in mults if lo <= m * 10.0 ** e <= hi]


def plot_fit(path: str, compute: np.ndarray, error: np.ndarray, fit: Dict[str, float],
             used: Optional[np.ndarray] = None, extrapolate: float = 1.0, size=(800, 560),
             compute_label: str = "compute", error_label: str = "error") -> None:
  """Writes a log-log PNG of the points (filled: fitted; hollow: left out) and the fitted curve."""
  from PIL import Image, ImageDraw, ImageFont  # pylint: disable=import-outside-toplevel

  width, height = size
  left, right, top, bottom = 80, 30, 50, 60
  font = ImageFont.load_default()
  curve_c = np.geomspace(compute.min(), compute.max() * max(extrapolate, 1.0), 300)
  curve_e = saturating_power_law(curve_c, fit["a"], fit["b"], fit["c"], fit["d"])
  positive = error[error > 0]
  ys = np.concatenate([positive, curve_e[curve_e > 0]] + ([[fit["c"]]] if fit["c"] > 0 else []))
  x_lo, x_hi = np.log10(curve_c[0]), np.log10(curve_c[-1])
  y_lo, y_hi = np.log10(ys.min()), np.log10(ys.max())
  # Pad the ranges by 5% so no point sits on the frame; a degenerate range gets half a decade.
  x_pad = 0.05 * (x_hi - x_lo) or 0.5
  y_pad = 0.05 * (y_hi - y_lo) or 0.5
  x_lo, x_hi, y_lo, y_hi = x_lo - x_pad, x_hi + x_pad, y_lo - y_pad, y_hi + y_pad

  def to_px(c, e):
    px = left + (np.log10(c) - x_lo) / (x_hi - x_lo) * (width - left - right)
    py = height - bottom - (np.log10(e) - y_lo) / (y_hi - y_lo) * (height - top - bottom)
    return float(px), float(py)

  image = Image.new("RGB", size, "white")
  draw = ImageDraw.Draw(image)
  frame = (left, top, width - right, height - bottom)
  for value in _log_ticks(10 ** x_lo, 10 ** x_hi):
    px, _ = to_px(value, 10 ** y_lo)
    draw.line([(px, top), (px, height - bottom)], fill=(225, 225, 225))
    draw.text((px - 12, height - bottom + 6), f"{value:.3g}", fill="black", font=font)
  for value in _log_ticks(10 ** y_lo, 10 ** y_hi):
    _, py = to_px(10 ** x_lo, value)
    draw.line([(left, py), (width - right, py)], fill=(225, 225, 225))
    draw.text((8, py - 6), f"{value:.3g}", fill="black", font=font)
  draw.rectangle(frame, outline="black")
  if fit["c"] > 0:  # The saturation level, dashed.
    _, py = to_px(10 ** x_lo, fit["c"])
    for x0 in range(left, width - right, 12):
      draw.line([(x0, py), (min(x0 + 6, width - right), py)], fill=(120, 120, 120))
    draw.text((width - right - 90, py - 14), f"c = {fit['c']:.3g}", fill=(90, 90, 90), font=font)
  good = curve_e > 0
  draw.line([to_px(c, e) for c, e in zip(curve_c[good], curve_e[good])], fill=(200, 30, 30), width=2)
  used_mask = np.zeros(len(compute), bool)
  used_mask[np.arange(len(compute)) if used is None else used] = True
  for c, e, fitted in zip(compute, error, used_mask):
    if e <= 0:
      continue
    px, py = to_px(c, e)
    draw.ellipse([px - 4, py - 4, px + 4, py + 4], outline=(30, 60, 200),
                 fill=(30, 60, 200) if fitted else None)
  title = (f"{FORMULA}:  a={fit['a']:.4g}  b={fit['b']:.4g}  c={fit['c']:.4g}  d={fit['d']:.4g}  "
           f"rmse={fit['rmse']:.3g}")
  draw.text((left, 15), title, fill="black", font=font)
  draw.text(((width - left) // 2 + left - 40, height - 25), f"{compute_label} (log)", fill="black", font=font)
  draw.text((8, top - 20), f"{error_label} (log)", fill="black", font=font)
  image.save(path)


# -- Command line --------------------------------------------------------------------------------------------

def run(input_path: str, output_dir: str, compute_column: str = "compute", error_column: str = "error",
        relative: bool = False, frontier: bool = False, extrapolate: float = 1.0) -> Dict:
  """Reads the points, fits, writes `fit.json` and `fit.png` into `output_dir`; returns the fit dict."""
  compute, error = read_points(input_path, compute_column, error_column)
  used = pareto_frontier(compute, error) if frontier else np.arange(len(compute))
  fit = fit_saturating_power_law(compute[used], error[used], relative=relative)
  fit.update({"formula": FORMULA, "input": os.path.abspath(input_path), "compute_column": compute_column,
              "error_column": error_column, "loss": "relative" if relative else "absolute",
              "frontier_only": bool(frontier), "num_points_in_file": int(len(compute))})
  os.makedirs(output_dir, exist_ok=True)
  with open(os.path.join(output_dir, "fit.json"), "w") as f:
    json.dump(fit, f, indent=2)
  plot_fit(os.path.join(output_dir, "fit.png"), compute, error, fit, used=used, extrapolate=extrapolate,
           compute_label=compute_column, error_label=error_column)
  return fit


def main(argv=None):
  import argparse  # pylint: disable=import-outside-toplevel
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--input", required=True, help="CSV of points with a header row.")
  parser.add_argument("--output_dir", required=True, help="Where fit.json and fit.png go.")
  parser.add_argument("--compute_column", default="compute")
  parser.add_argument("--error_column", default="error")
  parser.add_argument("--relative", action="store_true", help="Fit squared relative residuals.")
  parser.add_argument("--frontier", action="store_true",
                      help="Fit only the compute/error Pareto frontier (as the paper fits the frontier).")
  parser.add_argument("--extrapolate", type=float, default=1.0,
                      help="Draw the curve up to this multiple of the largest compute.")
  parser.add_argument("--verbose", action="store_true", help="Show the traceback of every error and the INFO logs.")
  args = parser.parse_args(argv)
  try:
    fit = run(args.input, args.output_dir, args.compute_column, args.error_column, relative=args.relative,
              frontier=args.frontier, extrapolate=args.extrapolate)
  except (ValueError, FileNotFoundError) as e:
    sys.exit(f"error: {e}")  # The message names the columns or the bad line; a traceback would bury it.
  print(f"{FORMULA}: a={fit['a']:.6g} b={fit['b']:.6g} c={fit['c']:.6g} d={fit['d']:.6g} "
        f"rmse={fit['rmse']:.4g} ({fit['num_points']} points) -> {args.output_dir}/fit.json, fit.png")


if __name__ == "__main__":
  import _command  # pylint: disable=g-import-not-at-top  (tools/_command.py)
  sys.exit(_command.guard(main))
