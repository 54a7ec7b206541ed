"""Supervised image classification: softmax or sigmoid cross-entropy, label smoothing, MixUp, L2."""

from __future__ import annotations

import keras
import tensorflow as tf

from model_garden.objectives import common, randomness
from model_garden.objectives.objective import Objective, register

_LOSSES = ("softmax_xent", "sigmoid_xent")


@keras.saving.register_keras_serializable("model_garden")
class Classification(Objective):
  """Supervised classification of `batch["image"]` into `batch["labels"]` (one- or multi-hot).

  The objective of ViT ("An Image is Worth 16x16 Words", Dosovitskiy et al. 2021; big_vision's
  `sigmoid_xent` default for pre-training) and BiT upstream/transfer ("Big Transfer", Kolesnikov et al.
  2020: softmax cross-entropy, MixUp alpha 0.1 on large transfer sets).

  Args:
    network: an `ImageModel` (anything whose call maps images to logits).
    loss: "softmax_xent" or "sigmoid_xent" (summed over classes, as big_vision).
    label_smoothing: mixes the targets with the uniform distribution.
    mixup_alpha: MixUp (Zhang et al. 2018) Beta(alpha, alpha) mixing of the batch with its reversal; 0 off.
    weight_decay: coupled L2 penalty `weight_decay/2 * sum(w^2)` on variables matching `decay_regex`
      (for decoupled decay use the optimizer's `wd`).
    decay_regex: regex (re.search) on variable paths selecting what `weight_decay` applies to.
    seed: seed of the MixUp draws (its generator state is checkpointed, so a resumed run replays them).

  Metrics: `loss`, `xent`, `l2` and `accuracy` (top-1 prediction within the label set, so multi-hot
  labels such as ReaL's count correctly).

  Distribution: a step on R replicas equals the one-device step on the same global batch, except with MixUp:
  its ratio is the step's (the same on every replica) but each replica mixes its own examples with their
  reversal, as big_vision (each device mixes its batch), so the step equals a one-device step with
  `grad_accum_steps=R` instead.

  Example:
    >>> net = model_garden.models.get("resnet_small(num_classes=8)")
    >>> clf = model_garden.objectives.get("classification(label_smoothing=0.1)", network=net)
    >>> clf.compile(optimizer="sgd"); clf.fit(train_ds, epochs=2, steps_per_epoch=100)
  """

  loss_names = ("loss", "xent", "l2")
  metric_names = ("accuracy",)

  def __init__(self, network, loss: str = "softmax_xent", label_smoothing: float = 0.0,
               mixup_alpha: float = 0.0, weight_decay: float = 0.0, decay_regex: str = r"kernel$",
               seed: int = 0, **kwargs):
    if loss not in _LOSSES:
      raise ValueError(f"Unknown classification loss {loss!r}; choose one of {_LOSSES}.")
    super().__init__(network, **kwargs)
    self.loss_type = loss
    self.label_smoothing = float(label_smoothing)
    self.mixup_alpha = float(mixup_alpha)
    self.weight_decay = float(weight_decay)
    self.decay_regex = decay_regex
    self.seed = int(seed)
    self.seed_generator = keras.random.SeedGenerator(seed, name="mixup_seed")

  def _targets(self, labels, images):
    if labels.shape.rank == 1:
      num_classes = getattr(self.network, "num_classes", None) or self.network.compute_output_spec(
          keras.KerasTensor((1,) + tuple(images.shape[1:]))).shape[-1]
      labels = tf.one_hot(tf.cast(labels, tf.int32), num_classes)
    num_classes = labels.shape[-1]
    labels = tf.cast(labels, tf.float32)
    if self.label_smoothing:
      labels = labels * (1.0 - self.label_smoothing) + self.label_smoothing / num_classes
    return labels

  def _mixup(self, images, labels):
    # One ratio per step from the step's seed (the same on every replica and micro-batch); each replica mixes
    # its own rows, as big_vision's pmapped update (one rng for all devices, each mixing its own batch).
    seed = common.next_seed(self.seed_generator, "mixup")
    ratio = randomness.beta((), seed, self.mixup_alpha, self.mixup_alpha)
    ratio = tf.maximum(ratio, 1.0 - ratio)
    images = ratio * images + (1.0 - ratio) * tf.reverse(images, axis=[0])
    labels = ratio * labels + (1.0 - ratio) * tf.reverse(labels, axis=[0])
    return images, labels

  def compute_losses(self, batch, training):
    images = batch["image"]
    labels = self._targets(batch["labels"], images)
    if training and self.mixup_alpha > 0:
      # One forward pass on the mixed batch; the mixing ratio is >= 0.5, so each mixed image is dominated by
      # its original and training accuracy is counted against the original labels.
      images, labels = self._mixup(images, labels)
    logits = tf.cast(self.network(images, training=training), tf.float32)
    if self.loss_type == "softmax_xent":
      per_example = -tf.reduce_sum(labels * tf.nn.log_softmax(logits), axis=-1)
    else:
      per_example = tf.reduce_sum(
          tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits), axis=-1)
    xent = tf.reduce_mean(per_example)
    l2 = common.l2_penalty(self.network.trainable_variables, self.weight_decay, self.decay_regex)
    return {"loss": xent + l2, "xent": xent, "l2": l2}, {"logits": logits}

  def update_metrics(self, batch, outputs):
    logits = outputs["logits"]
    labels = batch["labels"]
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
    if labels.shape.rank == 1:
      correct = tf.equal(predicted, tf.cast(labels, tf.int32))
    else:
      correct = tf.gather(labels, predicted, batch_dims=1) > 0
    return {"accuracy": tf.reduce_mean(tf.cast(correct, tf.float32))}

  def get_config(self):
    config = super().get_config()
    config.update({"loss": self.loss_type, "label_smoothing": self.label_smoothing,
                   "mixup_alpha": self.mixup_alpha, "weight_decay": self.weight_decay,
                   "decay_regex": self.decay_regex, "seed": self.seed})
    return config


@register("classification")
def classification(*, network, loss: str = "softmax_xent", label_smoothing: float = 0.0,
                   mixup_alpha: float = 0.0, weight_decay: float = 0.0, decay_regex: str = r"kernel$",
                   seed: int = 0) -> Classification:
  """Spec factory: `classification(loss='sigmoid_xent', label_smoothing=0.1)`; `network` comes from code."""
  return Classification(network, loss=loss, label_smoothing=label_smoothing, mixup_alpha=mixup_alpha,
                        weight_decay=weight_decay, decay_regex=decay_regex, seed=seed)
