r"""Trains a grid of GAN cells (loss x penalty x D normalisation x architecture x ...) and tabulates FID.

The experiment design of "Are GANs Created Equal?" (Lucic et al. 2018) and "A Large-Scale Study on
Regularization and Normalization in GANs" (Kurach et al. 2019; google/compare_gan): one GAN per point of a
grid, all evaluated with the same FID protocol, compared by FID. A study config (e.g.
model_garden/configs/gan/study_mg_shapes.py) holds a complete base GAN config (`config.base`) and a grid
(`config.grid`, a cross product) or an explicit list of cells (`config.cells`). Each cell becomes a full GAN
config, a copy of the base whose fields the axes set (the network, objective and optimizer entries are spec
mappings, `model_garden/configs/common.py`; a base that gives one as a spec string is rewritten through
the registry's `update_spec`, never by string surgery):

  loss     -> config.objective.loss               penalty -> .penalty and .penalty_weight
  norm     -> config.networks.discriminator.norm, .spectral_norm, .weight_norm (exclusive, as in the study)
  arch     -> both networks (`config.architectures[arch]`, or the base's arguments the arch accepts)
  lr, beta1 -> config.optimizers.generator and .discriminator: `lr`, `b1`
  n_disc   -> config.objective.n_disc and the input batch (n_disc slices of the per-step batch)
  seed     -> config.seed and config.objective.seed

Every cell is checked before anything trains (the trainer's config checks; its networks, objective and
optimizers are constructed as the trainer builds them, without weights); an invalid one (a normalisation its
architecture lacks, an unknown loss, ...) stops the study with a message naming the cell and the fix.

Usage:
  python tools/gan_study.py --config=model_garden/configs/gan/study_mg_shapes.py:grid=proof,\
features=workdirs/mg_shapes_cls/model.keras --workdir=workdirs/gan_study [--only=CELL,...] [--dry_run]
  # config overrides as for model_garden.train, e.g. --config.base.input.data_dir=/data/tfds

Each cell trains in DIR/<cell>/ with `model_garden.training.train` (checkpoints, samples/, results.json,
model.keras; DIR/<cell>/cell.json holds its axes and full config). A rerun of the same command skips finished
cells (those with results.json) and resumes an interrupted cell from its newest checkpoint. With `config.eval_init` the untrained generator of each cell is evaluated first
(DIR/<cell>/init.json: FID at step 0). Writes DIR/results.csv, DIR/results.md (sorted by FID), DIR/fid.png
(a bar plot; FID at step 0 as thin grey bars) and DIR/study_log.txt, and prints the table.
"""

from __future__ import annotations

import copy
import csv
import inspect
import itertools
import json
import math
import os
import re
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ml_collections  # noqa: E402

from model_garden.registry import (Spec, SpecError, format_spec, parse_spec, spec_call, suggestion,  # noqa: E402
                                   update_spec)

# Axes in naming and cross-product order; the last four appear in a cell's name only when they vary.
AXES = ("arch", "loss", "penalty", "norm", "lr", "beta1", "n_disc", "seed")
OPTIONAL_AXES = ("lr", "beta1", "n_disc", "seed")
# The study's discriminator normalisations (Kurach et al. 2019, v2 `params.py` NORMALIZERS).
NORMS = ("none", "batch_norm", "layer_norm", "spectral_norm", "weight_norm")
LOSS_CODES = {"non_saturating": "ns", "wasserstein": "wgan", "least_squares": "ls", "hinge": "hinge"}
PENALTY_CODES = {"wgan_gp": "gp", "dragan": "dragan", "l2": "l2"}
NORM_CODES = {"none": "nonorm", "batch_norm": "bn", "layer_norm": "ln", "spectral_norm": "sn",
              "weight_norm": "wn"}
CSV_FIELDS = ("cell", "arch", "loss", "penalty", "penalty_weight", "norm", "lr", "beta1", "n_disc", "seed",
              "fid", "kid", "kid_std", "is", "is_std", "fid_init", "kid_init", "is_init", "d_loss", "g_loss",
              "steps", "seconds", "resumed", "generator", "discriminator", "objective")


class StudyError(ValueError):
  """A study config that cannot be expanded into valid cells; the message names the cells and the fix."""


class Cell:
  """One point of the grid: its name, its axis values and its complete GAN config."""

  def __init__(self, name: str, axes: Dict[str, Any], config: ml_collections.ConfigDict):
    self.name, self.axes, self.config = name, axes, config

  def __repr__(self):
    return f"Cell({self.name!r})"


# -- Specs ------------------------------------------------------------------------------------------------------
def _registries():
  import model_garden  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import  (registers everything)
  from model_garden.models import MODELS  # pylint: disable=g-import-not-at-top
  from model_garden.objectives import OBJECTIVES  # pylint: disable=g-import-not-at-top
  return MODELS, OBJECTIVES


def _parameters(registry, name: str) -> Dict[str, Any]:
  """{argument: default} of the factory registered as `name` (inspect.Parameter.empty when required)."""
  factory = registry.lookup(name)
  return {k: p.default for k, p in inspect.signature(factory).parameters.items()
          if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def _arguments(registry, spec: Spec) -> Dict[str, Any]:
  """The factory's defaults updated with the spec's keywords."""
  name, _, kwargs = spec_call(spec)
  values = {k: v for k, v in _parameters(registry, name).items() if v is not inspect.Parameter.empty}
  values.update(kwargs)
  return values


def model_spec(entry: Spec) -> Dict[str, Any]:
  """{"name": ..., **arguments} of a config.networks entry, its trainer keys (init, init_skip, frozen) left out."""
  from model_garden.training.networks import split_entry  # pylint: disable=g-import-not-at-top
  return split_entry(entry)[0]


def describe(spec: Spec) -> str:
  """One line for logs and tables: the spec string (the registry's `format_spec`) of a network entry (without
  its trainer keys), an objective or an optimizer's update rule (without lr, schedule, ...)."""
  from model_garden.optimizers.make import KEYS  # pylint: disable=g-import-not-at-top
  from model_garden.optimizers.registry import OPTIMIZERS  # pylint: disable=g-import-not-at-top
  from model_garden.training.networks import network_spec  # pylint: disable=g-import-not-at-top
  name, args, kwargs = spec_call(spec)
  if name in _registries()[0]:
    return network_spec(spec)
  if name in OPTIMIZERS and "lr" in kwargs:  # an optimizer block: its update rule
    kwargs = {k: v for k, v in kwargs.items() if k not in KEYS}
  return format_spec(name, args, kwargs)


def set_arguments(spec: Spec, **changes) -> Spec:
  """`spec` with keyword arguments set: the fields of a mapping (in place; a ConfigDict keeps its field types
  where the value fits them), a spec string through the registry's `update_spec`."""
  if isinstance(spec, str):
    return update_spec(spec, **changes)
  for key, value in changes.items():
    try:
      spec[key] = value
    except TypeError:  # a ConfigDict field of another type (e.g. an int penalty_weight set to 10.0)
      del spec[key]
      spec[key] = value
  return spec


def arch_of(entry: Spec) -> str:
  """"sndcgan" of a "sndcgan_discriminator" network (the registry's `<arch>_generator/_discriminator` names)."""
  return re.sub(r"_(generator|discriminator)$", "", model_spec(entry)["name"])


def norm_of(discriminator: Spec) -> str:
  """The study's normalisation name of a discriminator network ("spectral_norm", "batch_norm", ...)."""
  models, _ = _registries()
  values = _arguments(models, model_spec(discriminator))
  kinds = []
  if values.get("norm") not in (None, "none"):
    kinds.append(values["norm"])
  kinds += [k for k in ("spectral_norm", "weight_norm") if values.get(k)]
  return "+".join(kinds) or "none"


def norm_arguments(norm: str, discriminator: str) -> Dict[str, Any]:
  """Keyword changes of the registered discriminator `discriminator` that select normalisation `norm`.

  The study's options are exclusive: "spectral_norm" also sets norm='none' and weight_norm=False, etc.
  Raises StudyError when the factory has no argument for `norm` (e.g. SNDCGAN has no batch norm).
  """
  models, _ = _registries()
  if norm not in NORMS:
    raise StudyError(f"Unknown discriminator normalisation {norm!r}. {suggestion(norm, NORMS)}")
  accepted = _parameters(models, discriminator)
  changes = {}
  if norm in ("batch_norm", "layer_norm"):
    if "norm" not in accepted:
      raise StudyError(f"{discriminator} has no `norm` argument")
    changes["norm"] = norm
  elif "norm" in accepted:
    changes["norm"] = "none"
  for flag in ("spectral_norm", "weight_norm"):
    if norm == flag and flag not in accepted:
      raise StudyError(f"{discriminator} has no `{flag}` argument")
    if flag in accepted:
      changes[flag] = norm == flag
  return changes


def supported_norms(discriminator: Spec) -> List[str]:
  """The study normalisations the discriminator network `discriminator` can be built with."""
  models, _ = _registries()
  spec = model_spec(discriminator)
  supported = []
  for norm in NORMS:
    try:
      models.get(update_spec(spec, **norm_arguments(norm, spec["name"])))
    except (StudyError, SpecError, ValueError, TypeError):
      continue
    supported.append(norm)
  return supported


def parse_penalty(value, default_weight: float) -> Tuple[str, float]:
  """("wgan_gp", 10.0) from "wgan_gp(weight=10.0)", "wgan_gp(10)", "wgan_gp" (default weight) or a pair."""
  if isinstance(value, (tuple, list)):
    if len(value) != 2:
      raise StudyError(f"A penalty pair is (name, weight), got {value!r}.")
    return str(value[0]), float(value[1])
  name, args, kwargs = parse_spec(str(value))
  unknown = set(kwargs) - {"weight"}
  if unknown or len(args) > 1 or (args and kwargs):
    raise StudyError(f"Penalty {value!r}: write name, name(weight) or name(weight=W), e.g. "
                     "'wgan_gp(weight=10.0)'.")
  weight = args[0] if args else kwargs.get("weight", default_weight)
  return name, float(weight)


# -- Cells ------------------------------------------------------------------------------------------------------
def base_axes(base: ml_collections.ConfigDict) -> Dict[str, Any]:
  """The axis values of the base config itself (what an axis left out of the grid keeps)."""
  _, objectives = _registries()
  objective = _arguments(objectives, base.objective)
  optimizer, _, optimizer_kwargs = spec_call(base.optimizers["discriminator"])
  beta1 = optimizer_kwargs.get("b1", _parameters_or_empty(optimizer).get("b1"))
  return {"arch": arch_of(base.networks["discriminator"]), "loss": objective.get("loss"),
          "penalty": objective.get("penalty", "none"),
          "penalty_weight": float(objective.get("penalty_weight", 1.0)),
          "norm": norm_of(base.networks["discriminator"]), "lr": optimizer_kwargs["lr"],
          "beta1": beta1, "n_disc": int(objective.get("n_disc", 1)), "seed": int(base.get("seed", 0))}


def _parameters_or_empty(optimizer_name: str) -> Dict[str, Any]:
  try:
    from model_garden.optimizers.registry import OPTIMIZERS  # pylint: disable=g-import-not-at-top
    factory = OPTIMIZERS.lookup(optimizer_name)
    return {k: p.default for k, p in inspect.signature(factory).parameters.items()}
  except Exception:  # pylint: disable=broad-except  (only a display default)
    return {}


def _fmt_number(value) -> str:
  return f"{value:g}" if isinstance(value, float) else str(value)


def cell_name(axes: Dict[str, Any], optional: Sequence[str] = ()) -> str:
  """"sndcgan-ns-nopen-sn" (+ "-lr0.0002-b1_0.5-nd5-seed1" for the optional axes named in `optional`)."""
  penalty = "nopen" if axes["penalty"] == "none" else (
      PENALTY_CODES.get(axes["penalty"], axes["penalty"]) + _fmt_number(float(axes["penalty_weight"])))
  parts = [axes["arch"], LOSS_CODES.get(axes["loss"], axes["loss"]), penalty,
           NORM_CODES.get(axes["norm"], axes["norm"])]
  prefixes = {"lr": "lr", "beta1": "b1_", "n_disc": "nd", "seed": "seed"}
  parts += [prefixes[a] + _fmt_number(axes[a]) for a in OPTIONAL_AXES if a in optional]
  return re.sub(r"[^A-Za-z0-9._-]", "_", "-".join(str(p) for p in parts))


def _arch_networks(study: ml_collections.ConfigDict, arch: str) -> Tuple[Spec, Spec]:
  """Copies of the (generator, discriminator) networks of `arch`, before the cell's normalisation is applied."""
  from model_garden.configs import common as config_common  # pylint: disable=g-import-not-at-top
  models, _ = _registries()
  base = study.base
  if arch == arch_of(base.networks["discriminator"]):
    return copy.deepcopy(base.networks["generator"]), copy.deepcopy(base.networks["discriminator"])
  known = study.get("architectures") or {}
  if arch in known:
    return copy.deepcopy(known[arch]["generator"]), copy.deepcopy(known[arch]["discriminator"])
  networks = []
  for role in ("generator", "discriminator"):
    new_name = f"{arch}_{role}"
    if new_name not in models:
      archs = sorted({re.sub(r"_(generator|discriminator)$", "", n) for n in models.names()
                      if n.endswith(("_generator", "_discriminator"))})
      raise StudyError(f"Unknown GAN architecture {arch!r}: no {new_name!r} is registered. "
                       f"{suggestion(arch, archs)}")
    accepted = _parameters(models, new_name)
    # Widths mean different things per architecture; every other shared argument carries over.
    kept = {k: v for k, v in model_spec(base.networks[role]).items() if k in accepted and k != "ch"}
    networks.append(config_common.network(new_name, **kept))
  return networks[0], networks[1]


def cell_config(study: ml_collections.ConfigDict, axes: Dict[str, Any]) -> ml_collections.ConfigDict:
  """The complete GAN config of the cell with axis values `axes` (all of AXES plus penalty_weight): a copy of
  the base whose network, objective and optimizer fields the axes set."""
  config = copy.deepcopy(study.base)
  config.unlock()
  generator, discriminator = _arch_networks(study, axes["arch"])
  config.networks["generator"] = generator
  config.networks["discriminator"] = set_arguments(
      discriminator, **norm_arguments(axes["norm"], model_spec(discriminator)["name"]))
  changes = {"loss": axes["loss"], "penalty": axes["penalty"], "penalty_weight": float(axes["penalty_weight"]),
             "n_disc": int(axes["n_disc"])}
  if int(axes["seed"]) != int(study.base.get("seed", 0)):  # a seed axis: the objective's draws change with it
    changes["seed"] = int(axes["seed"])
  config.objective = set_arguments(config.objective, **changes)
  base_n_disc = int(_arguments(_registries()[1], study.base.objective).get("n_disc", 1))
  if study.base.input.batch_size % base_n_disc:
    raise StudyError(f"config.base.input.batch_size ({study.base.input.batch_size}) is not a multiple of the "
                     f"base objective's n_disc ({base_n_disc}).")
  config.input.batch_size = study.base.input.batch_size // base_n_disc * int(axes["n_disc"])
  config.seed = int(axes["seed"])
  for network in ("generator", "discriminator"):
    changes = {"lr": float(axes["lr"])}
    if axes.get("beta1") is not None:
      changes["b1"] = float(axes["beta1"])
    config.optimizers[network] = set_arguments(config.optimizers[network], **changes)
  return config


def check_cell(cell: Cell) -> None:
  """Checks the cell's config as the trainer would (`training.check_config`), then constructs its networks
  (unbuilt, cheap), its objective (`objectives.build`) and optimizers (`make_optimizers`); raises on any bad
  value."""
  from model_garden import models, objectives  # pylint: disable=g-import-not-at-top
  from model_garden.training import trainer  # pylint: disable=g-import-not-at-top
  config = cell.config
  trainer.check_config(config)
  networks = {name: models.get(model_spec(entry), build=False) for name, entry in config.networks.items()}
  trainer.make_optimizers(config, objectives.build(config.objective, networks), frozen_networks=())


def _axis_values(grid) -> Dict[str, List[Any]]:
  values = {}
  for axis, options in dict(grid).items():
    if axis not in AXES:
      raise StudyError(f"Unknown grid axis {axis!r}. {suggestion(axis, AXES)} Axes: {', '.join(AXES)}.")
    options = list(options) if isinstance(options, (list, tuple)) else [options]
    if not options:
      raise StudyError(f"Grid axis {axis!r} has no values.")
    values[axis] = options
  return values


def expand(study: ml_collections.ConfigDict, log: Callable[[str], None] = print) -> List[Cell]:
  """The study's cells, each checked; raises StudyError listing every invalid cell before anything trains."""
  from model_garden.models import MODELS  # pylint: disable=g-import-not-at-top
  if not study.get("base") or not study.base.get("networks"):
    raise StudyError("A study config needs config.base, a complete GAN config (with config.base.networks."
                     "generator and .discriminator; see model_garden/configs/gan/common.py).")
  base = base_axes(study.base)
  explicit = list(study.get("cells") or [])
  if explicit:
    entries, optional = [], set()
    for entry in explicit:
      entry = dict(entry)
      name = entry.pop("name", None)
      _axis_values(entry)  # checks the keys
      optional |= {a for a in OPTIONAL_AXES if a in entry}
      entries.append((name, entry))
  else:
    grid = _axis_values(study.get("grid") or {})
    optional = {a for a in OPTIONAL_AXES if a in grid}
    keys = [a for a in AXES if a in grid]
    entries = [(None, dict(zip(keys, combo))) for combo in itertools.product(*(grid[k] for k in keys))]

  cells, errors, skipped = [], [], []
  for name, entry in entries:
    axes = dict(base)
    axes.update(entry)
    label = name or entry
    try:
      if "penalty" in entry:
        axes["penalty"], axes["penalty_weight"] = parse_penalty(entry["penalty"], base["penalty_weight"])
      name = name or cell_name(axes, sorted(optional))
      label = name
      _, discriminator = _arch_networks(study, axes["arch"])
      d_name = model_spec(discriminator)["name"]
      if d_name not in MODELS:
        raise StudyError(f"discriminator {d_name!r} is not registered.")
      try:
        norm_arguments(axes["norm"], d_name)
        unsupported = None
      except StudyError as e:
        unsupported = str(e)
      if unsupported is None:
        cell = Cell(name, axes, cell_config(study, axes))
        try:
          check_cell(cell)
        except (ValueError, TypeError) as e:
          if "norm" in str(e) and axes["norm"] not in supported_norms(discriminator):
            unsupported = str(e)
          else:
            raise
      if unsupported is not None:
        message = (f"architecture {axes['arch']!r} has no discriminator normalisation {axes['norm']!r} "
                   f"({unsupported}); it supports: {', '.join(supported_norms(discriminator))}.")
        if study.get("skip_unsupported") and not explicit:
          skipped.append(f"{name}: {message}")
          continue
        raise StudyError(message)
      cells.append(cell)
    except (StudyError, SpecError, ValueError, TypeError, KeyError) as e:
      errors.append(f"  cell {label}: {e}")
  names = [c.name for c in cells]
  duplicates = sorted({n for n in names if names.count(n) > 1})
  if duplicates:
    errors.append(f"  duplicate cell names {duplicates}: give explicit cells a 'name'.")
  if errors:
    raise StudyError(f"{len(errors)} invalid cell(s); nothing was trained:\n" + "\n".join(errors) +
                     "\nFix the grid (config.grid / config.cells), give the arch's specs in config.architectures, "
                     "or set config.skip_unsupported=True to drop cross-product cells whose architecture lacks "
                     "the normalisation.")
  for line in skipped:
    log(f"skipped (unsupported): {line}")
  if not cells:
    raise StudyError("The study has no cells: the grid is empty or every cell was skipped.")
  return cells


def select(cells: List[Cell], only: Optional[Sequence[str]]) -> List[Cell]:
  """The cells named in `only` (all when empty), in study order; unknown names raise StudyError."""
  if not only:
    return cells
  by_name = {c.name: c for c in cells}
  unknown = [n for n in only if n not in by_name]
  if unknown:
    raise StudyError(f"--only names unknown cell(s) {unknown}. "
                     + " ".join(suggestion(n, by_name) for n in unknown) + f" Cells: {', '.join(by_name)}.")
  return [c for c in cells if c.name in set(only)]


# -- Running ----------------------------------------------------------------------------------------------------
def _gan_eval_name(config) -> Optional[str]:
  for name, ev in (config.get("evals") or {}).items():
    if ev.get("type") == "gan_metrics":
      return name
  return None


def evaluate_init(config: ml_collections.ConfigDict) -> Dict[str, float]:
  """The config's evaluators (but the sample grids) on its untrained sampling generator: built by
  `training.build_objective` after the precision and seed `training.train` sets, so the weights it starts from."""
  import keras  # pylint: disable=g-import-not-at-top
  from model_garden import evaluation, training  # pylint: disable=g-import-not-at-top
  keras.mixed_precision.set_global_policy(config.get("precision", "float32"))
  keras.utils.set_random_seed(config.get("seed", 0))
  objective, _ = training.build_objective(config)
  network = objective.evaluated_network()
  evals = {name: ev for name, ev in (config.get("evals") or {}).items() if ev.get("type") != "gan_samples"}
  results = {"step": 0}
  for scheduled in evaluation.build_evaluators(evals, data_dir=config.input.get("data_dir")):
    results.update(evaluation.run_evaluator(scheduled, network, step=0))
  return results


class _Log:
  """Appends timestamped lines to DIR/study_log.txt and echoes them."""

  def __init__(self, workdir: str, echo: Callable[[str], None]):
    self.path, self.echo = os.path.join(workdir, "study_log.txt"), echo

  def __call__(self, message: str):
    line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
    with open(self.path, "a") as f:
      f.write(line + "\n")
    self.echo(line)


def _write_json(path: str, payload: Dict[str, Any]) -> None:
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(payload, f, indent=2, default=float)
  os.replace(tmp, path)


def run_cell(cell: Cell, workdir: str, eval_init: bool, log: Callable[[str], None], verbose=0) -> str:
  """Trains one cell in workdir/<cell.name>/; returns "skipped", "trained" or "resumed"."""
  import keras  # pylint: disable=g-import-not-at-top
  from model_garden.training import trainer  # pylint: disable=g-import-not-at-top
  cell_dir = os.path.join(workdir, cell.name)
  if os.path.exists(os.path.join(cell_dir, "results.json")):
    log(f"{cell.name}: skipped (finished: results.json exists)")
    return "skipped"
  os.makedirs(cell_dir, exist_ok=True)
  _write_json(os.path.join(cell_dir, "cell.json"), {
      "name": cell.name, "axes": cell.axes, "generator": describe(cell.config.networks["generator"]),
      "discriminator": describe(cell.config.networks["discriminator"]), "objective": describe(cell.config.objective),
      "config": json.loads(cell.config.to_json_best_effort())})
  init_path = os.path.join(cell_dir, "init.json")
  if eval_init and not os.path.exists(init_path) and _gan_eval_name(cell.config):
    started = time.time()
    _write_json(init_path, evaluate_init(cell.config))
    keras.backend.clear_session()
    log(f"{cell.name}: evaluated the untrained generator ({time.time() - started:.0f} s)")
  ckpt_dir = os.path.join(cell_dir, "checkpoints")
  resumed = os.path.isdir(ckpt_dir) and any(n.startswith("checkpoint") for n in os.listdir(ckpt_dir))
  log(f"{cell.name}: {'resuming from its checkpoint' if resumed else 'training'} "
      f"({cell.config.total_steps} steps)")
  started = time.time()
  trainer.train(cell.config, cell_dir, verbose=verbose)
  seconds = time.time() - started
  _write_json(os.path.join(cell_dir, "study.json"), {"seconds": round(seconds, 1), "resumed": resumed})
  keras.backend.clear_session()
  log(f"{cell.name}: finished in {seconds:.0f} s")
  return "resumed" if resumed else "trained"


def _read_json(path: str) -> Optional[Dict[str, Any]]:
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def collect_rows(cells: List[Cell], workdir: str) -> List[Dict[str, Any]]:
  """One row per finished cell (results.json present), sorted by FID (cells without FID last)."""
  rows = []
  for cell in cells:
    cell_dir = os.path.join(workdir, cell.name)
    results = _read_json(os.path.join(cell_dir, "results.json"))
    if results is None:
      continue
    init = _read_json(os.path.join(cell_dir, "init.json")) or {}
    study = _read_json(os.path.join(cell_dir, "study.json")) or {}
    ev = _gan_eval_name(cell.config)
    metric = lambda source, key: source.get(f"{ev}/{key}") if ev else None  # noqa: E731
    row = {"cell": cell.name, **{a: cell.axes.get(a) for a in AXES}, "penalty_weight": cell.axes["penalty_weight"],
           "fid": metric(results, "fid"), "kid": metric(results, "kid"), "kid_std": metric(results, "kid_std"),
           "is": metric(results, "is"), "is_std": metric(results, "is_std"), "fid_init": metric(init, "fid"),
           "kid_init": metric(init, "kid"), "is_init": metric(init, "is"),
           "d_loss": results.get("train/d_loss"), "g_loss": results.get("train/g_loss"),
           "steps": results.get("step"), "seconds": study.get("seconds", results.get("train_seconds")),
           "resumed": study.get("resumed"), "generator": describe(cell.config.networks["generator"]),
           "discriminator": describe(cell.config.networks["discriminator"]),
           "objective": describe(cell.config.objective)}
    rows.append(row)
  rows.sort(key=lambda r: (r["fid"] is None or not math.isfinite(r["fid"]), r["fid"] or 0.0))
  return rows


def _fmt(value, digits: int) -> str:
  if value is None:
    return ""
  if isinstance(value, float):
    return f"{value:.{digits}f}"
  return str(value)


def _penalty_label(row) -> str:
  return "none" if row["penalty"] == "none" else f"{row['penalty']}({row['penalty_weight']:g})"


def markdown_table(rows: List[Dict[str, Any]]) -> str:
  """The results table, one row per cell, in the order of `rows`."""
  with_init = any(r["fid_init"] is not None for r in rows)
  header = ["cell", "loss", "penalty", "norm", "arch", "FID", "KID", "IS"] + (["FID@0"] if with_init else []) + [
      "d_loss", "g_loss", "steps", "seconds"]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for r in rows:
    cells = [r["cell"], r["loss"], _penalty_label(r), r["norm"], r["arch"], _fmt(r["fid"], 2), _fmt(r["kid"], 4),
             _fmt(r["is"], 2)] + ([_fmt(r["fid_init"], 2)] if with_init else []) + [
                 _fmt(r["d_loss"], 3), _fmt(r["g_loss"], 3), _fmt(r["steps"], 0), _fmt(r["seconds"], 0)]
    lines.append("| " + " | ".join(str(c) for c in cells) + " |")
  return "\n".join(lines)


def write_csv(rows: List[Dict[str, Any]], path: str) -> None:
  with open(path, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for row in rows:
      writer.writerow({k: row.get(k) for k in CSV_FIELDS})


def write_markdown(rows: List[Dict[str, Any]], path: str, study: ml_collections.ConfigDict, total: int) -> str:
  ev = _gan_eval_name(study.base)
  features = study.base.evals[ev].get("features") if ev else None
  lines = ["# GAN study", "",
           f"{len(rows)} of {total} cells finished; sorted by FID (lower is better). "
           + (f"FID, KID and IS on the features of `{features}` ({study.base.evals[ev].num_samples} samples "
              f"against {study.base.evals[ev].data['split']} of {study.base.evals[ev].data['name']}): comparable "
              "within this study only, not with published (Inception) numbers." if features else
              "No gan_metrics evaluator in the config: no FID.")
           + (" FID@0: the untrained generator." if any(r["fid_init"] is not None for r in rows) else ""),
           "", markdown_table(rows), ""]
  text = "\n".join(lines)
  with open(path, "w") as f:
    f.write(text)
  return text


def plot_fid(rows: List[Dict[str, Any]], path: str) -> bool:
  """Horizontal bars of FID per cell (thin grey bars: FID at step 0), drawn with PIL; False if no FID."""
  from PIL import Image, ImageDraw, ImageFont  # pylint: disable=g-import-not-at-top
  rows = [r for r in rows if r["fid"] is not None and math.isfinite(r["fid"])]
  if not rows:
    return False
  font = ImageFont.load_default()
  label_w = 12 + 7 * max(len(r["cell"]) for r in rows)
  bar_h, gap, top, right = 18, 10, 40, 90
  width = max(640, label_w + 420 + right)
  height = top + len(rows) * (bar_h + gap) + 30
  image = Image.new("RGB", (width, height), "white")
  draw = ImageDraw.Draw(image)
  values = [r["fid"] for r in rows] + [r["fid_init"] for r in rows if r["fid_init"] is not None]
  scale = (width - label_w - right) / max(max(values), 1e-9)
  title = "FID per cell (lower is better)"
  if any(r["fid_init"] is not None for r in rows):
    title += "; thin grey bars: the untrained generator (step 0)"
  draw.text((10, 10), title, fill="black", font=font)
  for i, r in enumerate(rows):
    y = top + i * (bar_h + gap)
    draw.text((10, y + 4), r["cell"], fill="black", font=font)
    if r["fid_init"] is not None:
      draw.rectangle([label_w, y + bar_h - 4, label_w + r["fid_init"] * scale, y + bar_h], fill=(190, 190, 190))
    x1 = label_w + max(1.0, r["fid"] * scale)
    draw.rectangle([label_w, y, x1, y + bar_h - 6], fill=(52, 101, 164))
    draw.text((x1 + 6, y + 2), f"{r['fid']:.2f}", fill="black", font=font)
  axis_y = top + len(rows) * (bar_h + gap)
  draw.line([label_w, top - 4, label_w, axis_y], fill="black")
  image.save(path)
  return True


def run_study(study: ml_collections.ConfigDict, workdir: str, only: Optional[Sequence[str]] = None,
              dry_run: bool = False, echo: Callable[[str], None] = print, verbose=0) -> List[Dict[str, Any]]:
  """Expands, checks and runs the study; returns the result rows (sorted by FID). See the module docstring."""
  os.makedirs(workdir, exist_ok=True)
  log = _Log(workdir, echo)
  try:
    cells = expand(study, log=log)
    chosen = select(cells, only)
  except StudyError as e:
    log(f"stopped before training: {e}")
    raise
  if dry_run:
    echo(f"{len(cells)} cells ({len(chosen)} selected); nothing trained (--dry_run):")
    for cell in chosen:
      optimizer = cell.config.optimizers["discriminator"]
      echo(f"  {cell.name}\n    generator: {describe(cell.config.networks['generator'])}\n"
           f"    discriminator: {describe(cell.config.networks['discriminator'])}\n"
           f"    objective: {describe(cell.config.objective)}\n"
           f"    lr: {optimizer['lr']}, optimizer: {describe(optimizer)}, "
           f"batch: {cell.config.input.batch_size}, seed: {cell.config.seed}")
    return []
  log(f"study of {len(cells)} cells, running {len(chosen)}: {', '.join(c.name for c in chosen)}")
  for cell in chosen:
    run_cell(cell, workdir, bool(study.get("eval_init", False)), log, verbose=verbose)
  rows = collect_rows(cells, workdir)
  write_csv(rows, os.path.join(workdir, "results.csv"))
  text = write_markdown(rows, os.path.join(workdir, "results.md"), study, len(cells))
  plot_fid(rows, os.path.join(workdir, "fid.png"))
  echo(text)
  return rows


def main(argv):
  from absl import app  # pylint: disable=g-import-not-at-top
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  try:
    run_study(_CONFIG.value, _WORKDIR.value, only=_ONLY.value, dry_run=_DRY_RUN.value, verbose=_VERBOSE.value)
  except StudyError as e:
    sys.exit(f"gan_study: {e}")


if __name__ == "__main__":
  from absl import app, flags  # noqa: E402  pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # noqa: E402  pylint: disable=g-import-not-at-top

  _CONFIG = config_flags.DEFINE_config_file("config", None, "Study config file (python), with :args.",
                                            lock_config=False)
  _WORKDIR = flags.DEFINE_string("workdir", None, "Directory of the study: one sub-directory per cell.")
  _ONLY = flags.DEFINE_list("only", [], "Run only these cells (names as --dry_run lists them).")
  _DRY_RUN = flags.DEFINE_bool("dry_run", False, "Expand and check the cells, print them, train nothing.")
  _VERBOSE = flags.DEFINE_integer("fit_verbose", 2, "Keras fit verbosity of each cell (0, 1, 2).")
  flags.mark_flags_as_required(["config", "workdir"])
  import _command  # pylint: disable=g-import-not-at-top  (tools/_command.py)
  _command.run(main)
