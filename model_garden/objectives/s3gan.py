"""S3GAN family: a conditional GAN trained with few labels (a class head on D predicts the missing ones)."""

from __future__ import annotations

import keras
import tensorflow as tf

from model_garden.objectives.objective import register
from model_garden.objectives.ssgan import SSGAN

CLASS_LOGS = ("class_loss", "class_accuracy", "labelled_fraction")


@keras.saving.register_keras_serializable("model_garden")
class S3GAN(SSGAN):
  """compare_gan's `S3GAN`: a projection GAN on partly labelled data, optionally with rotation losses.

  "High-Fidelity Image Generation With Fewer Labels" (Lucic, Tschannen, Ritter, Zhai, Bachem, Gelly, ICML
  2019), `gans/s3gan.py`. Real images come with a label or without one: label -1 (an all-zero one-hot row,
  as `data.semi_supervised` and `onehot(K)` make it; one-hot or soft rows are taken as they are, a row
  summing to more than 0.5 is "labelled"). The discriminator is a projection discriminator (build it with
  `label_classes=K`, as the generator); generated images get uniformly sampled labels.

  * `use_predictor=True` adds a class head, a linear layer to K logits (with bias) on D's `pre_logits`,
    spectrally/weight normalised as D's layers, owned by this objective and trained by `d_optimizer`:
    - trained with softmax cross-entropy on the LABELLED upright reals only (the mean over them, 0 when a
      step has none; compare_gan's `softmax_cross_entropy(weights=is_label_available)`), added to L_D with
      `weight_class_loss`;
    - every image without a label (unlabelled reals and their rotations) is projected on the head's
      prediction, one-hot of the argmax (or the softmax with `use_soft_pred=True`), under stop_gradient.
    Implementation: D is called with all-zero labels (its projection adds nothing) and the objective adds
    `discriminator.project(logits, pre_logits, resolved labels)`, one projection for every row, so the
    discriminator runs once per step as in `GAN`. The penalty's discriminator calls get the same resolved
    labels for the real images.
  * `use_predictor=False`: the plain projection GAN; an unlabelled real (all-zero row) gets no projection
    term, as compare_gan.
  * `self_supervision="rotation"` adds SS-GAN's rotation losses (`SSGAN`: `rotated_batch_fraction`,
    weights 1.0 for D and 0.2 for G); rotated copies keep their own labels (unlabelled ones get their own
    prediction).

  The paper's variants as specs (labels from other tools: relabelled data sources):

    | variant                      | spec                                                    | labels    |
    |------------------------------|---------------------------------------------------------|-----------|
    | S2GAN-CO                     | s3gan(use_predictor=True, self_supervision='none')      | the few   |
    | S3GAN-CO                     | s3gan(use_predictor=True, self_supervision='rotation')  | the few   |
    | S2GAN                        | gan(...) or s3gan(self_supervision='none')              | inferred  |
    | S3GAN                        | s3gan(self_supervision='rotation')                      | inferred  |
    | CLUSTERING                   | gan(...) or s3gan(self_supervision='none')              | clusters  |
    | CLUSTERING(SS)               | s3gan(self_supervision='rotation')                      | clusters  |
    | SINGLE LABEL / RANDOM LABEL  | gan(...) or s3gan(self_supervision='none')              | 0 / random|

  "the few": the labelled fraction, -1 elsewhere (`data.semi_supervised`); "inferred": S2GAN's labels for
  every image, from a classifier on self-supervised (rotation) features trained on the labelled fraction;
  "clusters": k-means on such features. These label sources are data-side tools, not this objective. On
  fully labelled data `s3gan(self_supervision='rotation')` is a conditional `ssgan(...)` (each rotated copy
  keeps its own label in both).

  Differences to compare_gan: compare_gan's S3GAN adds no penalty (`penalty` here is applied as in `GAN`;
  the default "none" matches); `fit_label_distribution=True` is refused with the predictor (fakes would get
  the reals' missing labels); `use_soft_labels` needs no switch (soft rows are taken as they are).

  Logged besides GAN's (and SSGAN's with rotation): `class_loss` and `class_accuracy` (over the labelled
  upright reals; epoch means weighted by their number) and `labelled_fraction` of the reals.

  Distribution: the class loss in L_D is the mean over the labelled reals of the whole global batch (their count
  is all-reduced over replicas), so a distributed step equals the one-device step (see `GAN`) however the few
  labels fall on the replicas; compare_gan averaged each TPU core's own mean.

  Args:
    self_supervision: "none" or "rotation".
    use_predictor: add the class head (needs a projection discriminator).
    use_soft_pred: project unlabelled images on the softmax instead of the one-hot argmax.
    weight_class_loss: weight of the class cross-entropy in L_D (1.0).
    rotated_batch_fraction, weight_rotation_loss_d, weight_rotation_loss_g: see `SSGAN`.
    Others: see `GAN`.

  Example:
    >>> g = model_garden.models.get("biggan_generator(image_size=128, label_classes=1000)")
    >>> d = model_garden.models.get("biggan_discriminator(image_size=128, label_classes=1000)")
    >>> gan = model_garden.objectives.get("s3gan(loss='hinge', n_disc=2, use_predictor=True, "
    ...                                   "self_supervision='rotation', rotated_batch_fraction=0.25)",
    ...                                   generator=g, discriminator=d)
  """

  SELF_SUPERVISION = ("none", "rotation")

  def __init__(self, network=None, discriminator=None, generator=None, self_supervision: str = "rotation",
               use_predictor: bool = False, use_soft_pred: bool = False, weight_class_loss: float = 1.0,
               **kwargs):
    if use_predictor:
      if discriminator is not None and not getattr(discriminator, "label_classes", 0):
        raise ValueError("S3GAN(use_predictor=True) feeds predicted labels to the discriminator's projection; "
                         "build the discriminator with label_classes=K, as the generator (a projection "
                         "discriminator, e.g. resnet_cifar_discriminator(label_classes=10)).")
      if kwargs.get("fit_label_distribution"):
        raise ValueError("S3GAN(use_predictor=True) samples the fakes' labels uniformly: with "
                         "fit_label_distribution=True the fakes would get the reals' labels, -1 for the "
                         "unlabelled ones. Drop fit_label_distribution.")
    super().__init__(network=network, discriminator=discriminator, generator=generator,
                     self_supervision=self_supervision, **kwargs)
    self.use_predictor, self.use_soft_pred = bool(use_predictor), bool(use_soft_pred)
    self.weight_class_loss = float(weight_class_loss)
    self.class_head = None
    if self.use_predictor:
      self.class_head = self.make_head(self.discriminator.label_classes, "class_head")
      self.add_log_trackers(CLASS_LOGS)

  def heads(self):
    return super().heads() + ([self.class_head] if self.class_head is not None else [])

  def call_discriminator(self, images, labels, training):
    if not self.use_predictor:
      return super().call_discriminator(images, labels, training)
    d = self.discriminator
    labels = tf.cast(labels, tf.float32)
    available = tf.cast(tf.reduce_sum(labels, axis=1, keepdims=True) > 0.5, tf.float32)
    out = d(images, labels=tf.zeros_like(labels), training=training, return_endpoints=True)
    pre_logits = out["pre_logits"]
    class_logits = tf.cast(self.class_head(pre_logits, training=training), tf.float32)
    if self.use_soft_pred:
      predicted = tf.nn.softmax(class_logits)
    else:
      predicted = tf.one_hot(tf.argmax(class_logits, axis=1), d.label_classes)
    resolved = tf.stop_gradient(available * labels + (1.0 - available) * predicted)
    logits = tf.cast(d.project(out["logits"], pre_logits, resolved), tf.float32)
    return {"logits": logits, "pre_logits": pre_logits, "class_logits": class_logits,
            "available": available[:, 0], "resolved_labels": resolved}

  def adversarial_losses(self, real, fake, real_labels, fake_labels, training):
    d_terms, g_terms, aux = super().adversarial_losses(real, fake, real_labels, fake_labels, training)
    if not self.use_predictor:
      return d_terms, g_terms, aux
    out, batch_size = aux["outputs"], aux["batch_size"]
    class_logits = tf.split(out["class_logits"], 2, axis=0)[0][:batch_size]
    available = tf.split(out["available"], 2, axis=0)[0][:batch_size]
    labels = tf.cast(real_labels, tf.float32)
    count = tf.reduce_sum(available)
    cross_entropy = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=class_logits)
    class_loss = tf.math.divide_no_nan(tf.reduce_sum(available * cross_entropy), count)
    correct = tf.cast(tf.equal(tf.argmax(class_logits, axis=1), tf.argmax(labels, axis=1)), tf.float32)
    d_terms["d_loss"] += self.weight_class_loss * self._global_class_loss(available * cross_entropy, count,
                                                                          class_loss)
    d_terms.update(class_loss=class_loss,
                   class_accuracy=tf.math.divide_no_nan(tf.reduce_sum(available * correct), count),
                   labelled_fraction=tf.reduce_mean(available))
    aux["log_weights"] = {"class_loss": count, "class_accuracy": count}
    aux["penalty_labels"] = tf.split(out["resolved_labels"], 2, axis=0)[0][:batch_size]
    return d_terms, g_terms, aux

  @staticmethod
  def _global_class_loss(weighted_cross_entropy, count, class_loss):
    """This replica's share of the mean over the global batch's labelled reals (the class loss of one device).

    With R replicas, R * (this replica's sum) / (the labelled count of all replicas): the replicas' losses,
    divided by R and summed as the step does, give the global mean however the labels fall on the replicas.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
      return class_loss
    replicas = context.num_replicas_in_sync
    total = context.all_reduce("sum", count)
    return tf.math.divide_no_nan(replicas * tf.reduce_sum(weighted_cross_entropy), total)

  def get_config(self):
    config = super().get_config()
    config.update({"use_predictor": self.use_predictor, "use_soft_pred": self.use_soft_pred,
                   "weight_class_loss": self.weight_class_loss})
    return config


@register("s3gan", networks=("generator", "discriminator"))
def s3gan(*, generator, discriminator, loss: str = "non_saturating", penalty: str = "none",
          penalty_weight: float = 1.0, n_disc: int = 1, ema_decay: float = 0.0, ema_start_step: int = 0,
          fit_label_distribution: bool = False, seed: int = 0, image_key: str = "image", label_key: str = "label",
          standing_stats_samples: int = 0, self_supervision: str = "rotation", rotated_batch_fraction: float = 1.0,
          weight_rotation_loss_d: float = 1.0, weight_rotation_loss_g: float = 0.2, use_predictor: bool = False,
          use_soft_pred: bool = False, weight_class_loss: float = 1.0) -> S3GAN:
  """Spec factory: `s3gan(use_predictor=True, self_supervision='rotation')` (S3GAN-CO); networks from code."""
  return S3GAN(generator=generator, discriminator=discriminator, loss=loss, penalty=penalty,
               penalty_weight=penalty_weight, n_disc=n_disc, ema_decay=ema_decay, ema_start_step=ema_start_step,
               fit_label_distribution=fit_label_distribution, seed=seed, image_key=image_key,
               label_key=label_key, standing_stats_samples=standing_stats_samples, self_supervision=self_supervision,
               rotated_batch_fraction=rotated_batch_fraction, weight_rotation_loss_d=weight_rotation_loss_d,
               weight_rotation_loss_g=weight_rotation_loss_g, use_predictor=use_predictor,
               use_soft_pred=use_soft_pred, weight_class_loss=weight_class_loss)
