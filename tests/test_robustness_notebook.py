"""examples/robustness_mg_shapes.ipynb executes end to end at tiny size (MG_NOTEBOOK_TINY=1)."""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "examples", "robustness_mg_shapes.ipynb")


def _kernel_spec(tmp_path, monkeypatch) -> str:
  """A kernel spec in a private JUPYTER_PATH that runs this interpreter (the project's .venv python)."""
  name = "mg_robustness_test"
  spec_dir = tmp_path / "jupyter" / "kernels" / name
  spec_dir.mkdir(parents=True)
  (spec_dir / "kernel.json").write_text(json.dumps({
      "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
      "display_name": "model_garden test", "language": "python"}))
  monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
  return name


def test_notebook_runs_tiny(tiny_shapes, tmp_path, monkeypatch):
  nbformat = pytest.importorskip("nbformat")
  nbclient = pytest.importorskip("nbclient")
  _, data_dir = tiny_shapes
  monkeypatch.setenv("MG_NOTEBOOK_TINY", "1")
  monkeypatch.setenv("MG_NOTEBOOK_DATA_DIR", data_dir)  # Reuse the session's prepared tiny mg_shapes.
  monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  assert notebook.nbformat == 4
  client = nbclient.NotebookClient(notebook, timeout=600, kernel_name=_kernel_spec(tmp_path, monkeypatch),
                                   resources={"metadata": {"path": os.path.join(ROOT, "examples")}})
  client.execute()
  text = "\n".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for out in cell.get("outputs", []))
  assert "streaming RealAccuracy:" in text
  assert "top-1: original" in text
  assert "| gaussian_noise |" in text  # The report's corruption table.
  assert "corruptions.png" in text
