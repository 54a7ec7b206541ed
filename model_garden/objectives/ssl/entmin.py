"""Conditional entropy minimisation (Grandvalet & Bengio 2005) as a semi-supervised objective."""

from __future__ import annotations

import keras
import tensorflow as tf

from model_garden.objectives.objective import Objective, register
from model_garden.objectives import common


def conditional_entropy(logits) -> tf.Tensor:
  """Per-example entropy of softmax(logits): -sum p log p (S4L's `conditional_ent`)."""
  logits = tf.cast(logits, tf.float32)
  return -tf.reduce_sum(tf.nn.softmax(logits) * tf.nn.log_softmax(logits), axis=-1)


@keras.saving.register_keras_serializable("model_garden")
class EntMin(Objective):
  """Cross-entropy on the labelled images plus the entropy of the predictions on the others.

  "Semi-supervised Learning by Entropy Minimization" (Grandvalet & Bengio 2005), the EntMin baseline of
  "S4L: Self-Supervised Semi-Supervised Learning" (Zhai, Oliver, Kolesnikov, Beyer 2019; google-research/s4l
  `semi_supervised/vat.py`, where it is added to VAT with weight `entmin_factor`):

    loss = CE(labelled) + entmin_weight * mean H(p(y|x)) + L2

  The entropy is averaged over every image of the batch (`on_labelled=True`, as S4L's VAT+EntMin, which
  applies it to labelled and unlabelled images) or over the unlabelled ones only.

  Batch (semi-supervised layout, see `model_garden.data.semi_supervised`): `image`, `labels` (int or one-hot;
  ignored where unlabelled) and `labelled` (1/0). Metrics: `loss`, `xent`, `entmin`, `l2`, `accuracy`
  (on the labelled images).

  Distribution: the masked means are per replica, as the original's per TPU core (a distributed step equals the
  one-device step when the replicas hold as many labelled images each).

  Args:
    network: a classifier `ImageModel`.
    entmin_weight: weight of the entropy term.
    on_labelled: also minimise the entropy on labelled images.
    weight_decay, decay_regex: coupled L2 (S4L: 1e-3 at 10% labels).

  Example:
    >>> objective = model_garden.objectives.get("entmin(entmin_weight=1.0)", network=net)
  """

  loss_names = ("loss", "xent", "entmin", "l2")
  metric_names = ("accuracy",)

  def __init__(self, network, entmin_weight: float = 1.0, on_labelled: bool = True,
               weight_decay: float = 1e-3, decay_regex: str = r"kernel$", **kwargs):
    super().__init__(network, **kwargs)
    self.entmin_weight = float(entmin_weight)
    self.on_labelled = bool(on_labelled)
    self.weight_decay = float(weight_decay)
    self.decay_regex = decay_regex

  def compute_losses(self, batch, training):
    images = batch["image"]
    mask = common.labelled_mask(batch, tf.shape(images)[0])
    labels = common.class_indices(batch["labels"])
    logits = tf.cast(self.network(images, training=training), tf.float32)
    xent = common.masked_mean(common.sparse_xent(labels, logits), mask)
    target = tf.ones_like(mask) if self.on_labelled else 1.0 - mask
    entmin = common.masked_mean(conditional_entropy(logits), target)
    l2 = common.l2_penalty(self.trainable_variables, self.weight_decay, self.decay_regex)
    loss = xent + self.entmin_weight * entmin + l2
    return {"loss": loss, "xent": xent, "entmin": entmin, "l2": l2}, {"logits": logits, "labels": labels,
                                                                      "mask": mask}

  def update_metrics(self, batch, outputs):
    return {"accuracy": common.accuracy(outputs["labels"], outputs["logits"], outputs["mask"])}

  def get_config(self):
    config = super().get_config()
    config.update({"entmin_weight": self.entmin_weight, "on_labelled": self.on_labelled,
                   "weight_decay": self.weight_decay, "decay_regex": self.decay_regex})
    return config


@register("entmin")
def entmin(*, network, entmin_weight: float = 1.0, on_labelled: bool = True, weight_decay: float = 1e-3,
           decay_regex: str = r"kernel$") -> EntMin:
  """Spec factory: `entmin(entmin_weight=1.0)`."""
  return EntMin(network, entmin_weight=entmin_weight, on_labelled=on_labelled, weight_decay=weight_decay,
                decay_regex=decay_regex)
