"""The shared machinery of the patch-based pretext tasks (Jigsaw, Relative Patch Location)."""

from __future__ import annotations

import keras
import tensorflow as tf

from model_garden.models.ssl.patches import (cell_geometry, grid_patches, per_image_standardization,
                                             random_offsets)
from model_garden.objectives.objective import Objective
from model_garden.objectives import common, randomness
from model_garden.objectives.ssl import pretext


@keras.saving.register_keras_serializable("model_garden")
class PatchTask(Objective):
  """Cuts each image into a grid of jittered patches, embeds each with a shared trunk, classifies tuples.

  The patch-model recipe of "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov, Zhai,
  Beyer 2019; google/revisiting-self-supervised `self_supervision/patch_utils.py` and
  `patch_model_preprocess.py`):

  1. each image turns grayscale (channel mean) with probability 0.66;
  2. a `grid` x `grid` grid of cells (`S // grid` px: 85 px on the recipe's 255 px crops), one
     `patch_size` (64) px patch per cell at a random offset in [0, cell - patch_size] (21 px of jitter;
     centred when not training), row-major cell order (`models.ssl.patches`);
  3. per-patch standardisation;
  4. the trunk embeds every patch (its 1000-way head, or the objective's Dense on `pre_logits` when the
     network has no head): [B, cells, E];
  5. for every index tuple of the task (`tuples()`), the embeddings of those cells are concatenated in
     tuple order and fed to AlexNet's fc7-fc8 head: Dense(4096, init N(0, 0.005) truncated, bias 0.1) -
     BatchNorm (momentum 0.997, eps 1e-5) - ReLU - Dropout(0.5) - Dense(num classes, bias 0); softmax
     cross-entropy against the tuple's label.

  Coupled L2: `weight_decay` (1e-4) on the trunk's kernels, `head_weight_decay` (5e-4) on the head's.
  Subclasses define `tuples(training) -> (int32 [m, k] cell indices, int32 [m] labels)`.

  Distribution: the grayscale draws, the jitter and the dropout masks are drawn per image of the global batch
  (`Objective.batch_rows`), and a step's draws shared by all images (Jigsaw's permutation subset) come from the
  step's seed, so every replica draws what a one-device step would. The head's BatchNorm normalises with the
  statistics of a replica's batch, as the original's per TPU core: a step on R replicas equals a one-device
  step with `grad_accum_steps=R` in loss and trained weights (the moving averages then see R micro-batches one
  after another rather than their mean).

  Batch: `{"image": [B, S, S, 3]}` in [-1, 1] with S >= grid * patch_size.
  Metrics: `loss`, `xent`, `l2`, `accuracy` (over the B * m tuples).
  """

  export_kind = "network"  # a pretext-task network: its features matter, not its head
  loss_names = ("loss", "xent", "l2")
  metric_names = ("accuracy",)

  def __init__(self, network, num_task_classes: int, tuple_size: int, grid: int = 3, patch_size: int = 64,
               grayscale_probability: float = 0.66, standardize: bool = True, hidden: int = 4096,
               dropout: float = 0.5, embedding_dim: int = 1000, weight_decay: float = 1e-4,
               head_weight_decay: float = 5e-4, seed: int = 0, **kwargs):
    super().__init__(network, **kwargs)
    self.num_task_classes = int(num_task_classes)
    self.tuple_size = int(tuple_size)
    self.grid = int(grid)
    self.patch_size = int(patch_size)
    self.grayscale_probability = float(grayscale_probability)
    self.standardize = bool(standardize)
    self.hidden = int(hidden)
    self.dropout = float(dropout)
    self.embedding_dim = int(embedding_dim)
    self.weight_decay = float(weight_decay)
    self.head_weight_decay = float(head_weight_decay)
    self.seed = int(seed)
    self.seed_generator = keras.random.SeedGenerator(self.seed, name="patch_seed")
    self.embedding_head = (keras.layers.Dense(self.embedding_dim, name="embedding_head")
                           if not getattr(network, "num_classes", 0) else None)
    init = keras.initializers.TruncatedNormal(stddev=0.005)
    self.fc1 = keras.layers.Dense(self.hidden, kernel_initializer=init,
                                  bias_initializer=keras.initializers.Constant(0.1), name="fc1")
    self.fc1_bn = keras.layers.BatchNormalization(momentum=0.997, epsilon=1e-5, name="fc1_bn")
    self.fc2 = keras.layers.Dense(self.num_task_classes, kernel_initializer=init, name="fc2")

  # -- Subclass API -----------------------------------------------------------------------------------
  def tuples(self, training: bool):
    """(int32 [m, k] cell indices, int32 [m] labels) of the tuples to classify for every image."""
    raise NotImplementedError

  # -- Pieces (tested one by one) -----------------------------------------------------------------------
  def build_for_training(self, image_shape=None):
    channels = image_shape[-1] if image_shape is not None else 3
    patch_shape = (None, self.patch_size, self.patch_size, channels)
    with self.distribute_strategy.scope():
      if not self.network.built:
        self.network.build(patch_shape)
      width = pretext.output_width(self.network, patch_shape)
      if self.embedding_head is not None:
        self.embedding_head.build((None, width))
        width = self.embedding_dim
      self.fc1.build((None, self.tuple_size * width))
      self.fc1_bn.build((None, self.hidden))
      self.fc2.build((None, self.hidden))
    super().build_for_training(patch_shape)

  def make_patches(self, images, training: bool):
    """[B, S, S, 3] -> [B, grid^2, P, P, 3]: grayscale draw, jittered (training) or centred crops."""
    if images.shape[1] is None:
      raise ValueError(f"{type(self).__name__} cuts a fixed grid of cells: the images need a static size; crop "
                       "them in the preprocessing (e.g. random_crop(255)).")
    _, _, jitter = cell_geometry(images.shape[1], self.grid, self.patch_size)
    offsets = None
    if training:
      seeds = randomness.split(common.next_seed(self.seed_generator, "patches"), 2)
      rows = self.batch_rows(tf.shape(images)[0])
      images = pretext.random_grayscale(images, self.grayscale_probability, seeds[0], rows=rows)
      offsets = rows.draw(lambda count: random_offsets(count, self.grid, jitter, seeds[1]))
    patches = grid_patches(images, self.grid, self.patch_size, offsets)
    return per_image_standardization(patches) if self.standardize else patches

  def embed_patches(self, patches, training: bool):
    """[B, cells, P, P, 3] -> [B, cells, E] through the shared trunk."""
    cells = patches.shape[1]
    flat = tf.reshape(patches, [-1] + patches.shape[2:].as_list())
    out = self.network(flat, training=training)
    if self.embedding_head is not None:
      out = self.embedding_head(out)
    return tf.reshape(tf.cast(out, tf.float32), [-1, cells, out.shape[-1]])

  @staticmethod
  def concat_tuples(embeddings, indices):
    """[B, cells, E] and [m, k] -> [B * m, k * E]: for each image and tuple, the cells' embeddings in order."""
    picked = tf.gather(embeddings, indices, axis=1)  # [B, m, k, E]
    shape = tf.shape(picked)
    return tf.reshape(picked, [shape[0] * shape[1], indices.shape[1] * embeddings.shape[-1]])

  def head(self, features, training: bool, rows=None):
    """[N, k * E] tuple features -> [N, classes] logits; `rows`: their rows of the step's global batch (dropout)."""
    x = self.fc1(features)
    x = tf.nn.relu(self.fc1_bn(x, training=training))
    if training and self.dropout:
      x = randomness.dropout(x, self.dropout, common.next_seed(self.seed_generator, "dropout"), rows=rows)
    return tf.cast(self.fc2(x), tf.float32)

  def compute_losses(self, batch, training):
    images = batch["image"]
    patches = self.make_patches(images, training)
    embeddings = self.embed_patches(patches, training)
    indices, tuple_labels = self.tuples(training)
    # concat_tuples is image-major: image i's m tuples are rows i * m ... i * m + m - 1.
    rows = self.batch_rows(tf.shape(images)[0]).repeat(indices.shape[0])
    logits = self.head(self.concat_tuples(embeddings, indices), training, rows=rows)
    labels = tf.tile(tuple_labels, [tf.shape(images)[0]])
    xent = tf.reduce_mean(common.sparse_xent(labels, logits))
    trunk_vars = self.network.trainable_variables
    if self.embedding_head is not None:
      trunk_vars = trunk_vars + self.embedding_head.trainable_variables
    head_vars = self.fc1.trainable_variables + self.fc2.trainable_variables
    l2 = (common.l2_penalty(trunk_vars, self.weight_decay, r"kernel$") +
          common.l2_penalty(head_vars, self.head_weight_decay, r"kernel$"))
    return {"loss": xent + l2, "xent": xent, "l2": l2}, {"logits": logits, "labels": labels}

  def update_metrics(self, batch, outputs):
    return {"accuracy": common.accuracy(outputs["labels"], outputs["logits"])}

  def get_config(self):
    config = super().get_config()
    config.update({"grid": self.grid, "patch_size": self.patch_size,
                   "grayscale_probability": self.grayscale_probability, "standardize": self.standardize,
                   "hidden": self.hidden, "dropout": self.dropout, "embedding_dim": self.embedding_dim,
                   "weight_decay": self.weight_decay, "head_weight_decay": self.head_weight_decay,
                   "seed": self.seed})
    return config
