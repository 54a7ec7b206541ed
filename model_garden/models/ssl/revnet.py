"""RevNet-50 (reversible pre-activation bottlenecks, BatchNorm) with a memory-saving backward pass."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from model_garden import backends
from model_garden.models.image_model import ImageModel
from model_garden.models.registry import register
from model_garden.models.ssl.resnet_v1 import RESNET50_LAYERS, channels, check_stage_arguments, fixed_padding


@keras.saving.register_keras_serializable("model_garden")
class RevNet(ImageModel):
  """RevNet: a ResNet-v2 whose units are reversible, so activations need not be stored for backprop.

  "The Reversible Residual Network" (Gomez et al. 2017) as used by "Revisiting Self-Supervised Visual
  Representation Learning" (Kolesnikov, Zhai, Beyer 2019; its best model, Rotation on RevNet-50 x4), after
  `revnet` in google/revisiting-self-supervised `models/resnet.py`:

  * root: 7x7 conv with 256 * width channels (4x the ResNet root; no BN), then 3x3/2 max-pool;
  * each unit splits channels in halves (x1, x2) and returns `concat([x2, x1 + F(x2)])`, where F is a
    pre-activation bottleneck without shortcut (BN-ReLU-1x1(c/8)-BN-ReLU-3x3-BN-ReLU-1x1(c/2));
  * between stages: average-pool with the stage stride and zero-pad the channels to twice their number;
  * end: BN, ReLU (`last_relu`), global mean.

  Block widths are 256/512/1024/2048 * width. With `memory_saving=True` each stage runs under
  `tf.custom_gradient`: the forward pass keeps only the stage output, and the backward pass rebuilds every
  unit's input from its output (`x2 = y[:c/2]`, `x1 = y[c/2:] - F(x2)`) and recomputes F under a tape.
  Gradients equal plain autodiff up to float rounding; BatchNorm recomputations use the batch statistics
  without updating the moving averages a second time.

  Named intermediates: `after_root`, `block1`..`block4`, `pre_logits`, `logits`.

  Args:
    num_classes: head size (Dense on `pre_logits`); 0 for no head.
    width: widening factor (the paper's Rotation RevNet-50 is x4).
    layers: units per stage.
    root_stride: stride of the root conv.
    strides: pooling strides after blocks 1-3.
    last_relu: ReLU after the final BN.
    memory_saving: reconstruct activations in the backward pass instead of storing them.
    image_size: build resolution (any size runs).

  Example:
    >>> net = model_garden.models.get("revnet50(width=4, num_classes=4)")
    >>> net.intermediates(images)["block4"].shape  # (batch, 7, 7, 8192)
  """

  def __init__(self, num_classes: int = 0, width: float = 1.0, layers: Sequence[int] = RESNET50_LAYERS,
               root_stride: int = 2, strides: Sequence[int] = (2, 2, 2), last_relu: bool = True,
               memory_saving: bool = True, image_size: int | None = 224, **kwargs):
    super().__init__(num_classes=num_classes, image_size=image_size, **kwargs)
    self.width = float(width)
    self.layers_per_stage, self.strides = check_stage_arguments(layers, strides, "revnet")
    self.root_stride = int(root_stride)
    self.last_relu = bool(last_relu)
    self.memory_saving = bool(memory_saving)
    self.root_conv = keras.layers.Conv2D(channels(self.width, 256, "root conv"), 7, strides=self.root_stride,
                                         padding="valid", use_bias=False, name="root_conv")
    self.units = []
    for stage, count in enumerate(self.layers_per_stage):
      width_stage = channels(self.width, 256 * 2 ** stage, f"block{stage + 1}")
      if width_stage % 16:
        raise ValueError(f"revnet: block{stage + 1} has {width_stage} channels; reversible units need a "
                         "multiple of 16 (halves with a /4 bottleneck). Use width >= 0.0625 in steps of it.")
      self.units.append([_ReversibleUnit(width_stage, name=f"block{stage + 1}_unit{unit + 1}")
                         for unit in range(count)])
    self.final_bn = keras.layers.BatchNormalization(name="final_bn")
    self.head = keras.layers.Dense(self.num_classes, name="head") if self.num_classes else None

  def forward(self, images, training=False):
    out = {}
    x = self.root_conv(fixed_padding(images, 7))
    x = ops.max_pool(fixed_padding(x, 3), 3, strides=2, padding="valid")
    out["after_root"] = x
    for stage, stage_units in enumerate(self.units):
      x = self._run_stage(stage_units, x, training)
      out[f"block{stage + 1}"] = x
      if stage < 3:
        x = _pool_and_double_channels(x, self.strides[stage])
    x = self.final_bn(x, training=training)
    if self.last_relu:
      x = ops.relu(x)
    x = ops.mean(x, axis=(1, 2))
    out["pre_logits"] = x
    logits = self.head(x) if self.head is not None else x
    out["logits"] = logits
    return logits, out

  def _run_stage(self, units, x, training):
    # Variables must exist before the custom gradient records which ones the stage reads, so the first
    # (building) call goes through plain autodiff.
    if not (self.memory_saving and all(u.built for u in units)):
      for unit in units:
        x = unit(x, training=training)
      return x
    return _reversible_stage(units, x, bool(training))

  def get_config(self):
    config = super().get_config()
    config.update({"width": self.width, "layers": list(self.layers_per_stage), "root_stride": self.root_stride,
                   "strides": list(self.strides), "last_relu": self.last_relu,
                   "memory_saving": self.memory_saving})
    return config


def _pool_and_double_channels(x, stride: int):
  if stride > 1:
    x = ops.average_pool(x, stride, strides=stride, padding="same")
  half = x.shape[-1] // 2
  return ops.pad(x, [[0, 0], [0, 0], [0, 0], [half, half]])


def _reversible_stage(units, x, training: bool):
  """Runs `units` forward keeping no activations; the gradient rebuilds them from the stage output."""
  name = backends.backend()
  if name == "jax":
    return _reversible_stage_jax(units, x, training)
  if name == "torch":
    return _reversible_stage_torch(units, x, training)
  return _reversible_stage_tf(units, x, training)


def _reverse_unit(unit, y, dy, residual_and_vjp):
  """One unit backwards: (its input, the gradient there, its variables' gradients) from its output.

  `residual_and_vjp(x2, dy1)` returns F(x2), dF/dx2^T dy1 and the variables' gradients.
  """
  half = y.shape[-1] // 2
  x2, y1 = y[..., :half], y[..., half:]
  dy2, dy1 = dy[..., :half], dy[..., half:]
  residual, dx2_residual, variable_grads = residual_and_vjp(x2, dy1)
  # y = [x2, x1 + F(x2)]: x1 = y1 - F(x2); dx1 = dy1, dx2 = dy2 + (dF/dx2)^T dy1.
  x = ops.concatenate([y1 - residual, x2], axis=-1)
  dx = ops.concatenate([dy1, dy2 + dx2_residual], axis=-1)
  return x, dx, variable_grads


def _reversible_stage_tf(units, x, training: bool):
  tf = backends.tensorflow()

  @tf.custom_gradient
  def stage(inputs):
    y = inputs
    for unit in units:
      y = unit(y, training=training)

    def grad(dy, variables=None):
      variables = list(variables or [])
      totals = [None] * len(variables)
      y_cur, dy_cur = y, dy

      def residual_and_vjp(unit):
        def fn(x2, dy1):
          with tf.GradientTape() as tape:
            tape.watch(x2)
            residual = unit.residual(x2, training=training, update_statistics=False)
          grads = tape.gradient(residual, [x2] + variables, output_gradients=dy1,
                                unconnected_gradients=tf.UnconnectedGradients.NONE)
          return residual, grads[0], grads[1:]
        return fn

      for unit in reversed(units):
        y_cur, dy_cur, grads = _reverse_unit(unit, y_cur, dy_cur, residual_and_vjp(unit))
        for i, g in enumerate(grads):
          if g is not None:
            totals[i] = g if totals[i] is None else totals[i] + g
      totals = [t if t is not None else tf.zeros_like(v) for t, v in zip(totals, variables)]
      return dy_cur, totals

    return y, grad

  return stage(x)


def _reversible_stage_jax(units, x, training: bool):
  """`jax.custom_vjp` over explicit variable values (Keras' JAX trainer differentiates stateless calls)."""
  import jax  # pylint: disable=g-import-not-at-top

  trainable = [[v.value for v in unit.trainable_variables] for unit in units]
  non_trainable = [[v.value for v in unit.non_trainable_variables] for unit in units]

  def forward(inputs, trainable_values, non_trainable_values):
    y, updated = inputs, []
    for unit, tv, ntv in zip(units, trainable_values, non_trainable_values):
      y, new_ntv = unit.stateless_call(tv, ntv, y, training=training)
      updated.append(new_ntv)
    return y, updated

  @jax.custom_vjp
  def stage(inputs, trainable_values, non_trainable_values):
    return forward(inputs, trainable_values, non_trainable_values)

  def stage_fwd(inputs, trainable_values, non_trainable_values):
    y, updated = forward(inputs, trainable_values, non_trainable_values)
    return (y, updated), (y, trainable_values, non_trainable_values)

  def stage_bwd(saved, cotangents):
    y, trainable_values, non_trainable_values = saved
    dy = cotangents[0]
    grads = [None] * len(units)
    for i in reversed(range(len(units))):
      unit = units[i]

      def residual(x2, tv, unit=unit, ntv=non_trainable_values[i]):
        mapping = list(zip(unit.trainable_variables, tv)) + list(zip(unit.non_trainable_variables, ntv))
        with keras.StatelessScope(state_mapping=mapping):
          return unit.residual(x2, training=training, update_statistics=False)

      def residual_and_vjp(x2, dy1, residual=residual, tv=trainable_values[i]):
        value, vjp = jax.vjp(residual, x2, tv)
        dx2, dtv = vjp(dy1)
        return value, dx2, dtv

      y, dy, grads[i] = _reverse_unit(unit, y, dy, residual_and_vjp)
    zeros = jax.tree_util.tree_map(jax.numpy.zeros_like, non_trainable_values)
    return dy, grads, zeros

  stage.defvjp(stage_fwd, stage_bwd)
  y, updated = stage(x, trainable, non_trainable)
  for unit, values in zip(units, updated):  # The moving averages the forward pass updated.
    for variable, value in zip(unit.non_trainable_variables, values):
      variable.assign(value)
  return y


def _reversible_stage_torch(units, x, training: bool):
  """A `torch.autograd.Function` whose inputs include the units' parameters, so they get gradients."""
  import torch  # pylint: disable=g-import-not-at-top

  variables = [v for unit in units for v in unit.trainable_variables]

  class Stage(torch.autograd.Function):
    """Forward without a graph; backward rebuilds each unit's input and differentiates F there."""

    @staticmethod
    def forward(ctx, inputs, *parameters):
      del parameters  # Inputs only so that autograd routes their gradients here.
      y = inputs
      for unit in units:
        y = unit(y, training=training)
      ctx.save_for_backward(y)
      return y

    @staticmethod
    def backward(ctx, dy):
      (y,) = ctx.saved_tensors
      grads = {}

      def residual_and_vjp(unit):
        def fn(x2, dy1):
          unit_parameters = [v.value for v in unit.trainable_variables]
          with torch.enable_grad():
            x2 = x2.detach().requires_grad_(True)
            residual = unit.residual(x2, training=training, update_statistics=False)
            found = torch.autograd.grad(residual, [x2] + unit_parameters, grad_outputs=dy1, allow_unused=True)
          for variable, g in zip(unit.trainable_variables, found[1:]):
            grads[id(variable)] = g
          return residual.detach(), found[0], None
        return fn

      for unit in reversed(units):
        y, dy, _ = _reverse_unit(unit, y, dy, residual_and_vjp(unit))
      return (dy,) + tuple(grads.get(id(v)) for v in variables)

  return Stage.apply(x, *[v.value for v in variables])


@keras.saving.register_keras_serializable("model_garden")
class _RecomputableBatchNorm(keras.layers.BatchNormalization):
  """BatchNormalization whose training-mode call can skip the moving-average update (for recomputation)."""

  def call(self, inputs, training=None, mask=None, update_statistics=True):
    if not (training and self.trainable) or update_statistics:
      return super().call(inputs, training=training, mask=mask)
    x = ops.cast(inputs, "float32")
    mean, variance = self._moments(x, mask)
    out = ops.batch_normalization(x, mean, variance, axis=self.axis,
                                  offset=ops.cast(self.beta, x.dtype) if self.center else None,
                                  scale=ops.cast(self.gamma, x.dtype) if self.scale else None,
                                  epsilon=self.epsilon)
    return ops.cast(out, self.compute_dtype)


@keras.saving.register_keras_serializable("model_garden")
class _ReversibleUnit(keras.layers.Layer):
  """`[x1, x2] -> [x2, x1 + F(x2)]` with F a pre-activation bottleneck on `channels / 2` channels."""

  def __init__(self, channels: int, **kwargs):
    super().__init__(**kwargs)
    self.channels = int(channels)
    half = self.channels // 2
    inner = max(half // 4, 1)
    self.bn1 = _RecomputableBatchNorm(name="bn1")
    self.conv1 = keras.layers.Conv2D(inner, 1, use_bias=False, name="conv1")
    self.bn2 = _RecomputableBatchNorm(name="bn2")
    self.conv2 = keras.layers.Conv2D(inner, 3, padding="valid", use_bias=False, name="conv2")
    self.bn3 = _RecomputableBatchNorm(name="bn3")
    self.conv3 = keras.layers.Conv2D(half, 1, use_bias=False, name="conv3")

  def build(self, input_shape):
    if input_shape[-1] != self.channels:
      raise ValueError(f"{self.name}: expects {self.channels} channels, got input shape {input_shape}.")
    self.built = True

  def residual(self, x2, training=False, update_statistics=True):
    y = ops.relu(self.bn1(x2, training=training, update_statistics=update_statistics))
    y = self.conv1(y)
    y = ops.relu(self.bn2(y, training=training, update_statistics=update_statistics))
    y = self.conv2(fixed_padding(y, 3))
    y = ops.relu(self.bn3(y, training=training, update_statistics=update_statistics))
    return self.conv3(y)

  def call(self, x, training=False):
    half = self.channels // 2
    x1, x2 = x[..., :half], x[..., half:]
    return ops.concatenate([x2, x1 + self.residual(x2, training=training)], axis=-1)

  def get_config(self):
    config = super().get_config()
    config.update({"channels": self.channels})
    return config


@register("revnet50")
def revnet50(*, num_classes: int = 0, width: float = 1.0, last_relu: bool = True, memory_saving: bool = True,
             image_size: int = 224) -> RevNet:
  """Spec factory: `revnet50(width=4, num_classes=4)` (the paper's best Rotation model)."""
  return RevNet(num_classes=num_classes, width=width, layers=RESNET50_LAYERS, last_relu=last_relu,
                memory_saving=memory_saving, image_size=image_size)


@register("ssl_revnet")
def ssl_revnet(*, num_classes: int = 0, width: float = 1.0, layers: Sequence[int] = RESNET50_LAYERS,
               root_stride: int = 2, strides: Sequence[int] = (2, 2, 2), last_relu: bool = True,
               memory_saving: bool = True, image_size: int = 224) -> RevNet:
  """Spec factory with any depth: `ssl_revnet(layers=(1, 1, 1, 1), width=0.125, image_size=32)`."""
  return RevNet(num_classes=num_classes, width=width, layers=layers, root_stride=root_stride, strides=strides,
                last_relu=last_relu, memory_saving=memory_saving, image_size=image_size)
