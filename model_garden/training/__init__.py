"""The training job: strategies, checkpoints, the NaN guard and the trainer behind `model_garden.train`.

`training/` may import every other folder except `export/`.
"""

from model_garden.training.checkpointing import (CheckpointMismatchError, NanGuard, NonFiniteLossError,
                                                 TrainCheckpointer)
from model_garden.training.strategy import get_strategy
from model_garden.training.trainer import train
from model_garden.training.gan_trainer import train_gan
