"""The registries that `config.optimizer.name` and `config.optimizer.schedule` specs name."""

from __future__ import annotations

from model_garden.registry import Registry

OPTIMIZERS = Registry("optimizer")
SCHEDULES = Registry("learning-rate schedule")
