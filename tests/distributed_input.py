"""One worker of a MultiWorkerMirroredStrategy reading its share of mg_shapes through get_dataset.

Used by test_distributed_input.py in two processes on 127.0.0.1 (TF_CONFIG must be set before TensorFlow
starts): python tests/distributed_input.py DATA_DIR OUT.json
Writes the ids of every per-replica batch of 40 steps from the start and of 10 steps resumed at step 30.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from model_garden.data import get_dataset  # noqa: E402

DATA_DIR, OUT = sys.argv[1], sys.argv[2]
GLOBAL_BATCH = 8


def main():
  strategy = tf.distribute.MultiWorkerMirroredStrategy()

  def steps(count, start_step=0):
    dataset = strategy.distribute_datasets_from_function(lambda context: get_dataset(
        "mg_shapes/tiny32", "train", batch_size=GLOBAL_BATCH, data_dir=DATA_DIR, seed=3, shuffle_buffer=64,
        pp="decode|copy('tfds_id', 'id')|keep('id')", skip_examples=start_step * GLOBAL_BATCH,
        input_context=context))
    batches = iter(dataset)
    return [[[i.decode() for i in local.numpy().tolist()] for local in
             strategy.experimental_local_results(next(batches)["id"])] for _ in range(count)]

  result = {"replicas": strategy.num_replicas_in_sync, "task": strategy.cluster_resolver.task_id,
            "full": steps(40), "resumed": steps(10, start_step=30)}
  with open(OUT, "w") as f:
    json.dump(result, f)
  print("replicas", result["replicas"])


if __name__ == "__main__":
  main()
