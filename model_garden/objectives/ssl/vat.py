"""Virtual Adversarial Training (Miyato et al. 2018) as in S4L, with conditional entropy minimisation."""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from model_garden.layers.symbolic import all_layers

from model_garden.objectives.objective import Objective, register
from model_garden.objectives import common, randomness
from model_garden.objectives.ssl.entmin import conditional_entropy


def kl_divergence_from_logits(p_logits, q_logits) -> tf.Tensor:
  """Per-example KL[softmax(p_logits) || softmax(q_logits)] (S4L `vat_utils.kl_divergence_from_logits`)."""
  p_logits = tf.cast(p_logits, tf.float32)
  q_logits = tf.cast(q_logits, tf.float32)
  p = tf.nn.softmax(p_logits)
  return tf.reduce_sum(p * (tf.nn.log_softmax(p_logits) - tf.nn.log_softmax(q_logits)), axis=-1)


def _normalize(v):
  return tf.math.l2_normalize(v, axis=[1, 2, 3], epsilon=1e-12)


def moving_statistics(network) -> list:
  """The moving mean and variance variables of every BatchNormalization layer inside `network`."""
  found = []
  for layer in all_layers(network, include_self=True):
    if isinstance(layer, keras.layers.BatchNormalization) and layer.built:
      found.extend([layer.moving_mean, layer.moving_variance])
  return found


@contextlib.contextmanager
def frozen_batch_norm_statistics(network):
  """Training-mode passes inside this block leave BatchNorm moving averages as they were.

  S4L runs VAT's perturbed passes with BatchNorm momentum 1 ("don't update batch norm stats as we're running
  this on perturbed (corrupted) inputs"): they normalise with the perturbed batch's own statistics but do not
  move the averages. Keras' BatchNormalization has no such switch, so the moving averages are read before the
  block and written back after it; reads and writes of one variable keep program order in a tf.function.
  """
  variables = moving_statistics(network)
  saved = [tf.identity(v.value) for v in variables]
  yield
  for variable, value in zip(variables, saved):
    variable.assign(value)


def virtual_adversarial_perturbation(forward, images, logits, seed, xi: float = 1e-6,
                                     power_iterations: int = 1, rows=None) -> tf.Tensor:
  """The unit direction (per example, L2 over H, W, C) that most increases KL[p(x + r) || p(x)].

  S4L's `virtual_adversarial_perturbation_direction`: start from Gaussian noise, then `power_iterations`
  times set d <- xi * d / ||d||, d <- grad_d mean KL[p(x + d) || p(x)] (a finite-difference Hessian-vector
  product), and return d / ||d||.

  Args:
    forward: images -> logits (run with frozen BatchNorm statistics by the caller).
    images: [B, H, W, C] clean inputs.
    logits: [B, K] clean logits (gradients do not flow into them).
    seed: stateless seed of the initial noise.
    xi: finite-difference step (1e-6).
    power_iterations: power-method iterations (1).
    rows: the images' rows of the step's global batch (`Objective.batch_rows`): the noise is the global
      batch's at those rows.
  """
  logits = tf.stop_gradient(tf.cast(logits, tf.float32))
  d = randomness.normal(tf.shape(images), seed, rows=rows, dtype=images.dtype)
  for _ in range(int(power_iterations)):
    d = xi * _normalize(d)
    with tf.GradientTape() as tape:
      tape.watch(d)
      divergence = tf.reduce_mean(kl_divergence_from_logits(forward(images + d), logits))
    d = tf.stop_gradient(tape.gradient(divergence, d))
  return _normalize(d)


def vat_loss(network, images, logits, mask, seed, *, epsilon: float, xi: float = 1e-6,
             power_iterations: int = 1, training: bool = True, rows=None):
  """(mean over `mask` of KL[p(x + r) || stopgrad p(x)], r) with ||r|| = `epsilon` per example.

  `epsilon` is in input units (images in [-1, 1]; S4L: 40 for VAT, 32 in MOAM). The perturbed passes use
  training-mode BatchNorm without updating its moving averages.
  """
  def forward(x):
    return tf.cast(network(x, training=training), tf.float32)

  with frozen_batch_norm_statistics(network):
    direction = virtual_adversarial_perturbation(forward, images, logits, seed, xi=xi,
                                                 power_iterations=power_iterations, rows=rows)
    perturbation = epsilon * direction
    divergence = kl_divergence_from_logits(forward(images + perturbation), tf.stop_gradient(logits))
  return common.masked_mean(divergence, mask), perturbation


@keras.saving.register_keras_serializable("model_garden")
class VAT(Objective):
  """Cross-entropy on labelled images plus virtual adversarial smoothness (and optionally EntMin).

  "Virtual Adversarial Training" (Miyato et al. 2018), the VAT and VAT+EntMin baselines of "S4L:
  Self-Supervised Semi-Supervised Learning" (Zhai, Oliver, Kolesnikov, Beyer 2019; google-research/s4l
  `semi_supervised/vat.py`, `vat_utils.py`, `config/vat.sh`, `config/vat_entmin.sh`):

    loss = CE(labelled, clean) + vat_weight * KL[p(x + r) || stopgrad p(x)] + entmin_weight * H(p(x)) + L2

  with r from one power iteration (xi 1e-6) scaled to L2 norm `epsilon` (40) per image in input units, the
  perturbed passes in training mode but not updating BatchNorm statistics, and VAT and EntMin averaged over
  labelled and unlabelled images (`vat_on_labelled`, S4L's `--apply_vat_to_labeled`) or unlabelled only.

  Batch: semi-supervised layout (`image`, `labels`, `labelled`). Metrics: `loss`, `xent`, `vat`, `entmin`,
  `l2`, `accuracy` (labelled images).

  Distribution: the noise is drawn per image of the global batch (`Objective.batch_rows`), the same on every
  replica layout; the masked means are per replica, as the original's per TPU core (a distributed step equals
  the one-device step when the replicas hold as many labelled images each).

  Args:
    network: a classifier `ImageModel`.
    vat_weight: weight of the VAT term (0.5 in S4L).
    epsilon: perturbation norm in input units (40).
    xi: finite-difference step (1e-6).
    power_iterations: power-method iterations (1).
    entmin_weight: weight of the entropy term (0 for VAT, 1 for VAT+EntMin).
    vat_on_labelled: apply VAT and EntMin to labelled images too.
    weight_decay, decay_regex: coupled L2 (1e-3 in S4L's 10% recipes).
    seed: seed of the VAT noise (checkpointed generator).

  Example:
    >>> objective = model_garden.objectives.get("vat(vat_weight=0.5, epsilon=40.0)", network=net)
  """

  loss_names = ("loss", "xent", "vat", "entmin", "l2")
  metric_names = ("accuracy",)

  def __init__(self, network, vat_weight: float = 0.5, epsilon: float = 40.0, xi: float = 1e-6,
               power_iterations: int = 1, entmin_weight: float = 0.0, vat_on_labelled: bool = True,
               weight_decay: float = 1e-3, decay_regex: str = r"kernel$", seed: int = 0, **kwargs):
    super().__init__(network, **kwargs)
    self.vat_weight = float(vat_weight)
    self.epsilon = float(epsilon)
    self.xi = float(xi)
    self.power_iterations = int(power_iterations)
    self.entmin_weight = float(entmin_weight)
    self.vat_on_labelled = bool(vat_on_labelled)
    self.weight_decay = float(weight_decay)
    self.decay_regex = decay_regex
    self.seed = int(seed)
    self.seed_generator = keras.random.SeedGenerator(self.seed, name="vat_seed")

  def compute_losses(self, batch, training):
    images = batch["image"]
    mask = common.labelled_mask(batch, tf.shape(images)[0])
    labels = common.class_indices(batch["labels"])
    logits = tf.cast(self.network(images, training=training), tf.float32)
    xent = common.masked_mean(common.sparse_xent(labels, logits), mask)
    target = tf.ones_like(mask) if self.vat_on_labelled else 1.0 - mask
    vat = tf.constant(0.0)
    if self.vat_weight:
      vat, _ = vat_loss(self.network, images, logits, target, common.next_seed(self.seed_generator, "vat"),
                        epsilon=self.epsilon, xi=self.xi, power_iterations=self.power_iterations,
                        training=training, rows=self.batch_rows(tf.shape(images)[0]))
    entmin = common.masked_mean(conditional_entropy(logits), target)
    l2 = common.l2_penalty(self.trainable_variables, self.weight_decay, self.decay_regex)
    loss = xent + self.vat_weight * vat + self.entmin_weight * entmin + l2
    losses = {"loss": loss, "xent": xent, "vat": vat, "entmin": entmin, "l2": l2}
    return losses, {"logits": logits, "labels": labels, "mask": mask}

  def update_metrics(self, batch, outputs):
    return {"accuracy": common.accuracy(outputs["labels"], outputs["logits"], outputs["mask"])}

  def get_config(self):
    config = super().get_config()
    config.update({"vat_weight": self.vat_weight, "epsilon": self.epsilon, "xi": self.xi,
                   "power_iterations": self.power_iterations, "entmin_weight": self.entmin_weight,
                   "vat_on_labelled": self.vat_on_labelled, "weight_decay": self.weight_decay,
                   "decay_regex": self.decay_regex, "seed": self.seed})
    return config


@register("vat")
def vat(*, network, vat_weight: float = 0.5, epsilon: float = 40.0, xi: float = 1e-6, power_iterations: int = 1,
        entmin_weight: float = 0.0, vat_on_labelled: bool = True, weight_decay: float = 1e-3,
        decay_regex: str = r"kernel$", seed: int = 0) -> VAT:
  """Spec factory: `vat(vat_weight=0.5, epsilon=40.0)`; VAT+EntMin: add `entmin_weight=1.0`."""
  return VAT(network, vat_weight=vat_weight, epsilon=epsilon, xi=xi, power_iterations=power_iterations,
             entmin_weight=entmin_weight, vat_on_labelled=vat_on_labelled, weight_decay=weight_decay,
             decay_regex=decay_regex, seed=seed)
