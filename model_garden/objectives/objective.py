"""The base class of every training objective: a keras.Model that owns its train_step."""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

from model_garden.objectives.keras_workarounds import MultiWorkerFitMixin
from model_garden.objectives.randomness import BatchRows
from model_garden.registry import Registry, Spec, SpecError, spec_call

OBJECTIVES = Registry("objective")
EXPORT_KINDS = ("classifier", "two_towers", "generator", "network")


def register(name: str, *, networks: Tuple[str, ...] = ("network",)):
  """Decorator registering an objective factory whose keyword arguments named in `networks` take networks.

  The trainer builds one network per name from `config.networks.<name>` and passes them as those keywords;
  every other keyword comes from `config.objective`.
  """
  def decorator(factory):
    factory.network_names = tuple(networks)
    return OBJECTIVES.register(name)(factory)
  return decorator


def network_names(spec: Spec) -> Tuple[str, ...]:
  """The networks the objective named by `spec` trains or reads, e.g. ("generator", "discriminator")."""
  name, _, _ = spec_call(spec)
  return tuple(getattr(OBJECTIVES.lookup(name), "network_names", ("network",)))


def build(spec: Spec, networks: Mapping[str, keras.Model]) -> "Objective":
  """The objective named by `spec` (a string or a mapping with "name") around the named `networks`.

  Raises:
    SpecError: a network the objective needs is missing, or one it does not take is given.
  """
  name, _, kwargs = spec_call(spec)
  needed = network_names(spec)
  missing = [n for n in needed if n not in networks]
  unexpected = [n for n in networks if n not in needed]
  if missing or unexpected:
    raise SpecError(f"Objective {name!r} takes the networks {', '.join(needed)}; config.networks "
                    + (f"lacks {', '.join(missing)}" if missing else "")
                    + ("; " if missing and unexpected else "")
                    + (f"has {', '.join(unexpected)} too" if unexpected else "") + ".")
  clash = [k for k in kwargs if k in needed]
  if clash:
    raise SpecError(f"config.objective sets {', '.join(clash)}, which are networks: give them in config.networks.")
  return OBJECTIVES.get(spec, **networks)


@keras.saving.register_keras_serializable("model_garden")
class Objective(MultiWorkerFitMixin, keras.Model):
  """A training objective: networks + losses, trained with `fit`, one optimizer step per batch.

  Subclasses implement `compute_losses(batch, training) -> (losses, outputs)` where `losses` is a dict
  of scalar terms averaged over the *replica's* examples, with the total under "loss", and `outputs`
  whatever `update_metrics` needs. The base class does the rest of a step the same way for every
  objective:

  * divides the loss by the number of replicas before differentiating, so that Keras' sum all-reduce
    of gradients yields the gradient of the global-batch mean (a distributed step equals a one-device
    step on the same global batch);
  * asks the optimizer which variables it trains (`filter_trainable`: frozen variables get neither
    gradients nor optimizer state) and scales the loss for mixed_float16 (`scale_loss`);
  * feeds one `Mean` tracker per loss term, so the progress bar shows epoch averages;
  * works around Keras 3.15's MultiWorkerMirroredStrategy bugs (keras-team/keras#20585) through
    `keras_workarounds.MultiWorkerFitMixin`, the one module that overrides private Keras methods.

  Random draws inside a step (augmentations, noise) use `objectives.randomness` with a seed from a checkpointed
  `keras.random.SeedGenerator` (`common.next_seed`) and `batch_rows(count)`: each example's draw is then a
  function of its row in the step's global batch, the same on one device, on every replica layout and with
  gradient accumulation, with or without XLA.

  Objectives that need several optimizers per step (GANs) override `train_step` itself.

  Example:
    >>> net = model_garden.models.get("resnet_small(num_classes=8, image_size=32)")
    >>> objective = model_garden.objectives.get("classification(label_smoothing=0.1)", network=net)
    >>> objective.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    >>> objective.fit(dataset, epochs=1, steps_per_epoch=100)
  """

  loss_names: Tuple[str, ...] = ("loss",)
  metric_names: Tuple[str, ...] = ()
  # The optimizers a training step uses, by the name of the network each trains; () means one optimizer
  # (`config.optimizer`) for every trainable variable.
  optimizer_names: Tuple[str, ...] = ()
  # What the trainer exports at the end of a run: "classifier" (model.keras + export.json for
  # `python -m model_garden.export`), "two_towers", "generator" or "network" (model.keras only).
  export_kind: str = "classifier"
  # Micro-batches per training step (`set_grad_accum_steps`, the trainer's `config.grad_accum_steps`).
  grad_accum_steps: int = 1
  # Whether the loss is a mean of per-example terms, so that accumulating micro-batches is exact.
  accumulation_exact: bool = True

  def __init__(self, network: keras.Model, **kwargs):
    super().__init__(**kwargs)
    self.network = network
    self._trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names + self.metric_names}
    # (index, count) of the micro-batch a step is computing (gradient accumulation), for `batch_rows`.
    object.__setattr__(self, "_micro_batch", (0, 1))

  # -- Subclass API -----------------------------------------------------------------------------------
  def compute_losses(self, batch, training: bool):
    """Returns ({"loss": total, other terms...}, outputs); each averaged over this replica's batch."""
    raise NotImplementedError(f"{type(self).__name__} must implement compute_losses(batch, training).")

  def update_metrics(self, batch, outputs) -> Dict[str, tf.Tensor]:
    """Per-step values of `metric_names` (each becomes the epoch mean shown in logs)."""
    del batch, outputs
    return {}

  def batch_rows(self, count) -> BatchRows:
    """The rows of the step's global batch that the `count` examples being computed are.

    Replica r of R computing micro-batch i of k (gradient accumulation) holds rows (r * k + i) * count + j of
    a global batch of R * k * count examples: `tf.distribute` gives replica r the r-th contiguous part of the
    global batch, and accumulation splits a replica's part into k contiguous micro-batches. Draw per-example
    randomness with these rows (`randomness.uniform(shape, seed, rows=rows)`), and a distributed or
    accumulated step draws what a one-device step on the global batch draws.
    """
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    micro, micro_batches = self._micro_batch
    if replicas == 1 and micro_batches == 1:
      return BatchRows.all(count)
    replica = context.replica_id_in_sync_group if replicas > 1 else 0
    start = (tf.cast(replica, tf.int32) * micro_batches + tf.cast(micro, tf.int32)) * count
    return BatchRows.strided(start, 1, count, count * micro_batches * replicas)

  def replica_batch_order(self, global_batch_size: int, replicas: int) -> np.ndarray:
    """The order of a global batch in which a one-device step equals a step on `replicas` replicas.

    Indices `order` such that the one-device step on `batch[order]` equals the distributed step on `batch`
    (the identity here: replica r holds the r-th part and draws as `batch_rows` says); objectives whose step
    cuts a replica's batch into parts (GANs) say otherwise.
    """
    del replicas
    return np.arange(global_batch_size)

  # -- What the trainer asks of every objective ---------------------------------------------------------
  @property
  def networks(self) -> Dict[str, keras.Model]:
    """The networks by the names of `config.networks` (the objects trained, after any renaming)."""
    return {"network": self.network}

  @property
  def nan_keys(self) -> Tuple[str, ...]:
    """The logged losses whose non-finite value stops training."""
    return self.loss_names[:1]

  def evaluated_network(self) -> keras.Model:
    """The network evaluators read and the trainer saves as `model.keras`."""
    return self.network

  def exported_models(self) -> Dict[str, keras.Model]:
    """{file name: model} that the trainer saves in the workdir at the end of a run."""
    return {"model.keras": self.evaluated_network()}

  def optimizer_steps(self, name: Optional[str], total_steps: int) -> int:
    """Updates the optimizer `name` (None: the single one) makes in `total_steps` training steps."""
    del name
    return total_steps

  def compile_with(self, optimizers: Mapping[Optional[str], keras.optimizers.Optimizer], **kwargs):
    """`compile` with the optimizers by name (`optimizer_names`), or {None: optimizer} for one optimizer."""
    if set(optimizers) != ({None} if not self.optimizer_names else set(self.optimizer_names)):
      raise ValueError(f"{type(self).__name__} takes the optimizers {self.optimizer_names or '(one)'}; got "
                       f"{sorted(map(str, optimizers))}.")
    self.compile(optimizer=optimizers[None], **kwargs)

  # -- Keras API ----------------------------------------------------------------------------------------
  @property
  def metrics(self):
    return list(self._trackers.values())

  def call(self, inputs, training=False):
    if isinstance(inputs, dict):
      inputs = inputs["image"]
    return self.network(inputs, training=training)

  def trainable_for_step(self):
    """The variables this step differentiates: the optimizer decides which are frozen."""
    variables = self.trainable_variables
    optimizer = getattr(self.optimizer, "inner_optimizer", self.optimizer)
    if hasattr(optimizer, "filter_trainable"):
      variables = optimizer.filter_trainable(variables)
    return variables

  def train_step(self, data):
    batch = _unpack(data)
    variables = self.trainable_for_step()
    if self.grad_accum_steps > 1:
      grads, losses, metric_values = self._accumulated_gradients(batch, variables)
    else:
      grads, losses, metric_values = self._gradients(batch, variables)
    self.optimizer.apply(grads, variables)
    return self._update_trackers(losses, metric_values, batch)

  def _gradients(self, batch, variables):
    """(gradients of the replica-scaled loss, loss terms, metric values) of one batch."""
    with tf.GradientTape() as tape:
      losses, outputs = self.compute_losses(batch, training=True)
      loss = losses["loss"] / tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, losses["loss"].dtype)
      loss = self.optimizer.scale_loss(loss)
    grads = tape.gradient(loss, variables)
    grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
    return grads, losses, self.update_metrics(batch, outputs)

  # -- Gradient accumulation ------------------------------------------------------------------------------
  def set_grad_accum_steps(self, steps: int) -> None:
    """Splits every training batch into `steps` micro-batches whose gradients are averaged into one update.

    For a loss that is a mean over examples this equals one step on the whole batch while holding only one
    micro-batch's activations at a time (batch-norm statistics then come from micro-batches). Objectives whose
    loss couples the batch (`accumulation_exact = False`: contrastive, GANs) refuse it.
    """
    steps = int(steps)
    if steps < 1:
      raise ValueError(f"grad_accum_steps must be a positive integer, got {steps}.")
    if steps > 1 and not self.accumulation_exact:
      raise ValueError(f"{type(self).__name__}'s loss couples the examples of a batch (e.g. in-batch negatives), "
                       "so accumulating micro-batches would change it: use a smaller batch or more replicas "
                       "instead of config.grad_accum_steps.")
    self.grad_accum_steps = steps

  def _accumulated_gradients(self, batch, variables):
    """The mean gradients, losses and metrics of `grad_accum_steps` equal slices of `batch`, one at a time.

    Every micro-batch starts from the step's seed-generator states, so each draws the step's seeds and, through
    `batch_rows`, the rows of the global batch it holds: exactly what the whole batch's step would draw.
    """
    k = self.grad_accum_steps
    size = tf.nest.flatten(batch)[0].shape[0]
    message = (f"config.grad_accum_steps={k} splits each replica's batch into equal micro-batches: make "
               f"config.input.batch_size / replicas a multiple of {k}.")
    if size is not None and size % k:
      raise ValueError(f"{message} The batch has {size} examples per replica.")
    checks = [] if size is not None else [
        tf.debugging.assert_equal(tf.shape(tf.nest.flatten(batch)[0])[0] % k, 0, message=message)]
    with tf.control_dependencies(checks):
      stacked = tf.nest.map_structure(
          lambda t: tf.reshape(t, tf.concat([[k, -1], tf.shape(t)[1:]], 0)) if size is None else
          tf.reshape(t, [k, size // k] + t.shape[1:].as_list()), batch)
    take = lambda i: tf.nest.map_structure(lambda t: tf.gather(t, i), stacked)  # noqa: E731
    seed_states = [v for v in self.variables if v.path.endswith("seed_generator_state")]
    step_seeds = [tf.identity(v.value) for v in seed_states]

    def micro_batch_gradients(i):
      for state, value in zip(seed_states, step_seeds):
        state.assign(value)
      object.__setattr__(self, "_micro_batch", (i, k))
      try:
        return self._gradients(take(i), variables)
      finally:
        object.__setattr__(self, "_micro_batch", (0, 1))

    grads, losses, metric_values = micro_batch_gradients(0)
    values = {**losses, **metric_values}
    to_float = lambda d: {n: tf.cast(v, tf.float32) for n, v in d.items()}  # noqa: E731

    def body(i, grads, sums):
      g, l, m = micro_batch_gradients(i)
      grads = [a + tf.cast(b, a.dtype) for a, b in zip(grads, g)]
      step = to_float({**l, **m})
      return i + 1, grads, {n: sums[n] + step[n] for n in sums}

    # parallel_iterations=1: one micro-batch's activations live at a time.
    _, grads, sums = tf.while_loop(lambda i, *_: i < k, body, (tf.constant(1), grads, to_float(values)),
                                   parallel_iterations=1)
    grads = [g / tf.cast(k, g.dtype) for g in grads]
    means = {n: v / k for n, v in sums.items()}
    return grads, {n: means[n] for n in losses}, {n: means[n] for n in metric_values}

  def test_step(self, data):
    batch = _unpack(data)
    losses, outputs = self.compute_losses(batch, training=False)
    return self._update_trackers(losses, self.update_metrics(batch, outputs), batch)

  def predict_step(self, data):
    batch = _unpack(data)
    return self(batch, training=False)

  def _update_trackers(self, losses, metric_values, batch=None):
    """Feeds each step's values to the epoch-mean trackers and returns their results as the step's logs.

    With `batch`, each value is weighted by the batch's size: `evaluate` then averages over examples (a short
    last batch counts for what it holds), and the tracker updates depend on the data, so a step whose input
    ran out (an evaluation set of unknown length) changes no count.
    """
    values = {**losses, **metric_values}
    weight = None
    if batch is not None:
      weight = tf.cast(tf.shape(tf.nest.flatten(batch)[0])[0], tf.float32)
    for name, tracker in self._trackers.items():
      if name in values:
        tracker.update_state(tf.cast(values[name], tf.float32), sample_weight=weight)
    return self.multi_worker_logs({name: tracker.result() for name, tracker in self._trackers.items()})

  # -- Distribution ---------------------------------------------------------------------------------------
  def build_for_training(self, image_shape=None):
    """Builds the networks and the optimizer's state, inside the model's strategy scope.

    `image_shape` is needed only for a network not built yet that has no `image_size` of its own.

    Keras 3.15 fails a stateful optimizer in a custom step under tf.distribute unless its variables
    exist before fit ("You must feed a value for placeholder tensor", keras-team/keras#23085).
    """
    with self.distribute_strategy.scope():
      if not self.network.built:
        if image_shape is None:
          size = getattr(self.network, "image_size", None)
          if not size:
            raise ValueError(f"{self.network.name} is not built and has no image_size: pass image_shape.")
          image_shape = (None, size, size, 3)
        self.network.build(image_shape)
      self.built = True
      optimizer = getattr(self, "optimizer", None)  # None until compiled (a clone built to compare losses)
      if optimizer is not None and not optimizer.built:
        optimizer.build(self.trainable_for_step())

  def get_config(self):
    config = super().get_config()
    config["network"] = keras.saving.serialize_keras_object(self.network)
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["network"] = keras.saving.deserialize_keras_object(config["network"])
    return cls(**config)


def _unpack(data):
  if isinstance(data, tuple) and len(data) in (2, 3) and not isinstance(data[0], dict):
    return {"image": data[0], "labels": data[1]}
  if isinstance(data, tuple):
    data = data[0]
  return data
