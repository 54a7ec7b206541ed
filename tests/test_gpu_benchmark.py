"""tools/gpu_benchmark.py at toy sizes on the CPU: every section runs, with TensorFlow blocked, and counts right."""

import json
import math
import os
import subprocess
import sys

import pytest

from tool_module import load_tool

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "tools", "gpu_benchmark.py")
gb = load_tool("gpu_benchmark.py")


def _timm_importable():
  probe = subprocess.run([sys.executable, "-c", "import timm"], capture_output=True, check=False)
  return probe.returncode == 0


def test_vit_b16_closed_form_flops():
  # ViT-B/16 at 224 px: 196 patches (+1 [cls] for keras-hub and timm), the TF graph count of tools/benchmark.py.
  assert gb.vit_forward_flops(gb.VIT_B16, cls_token=False) == 34_943_299_584
  assert gb.vit_forward_flops(gb.VIT_B16, cls_token=True) == 35_127_656_448


def test_tiny_run_without_tensorflow(tmp_path):
  out = tmp_path / "result.json"
  env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]),
         "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
  proc = subprocess.run([sys.executable, SCRIPT, "--tiny", "--without_tensorflow", f"--json={out}"], env=env,
                        capture_output=True, text=True, timeout=900, check=False)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  result = json.loads(out.read_text())
  assert set(result["peaks"]) == {"bfloat16", "float32"}
  assert all(p["tflops"] > 0 for p in result["peaks"].values())
  rows = {(r["network"], r["precision"], r["mode"]): r for r in result["results"]}
  networks = ["ours_jax", "keras_hub_jax"] + (["timm_torch"] if _timm_importable() else [])
  for network in networks:
    for precision in ("float32", "bfloat16"):
      for mode in ("train", "infer"):
        row = rows[(network, precision, mode)]
        assert math.isfinite(row["imgs_per_sec"]) and row["imgs_per_sec"] > 0
        assert row["mfu"] is not None and row["mfu"] > 0
        assert row["flops_per_image"] == gb.vit_forward_flops(gb.TINY_VIT, network != "ours_jax") * (
            3 if mode == "train" else 1)
  for section in ("ours_jax", "keras_hub_jax"):
    extra = result["sections"][section]["extra"]
    assert extra["jaxpr_flops"] == extra["closed_form_flops"], section  # The closed form is what runs.
  assert set(result["ratios"]) >= {f"ours_vs_keras_hub_jax/{p}/{m}" for p in ("float32", "bfloat16")
                                   for m in ("train", "infer")}
  if "timm_torch" not in networks:
    assert "timm cannot be imported here" in result["errors"]["timm_torch"]
  else:
    assert not result["errors"]
  assert "ours_vs_keras_hub_jax/bfloat16/train" in proc.stdout


def test_torch_section_with_a_stand_in_for_timm():
  """The PyTorch loop (autocast, backward, SGD, timing) on a small torch ViT-shaped model: timm may be absent."""
  torch = pytest.importorskip("torch", reason="PyTorch is a dev dependency (make test installs it)")
  sizes = gb.TINY_VIT

  def build(sizes):
    patch, width = sizes["patch_size"], sizes["width"]
    return torch.nn.Sequential(torch.nn.Conv2d(3, width, patch, stride=patch), torch.nn.Flatten(2),
                               torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten(),
                               torch.nn.Linear(width, sizes["num_classes"]))

  options = {"sizes": sizes, "batch": 2, "steps": 2, "warmup": 1, "precisions": ["float32", "bfloat16"],
             "modes": ["train", "infer"], "torch_compile": False}
  result = gb.run_timm_section(options, build=build)
  assert {(r["precision"], r["mode"]) for r in result["rows"]} == {
      (p, m) for p in ("float32", "bfloat16") for m in ("train", "infer")}
  assert all(r["imgs_per_sec"] > 0 and r["network"] == "timm_torch" for r in result["rows"])


def test_bad_flags_name_the_fix():
  with pytest.raises(SystemExit, match="comma list of train, infer"):
    gb.main(["--mode=training"])
