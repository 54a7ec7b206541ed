r"""Command line of the training job.

  python -m model_garden.train --config=model_garden/configs/<name>.py[:args] --workdir=DIR \
      [--config.key=value ...] [--strategy=default|mirrored|multi_worker|tpu]

Rerunning the same command after the process died resumes from the newest checkpoint in DIR.
"""

import json

from absl import app, flags
from ml_collections import config_flags

from model_garden.training import train as run_training
from model_garden.training.strategy import STRATEGIES

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file (python), with :args.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and the final model.")
_STRATEGY = flags.DEFINE_enum("strategy", "default", STRATEGIES, "tf.distribute strategy.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  results = run_training(_CONFIG.value, _WORKDIR.value, strategy_name=_STRATEGY.value)
  print(json.dumps(results))


if __name__ == "__main__":
  app.run(main)
