"""Test helpers every model must pass (used by the suite; also handy for contributors)."""

from model_garden.testing.model_checks import run_model_checks
