"""The evaluator registry."""

from model_garden.registry import Registry

EVALUATORS = Registry("evaluator")
register = EVALUATORS.register
