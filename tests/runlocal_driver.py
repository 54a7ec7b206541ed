"""Runs several `python -m model_garden.train ...` command lines in one process (TensorFlow imported once).

Each command line is parsed with model_garden.train's own flags and runs its `main`, as `python -m` does (where
absl's app.run parses sys.argv); the `--config.<field>` override flags that ml_collections defines while
parsing are removed before the next command. Used by the runlocal tests, which run every config this way.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DRIVER = r"""
import sys, traceback
from absl import flags
import keras
from model_garden import train
failed = []
for command in sys.argv[1:]:
  argv = command.split(" ")
  print("RUNNING", command, flush=True)
  flags.FLAGS.unparse_flags()
  for name in [n for n in flags.FLAGS if n.startswith("config.")]:
    delattr(flags.FLAGS, name)  # ml_collections defines an override's flag while parsing: one per command
  sys.argv = argv  # ml_collections reads the --config.<field> overrides from sys.argv, as under app.run
  try:
    flags.FLAGS(argv)
    keras.backend.clear_session()
    train.main(argv[:1])
  except BaseException:  # pylint: disable=broad-except  (report every config, then fail; SystemExit included)
    traceback.print_exc()
    failed.append(command)
print("FAILED", failed, flush=True)
sys.exit(1 if failed else 0)
"""


def run_commands(commands, timeout: int = 1500) -> subprocess.CompletedProcess:
  """Runs `commands` ("model_garden.train --config=... --workdir=..." each) in one subprocess from the repo root."""
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
         "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
  return subprocess.run([sys.executable, "-c", DRIVER, *commands], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=timeout)


def run_runlocal(commands: dict, workdirs: dict, timeout: int = 1500):
  """Runs {name: command line} in one subprocess; returns (the process, {name: (workdir, results.json)}) for the
  runs that wrote their results into `workdirs[name]`."""
  proc = run_commands(list(commands.values()), timeout=timeout)
  results = {}
  for name, workdir in workdirs.items():
    path = os.path.join(workdir, "results.json")
    if os.path.exists(path):
      with open(path) as f:
        results[name] = (workdir, json.load(f))
  return proc, results


def result_of(runs, name):
  """(workdir, results) of run `name` from `run_runlocal`'s answer; fails with the process's output if it has none."""
  proc, results = runs
  assert name in results, f"{name} wrote no results.json:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
  return results[name]
