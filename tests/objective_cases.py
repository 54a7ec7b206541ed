"""The objective-check cases: one or more per registered objective, tiny networks and a global batch of 8.

Read by `python -m model_garden.testing.objective_checks --cases=tests/objective_cases.py` (which
tests/test_objective_checks.py runs). A case is named after its objective (`<objective>` or
`<objective>:<variant>`). Networks use group or layer norm (or none), never batch norm, so that the replica check
compares like with like. Plain SGD at lr 0.1 keeps an update linear in the gradient and moves the weights by a few
per cent: a wrong gradient (a replica's share off by a factor, other random draws) shows at 1e-3 and more, float
rounding in ill-conditioned gradients (batch norm over 8 examples, triplet distances) below 1e-5.

Semi-supervised batches put as many labelled images on each of the two replicas (rows 0-3 and 4-7): their losses
are per-replica masked means, as the originals' per TPU core. Objectives that are per replica by design (MixUp's
partners, the triplet losses' negatives, the patch head's batch norm) are compared with the one-device step
that accumulates the two replicas' batches (`replica_reference="accumulation"`).
"""

import keras
import numpy as np
import tensorflow as tf

from model_garden.configs import common
from model_garden.objectives import OBJECTIVES, randomness
from model_garden.objectives.ssl import EntMin
from model_garden.testing import ObjectiveCase

BATCH = 8
LR = 0.1
TRUNK = "resnet_small"  # GroupNorm throughout
_rng = np.random.default_rng(0)


def _images(size, batch=BATCH):
  return _rng.uniform(-1, 1, (batch, size, size, 3)).astype("float32")


def _trunk(num_classes, image_size=8, **kwargs):
  return common.network(TRUNK, num_classes=num_classes, widths=(4,), groups=2, image_size=image_size, **kwargs)


def _config(objective, networks, optimizer=None, optimizers=None):
  config = common.base_config(total_steps=10, log_steps=1, checkpoint_steps=10)
  config.networks = networks
  config.objective = objective
  if optimizers:
    config.optimizers = optimizers
  else:
    config.optimizer = optimizer or common.optimizer("sgd", lr=LR)
  return config


def _semi_batch(size=8):
  # Two labelled and two unlabelled images on each replica.
  return {"image": _images(size), "labels": np.array([1, 2, 0, 3, 2, 0, 1, 3]),
          "labelled": np.array([1, 0, 1, 0, 0, 1, 1, 0])}


def _gan_optimizers():
  return dict(generator=common.optimizer("sgd", lr=LR), discriminator=common.optimizer("sgd", lr=LR))


@keras.saving.register_keras_serializable("model_garden_tests")
class PerReplicaNoise(EntMin):
  """A mutant that the replica check must fail: noise drawn for the replica's rows, not the global batch's.

  Each replica draws rows 0..3 of the noise (what `randomness.uniform(..., rows=self.batch_rows(...))` avoids),
  so replica 1's images get other noise than the one-device step gives them.
  """

  def compute_losses(self, batch, training):
    images = batch["image"]
    noise = randomness.uniform(tf.shape(images), tf.constant([1, 2], tf.int64), -0.5, 0.5)
    return super().compute_losses({**batch, "image": images + noise}, training)


def _register_mutants():
  if "mutant_per_replica_noise" not in OBJECTIVES:
    factory = lambda *, network: PerReplicaNoise(network, weight_decay=0.0)  # noqa: E731
    factory.network_names = ("network",)
    OBJECTIVES.register("mutant_per_replica_noise")(factory)


def cases():
  """{name: ObjectiveCase}: every registered objective has at least one (tests/test_objective_checks.py), and
  `mutant:*` cases must fail (the objectives they register exist only in the process that runs the checks)."""
  global _rng
  _rng = np.random.default_rng(0)  # the same batches however often cases() is called
  _register_mutants()
  images8 = _images(8)
  one_hot = np.eye(4, dtype="float32")[_rng.integers(0, 4, BATCH)]
  towers = dict(image=common.network("vit", variant="mu/4", width=8, mlp_dim=16, image_size=8, num_classes=8),
                text=common.network("text_transformer", width=8, depth=1, mlp_dim=16, num_heads=2, vocab_size=20,
                                    max_len=4, num_classes=8))
  text_batch = {"image": images8, "labels": _rng.integers(0, 20, (BATCH, 4)).astype("int32")}
  frozen_image = dict(towers, image=common.network(**{**towers["image"].to_dict(), "frozen": True}))
  patch_trunk = _trunk(0, image_size=3)
  patch_args = dict(patch_size=3, hidden=8, embedding_dim=4)
  # Orthogonal initialisation: compare_gan's N(0, 0.02) leaves channels this narrow with gradients of 1e-7. (Spec
  # strings: in a dict entry, `init` is the trainer's weights source, not the initialiser.)
  g = "sndcgan_generator(image_size={size}, ch=2, z_dim=4, norm='none', initializer='orthogonal'{labels})"
  d = "sndcgan_discriminator(image_size=8, ch=2, spectral_norm=True, initializer='orthogonal')"
  return {
      "classification": ObjectiveCase(
          _config(common.objective("classification", label_smoothing=0.1, weight_decay=1e-3),
                  dict(network=_trunk(4))),
          {"image": images8, "labels": one_hot}),
      "classification:mixup": ObjectiveCase(
          _config(common.objective("classification", loss="sigmoid_xent", mixup_alpha=0.4),
                  dict(network=_trunk(4))),
          {"image": images8, "labels": one_hot}, replica_reference="accumulation"),
      # LiT: the image tower locked ("Lu"), the text tower trained.
      "contrastive": ObjectiveCase(_config(common.objective("contrastive"), frozen_image), text_batch),
      # A key bias adds the same number to every logit of a query: the softmax cancels it (zero gradient).
      "contrastive:siglip": ObjectiveCase(
          _config(common.objective("contrastive", loss="sigmoid", bias_init=-5.0), towers), text_batch,
          may_stay=r"key_bias$"),
      "rotation": ObjectiveCase(_config(common.objective("rotation"), dict(network=_trunk(0))), {"image": images8}),
      "exemplar": ObjectiveCase(
          _config(common.objective("exemplar", num_views=2, embedding_dim=4), dict(network=_trunk(0))),
          {"image": images8}, replica_reference="accumulation"),
      # The embedding head's bias shifts every patch embedding alike; the head's batch norm removes the shift.
      "jigsaw": ObjectiveCase(
          _config(common.objective("jigsaw", num_permutations=6, permutation_subset=3, **patch_args),
                  dict(network=patch_trunk)),
          {"image": _images(12)}, replica_reference="accumulation", may_stay=r"embedding_head/bias$"),
      "relative_patch_location": ObjectiveCase(
          _config(common.objective("relative_patch_location", **patch_args), dict(network=patch_trunk)),
          {"image": _images(12)}, replica_reference="accumulation", may_stay=r"embedding_head/bias$"),
      "s4l_rotation": ObjectiveCase(_config(common.objective("s4l_rotation"), dict(network=_trunk(4))),
                                    _semi_batch()),
      # Triplet distances of 4-d embeddings of an untrained 4-channel trunk are ill-conditioned: XLA's other
      # summation order moves a few weights by 1e-6 to 3e-5 of their scale (measured over fresh batches), a wrong
      # draw or gradient by 1e-3 and more.
      "s4l_exemplar": ObjectiveCase(
          _config(common.objective("s4l_exemplar", num_views=2, embedding_dim=4), dict(network=_trunk(4))),
          _semi_batch(), replica_reference="accumulation", xla_rtol=1e-4),
      "rotation_vat": ObjectiveCase(_config(common.objective("rotation_vat", vat_epsilon=1.0),
                                            dict(network=_trunk(4))), _semi_batch()),
      "vat": ObjectiveCase(_config(common.objective("vat", epsilon=1.0, entmin_weight=1.0, vat_on_labelled=False),
                                   dict(network=_trunk(4))), _semi_batch()),
      "entmin": ObjectiveCase(_config(common.objective("entmin", on_labelled=False), dict(network=_trunk(4))),
                              _semi_batch()),
      # The teacher is a network that is not trained; all images count (threshold 0), so both replicas weigh 3.
      "pseudo_label": ObjectiveCase(
          _config(common.objective("pseudo_label", unlabelled_weight=0.5),
                  dict(network=_trunk(4), teacher=_trunk(4))), _semi_batch()),
      # Two D steps per batch (slices), a conditional generator with sampled labels, WGAN-GP's draws, an EMA.
      "gan": ObjectiveCase(
          _config(common.objective("gan", penalty="wgan_gp", penalty_weight=1.0, n_disc=2, ema_decay=0.9),
                  dict(generator=g.format(size=8, labels=", label_classes=3"), discriminator=d),
                  optimizers=_gan_optimizers()),
          {"image": images8, "label": _rng.integers(0, 3, BATCH)}),
      # The rotated images are the last of each replica's batch; DRAGAN's std is the global batch's.
      "ssgan": ObjectiveCase(
          _config(common.objective("ssgan", penalty="dragan", penalty_weight=1.0),
                  dict(generator=g.format(size=8, labels=""), discriminator=d),
                  optimizers=_gan_optimizers()),
          {"image": images8}),
      # S3GAN-CO: the class head on partly labelled reals (2 labels on replica 0, 1 on replica 1), rotations. Its
      # generator's last bias moves by 1e-6 to 3e-5 of its scale between summation orders (replicas, XLA;
      # measured over fresh batches): a tolerance of 1e-4 (a wrong draw or gradient gives 1e-3 and more).
      "s3gan": ObjectiveCase(
          _config(common.objective("s3gan", use_predictor=True, self_supervision="rotation"),
                  dict(generator=g.format(size=32, labels=", label_classes=3"),
                       discriminator="resnet_cifar_discriminator(ch=2, label_classes=3, spectral_norm=True, "
                                     "initializer='orthogonal')"),
                  optimizers=_gan_optimizers()),
          {"image": _images(32), "label": np.array([0, -1, 2, -1, -1, -1, 1, -1])}, rtol=1e-4, xla_rtol=1e-4),
      "mutant:per_replica_noise": ObjectiveCase(
          _config(common.objective("mutant_per_replica_noise"), dict(network=_trunk(4))), _semi_batch()),
  }
