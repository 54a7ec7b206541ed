"""The normalisation switch of compare_gan's architectures, as one layer with one call signature."""

from __future__ import annotations

import keras

from model_garden.layers.conditional_batch_norm import ConditionalBatchNorm
from model_garden.layers.layer_norm_all_axes import LayerNormAllAxes
from model_garden.layers.self_modulated_batch_norm import SelfModulatedBatchNorm
from model_garden.layers.standing_batch_norm import StandingBatchNorm

GENERATOR_NORMS = ("none", "batch_norm", "conditional_batch_norm", "self_modulated_batch_norm")
DISCRIMINATOR_NORMS = ("none", "batch_norm", "layer_norm")
NORMS = GENERATOR_NORMS + ("layer_norm",)


def check_norm(kind: str, allowed, who: str) -> str:
  if kind not in allowed:
    raise ValueError(f"{who}: norm must be one of {allowed}, got {kind!r}.")
  return kind


@keras.saving.register_keras_serializable("model_garden")
class GanNorm(keras.layers.Layer):
  """One of compare_gan's normalisers behind `norm(x, z=None, y=None, training=False)`.

  compare_gan passes every normaliser z and y and each takes what it needs (`G.batch_norm_fn`,
  `D.batch_norm_fn`, `D.layer_norm`); this layer does the same:

  * "none": identity;
  * "batch_norm": `StandingBatchNorm` with gamma and beta;
  * "conditional_batch_norm": `ConditionalBatchNorm` on y (needs y);
  * "self_modulated_batch_norm": `SelfModulatedBatchNorm` on z (needs z);
  * "layer_norm": `LayerNormAllAxes` (discriminators).

  Args:
    kind: one of the above.
    kernel_norm: "none", "spectral" or "weight" for the projections of the conditional variants.
    init: their kernel initialiser.
    momentum, epsilon, cross_replica: of the batch standardisation.

  Example:
    >>> norm = GanNorm("conditional_batch_norm")
    >>> norm(x, y=class_embedding, training=True)
  """

  def __init__(self, kind: str = "batch_norm", kernel_norm: str = "none", init: str = "normal",
               momentum: float = 0.9, epsilon: float = 1e-5, cross_replica: bool = False, **kwargs):
    super().__init__(**kwargs)
    self.kind = check_norm(kind, NORMS, "GanNorm")
    self.kernel_norm, self.init = kernel_norm, init
    self.momentum, self.epsilon, self.cross_replica = float(momentum), float(epsilon), bool(cross_replica)
    bn_args = dict(momentum=momentum, epsilon=epsilon, cross_replica=cross_replica)
    if kind == "batch_norm":
      self.norm = StandingBatchNorm(name="bn", **bn_args)
    elif kind == "conditional_batch_norm":
      self.norm = ConditionalBatchNorm(kernel_norm=kernel_norm, init=init, name="cbn", **bn_args)
    elif kind == "self_modulated_batch_norm":
      self.norm = SelfModulatedBatchNorm(kernel_norm=kernel_norm, init=init, name="sbn", **bn_args)
    elif kind == "layer_norm":
      self.norm = LayerNormAllAxes(name="ln")
    else:
      self.norm = None

  def call(self, x, z=None, y=None, training=False):
    if self.kind == "none":
      return x
    if self.kind == "conditional_batch_norm":
      if y is None:
        raise ValueError(f"{self.name}: conditional batch norm needs y; the generator is unconditional "
                         "(label_classes=0) or got no labels. Use norm='batch_norm' for unconditional GANs.")
      return self.norm(x, y, training=training)
    if self.kind == "self_modulated_batch_norm":
      if z is None:
        raise ValueError(f"{self.name}: self-modulated batch norm needs z.")
      return self.norm(x, z, training=training)
    if self.kind == "layer_norm":
      return self.norm(x)
    return self.norm(x, training=training)

  def compute_output_shape(self, input_shape, *args, **kwargs):
    return input_shape

  def get_config(self):
    config = super().get_config()
    config.update({"kind": self.kind, "kernel_norm": self.kernel_norm, "init": self.init,
                   "momentum": self.momentum, "epsilon": self.epsilon, "cross_replica": self.cross_replica})
    return config
