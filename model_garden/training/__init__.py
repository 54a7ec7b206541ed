"""The training job: named networks, strategies, checkpoints, the NaN guard and the one trainer behind
`model_garden.train`.

`training/` may import every other folder except `export/` internals.
"""

from model_garden import backends as _backends

_backends.require_tensorflow("model_garden.training (the tf.distribute training job)")

from model_garden.training.checkpointing import (CheckpointMismatchError, NanGuard, NonFiniteLossError,
                                                 TrainCheckpointer)
from model_garden.training.networks import InitError, build_network, build_networks, initialise, network_spec
from model_garden.training.strategy import get_strategy
from model_garden.training.trainer import ConfigError, build_objective, check_config, train
