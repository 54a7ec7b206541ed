"""Per-host input under MultiWorkerMirroredStrategy: two processes on 127.0.0.1 read disjoint shares.

The contract the trainer relies on: `strategy.distribute_datasets_from_function(lambda ctx:
get_dataset(..., batch_size=GLOBAL, skip_examples=step * GLOBAL, input_context=ctx))`.
"""

import json
import os
import subprocess
import sys

from loopback_cluster import tf_configs

SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_input.py")


def test_two_workers_see_every_example_of_an_epoch_once_and_resume_per_host(tiny_shapes, tmp_path):
  builder, data_dir = tiny_shapes
  procs = []
  for index, tf_config in enumerate(tf_configs(2)):
    env = {**os.environ, "TF_CONFIG": tf_config}
    procs.append(subprocess.Popen([sys.executable, SCRIPT, data_dir, str(tmp_path / f"worker{index}.json")],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  for proc in procs:
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output[-3000:]
  workers = [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in range(2)]
  assert [w["replicas"] for w in workers] == [2, 2]
  for worker in workers:
    # One local replica per worker, per-replica batch = global 8 / 2 replicas.
    assert {len(local) for step in worker["full"] for local in step} == {4}
  epoch = [i for w in workers for step in w["full"][:32] for local in step for i in local]  # 32 x 8 = 256.
  assert len(epoch) == len(set(epoch)) == builder.info.splits["train"].num_examples == 256
  assert sorted(set(epoch))[0].startswith("mg_shapes-train.tfrecord")
  shares = [{i for step in w["full"][:32] for local in step for i in local} for w in workers]
  for worker, share in zip(workers, shares):
    # The next epoch stays within the host's share; a resumed run continues each host's stream exactly.
    assert {i for step in worker["full"][32:] for local in step for i in local} <= share
    assert worker["resumed"] == worker["full"][30:40]
