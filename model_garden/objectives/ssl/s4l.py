"""S4L: a supervised loss on labelled images plus a self-supervised loss on all images (Zhai et al. 2019)."""

from __future__ import annotations

import keras
import tensorflow as tf

from model_garden.objectives.objective import Objective, register
from model_garden.objectives import common
from model_garden.objectives.ssl import pretext as pretext_ops  # `pretext` is the task argument
from model_garden.objectives.ssl.entmin import conditional_entropy
from model_garden.objectives.ssl.triplet import batch_hard_soft_margin
from model_garden.objectives.ssl.vat import vat_loss

PRETEXTS = ("rotation", "exemplar")


@keras.saving.register_keras_serializable("model_garden")
class S4L(Objective):
  """Self-Supervised Semi-Supervised Learning: S4L-Rotation, S4L-Exemplar and MOAM's first step.

  "S4L: Self-Supervised Semi-Supervised Learning" (Zhai, Oliver, Kolesnikov, Beyer 2019;
  google-research/s4l `semi_supervised/rotation.py`, `exemplar.py`, `rotation_vat.py`). One network with
  its class head (the network's own head) and a pretext head on `pre_logits` owned by this objective:

  * `pretext="rotation"`: every image (labelled and unlabelled) is fed in its 4 rotations; a Dense(4) head
    predicts the rotation. The class loss is the cross-entropy on all 4 rotations of the labelled images.
    The rotation loss is the mean of its mean over unlabelled and its mean over labelled images.
  * `pretext="exemplar"`: `num_views` (8) Inception views per image (crop, flip, brightness/saturation
    noise; no standardisation); a Dense(`embedding_dim`=1000) head, L2-normalised, trained with the
    batch-hard soft-margin triplet loss (image index = identity), computed separately on the labelled and
    the unlabelled images (negatives from the same part) and averaged; cross-entropy on every labelled view.

  The total is a weighted sum, which covers S4L (`sup_weight=1, pretext_weight=1`) and MOAM step 1
  (`rotation_vat`: 0.3 CE + 0.4 rotation + 0.3 VAT + 0.3 EntMin, VAT epsilon 32):

    loss = sup_weight * CE + pretext_weight * pretext + vat_weight * VAT + entmin_weight * EntMin + L2

  VAT and EntMin (MOAM) act on the rotated unlabelled images (`vat_on_labelled=False`, as
  `rotation_vat.py`, which ignores its `--apply_vat_to_labeled` flag) or on all images.

  Distribution: the random draws (views, VAT noise) are per example of the global batch (`Objective.batch_rows`),
  so every replica draws what a one-device step would. The loss terms are means over a replica's examples, as
  the original's per TPU core: the rotation loss's two parts (labelled, unlabelled), the masked means and the
  Exemplar triplet loss (negatives from the replica's images) are taken per replica. A step on R replicas equals
  a one-device step with `grad_accum_steps=R`; it equals the one-device step on the whole batch when every
  replica holds labelled and unlabelled images in the same numbers (S4L-Rotation, VAT, MOAM).

  Known quirk: s4l's `exemplar.py` calls `do_triplet(emb, ninstances, nexamples)` with its two count
  arguments swapped, so its identities are runs of B consecutive views rather than one image's 8 views; this
  implementation uses the intended identity (the image index).

  Batch (semi-supervised layout, see `model_garden.data.semi_supervised`): `image` [B, S, S, 3], `labels`
  (int or one-hot; ignored where unlabelled), `labelled` (1/0). Metrics: `loss`, `xent`, `pretext`, `vat`,
  `entmin`, `l2`, `accuracy` (labelled images), `pretext_accuracy` (rotation) or `retrieval_accuracy`.

  Args:
    network: an `ImageModel` with a class head (`num_classes > 0`).
    pretext: "rotation" or "exemplar".
    sup_weight, pretext_weight, vat_weight, entmin_weight: loss weights.
    vat_epsilon, vat_xi, vat_power_iterations, vat_on_labelled: VAT settings (see `vat.VAT`).
    num_views, embedding_dim, view_size, area_range: Exemplar settings (view_size: default the network's
      `image_size`).
    weight_decay, decay_regex: coupled L2 (1e-3 in S4L's 10% recipes, 2e-4 in MOAM).
    seed: seed of the random draws (checkpointed generator).

  Example:
    >>> net = model_garden.models.get("resnet50_v2(width=1, num_classes=1000)")
    >>> objective = model_garden.objectives.get("s4l_rotation()", network=net)
  """

  loss_names = ("loss", "xent", "pretext", "vat", "entmin", "l2")

  def __init__(self, network, pretext: str = "rotation", sup_weight: float = 1.0, pretext_weight: float = 1.0,
               vat_weight: float = 0.0, entmin_weight: float = 0.0, vat_epsilon: float = 32.0,
               vat_xi: float = 1e-6, vat_power_iterations: int = 1, vat_on_labelled: bool = False,
               num_views: int = 8, embedding_dim: int = 1000, view_size: int | None = None,
               area_range=(0.05, 1.0), weight_decay: float = 1e-3, decay_regex: str = r"kernel$",
               seed: int = 0, **kwargs):
    if pretext not in PRETEXTS:
      raise ValueError(f"Unknown S4L pretext {pretext!r}; choose one of {PRETEXTS}.")
    if not getattr(network, "num_classes", 0):
      raise ValueError("S4L trains the network's class head: build the network with num_classes > 0, e.g. "
                       "resnet50_v2(num_classes=1000).")
    self.metric_names = ("accuracy", "pretext_accuracy" if pretext == "rotation" else "retrieval_accuracy")
    super().__init__(network, **kwargs)
    self.pretext = pretext
    self.sup_weight = float(sup_weight)
    self.pretext_weight = float(pretext_weight)
    self.vat_weight = float(vat_weight)
    self.entmin_weight = float(entmin_weight)
    self.vat_epsilon = float(vat_epsilon)
    self.vat_xi = float(vat_xi)
    self.vat_power_iterations = int(vat_power_iterations)
    self.vat_on_labelled = bool(vat_on_labelled)
    self.num_views = int(num_views)
    self.embedding_dim = int(embedding_dim)
    self.view_size = (pretext_ops.view_size(view_size, network, "S4L-Exemplar") if pretext == "exemplar"
                      else None if view_size is None else int(view_size))
    self.area_range = tuple(float(a) for a in area_range)
    self.weight_decay = float(weight_decay)
    self.decay_regex = decay_regex
    self.seed = int(seed)
    self.seed_generator = keras.random.SeedGenerator(self.seed, name="s4l_seed")
    if pretext == "rotation":
      self.pretext_head = keras.layers.Dense(pretext_ops.NUM_ROTATIONS, name="rotation_head")
    else:
      self.pretext_head = keras.layers.Dense(self.embedding_dim, name="embedding_head")

  def build_for_training(self, image_shape=None):
    image_shape = pretext_ops.image_shape_of(self.network, image_shape)
    with self.distribute_strategy.scope():
      if not self.network.built:
        self.network.build(image_shape)
      if not self.pretext_head.built:
        self.pretext_head.build((None, pretext_ops.output_width(self.network, image_shape, "pre_logits")))
    super().build_for_training(image_shape)

  # -- Pieces ---------------------------------------------------------------------------------------------
  def _inputs(self, batch):
    """(network inputs, pretext targets, labelled mask, class labels), all [B * copies]."""
    images = batch["image"]
    batch_size = tf.shape(images)[0]
    rows = self.batch_rows(batch_size)
    mask = common.labelled_mask(batch, batch_size)
    labels = common.class_indices(batch["labels"])
    if self.pretext == "rotation":
      inputs, targets = pretext_ops.rotate_images(images)
      copies = pretext_ops.NUM_ROTATIONS
    else:
      inputs = pretext_ops.inception_views(images, self.num_views, self.view_size,
                                           common.next_seed(self.seed_generator, "views"), area_range=self.area_range,
                                           rows=rows)
      targets = tf.repeat(tf.range(batch_size), self.num_views)
      copies = self.num_views
    return inputs, targets, tf.repeat(mask, copies), tf.repeat(labels, copies)

  @staticmethod
  def _mean_of_parts(values, mask):
    """Mean of (mean over labelled, mean over unlabelled), skipping a part that is empty in this batch."""
    has_labelled = tf.reduce_max(mask)
    has_unlabelled = tf.reduce_max(1.0 - mask)
    total = (common.masked_mean(values, mask) * has_labelled +
             common.masked_mean(values, 1.0 - mask) * has_unlabelled)
    return total / tf.maximum(has_labelled + has_unlabelled, 1.0)

  def compute_losses(self, batch, training):
    inputs, targets, mask, labels = self._inputs(batch)
    copies = pretext_ops.NUM_ROTATIONS if self.pretext == "rotation" else self.num_views
    out = self.network.intermediates(inputs, training=training)
    logits = tf.cast(out["logits"], tf.float32)
    xent = common.masked_mean(common.sparse_xent(labels, logits), mask)
    head_out = tf.cast(self.pretext_head(out["pre_logits"]), tf.float32)
    outputs = {"logits": logits, "labels": labels, "mask": mask, "targets": targets}
    if self.pretext == "rotation":
      pretext = self._mean_of_parts(common.sparse_xent(targets, head_out), mask)
      outputs["pretext_logits"] = head_out
    else:
      embeddings = tf.math.l2_normalize(head_out, axis=-1)
      per_anchor = batch_hard_soft_margin(embeddings, targets, groups=tf.cast(mask, tf.int32))
      pretext = self._mean_of_parts(per_anchor, mask)
      outputs["embeddings"] = embeddings
    target_mask = tf.ones_like(mask) if self.vat_on_labelled else 1.0 - mask
    vat = tf.constant(0.0)
    if self.vat_weight:
      vat, _ = vat_loss(self.network, inputs, logits, target_mask, common.next_seed(self.seed_generator, "vat"),
                        epsilon=self.vat_epsilon, xi=self.vat_xi, power_iterations=self.vat_power_iterations,
                        training=training, rows=self.batch_rows(tf.shape(batch["image"])[0]).repeat(copies))
    entmin = tf.constant(0.0)
    if self.entmin_weight:
      entmin = common.masked_mean(conditional_entropy(logits), target_mask)
    l2 = common.l2_penalty(self.trainable_variables, self.weight_decay, self.decay_regex)
    loss = (self.sup_weight * xent + self.pretext_weight * pretext + self.vat_weight * vat +
            self.entmin_weight * entmin + l2)
    losses = {"loss": loss, "xent": xent, "pretext": pretext, "vat": vat, "entmin": entmin, "l2": l2}
    return losses, outputs

  def update_metrics(self, batch, outputs):
    metrics = {"accuracy": common.accuracy(outputs["labels"], outputs["logits"], outputs["mask"])}
    if self.pretext == "rotation":
      metrics["pretext_accuracy"] = common.accuracy(outputs["targets"], outputs["pretext_logits"])
    else:
      emb = outputs["embeddings"]
      sim = tf.matmul(emb, emb, transpose_b=True) - 3.0 * tf.eye(tf.shape(emb)[0])
      nearest = tf.argmax(sim, axis=1, output_type=tf.int32)
      hit = tf.equal(tf.gather(outputs["targets"], nearest), outputs["targets"])
      metrics["retrieval_accuracy"] = tf.reduce_mean(tf.cast(hit, tf.float32))
    return metrics

  def get_config(self):
    config = super().get_config()
    config.update({"pretext": self.pretext, "sup_weight": self.sup_weight, "pretext_weight": self.pretext_weight,
                   "vat_weight": self.vat_weight, "entmin_weight": self.entmin_weight,
                   "vat_epsilon": self.vat_epsilon, "vat_xi": self.vat_xi,
                   "vat_power_iterations": self.vat_power_iterations, "vat_on_labelled": self.vat_on_labelled,
                   "num_views": self.num_views, "embedding_dim": self.embedding_dim, "view_size": self.view_size,
                   "area_range": list(self.area_range), "weight_decay": self.weight_decay,
                   "decay_regex": self.decay_regex, "seed": self.seed})
    return config


@register("s4l_rotation")
def s4l_rotation(*, network, sup_weight: float = 1.0, rotation_weight: float = 1.0, weight_decay: float = 1e-3,
                 decay_regex: str = r"kernel$", seed: int = 0) -> S4L:
  """Spec factory: S4L-Rotation, `loss = CE + rotation_weight * rotation` (s4l `config/s4l_rotation.sh`)."""
  return S4L(network, pretext="rotation", sup_weight=sup_weight, pretext_weight=rotation_weight,
             weight_decay=weight_decay, decay_regex=decay_regex, seed=seed)


@register("s4l_exemplar")
def s4l_exemplar(*, network, sup_weight: float = 1.0, triplet_weight: float = 1.0, num_views: int = 8,
                 embedding_dim: int = 1000, view_size: int | None = None, area_range=(0.05, 1.0),
                 weight_decay: float = 1e-3, decay_regex: str = r"kernel$", seed: int = 0) -> S4L:
  """Spec factory: S4L-Exemplar, `loss = CE + triplet_weight * batch-hard triplet` (`config/s4l_exemplar.sh`)."""
  return S4L(network, pretext="exemplar", sup_weight=sup_weight, pretext_weight=triplet_weight,
             num_views=num_views, embedding_dim=embedding_dim, view_size=view_size, area_range=area_range,
             weight_decay=weight_decay, decay_regex=decay_regex, seed=seed)


@register("rotation_vat")
def rotation_vat(*, network, sup_weight: float = 0.3, vat_weight: float = 0.3, entmin_weight: float = 0.3,
                 vat_epsilon: float = 32.0, vat_on_labelled: bool = False, weight_decay: float = 2e-4,
                 decay_regex: str = r"kernel$", seed: int = 0) -> S4L:
  """Spec factory: MOAM step 1 (`config/moam_step_1.sh`), `(1 - sup - vat) * rot + sup * CE + vat * VAT +
  entmin * EntMin`."""
  if not (0.0 <= sup_weight <= 1.0 and 0.0 <= vat_weight <= 1.0 and sup_weight + vat_weight <= 1.0):
    raise ValueError(f"rotation_vat weights are a weighted average: sup_weight ({sup_weight}) and vat_weight "
                     f"({vat_weight}) must be in [0, 1] with sum <= 1 (the rest weighs the rotation loss).")
  return S4L(network, pretext="rotation", sup_weight=sup_weight, pretext_weight=1.0 - sup_weight - vat_weight,
             vat_weight=vat_weight, entmin_weight=entmin_weight, vat_epsilon=vat_epsilon,
             vat_on_labelled=vat_on_labelled, weight_decay=weight_decay, decay_regex=decay_regex, seed=seed)
