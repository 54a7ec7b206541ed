"""Learning-rate schedules of big_vision: `Rsqrt`, `Cosine`, `Linear`, `Constant`, `Piecewise`.

Each is a `keras.optimizers.schedules.LearningRateSchedule` returning `base * multiplier(step)`, with a
linear warmup and cooldown on top of its decay (see `Schedule`). Specs: `"rsqrt(warmup_steps=10_000,
cooldown_steps=50_000, timescale=10_000)"`; `make` supplies `base` (config.optimizer.lr) and `total_steps`.
"""

from model_garden.optimizers.schedules.constant import Constant
from model_garden.optimizers.schedules.cosine import Cosine
from model_garden.optimizers.schedules.linear import Linear
from model_garden.optimizers.schedules.piecewise import Piecewise
from model_garden.optimizers.schedules.rsqrt import Rsqrt
from model_garden.optimizers.schedules.schedule import Schedule
