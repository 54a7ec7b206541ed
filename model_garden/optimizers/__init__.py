"""Optimizers of big_vision for Keras: `make(config.optimizer, total_steps=N)`.

Update rules (`SGD`, `Adam`, `AdafactorBV`) share `ParamGroupOptimizer`: global-norm clipping, regex lr
multipliers, big_vision's decoupled weight decay with regex multipliers, and frozen variables. Schedules
(`Rsqrt`, `Cosine`, `Linear`, `Constant`, `Piecewise`) live in `schedules`.

Example:
  >>> opt = optimizers.make(config.optimizer, total_steps=steps)
  >>> variables = opt.filter_trainable(model.trainable_variables)
  >>> with strategy.scope():
  ...   opt.build(variables)
  >>> opt.apply(grads, variables)  # inside the train step
"""

from model_garden.optimizers import schedules
from model_garden.optimizers.adafactor_bv import AdafactorBV, factored_axes
from model_garden.optimizers.adam import Adam
from model_garden.optimizers.make import KEYS, filter_trainable, make, make_schedule, unwrap
from model_garden.optimizers.param_group_optimizer import ParamGroupOptimizer
from model_garden.optimizers.param_groups import DEFAULT_WD_MULTS, ParamGroups, variable_path
from model_garden.optimizers.registry import OPTIMIZERS, SCHEDULES
from model_garden.optimizers.schedules import Constant, Cosine, Linear, Piecewise, Rsqrt, Schedule
from model_garden.optimizers.sgd import SGD
from model_garden.optimizers.state_bytes import optimizer_state_bytes


def names():
  """Registered optimizer names."""
  return OPTIMIZERS.names()
