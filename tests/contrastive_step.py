"""Two contrastive training steps of a tiny two-tower model under a strategy; saves losses and weights.

Used by test_contrastive_distributed.py in subprocesses (logical devices must be set before TensorFlow
starts):  python tests/contrastive_step.py {default|mirrored} OUT_DIR   (writes softmax.npz, sigmoid.npz)
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

MODE, OUT = sys.argv[1], sys.argv[2]
if MODE == "mirrored":
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from model_garden.models import two_towers  # noqa: E402,F401  (registers two_towers, text towers)
from model_garden.models import registry as model_registry  # noqa: E402
from model_garden.objectives.contrastive import Contrastive  # noqa: E402
from model_garden.training import get_strategy  # noqa: E402

GLOBAL_BATCH = 8
LR = 0.5
SPEC = ("two_towers(image=\"vit(variant='mu/4', image_size=8)\", text=\"text_transformer(width=32, depth=1, "
        "mlp_dim=64, num_heads=2, vocab_size=20, max_len=6)\", out_dim=(None, 32), bias_init={bias})")


class WeightsAtEpochEnd(keras.callbacks.Callback):
  def __init__(self, network):
    super().__init__()
    self.network, self.snapshots = network, []

  def on_epoch_end(self, epoch, logs=None):
    self.snapshots.append([v.numpy().copy() for v in self.network.weights])


def run(strategy, loss):
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (2 * GLOBAL_BATCH, 8, 8, 3)).astype("float32")
  tokens = rng.integers(0, 20, (2 * GLOBAL_BATCH, 6)).astype("int32")
  ds = tf.data.Dataset.from_tensor_slices({"image": images, "labels": tokens}).batch(GLOBAL_BATCH)
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  ds = ds.with_options(options)
  with strategy.scope():
    network = model_registry.get(SPEC.format(bias=-5.0 if loss == "sigmoid" else None))
    init = np.random.default_rng(1)
    for v in network.weights:  # The same weights in every process and mode.
      if v.path.endswith(("gamma", "/t", "/b")):
        continue
      v.assign(init.normal(0, 0.3, v.shape).astype("float32"))
    initial = [v.numpy().copy() for v in network.weights]
    objective = Contrastive(network, loss=loss)
    objective.compile(optimizer=keras.optimizers.SGD(LR))
    objective.build_for_training()
  snapshots = WeightsAtEpochEnd(network)
  history = objective.fit(ds, epochs=2, steps_per_epoch=1, verbose=0, callbacks=[snapshots]).history
  step1, step2 = snapshots.snapshots
  grads = {f"g{i}": (a - b) / LR for i, (a, b) in enumerate(zip(initial, step1))}
  np.savez(os.path.join(OUT, f"{loss}.npz"), loss=np.asarray(history["loss"]).reshape(-1), **grads,
           **{f"w{i}": w for i, w in enumerate(step2)})
  print("replicas", strategy.num_replicas_in_sync, loss, history["loss"])


def main():
  strategy = get_strategy(MODE)
  for loss in ("softmax", "sigmoid"):
    run(strategy, loss)


if __name__ == "__main__":
  main()
