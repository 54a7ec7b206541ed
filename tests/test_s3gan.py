"""S3GAN family: predicted labels in the projection, the class loss on labelled reals, every variant's step."""

import keras
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

import model_garden.models.gan  # noqa: F401  (registers the architectures)
from model_garden import models
from model_garden.objectives.s3gan import S3GAN
from model_garden.training import build_objective

K = 3
G_SPEC = f"sndcgan_generator(image_size=32, ch=2, z_dim=4, label_classes={K}, norm='conditional_batch_norm')"
D_SPEC = f"resnet_cifar_discriminator(ch=2, label_classes={K}, spectral_norm=True)"
RNG = np.random.default_rng(0)
REAL = tf.constant(RNG.uniform(-1, 1, (4, 32, 32, 3)), tf.float32)
FAKE = tf.constant(RNG.uniform(-1, 1, (4, 32, 32, 3)), tf.float32)
LABELS = tf.constant([0, -1, 2, -1])  # -1: unlabelled (an all-zero one-hot row)


def _s3gan(g=None, d=None, **kwargs):
  gan = S3GAN(generator=g or models.get(G_SPEC), discriminator=d or models.get(D_SPEC), **kwargs)
  gan.compile(d_optimizer=keras.optimizers.Adam(1e-2, 0.5), g_optimizer=keras.optimizers.Adam(1e-2, 0.5))
  gan.build_for_training()
  return gan


def test_unlabelled_reals_are_projected_on_the_predictors_labels():
  hard = _s3gan(use_predictor=True, self_supervision="none")
  soft = _s3gan(hard.generator, hard.discriminator, use_predictor=True, use_soft_pred=True,
                self_supervision="none")
  assert type(hard.class_head).__name__ == "SpectralNorm"  # D is spectrally normalised
  labels = tf.one_hot(LABELS, K)
  for gan in (hard, soft):
    out = gan.call_discriminator(REAL, labels, training=False)  # pylint: disable=protected-access
    class_logits = np.asarray(out["class_logits"])
    if gan.use_soft_pred:
      predicted = np.exp(class_logits) / np.exp(class_logits).sum(1, keepdims=True)
    else:
      predicted = np.eye(K)[np.argmax(class_logits, 1)]
    resolved = np.where(np.asarray(labels).sum(1, keepdims=True) > 0.5, labels, predicted)
    np.testing.assert_allclose(out["resolved_labels"], resolved, rtol=1e-6)
    np.testing.assert_array_equal(out["available"], [1, 0, 1, 0])
    # The discriminator's own projection with those labels gives the same logits.
    expected = gan.discriminator(REAL, labels=tf.constant(resolved, tf.float32), training=False)
    np.testing.assert_allclose(out["logits"], expected, rtol=1e-5, atol=1e-6)
  # Without the predictor an unlabelled real gets no projection term (compare_gan).
  plain = _s3gan(hard.generator, hard.discriminator, self_supervision="none")
  out = plain.call_discriminator(REAL, labels, training=False)  # pylint: disable=protected-access
  np.testing.assert_allclose(out["logits"], hard.discriminator(REAL, labels=labels), rtol=1e-5, atol=1e-6)


def test_class_loss_on_labelled_reals_only_and_d_loss_against_numpy():
  gan = _s3gan(use_predictor=True, self_supervision="none", weight_class_loss=0.5)
  real_labels, fake_labels = tf.one_hot(LABELS, K), tf.one_hot([1, 1, 0, 2], K)
  d_terms, g_terms, aux = gan.adversarial_losses(  # pylint: disable=protected-access
      REAL, FAKE, real_labels, fake_labels, training=False)
  class_logits = np.asarray(aux["outputs"]["class_logits"])[:4].astype(np.float64)
  log_probs = class_logits - np.log(np.exp(class_logits).sum(1, keepdims=True))
  class_loss = -np.mean([log_probs[0, 0], log_probs[2, 2]])  # rows 1 and 3 are unlabelled
  np.testing.assert_allclose(float(d_terms["class_loss"]), class_loss, rtol=1e-5)
  np.testing.assert_allclose(float(d_terms["class_accuracy"]),
                             np.mean([np.argmax(class_logits[0]) == 0, np.argmax(class_logits[2]) == 2]))
  assert float(d_terms["labelled_fraction"]) == 0.5
  assert {k: float(v) for k, v in aux["log_weights"].items()} == {"class_loss": 2.0, "class_accuracy": 2.0}
  # The penalty's discriminator calls see the resolved labels of the reals.
  np.testing.assert_allclose(aux["penalty_labels"], aux["outputs"]["resolved_labels"][:4])
  # L_D = non-saturating(D's logits with the resolved labels) + 0.5 * class loss; fakes keep their labels.
  logits = np.asarray(gan.discriminator(tf.concat([REAL, FAKE], 0), training=False, labels=tf.concat(
      [aux["penalty_labels"], fake_labels], 0)))[:, 0]
  softplus = lambda x: np.logaddexp(0.0, x)  # noqa: E731
  d_loss = np.mean(softplus(-logits[:4])) + np.mean(softplus(logits[4:])) + 0.5 * class_loss
  np.testing.assert_allclose(float(d_terms["d_loss"]), d_loss, rtol=1e-5)
  np.testing.assert_allclose(float(g_terms["g_loss"]), np.mean(softplus(-logits[4:])), rtol=1e-5)
  # No labelled real: the class loss is 0 and the head gets no gradient from it.
  with tf.GradientTape() as tape:
    d_terms, _, _ = gan.adversarial_losses(  # pylint: disable=protected-access
        REAL, FAKE, tf.zeros((4, K)), fake_labels, training=False)
  assert float(d_terms["class_loss"]) == 0.0
  grads = tape.gradient(d_terms["class_loss"], gan.class_head.trainable_variables)
  assert all(gr is None or not np.any(gr) for gr in grads)


@pytest.mark.parametrize("kwargs", [
    dict(self_supervision="none"),
    dict(use_predictor=True, self_supervision="none", n_disc=2),
    dict(use_predictor=True, self_supervision="rotation", penalty="wgan_gp", ema_decay=0.5,
         rotated_batch_fraction=0.5, use_soft_pred=True),
], ids=["s2gan", "s2gan_co", "s3gan_co"])
def test_one_train_step_of_every_variant(kwargs, tmp_path):
  gan = _s3gan(**kwargs)
  images = tf.concat([REAL, FAKE], 0)  # 8 reals: one step of 8, or two of 4
  labels = tf.constant([0, -1, 2, -1, 1, 1, -1, 0]) if gan.use_predictor else tf.constant([0, 1, 2, 0, 1, 1, 2, 0])
  heads = [h for h in (gan.rotation_head, gan.class_head) if h is not None]
  assert len(heads) == gan.rotation + gan.use_predictor
  before = [w.numpy().copy() for h in heads for w in h.trainable_weights]
  logs = gan.train_step({"image": images, "label": labels})
  expected = {"d_loss", "g_loss", "penalty", "d_real", "d_fake"}
  if gan.rotation:
    expected |= {"rotation_loss_d", "rotation_loss_g", "rotation_accuracy_real"}
  if gan.use_predictor:
    expected |= {"class_loss", "class_accuracy", "labelled_fraction"}
  assert set(logs) == expected
  assert np.isfinite([float(v) for v in logs.values()]).all()
  assert int(gan.d_optimizer.iterations.numpy()) == gan.n_disc
  after = [w.numpy() for h in heads for w in h.trainable_weights]
  assert all(not np.array_equal(b, a) for b, a in zip(before, after))  # trained by the D optimizer
  if len(heads) < 2:
    return  # save/restore once, with both heads
  path = tf.train.Checkpoint(objective=gan, optimizer=gan.optimizer).save(str(tmp_path / "ckpt"))
  fresh = _s3gan(**kwargs)
  tf.train.Checkpoint(objective=fresh, optimizer=fresh.optimizer).restore(path).assert_existing_objects_matched()
  fresh_heads = (fresh.rotation_head, fresh.class_head)
  for a, b in zip([w for h in fresh_heads for w in h.weights], [w for h in heads for w in h.weights]):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  for a, b in zip(fresh.d_optimizer.variables, gan.d_optimizer.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_spec_config_and_errors():
  config = ml_collections.ConfigDict({
      "networks": {"generator": G_SPEC, "discriminator": D_SPEC},
      "objective": {"name": "s3gan", "use_predictor": True, "self_supervision": "rotation",
                    "rotated_batch_fraction": 0.5},
      "optimizers": {"generator": {"name": "adam", "b1": 0.5, "lr": 1e-3},
                     "discriminator": {"name": "adam", "b1": 0.5, "lr": 1e-3}},
      "total_steps": 2})
  gan, _ = build_objective(config)  # the trainer's build
  assert isinstance(gan, S3GAN) and gan.use_predictor and gan.rotation
  assert gan.class_head.built and gan.rotation_head.built  # built for training, trained by the D optimizer
  clone = S3GAN.from_config(gan.get_config())
  assert (clone.use_predictor, clone.self_supervision, clone.rotated_batch_fraction) == (True, "rotation", 0.5)
  with pytest.raises(ValueError, match="label_classes=K"):
    S3GAN(generator=models.get(G_SPEC), use_predictor=True,
          discriminator=models.get("sndcgan_discriminator(image_size=32, ch=2)"))
  with pytest.raises(ValueError, match="fit_label_distribution"):
    S3GAN(generator=gan.generator, discriminator=gan.discriminator, use_predictor=True, fit_label_distribution=True)
  with pytest.raises(ValueError, match="self_supervision must be one of"):
    S3GAN(generator=gan.generator, discriminator=gan.discriminator, self_supervision="rotation_gan")
