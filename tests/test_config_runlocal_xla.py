"""Every training config's runlocal passes with `--config.jit_compile=True`: its train steps compiled by XLA.

`python -m model_garden.train --config=model_garden/configs/<file>.py:runlocal --workdir=W
--config.jit_compile=True` for every config (the study config aside: tools/gan_study.py runs it), all in one
subprocess (`runlocal_driver`). TPUStrategy compiles every step with XLA, so an op that XLA cannot compile in a
step would fail there; here the trainer refuses a run where Keras turns XLA off. That each objective's step
equals its step without XLA is tests/test_objective_checks.py's business.
"""

import json
import math
import os

import pytest

from runlocal_driver import result_of, run_runlocal
from test_config_runlocal import STUDY, config_files

CONFIGS = [c for c in config_files() if c != STUDY]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """(the process, {config: (workdir, results)}) of one subprocess running every config with XLA."""
  base = tmp_path_factory.mktemp("runlocal_xla")
  workdirs = {c: str(base / c.replace("/", "_").replace(".py", "")) for c in CONFIGS}
  commands = {c: f"model_garden.train --config=model_garden/configs/{c}:runlocal --workdir={w} "
                 "--config.jit_compile=True" for c, w in workdirs.items()}
  return run_runlocal(commands, workdirs)


@pytest.mark.parametrize("config", CONFIGS)
def test_runlocal_with_xla(runs, config):
  workdir, numbers = result_of(runs, config)
  assert numbers["step"] > 0
  losses = [v for k, v in numbers.items() if k.startswith("train/") and "loss" in k]
  assert losses and all(math.isfinite(v) for v in losses), numbers
  with open(os.path.join(workdir, "config.json")) as f:
    assert str(json.load(f)["jit_compile"]).lower() == "true"


def test_every_xla_run_passed(runs):
  proc, _ = runs
  assert proc.returncode == 0 and "FAILED []" in proc.stdout, proc.stderr[-6000:]
