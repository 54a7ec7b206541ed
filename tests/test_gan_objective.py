"""The GAN objective: two optimizers, EMA, standing statistics, precision, checkpoints, trainer, Mirrored."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import model_garden.models.gan  # noqa: F401  (registers the architectures)
from model_garden import models
from model_garden.configs.gan import sndcgan_mg_shapes
from model_garden.models.gan import update_standing_statistics
from model_garden.objectives.gan import GAN

G_SPEC = "sndcgan_generator(image_size=8, ch=2, z_dim=4)"
D_SPEC = "sndcgan_discriminator(image_size=8, ch=2, spectral_norm=True)"
BATCH = {"image": tf.constant(np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 3)), tf.float32)}


def _gan(**kwargs):
  gan = GAN(generator=models.get(G_SPEC), discriminator=models.get(D_SPEC), **kwargs)
  gan.compile(d_optimizer=keras.optimizers.Adam(1e-2, 0.5), g_optimizer=keras.optimizers.Adam(1e-2, 0.5))
  gan.build_for_training()
  return gan


def test_compile_needs_two_distinct_optimizers():
  gan = GAN(generator=models.get(G_SPEC), discriminator=models.get(D_SPEC))
  with pytest.raises(ValueError, match="d_optimizer=..., g_optimizer="):
    gan.compile(optimizer="adam")
  opt = keras.optimizers.Adam()
  with pytest.raises(ValueError, match="different optimizer instances"):
    gan.compile(d_optimizer=opt, g_optimizer=opt)
  with pytest.raises(ValueError, match="n_disc"):
    GAN(generator=gan.generator, discriminator=gan.discriminator, n_disc=0)


def test_step_counts_ema_and_checkpoint_of_both_optimizers(tmp_path):
  gan = _gan(n_disc=2, ema_decay=0.5)
  w0 = gan.generator.trainable_weights[0].numpy().copy()
  logs = gan.train_step(BATCH)  # 2 D steps on slices of 2, 1 G step
  assert set(logs) == {"d_loss", "g_loss", "penalty", "d_real", "d_fake"}
  assert (int(gan.d_optimizer.iterations.numpy()), int(gan.optimizer.iterations.numpy())) == (2, 1)
  w1 = gan.generator.trainable_weights[0].numpy()
  np.testing.assert_allclose(gan.generator_ema.trainable_weights[0].numpy(), 0.5 * w0 + 0.5 * w1, rtol=1e-6)
  for ema, live in zip(gan.generator_ema.non_trainable_weights, gan.generator.non_trainable_weights):
    np.testing.assert_array_equal(ema.numpy(), live.numpy())  # BN averages copied
  path = tf.train.Checkpoint(objective=gan, optimizer=gan.optimizer).save(str(tmp_path / "ckpt"))
  fresh = _gan(n_disc=2, ema_decay=0.5)
  tf.train.Checkpoint(objective=fresh, optimizer=fresh.optimizer).restore(path).assert_existing_objects_matched()
  assert int(fresh.d_optimizer.iterations.numpy()) == 2
  np.testing.assert_array_equal(fresh.generator_ema.trainable_weights[0].numpy(),
                                gan.generator_ema.trainable_weights[0].numpy())
  # Stateless draws keyed by the restored step: the resumed run draws the latents the original draws next.
  # pylint: disable=protected-access
  z_fresh = fresh.generator.sample_latents(4, fresh._step_seed(0, 1))
  np.testing.assert_array_equal(z_fresh, gan.generator.sample_latents(4, gan._step_seed(0, 1)))
  at_start = _gan()
  assert not np.array_equal(z_fresh, at_start.generator.sample_latents(4, at_start._step_seed(0, 1)))


def test_standing_statistics_average_the_batch_moments():
  g = models.get(G_SPEC)
  assert update_standing_statistics(g, num_samples=12, batch_size=4, seed=3) == 4  # g_bn1..g_bn4
  # g_bn1 normalises the first linear layer's output: check it against the same draws.
  means, variances = [], []
  for step in range(3):
    seed = tf.constant([3, step])
    features = g.fc(g.sample_latents(4, seed)).numpy()
    means.append(features.mean(0))
    variances.append(features.var(0))
  bn = g.norms[0].norm
  np.testing.assert_allclose(bn.moving_mean.numpy(), np.mean(means, 0), rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(bn.moving_variance.numpy(), np.mean(variances, 0), rtol=1e-4, atol=1e-6)


def test_mixed_float16_wraps_both_optimizers():
  keras.mixed_precision.set_global_policy("mixed_float16")
  try:
    gan = _gan(penalty="wgan_gp")
    assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(gan.optimizer, keras.optimizers.LossScaleOptimizer)
    logs = gan.train_step(BATCH)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert gan.generator(gan.generator.sample_latents(2, 0)).dtype == tf.float16
  finally:
    keras.mixed_precision.set_global_policy("float32")


def test_conditional_gan_needs_labels_in_the_batch():
  g = models.get("sndcgan_generator(image_size=8, ch=2, z_dim=4, label_classes=3, norm='conditional_batch_norm')")
  gan = GAN(generator=g, discriminator=models.get(D_SPEC), fit_label_distribution=True)
  gan.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam())
  gan.build_for_training()
  with pytest.raises(ValueError, match="keep\\('image', 'label'\\)"):
    gan.train_step(BATCH)
  logs = gan.train_step({**BATCH, "label": tf.constant([0, 1, 2, 1])})
  assert np.isfinite(float(logs["d_loss"]))


def test_trainer_runs_the_gan_config(tiny_shapes, tmp_path):
  from model_garden.training import ConfigError, build_objective, train  # pylint: disable=g-import-not-at-top
  _, data_dir = tiny_shapes
  config = sndcgan_mg_shapes.get_config("runlocal")
  config.input.data_dir = data_dir
  config.input.data = dict(name="mg_shapes/tiny32", split="train")
  config.networks.generator.update(z_dim=8, ch=2)
  config.networks.discriminator.ch = 2
  config.optimizers.discriminator.lr = 4e-4
  config.objective.ema_decay = 0.5
  config.total_steps = config.checkpoint_steps = 4
  config.log_steps = 2
  config.evals.samples.update(every_steps=2, num_samples=4)

  objective, _ = build_objective(config)  # each network its own optimizer, from config.optimizers.<network>
  lr = lambda optimizer: float(keras.ops.convert_to_numpy(optimizer.learning_rate))  # noqa: E731
  assert (lr(objective.d_optimizer), lr(objective.optimizer)) == pytest.approx((4e-4, 2e-4))
  assert objective.generator.z_dim == 8 and objective.generator_ema is not None
  keras.backend.clear_session()

  results = train(config, str(tmp_path), verbose=0)
  assert results["step"] == 4 and results["d_steps"] == 4
  assert np.isfinite([results["train/d_loss"], results["train/g_loss"]]).all()
  assert sorted(os.listdir(tmp_path / "samples")) == ["step_00000002.png", "step_00000004.png"]
  assert json.loads((tmp_path / "results.json").read_text())["step"] == 4
  sampler = keras.saving.load_model(tmp_path / "model.keras")  # the EMA generator; the trained one beside it
  assert sampler.name.endswith("_ema") and os.path.exists(tmp_path / "generator.keras")
  assert sampler(sampler.sample_latents(2, 0)).shape == (2, 32, 32, 3)

  config.optimizers = dict(d=dict(config.optimizers.discriminator), g=dict(config.optimizers.generator))
  with pytest.raises(ConfigError, match=r"set config.optimizers.<generator\|discriminator> \(missing generator, "
                     r"discriminator\) \(unknown d, g\)"):
    train(config, str(tmp_path / "old_keys"), verbose=0)


def test_mirrored_strategy_one_step():
  script = os.path.join(os.path.dirname(__file__), "gan_distributed_step.py")
  proc = subprocess.run([sys.executable, script, "mirrored"], capture_output=True, text=True, timeout=600,
                        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
  assert "replicas 2 steps 1" in proc.stdout, proc.stdout[-2000:]
