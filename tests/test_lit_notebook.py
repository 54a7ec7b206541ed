"""examples/lit_zero_shot.ipynb executes end to end at tiny size (MG_NOTEBOOK_TINY=1)."""

import json
import os
import sys

import pytest

nbformat = pytest.importorskip("nbformat", reason="notebook tests need nbformat (pip install -e '.[dev]')")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need nbclient (pip install -e '.[dev]')")
pytest.importorskip("ipykernel", reason="notebook tests need ipykernel (pip install -e '.[dev]')")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "examples", "lit_zero_shot.ipynb")


def _kernel_spec(tmp_path, monkeypatch) -> str:
  """A kernel spec in a private JUPYTER_PATH that runs this interpreter (the project's .venv python)."""
  name = "mg_lit_notebook_test"
  spec_dir = tmp_path / "jupyter" / "kernels" / name
  spec_dir.mkdir(parents=True)
  (spec_dir / "kernel.json").write_text(json.dumps({
      "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
      "display_name": "model_garden test", "language": "python"}))
  monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
  return name


def test_lit_notebook_runs_tiny(tiny_shapes, tmp_path, monkeypatch):
  _, data_dir = tiny_shapes
  monkeypatch.setenv("MG_NOTEBOOK_TINY", "1")
  monkeypatch.setenv("MG_NOTEBOOK_DATA_DIR", data_dir)  # Reuse the session's prepared tiny mg_shapes.
  monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
  monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  nbformat.validate(notebook)
  client = nbclient.NotebookClient(notebook, timeout=600, kernel_name=_kernel_spec(tmp_path, monkeypatch),
                                   resources={"metadata": {"path": str(tmp_path)}})
  client.execute()
  stdout = [out["text"] for cell in notebook.cells if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.get("output_type") == "stream" and out["name"] == "stdout"]
  text = "\n".join(stdout)
  assert "pieces" in text and "zero-shot shapes" in text and "zero-shot colours" in text
  results = json.loads(stdout[-1].strip().splitlines()[-1])
  assert results["tiny"] is True and results["lit_steps"] == 10
  assert results["image_tower_locked"] is True
  for key in ("zero_shot_shapes", "zero_shot_colours", "i2t_recall@1", "t2i_recall@1"):
    assert 0.0 <= results[key] <= 1.0, key
  for name in ("embed_images", "embed_texts", "zero_shot"):
    assert name in results["signatures"]
