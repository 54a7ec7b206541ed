"""The one place where model_garden overrides private Keras methods: `fit` under MultiWorkerMirroredStrategy.

Keras 3.15's TensorFlow trainer fails `fit` with tf.distribute.MultiWorkerMirroredStrategy
(https://github.com/keras-team/keras/issues/20585):

1. `TensorFlowTrainer._maybe_symbolic_build` builds the model from a data batch that it first reduces across
   workers (`strategy.reduce("MEAN", batch, axis=None)`), which fails on a PerReplica batch;
2. `reduce_per_replica` then reduces the scalar logs of `train_step` with `axis=0` ("Invalid reduction
   dimension 0 for input with 0 dimensions").

`MultiWorkerFitMixin` works around both: objectives build their networks and optimizers before `fit`
(`build_for_training`, also needed for keras-team/keras#23085), so the symbolic build is skipped once they are
built; and under a multi-worker strategy the logs go out as rank-1 tensors of length 1, which the `axis=0`
mean reduces to the value. `tests/test_keras_workarounds.py` fails when a Keras release renames the private
method (the override would silently stop applying) or no longer reduces the data batch there (the override
would be unnecessary): either way, revisit this module and the `keras` pin in setup.py.
"""

from __future__ import annotations

import tensorflow as tf

# The private Keras method overridden here, and what it must still do for the override to be needed.
OVERRIDDEN = "_maybe_symbolic_build"


def is_multi_worker(strategy) -> bool:
  return type(strategy).__name__.startswith(("MultiWorkerMirroredStrategy", "CollectiveAllReduceStrategy"))


class MultiWorkerFitMixin:
  """Mixed into `Objective` before keras.Model: skips the symbolic build once built, reshapes multi-worker logs.

  Subclasses say whether they are fully built (`ready_for_fit`) and whether Keras may still build them
  symbolically (`symbolic_build_allowed`; a GAN must be built by `build_for_training`).
  """

  symbolic_build_allowed = True

  def ready_for_fit(self) -> bool:
    """True when the networks and every optimizer's state exist (the symbolic build has nothing to do)."""
    return self.built and (self.optimizer is None or self.optimizer.built)

  def _maybe_symbolic_build(self, iterator=None, data_batch=None):  # pylint: disable=arguments-differ
    if self.ready_for_fit():
      return
    if not self.symbolic_build_allowed:
      raise RuntimeError(f"Call {type(self).__name__}.build_for_training() inside the strategy scope after "
                         "compile() and before fit(): it builds the networks and every optimizer there "
                         "(keras-team/keras#23085).")
    super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

  def multi_worker_logs(self, logs):
    """`logs` as rank-1 tensors under a multi-worker strategy (see the module docstring), else unchanged."""
    if is_multi_worker(self.distribute_strategy):
      return {name: tf.reshape(value, [1]) for name, value in logs.items()}
    return logs

