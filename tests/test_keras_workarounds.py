"""The one private-Keras override (objectives/keras_workarounds.py) still applies and is still needed.

These tests read the installed Keras' own source: when a Keras release renames the overridden method the
override would silently stop applying, and when it stops reducing the data batch across workers the override
is unnecessary. Either way a test here fails and names what to revisit (the module and the keras pin).
"""

import inspect

import keras
import pytest

from model_garden import objectives
from model_garden.objectives import keras_workarounds


def _tensorflow_trainer():
  from keras.src.backend.tensorflow import trainer  # pylint: disable=g-import-not-at-top  (Keras internals)
  return trainer


def test_the_overridden_method_still_exists_with_its_signature():
  trainer = _tensorflow_trainer()
  method = getattr(trainer.TensorFlowTrainer, keras_workarounds.OVERRIDDEN, None)
  assert method is not None, (
      f"Keras {keras.__version__} has no TensorFlowTrainer.{keras_workarounds.OVERRIDDEN}: the multi-worker "
      "override in model_garden/objectives/keras_workarounds.py no longer applies. Check "
      "keras-team/keras#20585 and tests/test_distribution.py, then update or remove the override.")
  assert list(inspect.signature(method).parameters) == ["self", "iterator", "data_batch"]


def test_keras_still_reduces_the_data_batch_across_workers():
  source = inspect.getsource(getattr(_tensorflow_trainer().TensorFlowTrainer, keras_workarounds.OVERRIDDEN))
  assert "distribute_strategy.reduce(" in source, (
      f"Keras {keras.__version__} no longer reduces the data batch in {keras_workarounds.OVERRIDDEN}: the "
      "multi-worker workaround may be unnecessary now (keras-team/keras#20585). Try removing it and run "
      "tests/test_distribution.py::test_multi_worker_two_processes_match_one_device.")


def test_objectives_take_the_override_and_nothing_else_does():
  assert keras_workarounds.MultiWorkerFitMixin in objectives.Objective.__mro__
  order = objectives.Objective.__mro__
  assert order.index(keras_workarounds.MultiWorkerFitMixin) < order.index(keras.Model)
  assert keras_workarounds.OVERRIDDEN in vars(keras_workarounds.MultiWorkerFitMixin)
  for cls in (objectives.Objective, objectives.GAN, objectives.Classification):
    assert keras_workarounds.OVERRIDDEN not in vars(cls), cls


def test_a_gan_refuses_the_symbolic_build():
  from model_garden import models  # pylint: disable=g-import-not-at-top
  g = models.get("sndcgan_generator(image_size=32, z_dim=8, ch=2)")
  d = models.get("sndcgan_discriminator(image_size=32, ch=2)")
  gan = objectives.get("gan", generator=g, discriminator=d)
  with pytest.raises(RuntimeError, match="build_for_training"):
    gan._maybe_symbolic_build()  # pylint: disable=protected-access


def test_reparameterised_kernels_still_read_float32_under_mixed_precision():
  """layers/reparameterized_kernel.py reads the stored kernel through Keras' private AutocastScope."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from model_garden.layers import reparameterized_kernel as rk  # pylint: disable=g-import-not-at-top

  class Probe(keras.layers.Layer):
    def build(self, input_shape):
      self.w = self.add_weight(shape=(1,), initializer=keras.initializers.Constant(1.0 + 2.0 ** -20))

    def call(self, x):
      return keras.ops.cast(x, "float32") * 0 + keras.ops.cast(rk.read_float32(self.w), "float32")

  keras.mixed_precision.set_global_policy("mixed_float16")
  try:
    probe = Probe()
    out = probe(np.zeros((1, 1), "float16"))
  finally:
    keras.mixed_precision.set_global_policy("float32")
  assert probe.w.dtype == "float32"
  # float16 would round 1 + 2^-20 to 1: the value read inside the float16 layer is the float32 one.
  np.testing.assert_equal(np.asarray(out, np.float64)[0, 0] > 1.0, True)
