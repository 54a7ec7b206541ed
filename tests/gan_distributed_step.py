"""One GAN training step under a strategy (MirroredStrategy on 2 logical CPUs); prints the replicas and losses.

Used by test_gan_objective.py in a subprocess, because logical devices must be set before TensorFlow
starts:  python tests/gan_distributed_step.py {default|mirrored}
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

MODE = sys.argv[1]
if MODE == "mirrored":
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import model_garden.models.gan  # noqa: E402,F401
from model_garden import models  # noqa: E402
from model_garden.objectives.gan import GAN  # noqa: E402
from model_garden.training import get_strategy  # noqa: E402

GLOBAL_BATCH = 4


def main():
  strategy = get_strategy(MODE)
  rng = np.random.default_rng(0)
  ds = tf.data.Dataset.from_tensor_slices(
      {"image": rng.uniform(-1, 1, (2 * GLOBAL_BATCH, 8, 8, 3)).astype("float32"),
       "label": rng.integers(0, 3, 2 * GLOBAL_BATCH)}).batch(GLOBAL_BATCH, drop_remainder=True)
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  ds = ds.with_options(options)
  with strategy.scope():
    g = models.get("sndcgan_generator(image_size=8, ch=2, z_dim=4, label_classes=3, "
                   "norm='conditional_batch_norm', spectral_norm=True)")
    d = models.get("sndcgan_discriminator(image_size=8, ch=2, spectral_norm=True)")
    gan = GAN(generator=g, discriminator=d, penalty="wgan_gp", penalty_weight=10.0, ema_decay=0.9)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, 0.5), g_optimizer=keras.optimizers.Adam(1e-3, 0.5))
    gan.build_for_training()
  history = gan.fit(ds, epochs=1, steps_per_epoch=1, verbose=0).history
  losses = {k: float(np.asarray(v).reshape(-1)[-1]) for k, v in history.items()}
  assert all(np.isfinite(list(losses.values()))), losses
  print("replicas", strategy.num_replicas_in_sync, "steps", int(gan.optimizer.iterations.numpy()), losses)


if __name__ == "__main__":
  main()
