"""Exemplar: several augmented views of each image, a triplet loss that groups them (Dosovitskiy et al.)."""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf

from model_garden.objectives.objective import Objective, register
from model_garden.objectives import common, randomness
from model_garden.objectives.ssl import pretext
from model_garden.objectives.ssl.triplet import pairwise_squared_distances, triplet_semihard_loss
from model_garden.models.ssl.patches import per_image_standardization


@keras.saving.register_keras_serializable("model_garden")
class Exemplar(Objective):
  """Every image is its own class: embeddings of its augmented views are pulled together.

  "Discriminative Unsupervised Feature Learning with Exemplar CNNs" (Dosovitskiy et al. 2014) in the recipe of
  "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov, Zhai, Beyer 2019;
  google/revisiting-self-supervised `self_supervision/exemplar.py` and `config/exemplar/imagenet.sh`):

  1. each image turns grayscale (channel mean) with probability 0.66, all its views together;
  2. `num_views` (8) Inception-style views per image (random box of 5-100% area, aspect 3/4-4/3, resize,
     flip, brightness and saturation jitter: slim's fast-mode Inception preprocessing);
  3. per-view standardisation (`tf.image.per_image_standardization`);
  4. the network maps each view to an embedding (its 1000-way head, or the objective's Dense on
     `pre_logits` when the network has no head), L2-normalised;
  5. the semi-hard triplet loss (margin 0.5) with the image index as the label.

  Distribution: the augmentations are drawn per image of the global batch (`Objective.batch_rows`), so every
  replica draws what a one-device step would; the triplet loss, as the original's on each TPU core, compares
  the views of one replica's images only (its negatives are that replica's other images). A step on R replicas
  therefore equals a one-device step with `grad_accum_steps=R` (each micro-batch one replica's images), not
  the one-device step on the whole batch.

  Known quirk: the released code L2-normalises along axis 0 (the batch axis) instead of each embedding;
  `normalize_axis=0` reproduces it, the default -1 normalises each embedding.

  Batch: `{"image": [B, H, W, 3]}` in [-1, 1]. Metrics: `loss`, `triplet`, `l2`, `retrieval_accuracy`
  (the nearest other view belongs to the same image).

  Args:
    network: an `ImageModel`; its logits are the embedding when `num_classes > 0`.
    num_views: views per image.
    margin: triplet margin.
    view_size: side of the views (default: the network's `image_size`).
    grayscale_probability: chance an image is made grayscale.
    area_range: (min, max) area fraction of the crops.
    standardize: per-view standardisation.
    normalize_axis: -1 (per embedding) or 0 (the released code's batch-axis normalisation).
    embedding_dim: size of the objective's embedding head when the network has none.
    weight_decay, decay_regex: coupled L2 (1e-4 on kernels in the recipe).
    seed: seed of the augmentation draws (checkpointed generator).

  Example:
    >>> net = model_garden.models.get("resnet50_v1(width=3, num_classes=1000)")
    >>> objective = model_garden.objectives.get("exemplar(num_views=8, margin=0.5)", network=net)
  """

  export_kind = "network"  # a pretext-task network: its features matter, not its head
  loss_names = ("loss", "triplet", "l2")
  metric_names = ("retrieval_accuracy",)

  def __init__(self, network, num_views: int = 8, margin: float = 0.5, view_size: int | None = None,
               grayscale_probability: float = 0.66, area_range: Sequence[float] = (0.05, 1.0),
               standardize: bool = True, normalize_axis: int = -1, embedding_dim: int = 1000,
               weight_decay: float = 1e-4, decay_regex: str = r"kernel$", seed: int = 0, **kwargs):
    super().__init__(network, **kwargs)
    if int(num_views) < 2:
      raise ValueError(f"Exemplar needs num_views >= 2 (positives come from views of one image), got "
                       f"{num_views}.")
    if int(normalize_axis) not in (-1, 0, 1):
      raise ValueError(f"normalize_axis must be -1 (per embedding) or 0 (the released code's batch axis), "
                       f"got {normalize_axis}.")
    self.num_views = int(num_views)
    self.margin = float(margin)
    self.view_size = pretext.view_size(view_size, network, "Exemplar")
    self.grayscale_probability = float(grayscale_probability)
    self.area_range = tuple(float(a) for a in area_range)
    self.standardize = bool(standardize)
    self.normalize_axis = int(normalize_axis)
    self.embedding_dim = int(embedding_dim)
    self.weight_decay = float(weight_decay)
    self.decay_regex = decay_regex
    self.seed = int(seed)
    self.seed_generator = keras.random.SeedGenerator(self.seed, name="exemplar_seed")
    self.embedding_head = (keras.layers.Dense(self.embedding_dim, name="embedding_head")
                           if not getattr(network, "num_classes", 0) else None)

  def build_for_training(self, image_shape=None):
    image_shape = pretext.image_shape_of(self.network, image_shape)
    with self.distribute_strategy.scope():
      if not self.network.built:
        self.network.build(image_shape)
      if self.embedding_head is not None and not self.embedding_head.built:
        self.embedding_head.build((None, pretext.output_width(self.network, image_shape)))
    super().build_for_training(image_shape)

  def make_views(self, images):
    """[B, H, W, 3] -> ([B * num_views, S, S, 3] standardised views, int32 image ids)."""
    seed = common.next_seed(self.seed_generator, "exemplar")
    seeds = randomness.split(seed, 2)
    rows = self.batch_rows(tf.shape(images)[0])
    images = pretext.random_grayscale(images, self.grayscale_probability, seeds[0], rows=rows)
    views = pretext.inception_views(images, self.num_views, self.view_size, seeds[1], area_range=self.area_range,
                                    rows=rows)
    if self.standardize:
      views = per_image_standardization(views)
    ids = tf.repeat(tf.range(tf.shape(images)[0]), self.num_views)
    return views, ids

  def embed(self, views, training):
    out = self.network(views, training=training)
    if self.embedding_head is not None:
      out = self.embedding_head(out)
    return tf.math.l2_normalize(tf.cast(out, tf.float32), axis=self.normalize_axis)

  def compute_losses(self, batch, training):
    views, ids = self.make_views(batch["image"])
    embeddings = self.embed(views, training)
    triplet = triplet_semihard_loss(ids, embeddings, self.margin)
    l2 = common.l2_penalty(self.trainable_variables, self.weight_decay, self.decay_regex)
    return {"loss": triplet + l2, "triplet": triplet, "l2": l2}, {"embeddings": embeddings, "ids": ids}

  def update_metrics(self, batch, outputs):
    d = pairwise_squared_distances(outputs["embeddings"])
    d = d + tf.linalg.diag(tf.fill([tf.shape(d)[0]], float("inf")))
    nearest = tf.argmin(d, axis=1, output_type=tf.int32)
    ids = outputs["ids"]
    hit = tf.equal(tf.gather(ids, nearest), ids)
    return {"retrieval_accuracy": tf.reduce_mean(tf.cast(hit, tf.float32))}

  def get_config(self):
    config = super().get_config()
    config.update({"num_views": self.num_views, "margin": self.margin, "view_size": self.view_size,
                   "grayscale_probability": self.grayscale_probability, "area_range": list(self.area_range),
                   "standardize": self.standardize, "normalize_axis": self.normalize_axis,
                   "embedding_dim": self.embedding_dim, "weight_decay": self.weight_decay,
                   "decay_regex": self.decay_regex, "seed": self.seed})
    return config


@register("exemplar")
def exemplar(*, network, num_views: int = 8, margin: float = 0.5, view_size: int | None = None,
             grayscale_probability: float = 0.66, area_range: Sequence[float] = (0.05, 1.0),
             standardize: bool = True, normalize_axis: int = -1, embedding_dim: int = 1000,
             weight_decay: float = 1e-4, decay_regex: str = r"kernel$", seed: int = 0) -> Exemplar:
  """Spec factory: `exemplar(num_views=8, margin=0.5, grayscale_probability=0.66)`."""
  return Exemplar(network, num_views=num_views, margin=margin, view_size=view_size,
                  grayscale_probability=grayscale_probability, area_range=area_range, standardize=standardize,
                  normalize_axis=normalize_axis, embedding_dim=embedding_dim, weight_decay=weight_decay,
                  decay_regex=decay_regex, seed=seed)
