"""A distributed step equals a one-device step on the same global batch (Mirrored, MultiWorker), with and
without gradient accumulation."""

import os
import subprocess
import sys

import numpy as np
import pytest

from loopback_cluster import tf_configs

SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_step.py")


def _run(mode, out, env_extra=None, grad_accum_steps=1):
  env = {**os.environ, **(env_extra or {})}
  return subprocess.Popen([sys.executable, SCRIPT, mode, str(out), str(grad_accum_steps)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(proc, timeout=300):
  output, _ = proc.communicate(timeout=timeout)
  assert proc.returncode == 0, output[-3000:]
  return output


def _assert_same(a_path, b_path):
  a, b = np.load(a_path), np.load(b_path)
  assert a["loss"].size and np.all(np.isfinite(a["loss"]))
  np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-5, atol=1e-6)
  weights = [k for k in a.files if k.startswith("w")]
  assert len(weights) > 5
  for key in weights:
    np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-5, err_msg=key)


@pytest.fixture(scope="module")
def single_device(tmp_path_factory):
  out = tmp_path_factory.mktemp("single") / "default.npz"
  _wait(_run("default", out))
  return out


def test_mirrored_two_replicas_equals_single_device(single_device, tmp_path):
  out = tmp_path / "mirrored.npz"
  log = _wait(_run("mirrored", out))
  assert "replicas 2" in log
  _assert_same(single_device, out)


def test_gradient_accumulation_equals_the_whole_batch_step(single_device, tmp_path):
  # 4 micro-batches of 2 on one device, and 2 micro-batches of 2 per replica on 2 replicas: one update each,
  # equal to the step on the whole global batch of 8.
  _wait(_run("default", tmp_path / "accum.npz", grad_accum_steps=4))
  _assert_same(single_device, tmp_path / "accum.npz")
  log = _wait(_run("mirrored", tmp_path / "mirrored_accum.npz", grad_accum_steps=2))
  assert "replicas 2" in log
  _assert_same(single_device, tmp_path / "mirrored_accum.npz")


def test_multi_worker_two_processes_equals_single_device(single_device, tmp_path):
  procs = []
  for index, tf_config in enumerate(tf_configs(2)):
    procs.append(_run("multi_worker", tmp_path / f"worker{index}.npz", {"TF_CONFIG": tf_config}))
  logs = [_wait(p) for p in procs]
  assert all("replicas 2" in log for log in logs), logs
  _assert_same(tmp_path / "worker0.npz", tmp_path / "worker1.npz")
  _assert_same(single_device, tmp_path / "worker0.npz")
