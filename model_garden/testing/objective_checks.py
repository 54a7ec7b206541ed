"""The checks every training objective passes: one step, config round trip, replica equivalence, XLA.

`run_objective_checks(config, batch)` builds the objective of a training config (its `networks`, `objective` and
`optimizer` / `optimizers` blocks) as the trainer does (`training.build_objective`) and checks, on one global
`batch`, with every run starting from the same weights:

  (a) one training step (`fit`, one device) runs, every logged value is finite, every trained variable changes
      and the variables of frozen or non-trainable networks (and of variables the optimizer freezes) do not;
  (b) `get_config` -> `from_config` (through Keras serialisation) gives an objective with the same config that
      computes the same losses on the batch;
  (c) the step under `tf.distribute.MirroredStrategy` over `replicas` logical CPUs equals the one-device step on
      the same global batch (losses and every variable after the step, to `rtol` of their scale: see `_compare`;
      for
      objectives that cut a replica's batch, the one-device step runs on `objective.replica_batch_order(...)`);
      objectives whose losses are per replica by design (per-replica batch norm, triplet negatives, MixUp
      partners) are compared with `replica_reference="accumulation"`, the one-device step with
      `grad_accum_steps=replicas`, whose micro-batches are the replicas' batches (batch-norm moving statistics
      excepted: Keras keeps one set per replica, accumulation updates them once per micro-batch); every mirrored
      variable must hold the same value on all replicas after the step;
  (d) the step compiled with XLA (`jit_compile=True`) equals it without (losses and variables within `xla_rtol`).

Logical devices must be configured before TensorFlow initialises: `configure_logical_cpus(2)` first thing, or
the command line, which does so and runs every case of a file (a function `cases()` returning
{name: ObjectiveCase}) in one process:

  python -m model_garden.testing.objective_checks --cases=tests/objective_cases.py --report=/tmp/checks.json
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import importlib.util
import json
import re
import sys
import time
import traceback
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import keras
import ml_collections
import numpy as np
import tensorflow as tf

from model_garden.optimizers.make import filter_trainable
from model_garden.training import build_objective

REFERENCES = ("one_device", "accumulation")
_DEFAULT_KEYS = dict(total_steps=1, log_steps=1, checkpoint_steps=1, jit_compile=False, remat=False,
                     grad_accum_steps=1)


class ObjectiveCheckError(AssertionError):
  """An objective failed one of the checks; the message names the check, the value and the numbers."""


@dataclasses.dataclass
class ObjectiveCase:
  """One objective to check: a training config's blocks, a global batch and how the replica step is compared.

  Attributes:
    config: `networks`, `objective` and `optimizer` (or `optimizers`) as a training config has them.
    batch: one global batch, {key: array} with the same first dimension.
    replica_reference: "one_device" or "accumulation" (see the module docstring).
    may_stay: regex (re.search on variable paths) of trained variables whose gradient is zero by construction,
      which one step leaves as they were (say why where the case is defined).
    rtol, xla_rtol: tolerances of the replica and XLA checks (`run_objective_checks`); loosen one only for an
      ill-conditioned case, with the differences measured over several batches where the case is defined.
  """

  config: Any
  batch: Mapping[str, np.ndarray]
  replica_reference: str = "one_device"
  may_stay: str = ""
  rtol: float = 1e-5
  xla_rtol: float = 1e-5


def configure_logical_cpus(count: int) -> None:
  """Splits the CPU into `count` logical devices (for the replica check); call before TensorFlow runs anything."""
  cpu = tf.config.list_physical_devices("CPU")[0]
  try:
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
  except RuntimeError:
    if len(tf.config.list_logical_devices("CPU")) < count:
      raise RuntimeError(f"TensorFlow is already initialised with fewer than {count} logical CPUs: call "
                         "model_garden.testing.configure_logical_cpus before anything runs a TensorFlow op, or use "
                         "`python -m model_garden.testing.objective_checks --cases=FILE`.") from None


# -- Building and stepping ----------------------------------------------------------------------------------
def _full_config(config, **overrides) -> ml_collections.ConfigDict:
  cfg = ml_collections.ConfigDict(copy.deepcopy(config.to_dict() if hasattr(config, "to_dict") else dict(config)))
  for key, value in _DEFAULT_KEYS.items():
    if key not in cfg:
      cfg[key] = value
  for key, value in overrides.items():
    cfg[key] = str(value).lower() if key == "jit_compile" else value  # the trainer's "auto" | "true" | "false"
  return cfg


_STRATEGIES: Dict[int, tf.distribute.Strategy] = {}


def _mirrored(replicas: int) -> tf.distribute.Strategy:
  # One strategy per process: strategies made one after another reuse the same collective instance keys, and a
  # second strategy's all-gather then collides with the first one's all-reduce.
  if replicas not in _STRATEGIES:
    _STRATEGIES[replicas] = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(replicas)])
  return _STRATEGIES[replicas]


def _build(config, strategy=None, **overrides):
  objective, _ = build_objective(_full_config(config, **overrides), strategy)
  return objective


def _dataset(batch: Mapping[str, np.ndarray]) -> tf.data.Dataset:
  size = len(next(iter(batch.values())))
  ds = tf.data.Dataset.from_tensor_slices(dict(batch)).batch(size, drop_remainder=True)
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  return ds.with_options(options)


def _randomise_zero_variables(objective, seed: int = 0) -> None:
  # Zero-initialised head kernels give the layers below them no gradient in the first step, which would make
  # every comparison below blind to those layers. (Zero biases stay: they pass gradients.)
  rng = np.random.default_rng(seed)
  for v in objective.trainable_variables:
    value = v.numpy()
    if value.ndim >= 2 and not np.any(value) and np.issubdtype(value.dtype, np.floating):
      v.assign(rng.normal(0.0, 0.1, value.shape).astype(value.dtype))


def _assign(objective, values: Sequence[np.ndarray], what: str) -> None:
  variables = objective.variables
  shapes = [tuple(v.shape) for v in variables]
  if shapes != [tuple(x.shape) for x in values]:
    raise ObjectiveCheckError(f"{what}: the objective built again has other variables ({len(shapes)} vs "
                              f"{len(values)}, or other shapes): the build is not deterministic.")
  for v, value in zip(variables, values):
    v.assign(value)


def _step(objective, batch) -> Tuple[Dict[str, float], list]:
  """One `fit` step; returns (logs, the variables after it as arrays)."""
  history = objective.fit(_dataset(batch), epochs=1, steps_per_epoch=1, verbose=0, shuffle=False).history
  logs = {k: float(np.asarray(v).reshape(-1)[-1]) for k, v in history.items()}
  return logs, [np.array(v.numpy()) for v in objective.variables]


def _reordered(batch, order) -> Dict[str, np.ndarray]:
  return {k: np.asarray(v)[order] for k, v in batch.items()}


# -- Comparisons ------------------------------------------------------------------------------------------------
# Entries of tensors that start at zero (biases) and move little are compared at the scale of 1% of the
# objective's largest weight, not at their own near-zero scale (where float rounding is all there is).
_FLOOR_FRACTION = 1e-2


def _log_scale(value: float) -> float:
  return max(abs(value), 1.0)


def _tensor_scales(initial, reference_values):
  """Per variable: max(largest |entry| before or after the step, 1% of the objective's largest weight)."""
  peaks = [max(float(np.max(np.abs(a))), float(np.max(np.abs(b)))) if b.size else 0.0
           for a, b in zip(initial, reference_values)]
  floating = [p for p, b in zip(peaks, reference_values) if np.issubdtype(b.dtype, np.floating)]
  floor = _FLOOR_FRACTION * max(floating, default=1.0)
  return [max(p, floor, 1e-12) for p in peaks]


def _compare(check: str, paths, logs, reference_logs, initial, values, reference_values, rtol: float,
             skip=frozenset()) -> float:
  """Raises ObjectiveCheckError where logs or variables (but the paths in `skip`) differ by more than `rtol` of
  their scale; returns the largest relative difference.

  Scales: a logged value's is max(|value|, 1); a variable's is the largest |entry| of it before or after the
  step, at least 1% of the largest weight of the objective. Integer variables (seed states) must be equal.
  """
  if set(logs) != set(reference_logs):
    raise ObjectiveCheckError(f"{check}: logged {sorted(logs)} vs {sorted(reference_logs)}.")
  worst = 0.0
  for name in sorted(logs):
    error = abs(logs[name] - reference_logs[name]) / _log_scale(reference_logs[name])
    worst = max(worst, error)
    if not error <= rtol:
      raise ObjectiveCheckError(f"{check}: {name} = {logs[name]!r} vs {reference_logs[name]!r} (relative "
                                f"difference {error:.2e} > {rtol:g}).")
  scales = _tensor_scales(initial, reference_values)
  for path, value, reference, scale in zip(paths, values, reference_values, scales):
    if path in skip:
      continue
    if not np.issubdtype(reference.dtype, np.floating):
      if not np.array_equal(value, reference):
        raise ObjectiveCheckError(f"{check}: {path} = {value} vs {reference}.")
      continue
    error = float(np.max(np.abs(value - reference))) / scale if reference.size else 0.0
    worst = max(worst, error)
    if not error <= rtol:
      raise ObjectiveCheckError(f"{check}: variable {path} differs by {error:.2e} of its scale {scale:.3g} "
                                f"(> {rtol:g}).")
  return worst


def _moving_statistics(objective) -> set:
  """Paths of the non-trainable float variables that a training step updates from the batch (batch norm)."""
  return {v.path for v in objective.non_trainable_variables
          if "moving" in v.path.rsplit("/", 1)[-1] and np.issubdtype(np.dtype(v.dtype), np.floating)}


def _check_replicas_agree(objective, skip) -> None:
  """Every mirrored variable holds the same value on each replica after the step."""
  for v in objective.variables:
    copies = getattr(v.value, "values", None)
    if v.path in skip or not copies or len(copies) < 2:
      continue
    first = copies[0].numpy()
    for i, copy_ in enumerate(copies[1:], start=1):
      if not np.allclose(copy_.numpy(), first, rtol=1e-6, atol=1e-7):
        raise ObjectiveCheckError(f"replica check: {v.path} has another value on replica {i} than on replica 0.")


def _frozen_variables(objective, config) -> list:
  """Variables that must not change in a step: of networks that are frozen or not trainable."""
  networks = config["networks"] if "networks" in config else {}
  frozen = []
  for name, network in objective.networks.items():
    entry = networks.get(name, {}) if hasattr(networks, "get") else {}
    is_frozen = bool(entry.get("frozen", False)) if hasattr(entry, "get") else False
    if is_frozen or not network.trainable:
      frozen += [v for v in network.variables if not v.path.endswith("seed_generator_state")]
  return frozen


def _optimizers(objective):
  return [o for o in (objective.optimizer, getattr(objective, "d_optimizer", None)) if o is not None]


def _check_step(objective, config, before: Sequence[np.ndarray], logs, after, may_stay: str) -> None:
  """(a): finite logs, trained variables changed (but those `may_stay` matches), frozen ones unchanged."""
  bad = {k: v for k, v in logs.items() if not np.isfinite(v)}
  if bad:
    raise ObjectiveCheckError(f"one step: non-finite logs {bad}.")
  index = {id(v): i for i, v in enumerate(objective.variables)}
  frozen = {id(v) for v in _frozen_variables(objective, config)}
  # Each optimizer filters the whole list once (a per-variable call would warn once per variable about a
  # frozen pattern that matches none of that one variable).
  updated = {id(v) for o in _optimizers(objective) for v in filter_trainable(o, objective.trainable_variables)}
  trained = [v for v in objective.trainable_variables if id(v) not in frozen and id(v) in updated]
  if not trained:
    raise ObjectiveCheckError("one step: the objective trains no variable.")
  unchanged = [v.path for v in trained if np.array_equal(before[index[id(v)]], after[index[id(v)]])
               and not (may_stay and re.search(may_stay, v.path))]
  if unchanged:
    raise ObjectiveCheckError(f"one step: trained variables kept their values: {unchanged[:8]}"
                              + (f" and {len(unchanged) - 8} more" if len(unchanged) > 8 else "") + ".")
  not_trained = [v for v in objective.trainable_variables if id(v) not in {id(t) for t in trained}]
  changed = [v.path for v in list(_frozen_variables(objective, config)) + not_trained
             if not np.array_equal(before[index[id(v)]], after[index[id(v)]])]
  if changed:
    raise ObjectiveCheckError(f"one step: frozen variables changed: {changed[:8]}.")


def _check_round_trip(objective, batch) -> None:
  """(b): the deserialised objective has the same config and computes the same losses on `batch`."""
  config = objective.get_config()
  serialized = keras.saving.serialize_keras_object(objective)
  for key in ("compile_config", "build_config"):  # the clone is built as the trainer builds (no optimizer)
    serialized.pop(key, None)
  clone = keras.saving.deserialize_keras_object(serialized)
  if type(clone) is not type(objective):
    raise ObjectiveCheckError(f"config round trip: got a {type(clone).__name__}, not a {type(objective).__name__}.")
  if clone.get_config() != config:
    differing = sorted(k for k in set(config) | set(clone.get_config())
                       if config.get(k) != clone.get_config().get(k))
    raise ObjectiveCheckError(f"config round trip: the configs differ in {differing}.")
  clone.build_for_training()
  _assign(clone, [v.numpy() for v in objective.variables], "config round trip")
  tensors = {k: tf.constant(v) for k, v in batch.items()}
  losses, _ = objective.compute_losses(tensors, training=True)
  clone_losses, _ = clone.compute_losses(tensors, training=True)
  for name, value in losses.items():
    if not np.allclose(float(clone_losses[name]), float(value), rtol=1e-6, atol=1e-7):
      raise ObjectiveCheckError(f"config round trip: {name} = {float(clone_losses[name])} vs {float(value)}.")


# -- The harness ------------------------------------------------------------------------------------------------
def run_objective_checks(config, batch: Mapping[str, np.ndarray], *, replicas: int = 2,
                         replica_reference: str = "one_device", xla: bool = True, rtol: float = 1e-5,
                         xla_rtol: float = 1e-5, may_stay: str = "", seed: int = 1) -> Dict[str, Any]:
  """Checks the objective of `config` on the global `batch` ((a)-(d) of the module docstring).

  Args:
    config: a training config (or its `networks`, `objective`, `optimizer`/`optimizers` blocks as a dict);
      use tiny networks, with group or layer norm where batch statistics would differ per replica.
    batch: one global batch {key: array}; its size must split into `replicas` (and the objective's parts).
    replicas: logical devices of the replica check (0: skip it); they must exist (`configure_logical_cpus`).
    replica_reference: "one_device" or "accumulation" (`grad_accum_steps=replicas` on one device).
    xla: run the XLA check.
    rtol: tolerance of the replica check, relative to each value's scale.
    xla_rtol: tolerance of the XLA check.
    may_stay: regex of trained variable paths allowed to keep their values in the step (zero gradient by
      construction, e.g. a bias that batch norm cancels).
    seed: of the initial weights (Keras' global seed) and of the values given to all-zero trainable variables.

  Returns:
    {"objective": name, "logs": the one-device step's logs, "seconds": {check: seconds},
     "relative_error": {"replicas": ..., "xla": ...}}.

  Raises:
    ObjectiveCheckError: a check failed (the message names it and the numbers).
  """
  if replica_reference not in REFERENCES:
    raise ValueError(f"replica_reference must be one of {REFERENCES}, got {replica_reference!r}.")
  if replicas and len(tf.config.list_logical_devices("CPU")) < replicas:
    raise RuntimeError(f"The replica check needs {replicas} logical CPUs, configured before TensorFlow starts: "
                       f"call model_garden.testing.configure_logical_cpus({replicas}) first, run `python -m "
                       "model_garden.testing.objective_checks --cases=FILE`, or pass replicas=0.")
  seconds, errors = {}, {}
  # The same initial weights every run: a triplet loss's semi-hard mining can flip a near-tie between XLA and
  # TensorFlow's kernels for some random weights (a jump, not a drift), so a case is checked on fixed ones.
  keras.utils.set_random_seed(seed)
  started = time.time()
  accumulate = replicas if replicas and replica_reference == "accumulation" else 1
  objective = _build(config, grad_accum_steps=accumulate)
  _randomise_zero_variables(objective, seed)
  paths = [v.path for v in objective.variables]
  initial = [np.array(v.numpy()) for v in objective.variables]
  size = len(next(iter(batch.values())))
  order = objective.replica_batch_order(size, replicas) if replicas and accumulate == 1 else np.arange(size)
  one_device_batch = _reordered(batch, order)
  seconds["build"] = time.time() - started

  started = time.time()
  logs, after = _step(objective, one_device_batch)
  _check_step(objective, config, initial, logs, after, may_stay)
  seconds["step"] = time.time() - started

  started = time.time()
  _check_round_trip(objective, one_device_batch)
  seconds["round_trip"] = time.time() - started

  if replicas:
    started = time.time()
    distributed = _build(config, _mirrored(replicas))
    _assign(distributed, initial, "replica check")
    replica_logs, replica_after = _step(distributed, batch)
    if distributed.distribute_strategy.num_replicas_in_sync != replicas:
      raise ObjectiveCheckError(f"replica check: the step ran on {distributed.distribute_strategy.num_replicas_in_sync}"
                                f" replicas, not {replicas}.")
    # With per-replica batch norm, Keras keeps one set of moving statistics per replica (their variables are not
    # aggregated), and accumulation updates them once per micro-batch: those are not compared.
    moving = _moving_statistics(distributed) if accumulate > 1 else set()
    _check_replicas_agree(distributed, moving)
    skip = {path for path, v in zip(paths, distributed.variables) if v.path in moving}
    errors["replicas"] = _compare(f"{replicas} replicas vs one device" + (
        f" with grad_accum_steps={replicas}" if accumulate > 1 else ""), paths, replica_logs, logs, initial,
        replica_after, after, rtol, skip=skip)
    seconds["replicas"] = time.time() - started

  if xla:
    started = time.time()
    compiled = _build(config, jit_compile=True, grad_accum_steps=accumulate)
    _assign(compiled, initial, "XLA check")
    xla_logs, xla_after = _step(compiled, one_device_batch)
    if compiled.jit_compile is not True:
      raise ObjectiveCheckError(f"XLA check: Keras turned jit_compile off ({compiled.jit_compile!r}): a layer has "
                                "supports_jit=False, or op determinism is enabled.")
    errors["xla"] = _compare("jit_compile=True vs False", paths, xla_logs, logs, initial, xla_after, after,
                             xla_rtol)
    seconds["xla"] = time.time() - started
  keras.backend.clear_session()
  objective_config = config["objective"]
  name = objective_config if isinstance(objective_config, str) else objective_config["name"]
  return {"objective": re.split(r"[(\s]", str(name), maxsplit=1)[0], "logs": logs,
          "seconds": {k: round(v, 2) for k, v in seconds.items()}, "relative_error": errors}


# -- Command line -----------------------------------------------------------------------------------------------
def _load_cases(path: str) -> Dict[str, ObjectiveCase]:
  spec = importlib.util.spec_from_file_location("objective_cases", path)
  if spec is None or spec.loader is None:
    raise SystemExit(f"error: --cases={path} is not a Python file.")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  if not hasattr(module, "cases"):
    raise SystemExit(f"error: {path} defines no function cases() returning {{name: ObjectiveCase}}.")
  return module.cases()


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = argparse.ArgumentParser(prog="python -m model_garden.testing.objective_checks",
                                   description="Runs run_objective_checks on every case of a file.")
  parser.add_argument("--cases", required=True, help="a Python file with cases() -> {name: ObjectiveCase}")
  parser.add_argument("--only", default="", help="comma-separated case names (default: all)")
  parser.add_argument("--report", default="", help="JSON file for the results, rewritten after each case")
  parser.add_argument("--replicas", type=int, default=2)
  args = parser.parse_args(argv)
  if args.replicas:
    configure_logical_cpus(args.replicas)
  cases = _load_cases(args.cases)
  only = [n for n in args.only.split(",") if n]
  unknown = [n for n in only if n not in cases]
  if unknown:
    raise SystemExit(f"error: --only names unknown cases {unknown}; the file has {sorted(cases)}.")
  results = {}
  for name, case in cases.items():
    if only and name not in only:
      continue
    started = time.time()
    try:
      report = run_objective_checks(case.config, case.batch, replicas=args.replicas,
                                    replica_reference=case.replica_reference, may_stay=case.may_stay,
                                    rtol=case.rtol, xla_rtol=case.xla_rtol)
      results[name] = {"passed": True, **report}
    except Exception as e:  # pylint: disable=broad-except  (report every case, then fail)
      results[name] = {"passed": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
      keras.backend.clear_session()
    results[name]["total_seconds"] = round(time.time() - started, 2)
    print(f"{name}: {'passed' if results[name]['passed'] else 'FAILED ' + results[name]['error'][:2000]} "
          f"({results[name]['total_seconds']} s)", flush=True)
    if args.report:
      with open(args.report, "w") as f:
        json.dump(results, f, indent=2)
  failed = [n for n, r in results.items() if not r["passed"]]
  print(f"{len(results) - len(failed)} passed, {len(failed)} failed" + (f": {failed}" if failed else ""))
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
