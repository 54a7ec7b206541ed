"""Rotation prediction: the four rotations of every image, 4-way classification (Gidaris et al. 2018)."""

from __future__ import annotations

import keras
import tensorflow as tf

from model_garden.objectives.objective import Objective, register
from model_garden.objectives import common
from model_garden.objectives.ssl import pretext


@keras.saving.register_keras_serializable("model_garden")
class Rotation(Objective):
  """Predicts by how many quarter turns each image was rotated.

  "Unsupervised Representation Learning by Predicting Image Rotations" (Gidaris et al. 2018) in the recipe
  of "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov, Zhai, Beyer 2019,
  google/revisiting-self-supervised `self_supervision/rotation.py`): every image of the batch is fed at 0,
  90, 180 and 270 degrees (so the network sees 4x the batch), labels 0..3, softmax cross-entropy,
  plus the original's coupled L2 weight decay (1e-4 on every conv/dense kernel).

  The 4-way classifier is the network's own head when it has 4 classes (as the original: `get_net(
  num_classes=4)`), or a Dense(4) on `pre_logits` owned by the objective when the network has no head.

  Batch: `{"image": [B, S, S, 3]}` in [-1, 1] (square); other keys are ignored.
  Metrics: `loss`, `xent`, `l2`, `accuracy` (rotation accuracy over the 4B images).

  Args:
    network: an `ImageModel` with `num_classes` 4 or 0.
    weight_decay: coupled L2 coefficient (`weight_decay / 2 * sum(w^2)`).
    decay_regex: variables (by path, re.search) that are decayed.

  Example:
    >>> net = model_garden.models.get("revnet50(width=4, num_classes=4)")
    >>> objective = model_garden.objectives.get("rotation(weight_decay=1e-4)", network=net)
    >>> objective.compile(optimizer=keras.optimizers.SGD(0.025, momentum=0.9)); objective.fit(ds)
  """

  export_kind = "network"  # a pretext-task network: its features matter, not its head
  loss_names = ("loss", "xent", "l2")
  metric_names = ("accuracy",)

  def __init__(self, network, weight_decay: float = 1e-4, decay_regex: str = r"kernel$", **kwargs):
    super().__init__(network, **kwargs)
    num_classes = getattr(network, "num_classes", None)
    if num_classes not in (0, pretext.NUM_ROTATIONS):
      raise ValueError(f"Rotation needs a network with num_classes=4 (its head predicts the rotation) or "
                       f"num_classes=0 (the objective adds a Dense(4) on pre_logits); got {num_classes}.")
    self.weight_decay = float(weight_decay)
    self.decay_regex = decay_regex
    self.rotation_head = (keras.layers.Dense(pretext.NUM_ROTATIONS, name="rotation_head")
                          if num_classes == 0 else None)

  def build_for_training(self, image_shape=None):
    with self.distribute_strategy.scope():
      if self.rotation_head is not None and not self.rotation_head.built:
        image_shape = pretext.image_shape_of(self.network, image_shape)
        if not self.network.built:
          self.network.build(image_shape)
        self.rotation_head.build((None, pretext.output_width(self.network, image_shape)))
    super().build_for_training(image_shape)

  def rotation_logits(self, images, training):
    logits = self.network(images, training=training)
    if self.rotation_head is not None:
      logits = self.rotation_head(logits)
    return tf.cast(logits, tf.float32)

  def compute_losses(self, batch, training):
    rotated, labels = pretext.rotate_images(batch["image"])
    logits = self.rotation_logits(rotated, training)
    xent = tf.reduce_mean(common.sparse_xent(labels, logits))
    l2 = common.l2_penalty(self.trainable_variables, self.weight_decay, self.decay_regex)
    return {"loss": xent + l2, "xent": xent, "l2": l2}, {"logits": logits, "labels": labels}

  def update_metrics(self, batch, outputs):
    return {"accuracy": common.accuracy(outputs["labels"], outputs["logits"])}

  def get_config(self):
    config = super().get_config()
    config.update({"weight_decay": self.weight_decay, "decay_regex": self.decay_regex})
    return config


@register("rotation")
def rotation(*, network, weight_decay: float = 1e-4, decay_regex: str = r"kernel$") -> Rotation:
  """Spec factory: `rotation(weight_decay=1e-4)`; `network` comes from code."""
  return Rotation(network, weight_decay=weight_decay, decay_regex=decay_regex)
