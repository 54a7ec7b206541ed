"""SS-GAN: the rotation batch, losses against NumPy, the rotation head's training and state, config, Mirrored."""

import os
import subprocess
import sys
import textwrap

import keras
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

import model_garden.models.gan  # noqa: F401  (registers the architectures)
from model_garden import models, objectives
from model_garden.objectives.ssgan import SSGAN
from model_garden.objectives.ssl.pretext import rotate_images
from model_garden.training import build_objective

G_SPEC = "sndcgan_generator(image_size=8, ch=2, z_dim=4)"
D_SPEC = "sndcgan_discriminator(image_size=8, ch=2, spectral_norm={sn})"
IMAGES = np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 3)).astype("float32")


def _ssgan(sn=True, compile_=True, **kwargs):
  gan = SSGAN(generator=models.get(G_SPEC), discriminator=models.get(D_SPEC.format(sn=sn)), **kwargs)
  if compile_:
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-2, 0.5), g_optimizer=keras.optimizers.Adam(1e-2, 0.5))
    gan.build_for_training()
  return gan


def _softplus(x):
  return np.logaddexp(0.0, x)


def _rotation_ce(logits, labels):
  probs = np.exp(logits - logits.max(1, keepdims=True))
  probs /= probs.sum(1, keepdims=True)
  return -np.mean(np.log(probs[np.arange(len(labels)), labels] + 1e-10))


def test_rotation_batch_order_labels_and_errors():
  gan = _ssgan(compile_=False, rotated_batch_fraction=1.0)
  assert gan.rotated_examples(8) == 2
  labels = tf.one_hot([0, 1, 2, 3, 4, 5, 6, 7], 8)
  images, image_labels, rotation_labels = gan.rotation_batch(tf.constant(IMAGES), labels, n=2)
  assert images.shape == (14, 8, 8, 3) and image_labels.shape == (14, 8)
  np.testing.assert_array_equal(images[:8], IMAGES)
  # Rotation-major: the last 2 images at 90, then at 180, then at 270 degrees, counter-clockwise.
  expected = np.concatenate([np.stack([np.rot90(x, k) for x in IMAGES[-2:]]) for k in (1, 2, 3)])
  np.testing.assert_array_equal(images[8:], expected)
  by_common, common_labels = rotate_images(tf.constant(IMAGES[-2:]))  # image-major [img0 x4, img1 x4]
  np.testing.assert_array_equal(images[8:], np.asarray(by_common).reshape(2, 4, 8, 8, 3)[:, 1:].transpose(
      1, 0, 2, 3, 4).reshape(6, 8, 8, 3))
  np.testing.assert_array_equal(common_labels[:4], [0, 1, 2, 3])
  np.testing.assert_array_equal(np.argmax(image_labels, 1), [0, 1, 2, 3, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7])
  # The rotation loss covers the last 4n images: n upright (0), then 90 (1), 180 (2), 270 (3).
  np.testing.assert_array_equal(rotation_labels, [0, 0, 1, 1, 2, 2, 3, 3])

  assert _ssgan(compile_=False, rotated_batch_fraction=0.5).rotated_examples(8) == 1
  with pytest.raises(ValueError, match="multiple of 4"):
    _ssgan(compile_=False, rotated_batch_fraction=0.75).rotated_examples(4)
  with pytest.raises(ValueError, match="pass 1 / k"):
    _ssgan(compile_=False, rotated_batch_fraction=4)
  with pytest.raises(ValueError, match="rotation_only"):
    _ssgan(compile_=False, self_supervision="rotation_only", penalty="wgan_gp")
  with pytest.raises(ValueError, match="self_supervision must be one of"):
    _ssgan(compile_=False, self_supervision="rotation")


def test_heads_follow_the_discriminators_kernel_norm():
  assert type(_ssgan(sn=True, compile_=False).rotation_head).__name__ == "SpectralNorm"
  assert isinstance(_ssgan(sn=False, compile_=False).rotation_head, keras.layers.Dense)
  d = models.get("sndcgan_discriminator(image_size=8, ch=2, weight_norm=True)")
  assert type(SSGAN(generator=models.get(G_SPEC), discriminator=d).rotation_head).__name__ == "WeightNorm"


def _expected(gan, real, fake, n):
  """L_D, L_G and logs recomputed in NumPy from D's own logits and pre_logits on the rotation batch."""
  rot = lambda x: np.concatenate([np.stack([np.rot90(i, k) for i in x[-n:]]) for k in (1, 2, 3)])  # noqa: E731
  batch = np.concatenate([real, rot(real), fake, rot(fake)])
  out = gan.discriminator.intermediates(tf.constant(batch), training=False)
  logits = np.asarray(out["logits"])[:, 0]
  kernel, bias = (np.asarray(w) for w in gan.rotation_head.weights)  # a plain Dense: D has no SN here
  rotation_logits = np.asarray(out["pre_logits"]) @ kernel + bias
  b, half = len(real), len(batch) // 2
  d_real, d_fake = logits[:b], logits[half:half + b]
  labels = np.repeat(np.arange(4), n)
  ce_real = _rotation_ce(rotation_logits[half - 4 * n:half], labels)
  ce_fake = _rotation_ce(rotation_logits[-4 * n:], labels)
  accuracy = np.mean(np.argmax(rotation_logits[half - 4 * n:half], 1) == labels)
  d_loss = np.mean(_softplus(-d_real)) + np.mean(_softplus(d_fake)) + 1.0 * ce_real
  g_loss = np.mean(_softplus(-d_fake)) + 0.2 * ce_fake
  return {"d_loss": d_loss, "g_loss": g_loss, "rotation_loss_d": ce_real, "rotation_loss_g": ce_fake,
          "rotation_accuracy_real": accuracy, "d_real": d_real.mean(), "d_fake": d_fake.mean()}


def test_losses_match_numpy_and_the_train_step_uses_them():
  gan = _ssgan(sn=False, rotated_batch_fraction=1.0)  # b = 8, n = 2: the D call sees 2 x (8 + 6) images
  g = gan.generator
  # pylint: disable=protected-access
  fake = g(g.sample_latents(8, gan._step_seed(0, 1)), training=True).numpy()  # the first D step's fakes
  expected = _expected(gan, IMAGES, fake, 2)
  d_terms, g_terms, _ = gan.adversarial_losses(tf.constant(IMAGES), tf.constant(fake), None, None,
                                                training=False)
  for name, value in {**d_terms, **g_terms}.items():
    np.testing.assert_allclose(float(value), expected[name], rtol=1e-5, atol=1e-6, err_msg=name)
  # sndcgan has no batch norm and no SN here, so the D step (training=True) computes the same values.
  logs = gan.train_step({"image": tf.constant(IMAGES)})
  assert set(logs) == {"d_loss", "g_loss", "penalty", "d_real", "d_fake", "rotation_loss_d", "rotation_loss_g",
                       "rotation_accuracy_real"}
  for name in ("d_loss", "rotation_loss_d", "rotation_accuracy_real", "d_real", "d_fake"):
    np.testing.assert_allclose(float(logs[name]), expected[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_rotation_only_drops_the_gan_loss():
  gan = _ssgan(sn=False, self_supervision="rotation_only", rotated_batch_fraction=0.5)
  fake = IMAGES[::-1].copy()
  d_terms, g_terms, _ = gan.adversarial_losses(  # pylint: disable=protected-access
      tf.constant(IMAGES), tf.constant(fake), None, None, training=False)
  expected = _expected(gan, IMAGES, fake, 1)
  np.testing.assert_allclose(float(d_terms["d_loss"]), expected["rotation_loss_d"], rtol=1e-5)
  np.testing.assert_allclose(float(g_terms["g_loss"]), 0.2 * expected["rotation_loss_g"], rtol=1e-5)
  logs = gan.train_step({"image": tf.constant(IMAGES)})
  assert np.isfinite([float(v) for v in logs.values()]).all()


def test_conditional_rotated_copies_keep_their_own_labels():
  """compare_gan's SSGAN gives the rotated fakes the REAL labels; here each copy keeps its image's label."""
  g = models.get("sndcgan_generator(image_size=32, ch=2, z_dim=4, label_classes=3, norm='conditional_batch_norm')")
  d = models.get("resnet_cifar_discriminator(ch=2, label_classes=3, spectral_norm=True)")
  gan = SSGAN(generator=g, discriminator=d, rotated_batch_fraction=0.5)  # b = 8: n = 1
  gan.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam())
  gan.build_for_training()
  rng = np.random.default_rng(1)
  real, fake = (tf.constant(rng.uniform(-1, 1, (8, 32, 32, 3)), tf.float32) for _ in range(2))
  real_labels, fake_labels = tf.one_hot([0] * 8, 3), tf.one_hot([1] * 7 + [2], 3)
  _, _, aux = gan.adversarial_losses(  # pylint: disable=protected-access
      real, fake, real_labels, fake_labels, training=False)
  np.testing.assert_array_equal(np.argmax(aux["real_labels"], 1), [0] * 11)
  np.testing.assert_array_equal(np.argmax(aux["fake_labels"], 1), [1] * 7 + [2] * 4)
  # The discriminator saw them: the rotated fakes' logits are D's on the rotated fakes with label 2.
  logits = np.asarray(aux["outputs"]["logits"])[-3:, 0]
  rotated = np.concatenate([np.rot90(fake[-1:].numpy(), k, axes=(1, 2)) for k in (1, 2, 3)])
  own = np.asarray(d(rotated, labels=tf.one_hot([2] * 3, 3)))[:, 0]
  tiled_real = np.asarray(d(rotated, labels=tf.one_hot([0] * 3, 3)))[:, 0]
  np.testing.assert_allclose(logits, own, rtol=1e-5, atol=1e-6)
  assert not np.allclose(logits, tiled_real, rtol=1e-5, atol=1e-6)
  logs = gan.train_step({"image": real, "label": tf.constant([0, 1, 2, 0, 1, 2, 0, 1])})
  assert np.isfinite([float(v) for v in logs.values()]).all()


def test_head_is_trained_by_the_d_optimizer_and_checkpointed(tmp_path):
  gan = _ssgan(n_disc=2, ema_decay=0.5, penalty="wgan_gp", rotated_batch_fraction=1.0)
  head = gan.rotation_head
  head_vars = {id(v) for v in head.trainable_variables}
  assert len(head_vars) == 2  # kernel and bias (SN's u is not trainable)
  assert head_vars <= {id(v) for v in gan.d_optimizer._trainable_variables}  # pylint: disable=protected-access
  assert not head_vars & {id(v) for v in gan.optimizer._trainable_variables}  # pylint: disable=protected-access
  before = [v.numpy().copy() for v in head.weights]
  with tf.GradientTape() as tape:
    d_terms, _, _ = gan.adversarial_losses(  # pylint: disable=protected-access
        tf.constant(IMAGES[:4]), tf.constant(IMAGES[4:]), None, None, training=True)
  grads = tape.gradient(d_terms["d_loss"], head.trainable_variables)
  assert all(gr is not None and np.abs(gr).sum() > 0 for gr in grads)
  logs = gan.train_step({"image": tf.constant(IMAGES)})  # 2 D steps on 4 images (n = 1), 1 G step
  assert np.isfinite([float(v) for v in logs.values()]).all()
  assert int(gan.d_optimizer.iterations.numpy()) == 2
  assert all(not np.array_equal(b, w.numpy()) for b, w in zip(before, head.weights))  # kernel, bias, u

  path = tf.train.Checkpoint(objective=gan, optimizer=gan.optimizer).save(str(tmp_path / "ckpt"))
  fresh = _ssgan(n_disc=2, ema_decay=0.5, penalty="wgan_gp", rotated_batch_fraction=1.0)
  tf.train.Checkpoint(objective=fresh, optimizer=fresh.optimizer).restore(path).assert_existing_objects_matched()
  for a, b in zip(fresh.rotation_head.weights, head.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  for a, b in zip(fresh.d_optimizer.variables, gan.d_optimizer.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_config_round_trip_and_a_training_config_through_build_objective():
  gan = objectives.get("ssgan(self_supervision='rotation_only', rotated_batch_fraction=0.5, "
                       "weight_rotation_loss_g=0.3)", generator=models.get(G_SPEC),
                       discriminator=models.get(D_SPEC.format(sn=True)))
  assert isinstance(gan, SSGAN)
  clone = SSGAN.from_config(gan.get_config())
  assert (clone.self_supervision, clone.rotated_batch_fraction, clone.weight_rotation_loss_g) == (
      "rotation_only", 0.5, 0.3)
  config = ml_collections.ConfigDict({
      "networks": {"generator": G_SPEC, "discriminator": D_SPEC.format(sn=True)},
      "objective": {"name": "ssgan", "n_disc": 2, "rotated_batch_fraction": 1.0},
      "optimizers": {"generator": {"name": "adam", "b1": 0.5, "lr": 1e-3},
                     "discriminator": {"name": "adam", "b1": 0.5, "lr": 2e-3}},
      "total_steps": 2})
  objective, _ = build_objective(config)  # the trainer's build: networks, objective, optimizers, state
  assert isinstance(objective, SSGAN) and objective.n_disc == 2 and objective.rotation_head.built
  assert float(keras.ops.convert_to_numpy(objective.d_optimizer.learning_rate)) == pytest.approx(2e-3)
  assert np.isfinite(float(objective.train_step({"image": tf.constant(IMAGES)})["rotation_loss_d"]))
  assert int(objective.d_optimizer.iterations.numpy()) == 2


# A conditional generator (sampled fake labels) with SN heads; 8 px so that tracing two replicas stays cheap.
MIRRORED_SCRIPT = textwrap.dedent("""
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})  # a tiny graph: skip grappler
    import keras
    import model_garden.models.gan
    from model_garden import models
    from model_garden.objectives.ssgan import SSGAN
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    rng = np.random.default_rng(0)
    ds = tf.data.Dataset.from_tensor_slices(
        {"image": rng.uniform(-1, 1, (16, 8, 8, 3)).astype("float32"),
         "label": rng.integers(0, 3, 16)}).batch(8, drop_remainder=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    with strategy.scope():
      g = models.get("sndcgan_generator(image_size=8, ch=2, z_dim=4, label_classes=3, "
                     "norm='conditional_batch_norm')")
      d = models.get("sndcgan_discriminator(image_size=8, ch=2, spectral_norm=True)")
      gan = SSGAN(generator=g, discriminator=d, ema_decay=0.9, rotated_batch_fraction=1.0)
      gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
      gan.build_for_training()
    head = gan.rotation_head.trainable_variables[0]
    assert isinstance(head.value, tf.distribute.DistributedValues), type(head.value)  # built in scope
    before = np.asarray(head.value)
    history = gan.fit(ds.with_options(options), epochs=1, steps_per_epoch=1, verbose=0).history
    assert all(np.isfinite(np.asarray(v)).all() for v in history.values()), history
    assert not np.array_equal(before, np.asarray(head.value))
    print("replicas", strategy.num_replicas_in_sync, "steps", int(gan.optimizer.iterations.numpy()),
          sorted(history))
""")


def test_conditional_ssgan_under_mirrored_strategy():
  proc = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT], capture_output=True, text=True, timeout=600,
                        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
  assert "replicas 2 steps 1" in proc.stdout and "rotation_loss_d" in proc.stdout, proc.stdout[-2000:]
