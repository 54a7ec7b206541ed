"""How a `tools/*.py` script runs its `main`: `--help` without importing model_garden, the rest through
`model_garden.cli` (quiet start, one-line user errors, `--verbose`).

Importing `model_garden` imports TensorFlow (seconds), which `--help` does not need: the scripts define their
flags or parser with absl/argparse only and import the package inside `main`, and this module imports
`model_garden.cli` only when the command is not a help request.

  absl scripts:     if __name__ == "__main__": _command.run(main)
  argparse scripts: if __name__ == "__main__": sys.exit(_command.guard(main))
"""

from __future__ import annotations

import os
import sys
from typing import Callable, List, Optional

# The same spellings as model_garden.cli.HELP_FLAGS (tests/test_bad_inputs.py checks they agree).
HELP_FLAGS = ("-h", "--help", "-?", "--helpshort", "--helpfull", "--helpxml")
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wants_help(argv: List[str]) -> bool:
  return any(arg in HELP_FLAGS for arg in argv)


def _cli():
  if _ROOT not in sys.path:  # A checkout whose package is not installed: the scripts run from it.
    sys.path.insert(1, _ROOT)
  if "--verbose" not in sys.argv[1:]:  # Before the package imports TensorFlow (see model_garden.cli.quiet).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  from model_garden import cli  # pylint: disable=g-import-not-at-top
  return cli


def run(main: Callable[[List[str]], object]) -> None:
  """absl: `app.run(main)`; `--help` prints the flags and exits 0 (absl itself exits 1)."""
  if wants_help(sys.argv[1:]):
    from absl import app  # pylint: disable=g-import-not-at-top
    try:
      app.run(main)
    except SystemExit as e:
      sys.exit(0 if e.code == 1 else e.code)
    return
  _cli().run(main)


def guard(main: Callable[[List[str]], Optional[int]]) -> int:
  """argparse: `main(sys.argv[1:])`, whose parser prints `--help` and exits 0 by itself."""
  if wants_help(sys.argv[1:]):
    return main(sys.argv[1:]) or 0
  return _cli().guard(main)
