"""The GAN objective: n_disc discriminator steps and one generator step per batch, two optimizers."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from model_garden.models.gan.standing_statistics import update_standing_statistics
from model_garden.objectives import randomness
from model_garden.objectives.gan_losses import LOSSES, get_loss
from model_garden.objectives.gan_penalties import PENALTIES, get_penalty
from model_garden.objectives.objective import Objective, _unpack, register
from model_garden.optimizers.make import filter_trainable

# Stream ids folded into the step seed, so every random draw of a step has its own stateless seed.
_Z, _LABELS, _PENALTY = 1, 2, 3


@keras.saving.register_keras_serializable("model_garden")
class GAN(Objective):
  """A generative adversarial network trained as compare_gan's `ModularGAN`.

  "A Large-Scale Study on Regularization and Normalization in GANs" (Kurach, Lucic, Zhai, Michalski, Gelly
  2019) and "Are GANs Created Equal?" (Lucic et al. 2018). One `fit` step takes a batch of
  `n_disc * b` real images (and labels) and runs:

  1. `n_disc` discriminator steps, step i on the i-th slice of b real images and b fresh samples of the
     generator (generated outside the discriminator's tape, `training=True` as compare_gan, so the
     generator's batch-norm averages follow): ONE discriminator call on concat(real, fake), so batch norm in
     D sees both; D loss = loss_fn(...)[0] + penalty_weight * penalty; update with `d_optimizer`.
  2. one generator step on b fresh samples: again one D call on concat(real of the last slice, fake); G
     loss = loss_fn(...)[1]; update with `g_optimizer`; then the EMA of the generator's weights.

  compare_gan on TPU splits a batch into n_disc + 1 slices (the G step gets its own reals, which only
  matter through D's batch norm); here the G step reuses the last slice. compare_gan's "training steps"
  count D steps; `g_optimizer.iterations` (the Keras step) counts G steps, `d_optimizer.iterations` D steps.

  Variants (`SSGAN`, `S3GAN`) override public hooks rather than the step: `adversarial_losses` (the losses and
  logs of the one D call of a step), `heads` / `build_heads` (auxiliary layers on D's features, built in
  `build_for_training` and trained by `d_optimizer`) and `compute_penalty`.

  Randomness (z, sampled labels, penalty draws) is stateless, seeded by (seed, G step, D sub-step, stream):
  a run resumed from a checkpoint draws what the uninterrupted run would have drawn. It goes through
  `objectives.randomness`, so a step draws the same numbers with and without XLA.

  Distribution and precision as the base `Objective`: each loss is divided by `num_replicas_in_sync`
  before differentiating (Keras sums gradients over replicas), each optimizer scales its own loss
  (`compile` wraps both in `LossScaleOptimizer` under mixed_float16). Each replica splits its own batch into
  the n_disc slices (as compare_gan on each TPU core), so discriminator step i sees slice i of every replica.
  Draws are made for the global batch of a D (or G) step, R * b rows, of which replica r takes rows r, r + R,
  r + 2R, ... (`step_rows`): a step on R replicas then equals the one-device step on the global batch put in
  the order `replica_batch_order(global_batch, R)` (slice by slice, the replicas' rows interleaved), rotations
  and every per-example draw included. (compare_gan draws z with the examples in its input pipeline, and the
  penalties' draws per core.) Logged: `d_loss` (with the
  weighted penalty), `g_loss`, `penalty` (unweighted), `d_real` and `d_fake` (mean logits), epoch means.

  The EMA generator (`ema_decay > 0`, compare_gan's `g_use_ema`: decay 0 before `ema_start_step`) is a copy
  of the generator whose trainable weights are the moving averages and whose non-trainable ones (batch-norm
  averages, spectral-norm vectors) are copied from the generator; call `update_standing_statistics` on it
  (`sampling_generator(standing_stats_samples=...)`) before sampling, as BigGAN does.

  Args:
    generator: a `GanGenerator` (also accepted as `network`, the base class's name).
    discriminator: a `GanDiscriminator`.
    loss: "non_saturating", "wasserstein", "least_squares" or "hinge" (`gan_losses.LOSSES`).
    penalty: "none", "wgan_gp", "dragan" or "l2" (`gan_penalties.PENALTIES`).
    penalty_weight: compare_gan's lambda.
    n_disc: discriminator steps per generator step (compare_gan's `disc_iters`).
    ema_decay: decay of the generator EMA; 0 disables it (BigGAN: 0.9999).
    ema_start_step: G steps before the EMA starts averaging (compare_gan: 40,000).
    fit_label_distribution: fakes get the real batch's labels instead of uniform ones.
    seed: seed of all random draws.
    image_key, label_key: batch keys.
    standing_stats_samples: samples over which the sampling generator's batch-norm statistics are re-estimated
      before evaluation and export (BigGAN's standing statistics; 0: off).

  Example:
    >>> g = model_garden.models.get("sndcgan_generator(image_size=32)")
    >>> d = model_garden.models.get("sndcgan_discriminator(image_size=32, spectral_norm=True)")
    >>> gan = model_garden.objectives.get("gan(loss='non_saturating')", generator=g, discriminator=d)
    >>> with strategy.scope():
    ...   gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, 0.5), g_optimizer=keras.optimizers.Adam(2e-4, 0.5))
    ...   gan.build_for_training()
    >>> gan.fit(dataset, epochs=10, steps_per_epoch=1000)
  """

  loss_names = ("d_loss", "g_loss", "penalty", "d_real", "d_fake")
  optimizer_names = ("generator", "discriminator")
  export_kind = "generator"
  accumulation_exact = False  # Its own step: n_disc discriminator updates and one generator update per batch.

  def __init__(self, network=None, discriminator=None, generator=None, loss: str = "non_saturating",
               penalty: str = "none", penalty_weight: float = 1.0, n_disc: int = 1, ema_decay: float = 0.0,
               ema_start_step: int = 0, fit_label_distribution: bool = False, seed: int = 0,
               image_key: str = "image", label_key: str = "label", standing_stats_samples: int = 0, **kwargs):
    if generator is not None and network is not None and generator is not network:
      raise ValueError("Pass the generator once: GAN(generator=..., discriminator=...).")
    generator = generator if generator is not None else network
    if generator is None or discriminator is None:
      raise ValueError("GAN needs two networks: GAN(generator=..., discriminator=...).")
    get_loss(loss)
    get_penalty(penalty)
    if int(n_disc) < 1:
      raise ValueError(f"n_disc must be at least 1, got {n_disc}.")
    if not 0.0 <= float(ema_decay) < 1.0:
      raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}.")
    d_classes = getattr(discriminator, "label_classes", 0)
    g_classes = getattr(generator, "label_classes", 0)
    if d_classes and d_classes != g_classes:
      raise ValueError(f"The discriminator projects {d_classes} classes but the generator has "
                       f"label_classes={g_classes}; build both with the same label_classes.")
    super().__init__(generator, **kwargs)
    self.discriminator = discriminator
    self.loss_type, self.penalty_type = loss, penalty
    self.penalty_weight, self.n_disc = float(penalty_weight), int(n_disc)
    self.ema_decay, self.ema_start_step = float(ema_decay), int(ema_start_step)
    self.fit_label_distribution, self.seed = bool(fit_label_distribution), int(seed)
    self.image_key, self.label_key = image_key, label_key
    self.standing_stats_samples = int(standing_stats_samples)
    self.loss_fn, self.penalty_fn = LOSSES[loss], PENALTIES[penalty]
    self.generator_ema = None
    if self.ema_decay:
      config = generator.get_config()
      config["name"] = f"{generator.name}_ema"
      self.generator_ema = type(generator).from_config(config)
    self.d_optimizer = None

  # -- Properties -----------------------------------------------------------------------------------------
  @property
  def generator(self):
    return self.network

  @property
  def g_optimizer(self):
    return self.optimizer

  @property
  def conditional(self) -> bool:
    return self.generator.label_classes > 0

  # -- What the trainer asks of every objective -------------------------------------------------------------
  @property
  def networks(self):
    return {"generator": self.generator, "discriminator": self.discriminator}

  @property
  def nan_keys(self):
    return ("d_loss", "g_loss")

  def evaluated_network(self):
    """The generator to sample from (`sampling_generator` with this GAN's `standing_stats_samples`)."""
    return self.sampling_generator(standing_stats_samples=self.standing_stats_samples)

  def exported_models(self):
    """model.keras: the sampling generator; generator.keras: the trained generator, when they differ."""
    sampler = self.evaluated_network()
    files = {"model.keras": sampler}
    if sampler is not self.generator:
      files["generator.keras"] = self.generator
    return files

  def optimizer_steps(self, name, total_steps):
    """The discriminator's optimizer steps n_disc times per (generator) training step."""
    return total_steps * self.n_disc if name == "discriminator" else total_steps

  def compile_with(self, optimizers, **kwargs):
    if set(optimizers) != set(self.optimizer_names):
      raise ValueError(f"{type(self).__name__} takes the optimizers {self.optimizer_names}; got "
                       f"{sorted(map(str, optimizers))}.")
    self.compile(d_optimizer=optimizers["discriminator"], g_optimizer=optimizers["generator"], **kwargs)

  # -- Keras API -----------------------------------------------------------------------------------------------
  def compile(self, d_optimizer=None, g_optimizer=None, optimizer=None, auto_scale_loss: bool = True, **kwargs):
    """`compile(d_optimizer=..., g_optimizer=...)`: one optimizer per network (build them in strategy scope).

    Under a mixed_float16 policy each is wrapped in `keras.optimizers.LossScaleOptimizer` (unless it is one).
    """
    if optimizer is not None or d_optimizer is None or g_optimizer is None:
      raise ValueError("A GAN has two optimizers: compile(d_optimizer=..., g_optimizer=...), not "
                       "compile(optimizer=...). The trainer builds them from config.optimizers.discriminator and "
                       ".generator.")
    if d_optimizer is g_optimizer:
      raise ValueError("d_optimizer and g_optimizer must be different optimizer instances (an optimizer "
                       "only updates the variables it was built for).")
    d_optimizer, g_optimizer = keras.optimizers.get(d_optimizer), keras.optimizers.get(g_optimizer)
    if auto_scale_loss and keras.mixed_precision.global_policy().name == "mixed_float16":
      wrap = lambda o: o if isinstance(o, keras.optimizers.LossScaleOptimizer) else (  # noqa: E731
          keras.optimizers.LossScaleOptimizer(o))
      d_optimizer, g_optimizer = wrap(d_optimizer), wrap(g_optimizer)
    super().compile(optimizer=g_optimizer, auto_scale_loss=False, **kwargs)
    self.d_optimizer = d_optimizer

  def call(self, inputs, training=False):
    """Generated images: `gan(z)` or `gan({"z": z, "labels": labels})`."""
    labels = None
    if isinstance(inputs, dict):
      labels, inputs = inputs.get("labels"), inputs["z"]
    return self.generator(inputs, labels=labels, training=training)

  def build_for_training(self, image_shape=None):
    """Builds both networks, the EMA generator and both optimizers' state inside the strategy scope.

    Keras 3.15 fails stateful optimizers in a custom step under tf.distribute unless their variables
    exist before fit (keras-team/keras#23085). `image_shape` is ignored (the generator knows its size).
    """
    del image_shape
    g, d = self.generator, self.discriminator
    with self.distribute_strategy.scope():
      g.build()
      d.build((None, g.image_size, g.image_size, g.channels))
      if self.generator_ema is not None and not self.generator_ema.built:
        self.generator_ema.build()
        for target, source in zip(self.generator_ema.weights, g.weights):
          target.assign(source)
      self.build_heads()
      self.built = True
      if self.d_optimizer is not None and not self.d_optimizer.built:
        self.d_optimizer.build(self.discriminator_variables())
      g_optimizer = getattr(self, "optimizer", None)  # None until compiled
      if g_optimizer is not None and not g_optimizer.built:
        g_optimizer.build(filter_trainable(g_optimizer, g.trainable_variables))

  symbolic_build_allowed = False  # Both networks and optimizers are built by build_for_training.

  def ready_for_fit(self) -> bool:
    return self.built and all(o is not None and o.built for o in (self.optimizer, self.d_optimizer))

  # -- Steps ---------------------------------------------------------------------------------------------------
  def _step_seed(self, sub_step, stream):
    seed = tf.constant([self.seed, 0], tf.int64)
    for data in (self.optimizer.iterations, sub_step, stream):
      seed = randomness.fold_in(seed, data)
    return seed

  def step_rows(self, batch_size) -> randomness.BatchRows:
    """This replica's rows of a D (or G) step's global batch: r, r + R, ... of R * `batch_size` (see the class)."""
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    if replicas == 1:
      return randomness.BatchRows.all(batch_size)
    return randomness.BatchRows.strided(context.replica_id_in_sync_group, replicas, batch_size, replicas * batch_size)

  def replica_batch_order(self, global_batch_size: int, replicas: int) -> np.ndarray:
    """The order of a global batch in which a one-device step equals a step on `replicas` replicas.

    Replica r holds rows [r L, (r + 1) L) of the global batch (L = global / replicas) and cuts them into n_disc
    slices of b = L / n_disc; the one-device step's slice i must hold row j of every replica's slice i at
    position j * replicas + r, where its draws (`step_rows`) match. Returns the indices `order` such that the
    one-device step runs on `batch[order]`.
    """
    local = global_batch_size // replicas
    b = local // self.n_disc
    if replicas * local != global_batch_size or self.n_disc * b != local:
      raise ValueError(f"A global batch of {global_batch_size} does not split into {replicas} replicas of n_disc="
                       f"{self.n_disc} equal slices.")
    return np.array([r * local + i * b + j for i in range(self.n_disc) for j in range(b) for r in range(replicas)])

  def sample_latents(self, batch_size, seed, rows=None):
    """z for `batch_size` images from the generator's prior (`generator.sample_latents` with `randomness`)."""
    g = self.generator
    if g.z_distribution == "normal":
      return randomness.normal([batch_size, g.z_dim], seed, rows=rows)
    return randomness.uniform([batch_size, g.z_dim], seed, -1.0, 1.0, rows=rows)

  def _labels(self, batch):
    if not self.conditional:
      return None
    if self.label_key not in batch:
      raise ValueError(f"The generator is conditional (label_classes={self.generator.label_classes}) but the "
                       f"batch has no {self.label_key!r}; keep it in the preprocessing (keep('image', "
                       f"'{self.label_key}')) or set the GAN's label_key.")
    return self.generator.one_hot(batch[self.label_key])

  def _fake_labels(self, real_labels, batch_size, sub_step):
    if not self.conditional:
      return None
    if self.fit_label_distribution:
      return real_labels
    g = self.generator
    labels = randomness.uniform_int([batch_size], self._step_seed(sub_step, _LABELS), 0, g.label_classes,
                                    rows=self.step_rows(batch_size))  # as generator.sample_labels
    return g.one_hot(labels)

  def discriminate(self, real, fake, real_labels, fake_labels, training):
    """One discriminator call on concat(real, fake); returns the (real, fake) logits in float32."""
    images = tf.concat([tf.cast(real, tf.float32), tf.cast(fake, tf.float32)], axis=0)
    labels = None
    if self.discriminator.label_classes:
      labels = tf.concat([real_labels, fake_labels], axis=0)
    logits = tf.cast(self.discriminator(images, labels=labels, training=training), tf.float32)
    return tf.split(logits, 2, axis=0)

  # -- Hooks of the variants (SSGAN, S3GAN) ------------------------------------------------------------------
  def heads(self):
    """Layers the objective owns beside the discriminator, trained by `d_optimizer` (auxiliary heads)."""
    return []

  def build_heads(self):
    """Builds `heads()` (called by `build_for_training` inside the strategy scope)."""

  def discriminator_variables(self):
    """The variables `d_optimizer` trains: the discriminator's and the heads', less the frozen ones."""
    variables = list(self.discriminator.trainable_variables)
    for head in self.heads():
      variables += list(head.trainable_variables)
    return filter_trainable(self.d_optimizer, variables)

  def add_log_trackers(self, names):
    """Adds an epoch-mean tracker per extra logged term (call from a variant's __init__)."""
    for name in names:
      if name not in self._trackers:
        self._trackers[name] = keras.metrics.Mean(name=name)

  def adversarial_losses(self, real, fake, real_labels, fake_labels, training):
    """The losses of one discriminator call on a real and a fake batch (`training` as that call).

    Returns `(d_terms, g_terms, aux)`: d_terms has "d_loss" (without the penalty) and the terms a D step
    logs, g_terms has "g_loss" and the terms the G step logs, aux what else the step needs
    ("penalty_labels": the labels of the penalty's discriminator calls; "log_weights": {term: weight}
    for terms logged as weighted means).
    """
    d_real, d_fake = self.discriminate(real, fake, real_labels, fake_labels, training=training)
    d_loss, g_loss = self.loss_fn(d_real, d_fake)
    d_terms = {"d_loss": d_loss, "d_real": tf.reduce_mean(d_real), "d_fake": tf.reduce_mean(d_fake)}
    return d_terms, {"g_loss": g_loss}, {}

  def compute_penalty(self, real, fake, real_labels, sub_step, aux):
    labels = aux.get("penalty_labels", real_labels) if self.discriminator.label_classes else None
    return tf.cast(self.penalty_fn(self.discriminator, real, fake, labels=labels,
                                   seed=self._step_seed(sub_step, _PENALTY),
                                   rows=self.step_rows(tf.shape(real)[0])), tf.float32)

  def _track(self, values, weights=None):
    weights = weights or {}
    for name, value in values.items():
      if name in self._trackers:
        self._trackers[name].update_state(tf.cast(value, tf.float32), sample_weight=weights.get(name))

  # -- Steps (continued) ---------------------------------------------------------------------------------------
  def _split(self, tensor):
    size = tensor.shape[0]
    if size is not None and size % self.n_disc:
      raise ValueError(f"The per-replica batch ({size}) must be a multiple of n_disc={self.n_disc}: each "
                       "discriminator step takes one slice. Set config.input.batch_size to n_disc x replicas "
                       "x the batch of one step.")
    return tf.split(tensor, self.n_disc, axis=0)

  def train_step(self, data):
    batch = _unpack(data)
    images = batch[self.image_key]
    labels = self._labels(batch)
    replicas = tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, tf.float32)
    g = self.generator
    d_vars = self.discriminator_variables()
    g_vars = filter_trainable(self.optimizer, g.trainable_variables)
    real_slices = self._split(images)
    label_slices = self._split(labels) if labels is not None else [None] * self.n_disc
    for i, (real, real_labels) in enumerate(zip(real_slices, label_slices)):
      batch_size = tf.shape(real)[0]
      fake_labels = self._fake_labels(real_labels, batch_size, i)
      z = self.sample_latents(batch_size, self._step_seed(i, _Z), rows=self.step_rows(batch_size))
      fake = g(z, labels=fake_labels, training=True)
      fake = tf.stop_gradient(fake)
      with tf.GradientTape() as tape:
        d_terms, _, aux = self.adversarial_losses(real, fake, real_labels, fake_labels, training=True)
        penalty = self.compute_penalty(real, fake, real_labels, i, aux)
        d_total = d_terms["d_loss"] + self.penalty_weight * penalty
        scaled = self.d_optimizer.scale_loss(d_total / replicas)
      self.d_optimizer.apply(tape.gradient(scaled, d_vars), d_vars)
      self._track({**d_terms, "d_loss": d_total, "penalty": penalty}, aux.get("log_weights"))

    batch_size = tf.shape(real_slices[-1])[0]
    fake_labels = self._fake_labels(label_slices[-1], batch_size, self.n_disc)
    z = self.sample_latents(batch_size, self._step_seed(self.n_disc, _Z), rows=self.step_rows(batch_size))
    with tf.GradientTape() as tape:
      fake = g(z, labels=fake_labels, training=True)
      _, g_terms, aux = self.adversarial_losses(real_slices[-1], fake, label_slices[-1], fake_labels,
                                                 training=True)
      scaled = self.optimizer.scale_loss(g_terms["g_loss"] / replicas)
    self.optimizer.apply(tape.gradient(scaled, g_vars), g_vars)
    self._track(g_terms, aux.get("log_weights"))
    if self.generator_ema is not None:
      self._update_ema()
    return self._update_trackers({}, {})

  def _update_ema(self):
    step = tf.cast(self.optimizer.iterations, tf.int64)
    decay = tf.where(step >= self.ema_start_step, self.ema_decay, 0.0)
    ema, g = self.generator_ema, self.generator
    for target, source in zip(ema.trainable_weights, g.trainable_weights):
      target.assign(decay * target + (1.0 - decay) * tf.cast(source, target.dtype))
    for target, source in zip(ema.non_trainable_weights, g.non_trainable_weights):
      target.assign(source)

  def compute_losses(self, batch, training: bool):
    """Losses on one batch without updates (`evaluate`): one D call on concat(real, G(z)), no penalty."""
    images = batch[self.image_key]
    labels = self._labels(batch)
    batch_size = tf.shape(images)[0]
    seed = tf.constant([self.seed, -1], tf.int32)
    fake_labels = None
    g = self.generator
    if self.conditional:
      fake_labels = (labels if self.fit_label_distribution
                     else g.one_hot(randomness.uniform_int([batch_size], seed + 1, 0, g.label_classes)))
    fake = g(self.sample_latents(batch_size, seed), labels=fake_labels, training=training)
    d_terms, g_terms, _ = self.adversarial_losses(images, fake, labels, fake_labels, training=training)
    return {**d_terms, **g_terms, "penalty": tf.constant(0.0)}, {}

  # -- Sampling ------------------------------------------------------------------------------------------------
  def sampling_generator(self, standing_stats_samples: int = 0, batch_size: int = 256):
    """The generator to sample from: the EMA one if enabled; with standing statistics recomputed first."""
    generator = self.generator_ema if self.generator_ema is not None else self.generator
    if standing_stats_samples:
      update_standing_statistics(generator, num_samples=standing_stats_samples, batch_size=batch_size,
                                 seed=self.seed)
    return generator

  # -- Config ----------------------------------------------------------------------------------------------------
  def get_config(self):
    config = super().get_config()
    config.update({"discriminator": keras.saving.serialize_keras_object(self.discriminator),
                   "loss": self.loss_type, "penalty": self.penalty_type, "penalty_weight": self.penalty_weight,
                   "n_disc": self.n_disc, "ema_decay": self.ema_decay, "ema_start_step": self.ema_start_step,
                   "fit_label_distribution": self.fit_label_distribution, "seed": self.seed,
                   "image_key": self.image_key, "label_key": self.label_key,
                   "standing_stats_samples": self.standing_stats_samples})
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
    return super().from_config(config)


@register("gan", networks=("generator", "discriminator"))
def gan(*, generator, discriminator, loss: str = "non_saturating", penalty: str = "none",
        penalty_weight: float = 1.0, n_disc: int = 1, ema_decay: float = 0.0, ema_start_step: int = 0,
        fit_label_distribution: bool = False, seed: int = 0, image_key: str = "image", label_key: str = "label",
        standing_stats_samples: int = 0) -> GAN:
  """Spec factory: `gan(loss='hinge', penalty='wgan_gp', penalty_weight=10.0, n_disc=5)`; networks from code."""
  return GAN(generator=generator, discriminator=discriminator, loss=loss, penalty=penalty,
             penalty_weight=penalty_weight, n_disc=n_disc, ema_decay=ema_decay, ema_start_step=ema_start_step,
             fit_label_distribution=fit_label_distribution, seed=seed, image_key=image_key, label_key=label_key,
             standing_stats_samples=standing_stats_samples)
