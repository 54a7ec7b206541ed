"""Pseudo-labelling (Lee 2013): a teacher labels the unlabelled images, the student learns from all labels."""

from __future__ import annotations

import keras
import tensorflow as tf

from model_garden.objectives.objective import Objective, register
from model_garden.objectives import common


@keras.saving.register_keras_serializable("model_garden")
class PseudoLabel(Objective):
  """Cross-entropy on every image: true labels where labelled, the teacher's arg-max where not.

  "Pseudo-Label" (Lee 2013), the baseline of "S4L: Self-Supervised Semi-Supervised Learning" (Zhai, Oliver,
  Kolesnikov, Beyer 2019), which labels all of ImageNet with the 10%-supervised model
  (`pseudo_labeling/generate_labels.py`), keeps the true label where one exists, and retrains on
  everything (`config/pseudo_labels.sh`). This objective labels online: a frozen teacher predicts the
  unlabelled images of each batch (inference mode, on the same augmented images the student sees). For the
  offline route of the paper (labels computed once on un-augmented images), write a label file with
  `model_garden.data.semi_supervised.write_pseudo_labels` and train `classification` on
  `semi_supervised(..., pseudo_labels=FILE)`; `tools/moam.py` does that.

    loss = sum_i w_i CE(target_i, student(x_i)) / sum_i w_i + L2,
    w_i = 1 if labelled, else unlabelled_weight * [teacher confidence >= threshold]

  Batch: semi-supervised layout (`image`, `labels`, `labelled`). Metrics: `loss`, `xent`, `l2`, `accuracy`
  (labelled images), `agreement` (student and teacher agree on unlabelled images).

  Distribution: the weighted mean is per replica, as a per-core loss (a distributed step equals the one-device
  step when the replicas' weights sum to the same).

  Args:
    network: the student `ImageModel` (a classifier).
    teacher: a trained classifier with the same classes (frozen here).
    unlabelled_weight: weight of a pseudo-labelled example relative to a labelled one.
    threshold: minimum teacher softmax confidence for a pseudo label to count (0: all).
    weight_decay, decay_regex: coupled L2 (S4L's pseudo-label run: 1e-4).

  Example:
    >>> teacher = keras.saving.load_model("sup10/model.keras")
    >>> objective = model_garden.objectives.get("pseudo_label(threshold=0.5)", network=net, teacher=teacher)
  """

  loss_names = ("loss", "xent", "l2")
  metric_names = ("accuracy", "agreement")

  def __init__(self, network, teacher, unlabelled_weight: float = 1.0, threshold: float = 0.0,
               weight_decay: float = 1e-4, decay_regex: str = r"kernel$", **kwargs):
    if not isinstance(teacher, keras.Model):
      raise TypeError(f"pseudo_label's teacher is a network (the trainer builds it from config.networks.teacher "
                      f"and loads its `init`), got {type(teacher).__name__}.")
    classes = (getattr(network, "num_classes", None), getattr(teacher, "num_classes", None))
    if all(classes) and classes[0] != classes[1]:
      raise ValueError(f"pseudo_label's teacher predicts {classes[1]} classes and the student {classes[0]}: give a "
                       "teacher trained on the same classes (config.networks.teacher.init).")
    super().__init__(network, **kwargs)
    teacher.trainable = False
    self.teacher = teacher
    self.unlabelled_weight = float(unlabelled_weight)
    self.threshold = float(threshold)
    self.weight_decay = float(weight_decay)
    self.decay_regex = decay_regex

  @property
  def networks(self):
    return {"network": self.network, "teacher": self.teacher}

  def compute_losses(self, batch, training):
    images = batch["image"]
    mask = common.labelled_mask(batch, tf.shape(images)[0])
    labels = common.class_indices(batch["labels"])
    teacher_probs = tf.nn.softmax(tf.cast(self.teacher(images, training=False), tf.float32))
    pseudo = tf.argmax(teacher_probs, axis=-1, output_type=tf.int32)
    confident = tf.cast(tf.reduce_max(teacher_probs, axis=-1) >= self.threshold, tf.float32)
    targets = tf.where(mask > 0, labels, pseudo)
    weights = mask + (1.0 - mask) * confident * self.unlabelled_weight
    logits = tf.cast(self.network(images, training=training), tf.float32)
    per_example = common.sparse_xent(targets, logits)
    xent = tf.reduce_sum(weights * per_example) / tf.maximum(tf.reduce_sum(weights), 1e-8)
    l2 = common.l2_penalty(self.network.trainable_variables, self.weight_decay, self.decay_regex)
    outputs = {"logits": logits, "labels": labels, "mask": mask, "pseudo": pseudo}
    return {"loss": xent + l2, "xent": xent, "l2": l2}, outputs

  def update_metrics(self, batch, outputs):
    predicted = tf.argmax(outputs["logits"], -1, output_type=tf.int32)
    agree = tf.cast(tf.equal(predicted, outputs["pseudo"]), tf.float32)
    return {"accuracy": common.accuracy(outputs["labels"], outputs["logits"], outputs["mask"]),
            "agreement": common.masked_mean(agree, 1.0 - outputs["mask"])}

  def get_config(self):
    config = super().get_config()
    config.update({"teacher": keras.saving.serialize_keras_object(self.teacher),
                   "unlabelled_weight": self.unlabelled_weight, "threshold": self.threshold,
                   "weight_decay": self.weight_decay, "decay_regex": self.decay_regex})
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["teacher"] = keras.saving.deserialize_keras_object(config["teacher"])
    return super().from_config(config)


@register("pseudo_label", networks=("network", "teacher"))
def pseudo_label(*, network, teacher, unlabelled_weight: float = 1.0, threshold: float = 0.0,
                 weight_decay: float = 1e-4, decay_regex: str = r"kernel$") -> PseudoLabel:
  """Spec factory: `pseudo_label(threshold=0.0)`; the student (`network`) and the `teacher` are networks."""
  return PseudoLabel(network, teacher, unlabelled_weight=unlabelled_weight, threshold=threshold,
                     weight_decay=weight_decay, decay_regex=decay_regex)
