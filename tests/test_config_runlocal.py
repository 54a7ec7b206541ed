"""Every training config's documented smoke test runs as typed: the CLI, `:runlocal`, its default dataset.

`python -m model_garden.train --config=model_garden/configs/<file>.py:runlocal --workdir=W` in a fresh process,
as a user types it. The configs are split over test files by family so that pytest-xdist runs them in parallel
(`--dist=loadfile`): this file has the classification, ViT, BiT and LiT configs;
`test_config_runlocal_ssl.py` and `test_config_runlocal_gan.py` the others. `test_every_config_is_covered`
fails when a config file is in none of them, so a config whose smoke test breaks cannot land.
"""

import glob
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(REPO, "model_garden", "configs")
# Files of the configs package that are not training configs.
NOT_CONFIGS = ("__init__.py", "common.py", "config_args.py")

THIS_FILE = ["mg_shapes_classification.py", "vit/mg_shapes_finetune.py", "vit/train_vit_g.py", "bit/hyperrule.py",
             "bit/upstream.py", "lit/mg_shapes_lit.py"]


def config_files():
  """Every training config, relative to model_garden/configs."""
  paths = glob.glob(os.path.join(CONFIGS, "**", "*.py"), recursive=True)
  return sorted(os.path.relpath(p, CONFIGS) for p in paths if os.path.basename(p) not in NOT_CONFIGS)


def run_cli(config: str, workdir, *overrides, timeout: int = 600):
  """`python -m model_garden.train --config=model_garden/configs/<config>:runlocal --workdir=<workdir>`."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.run([sys.executable, "-m", "model_garden.train",
                         f"--config=model_garden/configs/{config}:runlocal", f"--workdir={workdir}", *overrides],
                        capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout)


def check_run(proc, workdir):
  """The run exited 0, printed its results as the last line, and left the workdir's files."""
  assert proc.returncode == 0, proc.stderr[-4000:]
  results = json.loads(proc.stdout.strip().splitlines()[-1])
  assert results["step"] > 0
  for name in ("config.json", "results.json", "model.keras"):
    assert os.path.isfile(os.path.join(workdir, name)), name
  return results


@pytest.mark.parametrize("config", THIS_FILE)
def test_runlocal_through_the_cli(config, tmp_path):
  results = check_run(run_cli(config, tmp_path), tmp_path)
  losses = [v for k, v in results.items() if k.startswith("train/") and "loss" in k]
  assert losses and all(v == v for v in losses)  # finite (not NaN)


def test_every_config_is_covered():
  covered = set(THIS_FILE)
  for family in ("ssl", "gan"):
    path = os.path.join(REPO, "tests", f"test_config_runlocal_{family}.py")
    text = open(path).read() if os.path.exists(path) else ""
    covered |= {c for c in config_files() if c.startswith(f"{family}/") and os.path.basename(c) in text}
  missing = [c for c in config_files() if c not in covered]
  assert not missing, f"configs whose runlocal no test runs through the CLI: {missing}"
