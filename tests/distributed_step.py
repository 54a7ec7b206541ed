"""Runs two training steps of the classification objective under a strategy; prints loss and weights.

Used by test_distribution.py in subprocesses, because logical devices and TF_CONFIG must be set before
TensorFlow starts:  python tests/distributed_step.py {default|mirrored|multi_worker} OUT.npz [GRAD_ACCUM_STEPS]
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

MODE, OUT = sys.argv[1], sys.argv[2]
GRAD_ACCUM_STEPS = int(sys.argv[3]) if len(sys.argv) > 3 else 1
if MODE == "mirrored":
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import model_garden  # noqa: E402
from model_garden.training import get_strategy  # noqa: E402

GLOBAL_BATCH = 8


def main():
  strategy = get_strategy(MODE)
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (2 * GLOBAL_BATCH, 16, 16, 3)).astype("float32")
  labels = np.eye(4, dtype="float32")[rng.integers(0, 4, 2 * GLOBAL_BATCH)]
  ds = tf.data.Dataset.from_tensor_slices({"image": images, "labels": labels}).batch(GLOBAL_BATCH)
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  ds = ds.with_options(options)
  with strategy.scope():
    network = model_garden.models.get("resnet_small(num_classes=4, image_size=16, widths=(8, 16))")
    init = np.random.default_rng(1)
    for v in network.weights:  # same initial weights in every process and mode
      v.assign(init.normal(0, 0.2, v.shape).astype("float32") if "gamma" not in v.path
               else np.ones(v.shape, "float32"))
    objective = model_garden.objectives.get("classification(weight_decay=1e-3)", network=network)
    objective.set_grad_accum_steps(GRAD_ACCUM_STEPS)
    objective.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    objective.build_for_training((None, 16, 16, 3))
  history = objective.fit(ds, epochs=1, steps_per_epoch=2, verbose=0).history
  np.savez(OUT, loss=np.asarray(history["loss"]).reshape(-1),
           **{f"w{i}": v.numpy() for i, v in enumerate(network.weights)})
  print("replicas", strategy.num_replicas_in_sync, "loss", history["loss"])


if __name__ == "__main__":
  main()
