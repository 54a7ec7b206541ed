"""Test helpers every model and objective must pass (used by the suite; also handy for contributors)."""

from model_garden.testing.model_checks import run_model_checks
from model_garden.testing.objective_checks import (ObjectiveCase, ObjectiveCheckError, configure_logical_cpus,
                                                    run_objective_checks)
