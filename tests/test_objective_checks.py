"""Every registered objective passes `model_garden.testing.run_objective_checks` (one step, config round trip,
2-replica equivalence, XLA), and each check fails on an objective that breaks it.

The cases (tests/objective_cases.py) run in one subprocess, `python -m model_garden.testing.objective_checks`,
which splits the CPU into two logical devices before TensorFlow starts; this process keeps its one CPU. A
registered objective without a case fails here.
"""

import contextlib
import json
import os
import subprocess
import sys
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

from model_garden import objectives
from model_garden.configs import common
from model_garden.objectives import OBJECTIVES
from model_garden.objectives.ssl import EntMin
from model_garden.testing import ObjectiveCheckError, run_objective_checks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MUTANT = "mutant:per_replica_noise"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
  """(the process, {case: result}) of the harness run over every case of tests/objective_cases.py."""
  path = tmp_path_factory.mktemp("objective_checks") / "report.json"
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
         "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
  proc = subprocess.run([sys.executable, "-m", "model_garden.testing.objective_checks",
                         "--cases=tests/objective_cases.py", f"--report={path}"],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
  results = json.loads(path.read_text()) if path.exists() else {}
  return proc, results


@pytest.mark.parametrize("name", objectives.names())
def test_every_registered_objective_passes_the_checks(report, name):
  proc, results = report
  cases = {case: result for case, result in results.items() if case.split(":")[0] == name}
  assert cases, (f"No case ran for the objective {name!r}: add one to tests/objective_cases.py.\n"
                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
  for case, result in cases.items():
    assert result["passed"], f"{case}: {result['error']}\n{result['traceback'][-4000:]}"
    assert result["objective"] == name, (case, result["objective"])
    assert set(result["seconds"]) == {"build", "step", "round_trip", "replicas", "xla"}, result["seconds"]


def test_every_case_names_a_registered_objective(report):
  _, results = report
  names = set(objectives.names())
  assert results and all(case.split(":")[0] in names for case in results if not case.startswith("mutant:"))


def test_the_replica_check_fails_on_noise_drawn_per_replica(report):
  proc, results = report
  assert MUTANT in results, proc.stdout[-3000:]
  assert not results[MUTANT]["passed"]
  assert "2 replicas vs one device" in results[MUTANT]["error"], results[MUTANT]["error"]


# -- Each in-process check fails on an objective that breaks it (one device: no replica check here) -------------
@keras.saving.register_keras_serializable("model_garden_tests")
class TensorFlowNoise(EntMin):
  """Image noise from TensorFlow's own float draw, which XLA computes otherwise."""

  def compute_losses(self, batch, training):
    noise = tf.random.stateless_uniform(tf.shape(batch["image"]), [1, 2], -0.5, 0.5)
    return super().compute_losses({**batch, "image": batch["image"] + noise}, training)


@keras.saving.register_keras_serializable("model_garden_tests")
class ForgetfulConfig(EntMin):
  """A constructor argument that get_config leaves out."""

  def __init__(self, network, temperature: float = 1.0, **kwargs):
    super().__init__(network, **kwargs)
    self.temperature = temperature

  def compute_losses(self, batch, training):
    losses, outputs = super().compute_losses(batch, training)
    return {**losses, "loss": losses["loss"] * self.temperature}, outputs


@keras.saving.register_keras_serializable("model_garden_tests")
class NoGradient(EntMin):
  """A loss that no variable can change."""

  def compute_losses(self, batch, training):
    losses, outputs = super().compute_losses(batch, training)
    return {**losses, "loss": tf.stop_gradient(losses["loss"])}, outputs


@contextlib.contextmanager
def _registered(factory):
  factory.network_names = ("network",)
  with mock.patch.dict(OBJECTIVES._entries, {"mutant": factory}):  # pylint: disable=protected-access
    yield


def _entmin_case():
  config = common.base_config(total_steps=10, log_steps=1, checkpoint_steps=10)
  config.networks.network = common.network("resnet_small", num_classes=4, widths=(4,), groups=2, image_size=8)
  config.objective = common.objective("mutant")
  config.optimizer = common.optimizer("sgd", lr=0.1)
  rng = np.random.default_rng(0)
  batch = {"image": rng.uniform(-1, 1, (8, 8, 8, 3)).astype("float32"), "labels": rng.integers(0, 4, 8),
           "labelled": np.array([1, 0, 1, 0, 0, 1, 1, 0])}
  return config, batch


def test_the_xla_check_fails_on_tensorflows_float_draws():
  config, batch = _entmin_case()
  with _registered(lambda *, network: TensorFlowNoise(network)):
    with pytest.raises(ObjectiveCheckError, match="jit_compile=True vs False"):
      run_objective_checks(config, batch, replicas=0)


def test_the_round_trip_check_fails_on_an_incomplete_config():
  config, batch = _entmin_case()
  with _registered(lambda *, network: ForgetfulConfig(network, temperature=2.0)):
    with pytest.raises(ObjectiveCheckError, match="config round trip: loss"):
      run_objective_checks(config, batch, replicas=0, xla=False)


def test_the_step_check_fails_when_nothing_trains():
  config, batch = _entmin_case()
  with _registered(lambda *, network: NoGradient(network)):
    with pytest.raises(ObjectiveCheckError, match="kept their values"):
      run_objective_checks(config, batch, replicas=0, xla=False)


def test_the_replica_check_needs_logical_devices_configured_first():
  config, batch = _entmin_case()
  with pytest.raises(RuntimeError, match="configure_logical_cpus"):
    run_objective_checks(config, batch, replicas=2)
