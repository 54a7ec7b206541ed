"""tools/benchmark.py --backend=jax|torch: the same table on Keras' JAX and PyTorch backends, FLOPs counted right."""

import json
import math
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "tools", "benchmark.py")
TINY_VIT = "vit(variant='Ti/16', num_classes=4, image_size=32, depth=2)"
FAST = ["--batch=2", "--steps=2", "--warmup=1", "--matmul_size=256", "--matmul_reps=2"]
# Ti/16 at 32 px, depth 2: 4 tokens of width 192, MLP 768, 4 classes (as tests/test_benchmark.py).
TOKENS, WIDTH, DEPTH, MLP, PATCH, CLASSES = 4, 192, 2, 768, 16, 4
FORWARD = (2 * TOKENS * PATCH * PATCH * 3 * WIDTH
           + DEPTH * (2 * 4 * TOKENS * WIDTH ** 2 + 2 * 2 * TOKENS ** 2 * WIDTH + 2 * 2 * TOKENS * WIDTH * MLP)
           + 2 * WIDTH * CLASSES)
# Eager PyTorch also runs the head on every token (`logits_2d`, an intermediate that the pooled logits drop and
# that XLA and TF graphs prune).
PER_TOKEN_HEAD = 2 * TOKENS * WIDTH * CLASSES


@pytest.fixture(scope="module")
def results():
  env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]),
         "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
  procs = {backend: subprocess.Popen(
      [sys.executable, SCRIPT, f"--backend={backend}", f"--model={TINY_VIT}", *FAST, "--mode=train,infer",
       "--precision=float32,mixed_bfloat16", "--compare=keras_hub", "--json"],
      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for backend in ("jax", "torch")}
  out = {}
  for backend, proc in procs.items():
    text, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, text[-4000:]
    out[backend] = (json.loads(text.strip().splitlines()[-1]), text)
  return out


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_every_row_on_the_backend(results, backend):
  result, text = results[backend]
  assert result["backend"] == backend and f"(Keras backend: {backend})" in text
  rows = {(r["network"], r["mode"], r["precision"]): r for r in result["results"]}
  assert set(rows) == {(n, m, p) for n in ("ours", "keras_hub") for m in ("train", "infer")
                       for p in ("float32", "mixed_bfloat16")}
  for row in rows.values():
    assert math.isfinite(row["imgs_per_sec"]) and row["imgs_per_sec"] > 0 and row["mfu"] > 0
    assert row["device_peak_mib"] is None  # TF's allocator statistics only.
  for (network, mode, precision), row in rows.items():
    if network == "ours":
      assert row["ratio"] == pytest.approx(row["imgs_per_sec"] / rows[("keras_hub", mode, precision)][
          "imgs_per_sec"])
  assert set(result["matmul_peak_gflops"]) == {"float32", "bfloat16"}


def test_flops_match_the_closed_form(results):
  assert results["jax"][0]["flops_per_image"]["ours"] == FORWARD  # The jaxpr, pruned as XLA prunes it.
  assert results["torch"][0]["flops_per_image"]["ours"] == FORWARD + PER_TOKEN_HEAD
  # keras-hub: one [cls] token more, the same sizes.
  hub = results["jax"][0]["flops_per_image"]["keras_hub"]
  assert FORWARD < hub < 2 * FORWARD


def test_backend_flag_must_reach_keras_before_it_is_imported():
  env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")])}
  code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('bm', sys.argv[1]); "
          "bm = importlib.util.module_from_spec(spec); sys.modules['bm'] = bm; spec.loader.exec_module(bm); "
          "bm.run(bm.parse_args(['--backend=jax']))")
  proc = subprocess.run([sys.executable, "-c", code, SCRIPT], env={**env, "KERAS_BACKEND": "tensorflow"},
                        capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode != 0 and "--backend=jax but Keras runs on tensorflow" in proc.stderr
