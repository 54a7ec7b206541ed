"""One GAN training step under a strategy (MirroredStrategy on 2 logical CPUs), the GAN built from a config by the
trainer's `build_objective`; prints the replicas and losses.

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

import model_garden  # noqa: E402,F401  (registers models, objectives, optimizers)
from model_garden.configs import common  # noqa: E402
from model_garden.training import build_objective, get_strategy  # noqa: E402

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
  config = common.base_config(total_steps=1, log_steps=1, checkpoint_steps=1)
  config.networks.generator = common.network("sndcgan_generator", image_size=8, ch=2, z_dim=4, label_classes=3,
                                             norm="conditional_batch_norm", spectral_norm=True)
  config.networks.discriminator = common.network("sndcgan_discriminator", image_size=8, ch=2, spectral_norm=True)
  config.objective = common.objective("gan", penalty="wgan_gp", penalty_weight=10.0, ema_decay=0.9)
  config.optimizers = dict(generator=common.optimizer("adam", b1=0.5, lr=1e-3),
                           discriminator=common.optimizer("adam", b1=0.5, lr=1e-3))
  gan, _ = build_objective(config, strategy)  # the trainer's build, in the strategy's scope
  for optimizer in (gan.d_optimizer, gan.optimizer):
    assert optimizer.built and bool(optimizer.variables), optimizer  # state made before fit (keras#23085)
  history = gan.fit(ds, epochs=1, steps_per_epoch=1, verbose=0).history
  losses = {k: float(np.asarray(v).reshape(-1)[-1]) for k, v in history.items()}
  assert all(np.isfinite(list(losses.values()))), losses
  print("replicas", strategy.num_replicas_in_sync, "steps", int(gan.optimizer.iterations.numpy()), losses)


if __name__ == "__main__":
  main()
