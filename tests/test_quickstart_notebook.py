"""examples/quickstart.ipynb executes end to end at tiny size (MG_NOTEBOOK_TINY=1), offline."""

import json
import os
import sys

import pytest

nbformat = pytest.importorskip("nbformat", reason="notebook tests need nbformat (pip install -e '.[dev]')")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need nbclient (pip install -e '.[dev]')")
pytest.importorskip("ipykernel", reason="notebook tests need ipykernel (pip install -e '.[dev]')")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "examples", "quickstart.ipynb")


def _kernel_spec(tmp_path, monkeypatch) -> str:
  """A kernel spec in a private JUPYTER_PATH that runs this interpreter (the project's .venv python)."""
  name = "mg_quickstart_notebook_test"
  spec_dir = tmp_path / "jupyter" / "kernels" / name
  spec_dir.mkdir(parents=True)
  (spec_dir / "kernel.json").write_text(json.dumps({
      "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
      "display_name": "model_garden test", "language": "python"}))
  monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
  return name


def test_quickstart_runs_tiny_and_offline(tiny_shapes, tmp_path, monkeypatch):
  _, data_dir = tiny_shapes
  monkeypatch.setenv("MG_NOTEBOOK_TINY", "1")  # Tiny: the notebook makes its own preset, never downloads.
  monkeypatch.setenv("MG_NOTEBOOK_DATA_DIR", data_dir)
  monkeypatch.setenv("MODEL_GARDEN_PRESETS", str(tmp_path / "presets"))
  monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
  monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  nbformat.validate(notebook)
  assert "%pip install" in notebook.cells[1].source  # The Colab install cell (skipped: model_garden imports).
  client = nbclient.NotebookClient(notebook, timeout=600, kernel_name=_kernel_spec(tmp_path, monkeypatch),
                                   resources={"metadata": {"path": str(tmp_path)}})
  client.execute()
  stdout = [out["text"] for cell in notebook.cells if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.get("output_type") == "stream" and out["name"] == "stdout"]
  text = "\n".join(stdout)
  assert "Preset('tiny_vit', VisionTransformer" in text and "model.weights.h5" in text
  assert "the preset is complete" in text
  results = json.loads(stdout[-1].strip().splitlines()[-1])
  assert results["tiny"] is True and results["fine_tune_steps"] == 10 and results["image_size"] == 32
  assert 0.0 <= results["test_accuracy"] <= 1.0
  assert results["served_matches_keras"] is True
