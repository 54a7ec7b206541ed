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
  # The CLI's progress counts steps (StepProgress), not Keras' "Epoch i/n" of log_steps-long epochs.
  assert "Epoch" not in proc.stdout + proc.stderr and "step " in proc.stdout, proc.stdout[-2000:]
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


STUDY = "gan/study_mg_shapes.py"  # A grid of GAN configs, run by tools/gan_study.py: the trainer refuses it.


def test_a_study_config_is_refused_in_one_line_naming_its_tool(tmp_path):
  proc = run_cli(STUDY, tmp_path / "run")
  assert proc.returncode != 0
  lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
  assert len(lines) == 1 and lines[0].startswith("error:") and "tools/gan_study.py" in lines[0], proc.stderr[-2000:]
  assert not os.path.exists(tmp_path / "run" / "config.json")


def test_every_config_is_covered():
  """Each config is named (quoted stem or path) in a test file that runs it: this file (the study config's
  refusal included) or the family's test_config_runlocal_<family>.py."""
  covered = set(THIS_FILE) | {STUDY}
  family_tests = {"ssl": ["test_config_runlocal_ssl.py"], "gan": ["test_config_runlocal_gan.py"]}
  for family, files in family_tests.items():
    text = "".join(open(os.path.join(REPO, "tests", f)).read() for f in files
                   if os.path.exists(os.path.join(REPO, "tests", f)))
    for config in config_files():
      stem = os.path.splitext(os.path.basename(config))[0]
      if config.startswith(f"{family}/") and (f'"{stem}"' in text or f"configs/{config}" in text):
        covered.add(config)
  missing = [c for c in config_files() if c not in covered]
  assert not missing, f"configs whose runlocal no test runs through the CLI: {missing}"
