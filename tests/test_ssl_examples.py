"""examples/ssl_mg_shapes.py and examples/ssl_pretext_linear_eval.ipynb run end to end at tiny size."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _kernel_spec(tmp_path, monkeypatch) -> str:
  """A kernel spec in a private JUPYTER_PATH that runs this interpreter (the project's .venv python)."""
  name = "mg_ssl_test"
  spec_dir = tmp_path / "jupyter" / "kernels" / name
  spec_dir.mkdir(parents=True)
  (spec_dir / "kernel.json").write_text(json.dumps({
      "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
      "display_name": "model_garden test", "language": "python"}))
  monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
  return name


def test_pretext_notebook_runs_tiny(tiny_shapes, tmp_path, monkeypatch):
  nbformat = pytest.importorskip("nbformat")
  nbclient = pytest.importorskip("nbclient")
  _, data_dir = tiny_shapes
  monkeypatch.setenv("MG_NOTEBOOK_TINY", "1")
  monkeypatch.setenv("MG_NOTEBOOK_DATA_DIR", data_dir)
  monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
  monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
  notebook = nbformat.read(os.path.join(ROOT, "examples", "ssl_pretext_linear_eval.ipynb"), as_version=4)
  nbformat.validate(notebook)
  client = nbclient.NotebookClient(notebook, timeout=600, kernel_name=_kernel_spec(tmp_path, monkeypatch),
                                   resources={"metadata": {"path": str(tmp_path)}})
  client.execute()
  last = [out["text"] for cell in notebook.cells if cell.cell_type == "code"
          for out in cell.get("outputs", []) if out.get("name") == "stdout"][-1]
  summary = json.loads(last.strip().splitlines()[-1])
  assert summary["tiny"] is True and summary["labelled_images"] == 24
  for method in ("random init", "rotation", "relative patch location"):
    assert 0.0 <= summary[method]["test_accuracy"] <= 1.0


def test_offline_proof_example_runs_tiny(tiny_shapes):
  _, data_dir = tiny_shapes
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "ssl_mg_shapes.py"), "--tiny",
                         f"--data_dir={data_dir}"], capture_output=True, text=True, timeout=900,
                        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "| S4L-Rotation" in proc.stdout and "| rotation pretraining + linear probe" in proc.stdout
  results = json.loads(proc.stdout.strip().splitlines()[-1])
  assert set(results) >= {"random_probe", "rotation_probe", "supervised", "s4l_rotation"}
