"""`make(config.optimizer, total_steps=N)`: the optimizer a config asks for."""

from __future__ import annotations

from typing import Any, Dict

import keras

from model_garden.optimizers.param_group_optimizer import ParamGroupOptimizer
from model_garden.optimizers.param_groups import DEFAULT_WD_MULTS
from model_garden.optimizers.registry import OPTIMIZERS, SCHEDULES
from model_garden.registry import Spec, SpecError, parse_spec, spec_call, suggestion

KEYS = ("name", "lr", "schedule", "wd", "wd_mults", "lr_mults", "frozen", "grad_clip_norm")
_SCHEDULE_OWN = ("base", "total_steps")  # supplied by make from config.optimizer.lr and total_steps


def make(config, *, total_steps: int | None = None) -> ParamGroupOptimizer:
  """Builds the optimizer described by `config` (an ml_collections.ConfigDict or a dict).

  Keys of `config` (big_vision's names and meanings; Zhai et al. 2021, "Scaling Vision Transformers"):
    name: the update rule (required), with its arguments as keys beside it (`name="sgd", momentum=0.9`, so
      `--config.optimizer.momentum=0.95` works) or in a spec (`name="sgd(momentum=0.9)"`). Registered: `"sgd(momentum=0.9, nesterov=False,
      momentum_dtype='float32')"`, `"adam(b1=0.9, b2=0.999, eps=1e-8, mu_dtype=None)"` (AdamW when `wd` is
      set), `"adafactor_bv(momentum=0.9, momentum_dtype='bfloat16', factored_min_dim=32, decay_rate=0.8,
      beta2_cap=0.999, eps=1e-30, clipping_threshold=None)"`. Arguments are keywords.
    lr: the base (peak) learning rate (required).
    schedule: the lr multiplier over steps, a spec string or a mapping (`dict(name="cosine", warmup_steps=500)`;
      default `"constant"`): `"rsqrt(warmup_steps=10_000,
      cooldown_steps=50_000, timescale=10_000, shift=0)"`, `"cosine(warmup_steps=500)"`,
      `"linear(warmup_steps=500, end=0.0, power=1.0)"`, `"constant(warmup_steps=500)"`,
      `"piecewise(boundaries=(0.3, 0.6, 0.9), factor=0.1, warmup_steps=500)"` (boundaries are fractions
      of total_steps). Every schedule takes warmup_steps and cooldown_steps; see `schedules`.
    wd: decoupled weight decay, big_vision's absolute coefficient: each step subtracts
      `s(t) * wd * wd_mult * p`, with s(t) the schedule's multiplier (so the decay warms up and cools down
      with lr, but does not scale with lr). Write `0.03 * lr` for "0.03 relative to lr". Default 0.
    wd_mults: `[(regex, multiplier), ...]`, first match wins, unmatched variables are not decayed. Default
      `[(".*/kernel", 1.0)]`; ViT-g: `[(".*head/kernel", 100.0), (".*/kernel", 1.0)]`.
    lr_mults: `[(regex, multiplier), ...]` scaling the update (not the decay); first match wins; default 1.
    frozen: a regex or list of regexes; matching variables get no updates and no state (LiT: `"img/.*"`).
    grad_clip_norm: clip the gradient's global norm (after the cross-replica sum) before the update rule;
      None or 0 = off.
  Regexes are matched with `re.fullmatch` against each variable's Keras `.path`, with or without its first
  component (the model's name): `"img/.*"` matches `lit/img/...` (see `param_groups`).

  Args:
    config: the `config.optimizer` block.
    total_steps: optimizer steps of the run (needed by decaying schedules and cooldowns).

  Returns:
    A `ParamGroupOptimizer` (a `keras.optimizers.Optimizer`). Use `opt.filter_trainable(vars)` for the
    variables to train, `opt.build(vars)` inside the strategy scope, then `opt.apply(grads, vars)`.

  Example:
    >>> opt = make({"name": "adafactor_bv", "lr": 8e-4, "wd": 0.03 * 8e-4,
    ...             "wd_mults": [(".*head/kernel", 100.0), (".*/kernel", 1.0)], "grad_clip_norm": 1.0,
    ...             "schedule": "rsqrt(warmup_steps=10_000, cooldown_steps=50_000, timescale=10_000)"},
    ...            total_steps=1_000_000)
  """
  cfg = _as_dict(config)
  for key in ("name", "lr"):
    if cfg.get(key) is None:
      raise SpecError(f"config.optimizer.{key} is required (keys: {', '.join(KEYS)}).")
  rule_name, _, _ = parse_spec(cfg["name"])
  allowed = OPTIMIZERS.lookup(rule_name).hyperparameter_names()
  for key in cfg:
    if key not in KEYS and key not in allowed:
      raise SpecError(f"Unknown config.optimizer key {key!r} (the keys are {', '.join(KEYS)} and the arguments of "
                      f"{rule_name!r}: {', '.join(allowed)}). {suggestion(key, list(KEYS) + list(allowed))}")
  schedule = make_schedule(cfg.get("schedule") or "constant", lr=cfg["lr"], total_steps=total_steps)
  common = {
      "wd": cfg.get("wd") or 0.0,
      "wd_mults": DEFAULT_WD_MULTS if cfg.get("wd_mults") is None else cfg["wd_mults"],
      "lr_mults": cfg.get("lr_mults"),
      "frozen": cfg.get("frozen"),
      "grad_clip_norm": cfg.get("grad_clip_norm"),
  }
  name, args, kwargs = parse_spec(cfg["name"])
  kwargs.update({k: v for k, v in cfg.items() if k not in KEYS})
  factory = OPTIMIZERS.lookup(name)
  if args:
    raise SpecError(f"Optimizer spec {cfg['name']!r}: pass arguments by keyword ({', '.join(allowed)}).")
  for key in kwargs:
    if key not in allowed:
      where = f" Set it as config.optimizer.{key}." if key in KEYS else ""
      raise SpecError(f"optimizer {name!r} has no argument {key!r}. {suggestion(key, allowed)}{where}")
  return factory(schedule, **kwargs, **common)


def make_schedule(spec: Spec, *, lr: float, total_steps: int | None = None):
  """The `Schedule` named by `spec` (a string or a mapping with "name"), with base rate `lr`, e.g.
  `make_schedule("cosine(warmup_steps=50)", lr=0.1, total_steps=N)` or
  `make_schedule({"name": "cosine", "warmup_steps": 50}, lr=0.1, total_steps=N)`."""
  name, args, kwargs = spec_call(spec)
  if args:
    raise SpecError(f"Schedule spec {spec!r}: pass arguments by keyword, e.g. \"rsqrt(warmup_steps=1000)\".")
  for key in _SCHEDULE_OWN:
    if key in kwargs:
      raise SpecError(f"Schedule spec {spec!r} sets {key!r}; it comes from config.optimizer.lr and "
                      "make(..., total_steps=N).")
  SCHEDULES.check_arguments(name, (), kwargs)
  try:
    return SCHEDULES.get({"name": name, **kwargs}, base=float(lr), total_steps=total_steps)
  except ValueError as e:
    if isinstance(e, SpecError):
      raise
    raise SpecError(f"Schedule {spec!r}: {e}") from None


def unwrap(optimizer):
  """The `ParamGroupOptimizer` inside a `keras.optimizers.LossScaleOptimizer` (or the optimizer itself)."""
  while isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
    optimizer = optimizer.inner_optimizer
  return optimizer


def filter_trainable(optimizer, variables) -> list:
  """`variables` without those the optimizer freezes; works on a LossScaleOptimizer-wrapped optimizer."""
  inner = unwrap(optimizer)
  if hasattr(inner, "filter_trainable"):
    return inner.filter_trainable(variables)
  return list(variables)


def _as_dict(config) -> Dict[str, Any]:
  if config is None:
    raise SpecError("config.optimizer is missing; it needs at least `name` and `lr`.")
  if hasattr(config, "to_dict"):
    return dict(config.to_dict())
  return dict(config)
