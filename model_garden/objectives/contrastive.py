"""Image-text contrastive training (LiT, CLIP; SigLIP's sigmoid loss) over the global batch."""

from __future__ import annotations

from typing import Optional

import keras
import tensorflow as tf

from model_garden.models.two_towers import make_two_towers
from model_garden.objectives.objective import Objective, register

LOSSES = ("softmax", "sigmoid")


def _replica_context():
  """(context, number of replicas, this replica's index) of the current step."""
  context = tf.distribute.get_replica_context()
  if context is None:  # Cross-replica context: computations here see the whole batch.
    return None, 1, 0
  return context, context.num_replicas_in_sync, context.replica_id_in_sync_group


def gather_global(z, context, num_replicas):
  """All replicas' rows of `z`, concatenated in replica order; differentiable.

  `ReplicaContext.all_gather` back-propagates as an all-reduce (sum) of the cotangent followed by this
  replica's slice, which is jax.lax.all_gather's transpose: every replica's loss sends its gradient to the
  replica that computed the embedding.
  """
  if num_replicas == 1:
    return z
  return context.all_gather(z, axis=0)


def softmax_contrastive(zimg, ztxt, zimg_all, ztxt_all, t, offset):
  """Bidirectional softmax loss of this replica's pairs against the global batch, averaged over its pairs.

  Row i of `zimg` is pair `offset + i` of the global batch. Image-to-text logits are `t * zimg @ ztxt_all^T`
  (the matching text is column offset + i), text-to-image logits `t * ztxt @ zimg_all^T`; the loss is
  0.5 * (cross-entropy i2t + cross-entropy t2i), as big_vision's contrastive trainer (Zhai et al. 2022,
  `_deprecated_contrastive.py::softmax_loss`). The mean over replicas is the global-batch loss.

  Returns:
    (loss, i2t logits, t2i logits, labels).
  """
  labels = offset + tf.range(tf.shape(zimg)[0])
  logits_i2t = t * tf.matmul(zimg, ztxt_all, transpose_b=True)
  logits_t2i = t * tf.matmul(ztxt, zimg_all, transpose_b=True)
  xent_i2t = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits_i2t)
  xent_t2i = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits_t2i)
  loss = 0.5 * (tf.reduce_mean(xent_i2t) + tf.reduce_mean(xent_t2i))
  return loss, logits_i2t, logits_t2i, labels


def sigmoid_contrastive(zimg, ztxt_all, t, b, offset):
  """SigLIP's pairwise sigmoid loss ("Sigmoid Loss for Language Image Pre-Training", Zhai et al. 2023).

  logits = t * zimg @ ztxt_all^T + b; targets +1 on the matching pair, -1 elsewhere; the loss is
  -sum(log_sigmoid(targets * logits)) / (this replica's images), big_vision's `siglip` formula, so the
  mean over replicas is the global-batch loss.
  """
  local = tf.shape(zimg)[0]
  logits = t * tf.matmul(zimg, ztxt_all, transpose_b=True) + b
  labels = offset + tf.range(local)
  targets = 2.0 * tf.one_hot(labels, tf.shape(ztxt_all)[0]) - 1.0
  loss = -tf.reduce_sum(tf.math.log_sigmoid(targets * logits)) / tf.cast(local, tf.float32)
  return loss, logits, labels


@keras.saving.register_keras_serializable("model_garden")
class Contrastive(Objective):
  """Contrastive image-text training of a `TwoTowers` network on `batch["image"]` and `batch["labels"]`.

  The objective of LiT ("LiT: Zero-Shot Transfer with Locked-image text Tuning", Zhai et al. 2022) and of
  CLIP: both towers embed their inputs (L2-normalised), the embeddings are gathered from every replica,
  and each replica's images are scored against all texts of the GLOBAL batch (and its texts against all
  images), so a distributed step sees as many negatives as a one-device step on the same global batch and
  computes the same loss and gradients. The temperature is the network's learned `t` (log of it, init
  log 10). `loss="sigmoid"` is SigLIP's loss (use a network with `bias_init`, e.g. -10).

  Locking a tower ("Lu": image locked) is the optimizer's business: `config.optimizer.frozen = "img/.*"`
  gives the image tower neither gradients nor optimizer state (see `model_garden.optimizers`).

  Metrics: `loss`; `i2t_accuracy` / `t2i_accuracy` (the matching pair scores highest in this replica's rows
  of the global batch), `temperature` (exp t).

  Args:
    network: a `TwoTowers`.
    loss: "softmax" (bidirectional, LiT/CLIP) or "sigmoid" (SigLIP).

  Example:
    >>> image = model_garden.models.get("vit(variant='Ti/16', num_classes=0, image_size=32)")
    >>> text = model_garden.models.get("text_transformer(variant='Ti', vocab_size=256, max_len=16, num_classes=192)")
    >>> objective = model_garden.objectives.get("contrastive", image=image, text=text)
    >>> objective.compile(optimizer=model_garden.optimizers.make(
    ...     {"name": "adam", "lr": 1e-3, "frozen": "img/.*"}, total_steps=1000))
    >>> objective.fit(image_text_batches, epochs=10, steps_per_epoch=100)
  """

  loss_names = ("loss",)
  metric_names = ("i2t_accuracy", "t2i_accuracy", "temperature")
  export_kind = "two_towers"
  accumulation_exact = False  # Every pair of the global batch is a negative: the loss couples the batch.

  def __init__(self, network, loss: str = "softmax", **kwargs):
    if loss not in LOSSES:
      raise ValueError(f"Unknown contrastive loss {loss!r}; choose one of {LOSSES}.")
    if not all(hasattr(network, a) for a in ("forward", "img", "txt", "t")):
      raise TypeError(f"Contrastive needs a two-tower network (models.get('two_towers(...)')), got "
                      f"{type(network).__name__}.")
    super().__init__(network, **kwargs)
    self.loss_type = loss
    if loss == "sigmoid" and getattr(network, "bias_init", None) is None:
      raise ValueError("The sigmoid (SigLIP) loss needs a learned bias: build the network with "
                       "two_towers(..., bias_init=-10.0).")

  def call(self, inputs, training=False):
    return self.network(inputs, training=training)

  def compute_losses(self, batch, training):
    if "labels" not in batch:
      raise KeyError(f"Contrastive needs batch['labels'] (token ids, e.g. from the pp op `tokenize`); the "
                     f"batch has {sorted(batch)}.")
    zimg, ztxt, out = self.network.forward(batch["image"], batch["labels"], training=training)
    t = tf.cast(out["t"][0], tf.float32)
    context, num_replicas, replica = _replica_context()
    offset = tf.cast(replica, tf.int32) * tf.shape(zimg)[0]
    zimg_all = gather_global(zimg, context, num_replicas)
    ztxt_all = gather_global(ztxt, context, num_replicas)
    if self.loss_type == "softmax":
      loss, logits_i2t, logits_t2i, labels = softmax_contrastive(zimg, ztxt, zimg_all, ztxt_all, t, offset)
    else:
      loss, logits_i2t, labels = sigmoid_contrastive(zimg, ztxt_all, t, tf.cast(out["b"][0], tf.float32),
                                                     offset)
      logits_t2i = t * tf.matmul(ztxt, zimg_all, transpose_b=True)
    return {"loss": loss}, {"logits_i2t": logits_i2t, "logits_t2i": logits_t2i, "labels": labels, "t": t}

  def update_metrics(self, batch, outputs):
    def accuracy(logits):
      hit = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), outputs["labels"])
      return tf.reduce_mean(tf.cast(hit, tf.float32))
    return {"i2t_accuracy": accuracy(outputs["logits_i2t"]), "t2i_accuracy": accuracy(outputs["logits_t2i"]),
            "temperature": outputs["t"]}

  @property
  def networks(self):
    return {"image": self.network.img, "text": self.network.txt}

  def build_for_training(self, image_shape=None):
    # The two-tower network builds both towers from their own sizes.
    if not self.network.built:
      self.network.build(image_shape)
    super().build_for_training(image_shape)

  def get_config(self):
    config = super().get_config()
    config["loss"] = self.loss_type
    return config


@register("contrastive", networks=("image", "text"))
def contrastive(*, image: Optional[keras.Model] = None, text: Optional[keras.Model] = None,
                network: Optional[keras.Model] = None, loss: str = "softmax", temperature_init: float = 10.0,
                bias_init: Optional[float] = None) -> Contrastive:
  """Spec factory: `contrastive(loss='softmax')` (LiT) or `contrastive(loss='sigmoid', bias_init=-10.0)` (SigLIP).

  Takes the image and text towers (`image=`, `text=`: the trainer's `config.networks.image` / `.text`) and
  joins them in a `TwoTowers` with a learned temperature (and SigLIP's bias), or an existing `TwoTowers` as
  `network=`.
  """
  if network is None:
    if image is None or text is None:
      raise ValueError("contrastive needs an image and a text tower (image=..., text=...) or a TwoTowers "
                       "(network=...).")
    network = make_two_towers(image, text, temperature_init=temperature_init, bias_init=bias_init)
  elif image is not None or text is not None:
    raise ValueError("Pass the towers (image=..., text=...) or a TwoTowers (network=...), not both.")
  return Contrastive(network, loss=loss)
