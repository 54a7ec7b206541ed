"""A MirroredStrategy contrastive step over 2 logical CPUs equals one device on the same global batch.

The loss is computed against the embeddings all-gathered from both replicas, so the loss, the gradients
(recovered from one SGD step) and the weights after two steps match a one-device run.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "contrastive_step.py")


def _run(mode, out):
  os.makedirs(out, exist_ok=True)
  proc = subprocess.Popen([sys.executable, SCRIPT, mode, str(out)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
  return proc


def _wait(proc):
  output, _ = proc.communicate(timeout=600)
  assert proc.returncode == 0, output[-4000:]
  return output


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  root = tmp_path_factory.mktemp("contrastive")
  single, mirrored = _run("default", root / "default"), _run("mirrored", root / "mirrored")
  _wait(single)
  assert "replicas 2" in _wait(mirrored)
  return root / "default", root / "mirrored"


@pytest.mark.parametrize("loss", ["softmax", "sigmoid"])
def test_mirrored_contrastive_step_equals_single_device(runs, loss):
  a, b = np.load(runs[0] / f"{loss}.npz"), np.load(runs[1] / f"{loss}.npz")
  assert a["loss"].size == 2 and np.all(np.isfinite(a["loss"]))
  np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-5, atol=1e-6)
  grads = [k for k in a.files if k.startswith("g")]
  assert len(grads) > 10
  moved = 0
  for key in grads:
    np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=2e-5, err_msg=key)
    moved += bool(np.any(a[key]))
  assert moved > 10  # Both towers and the temperature received gradients.
  for key in (k for k in a.files if k.startswith("w")):
    np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=2e-5, err_msg=key)
