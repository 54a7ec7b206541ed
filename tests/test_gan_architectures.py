"""Every GAN architecture builds at its smallest size, trains one step (conditional and not), round-trips."""

import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import model_garden.models.gan  # noqa: F401  (registers the architectures)
from model_garden import models
from model_garden.models.gan import ops as gan_ops
from model_garden.objectives.gan import GAN

# (generator spec, discriminator spec): small widths, init "normal" (orthogonal init is slow to draw).
ARCHITECTURES = {
    "dcgan": ("dcgan_generator(image_size=16, ch=4, z_dim=8)",
              "dcgan_discriminator(image_size=16, ch=4, norm='batch_norm', spectral_norm=True)"),
    "sndcgan": ("sndcgan_generator(image_size=8, ch=4, z_dim=8, norm='self_modulated_batch_norm')",
                "sndcgan_discriminator(image_size=8, ch=4, weight_norm=True)"),
    "resnet_cifar": ("resnet_cifar_generator(ch=8, z_dim=8, label_classes=3, norm='conditional_batch_norm', "
                     "hierarchical_z=True, embed_y=True, spectral_norm=True)",
                     "resnet_cifar_discriminator(ch=8, label_classes=3, spectral_norm=True)"),
    "resnet_stl": ("resnet_stl_generator(ch=2, z_dim=8)", "resnet_stl_discriminator(ch=2, norm='layer_norm')"),
    "resnet19": ("resnet19_generator(image_size=8, ch=2, z_dim=8)",
                 "resnet19_discriminator(image_size=8, ch=2, norm='batch_norm')"),
    "biggan_deep": ("biggan_deep_generator(image_size=32, ch=8, z_dim=8, initializer='normal')",
                    "biggan_deep_discriminator(image_size=32, ch=8, initializer='normal')"),
}


def _one_step(g, d, loss="non_saturating", penalty="none", n_disc=1, batch=2):
  gan = GAN(generator=g, discriminator=d, loss=loss, penalty=penalty, n_disc=n_disc)
  gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
  gan.build_for_training()
  rng = np.random.default_rng(0)
  size = g.image_size
  batch_data = {"image": tf.constant(rng.uniform(-1, 1, (batch * n_disc, size, size, 3)), tf.float32),
                "label": tf.constant(rng.integers(0, max(g.label_classes, 1), batch * n_disc))}
  before = [v.numpy().copy() for v in g.trainable_weights[:2] + d.trainable_weights[:2]]
  logs = gan.train_step(batch_data)  # eager: one step without tracing
  after = [v.numpy() for v in g.trainable_weights[:2] + d.trainable_weights[:2]]
  assert all(np.isfinite(float(v)) for v in logs.values()), logs
  assert all(not np.array_equal(a, b) for a, b in zip(before, after))
  assert int(gan.d_optimizer.iterations.numpy()) == n_disc and int(gan.optimizer.iterations.numpy()) == 1
  return logs


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_architecture_trains_one_step(arch):
  g_spec, d_spec = ARCHITECTURES[arch]
  g, d = models.get(g_spec), models.get(d_spec)
  z = g.sample_latents(2, 0)
  images = g(z, labels=g.sample_labels(2, 1))
  assert images.shape == (2, g.image_size, g.image_size, 3)
  assert np.all(np.abs(images.numpy()) <= 1.0)
  assert d(images, labels=g.sample_labels(2, 1) if d.label_classes else None).shape == (2, 1)
  assert "pre_logits" in d.endpoint_names()
  for net in (g, d):  # config round trip (unbuilt: building twice more costs seconds per architecture)
    assert type(net).from_config(net.get_config()).get_config() == net.get_config()
  penalty = {"resnet19": "wgan_gp", "sndcgan": "dragan", "dcgan": "l2"}.get(arch, "none")
  loss = {"biggan_deep": "hinge", "resnet_stl": "wasserstein", "sndcgan": "least_squares"}.get(arch, "non_saturating")
  logs = _one_step(g, d, loss=loss, penalty=penalty, n_disc=2 if arch == "dcgan" else 1)
  if penalty != "none":
    assert float(logs["penalty"]) > 0


def test_biggan_128_conditional_reduced_width():
  # BigGAN: conditional (cBN on z chunks + shared embedding, projection D) at 128 px with ch 8.
  g = models.get("biggan_generator(image_size=128, ch=8, label_classes=4, initializer='normal')")
  d = models.get("biggan_discriminator(image_size=128, ch=8, label_classes=4, initializer='normal')")
  # Hierarchical z: 6 chunks of 20 (z_dim 120); cBN conditions on a chunk + the 128-d class embedding.
  assert g.z_dim == 120 and len(g.blocks) == 5 and d.embedding is not None
  assert g.blocks[0].bn1.norm.gamma.layer.kernel.shape == (148, 8 * 16)
  assert sorted(g.attention) == ["3"] and sorted(d.attention) == ["0"]  # after G's B4 and D's B1
  _one_step(g, d, loss="hinge", batch=2)


def test_generator_saves_and_loads():
  g = models.get("sndcgan_generator(image_size=8, ch=2, z_dim=4, label_classes=3, norm='conditional_batch_norm', "
                 "spectral_norm=True)")
  z, labels = g.sample_latents(2, 3), tf.constant([0, 2])
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "g.keras")
    g.save(path)
    loaded = keras.saving.load_model(path)
  np.testing.assert_allclose(loaded(z, labels=labels), g(z, labels=labels), atol=1e-5)


def test_discriminator_passes_the_model_checks():
  from model_garden.testing import run_model_checks  # pylint: disable=g-import-not-at-top
  run_model_checks("sndcgan_discriminator(image_size=8, ch=2, spectral_norm=True)", image_size=8, export=False)


def test_unpool_inserts_zeros_like_compare_gan():
  x = tf.reshape(tf.range(1, 5, dtype=tf.float32), [1, 2, 2, 1])
  out = gan_ops.unpool(x)[0, :, :, 0].numpy()
  np.testing.assert_array_equal(out, [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])


def test_bad_arguments_are_named():
  with pytest.raises(ValueError, match="multiple of 16"):
    models.get("dcgan_generator(image_size=40)")
  with pytest.raises(ValueError, match="32x32"):
    models.get("resnet_cifar_generator(image_size=64)")
  with pytest.raises(ValueError, match="label_classes"):
    models.get("sndcgan_generator(image_size=8, ch=2)")(tf.zeros([1, 128]), labels=tf.constant([1]))
  with pytest.raises(ValueError, match="needs labels"):
    models.get("sndcgan_generator(image_size=8, ch=2, z_dim=4, label_classes=3, "
               "norm='conditional_batch_norm')")(tf.zeros([1, 4]))
  with pytest.raises(ValueError, match="multiple of 4"):
    models.get("biggan_generator(image_size=32, z_dim=10, ch=8)")
  with pytest.raises(ValueError, match="not both"):
    models.get("sndcgan_discriminator(image_size=8, spectral_norm=True, weight_norm=True)")
