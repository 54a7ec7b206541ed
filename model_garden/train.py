r"""Command line of the training job.

  python -m model_garden.train --config=model_garden/configs/<name>.py[:args] --workdir=DIR \
      [--config.key=value ...] [--strategy=default|mirrored|multi_worker|tpu] [--verbose]

Rerunning the same command after the process died resumes from the newest checkpoint in DIR. A mistake in
the flags, the config or the workdir is reported on one line (`error: ...`, exit status 2); `--verbose` adds
the traceback and TensorFlow's and absl's INFO logs.
"""

import json

from absl import app, flags
from ml_collections import config_flags

from model_garden import cli

# The names of training/strategy.py's STRATEGIES, spelled out so that `--help` needs no TensorFlow.
STRATEGY_NAMES = ("default", "mirrored", "multi_worker", "tpu")

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file (python), with :args.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and the final model.")
_STRATEGY = flags.DEFINE_enum("strategy", "default", STRATEGY_NAMES, "tf.distribute strategy.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = cli.config_value(_CONFIG)
  from model_garden.training import train as run_training  # pylint: disable=g-import-not-at-top
  results = run_training(config, _WORKDIR.value, strategy_name=_STRATEGY.value)
  print(json.dumps(results))


if __name__ == "__main__":
  cli.run(main)
