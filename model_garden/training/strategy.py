"""`--strategy` names -> tf.distribute strategies."""

from __future__ import annotations

import json
import os

import tensorflow as tf

from model_garden.registry import suggestion

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def get_strategy(name: str = "default", tpu_address: str = "") -> tf.distribute.Strategy:
  """Returns the strategy for `name` in {default, mirrored, multi_worker, tpu}.

  `multi_worker` reads the cluster from the TF_CONFIG environment variable; `tpu` connects to
  `tpu_address` (empty: the local TPU VM).
  """
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker":
    if "TF_CONFIG" not in os.environ:
      raise ValueError("--strategy=multi_worker needs TF_CONFIG, e.g. "
                       + json.dumps({"cluster": {"worker": ["host1:2222", "host2:2222"]},
                                     "task": {"type": "worker", "index": 0}}))
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "tpu":
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  raise ValueError(f"Unknown strategy {name!r}. {suggestion(name, STRATEGIES)}")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """True on the one worker that writes checkpoints, logs and the final model."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)():
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  return task_type in (None, "chief") or (task_type == "worker" and task_id == 0)
