"""examples/bit_hyperrule_transfer.ipynb executes end to end at tiny size (MG_NOTEBOOK_TINY=1)."""

import json
import os
import sys

import pytest

nbformat = pytest.importorskip("nbformat", reason="notebook tests need nbformat (pip install -e '.[dev]')")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need nbclient (pip install -e '.[dev]')")
pytest.importorskip("ipykernel", reason="notebook tests need ipykernel (pip install -e '.[dev]')")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "examples", "bit_hyperrule_transfer.ipynb")


def _kernel_spec(tmp_path, monkeypatch) -> str:
  """A kernel spec in a private JUPYTER_PATH that runs this interpreter (the project's .venv python)."""
  name = "mg_bit_notebook_test"
  spec_dir = tmp_path / "jupyter" / "kernels" / name
  spec_dir.mkdir(parents=True)
  (spec_dir / "kernel.json").write_text(json.dumps({
      "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
      "display_name": "model_garden test", "language": "python"}))
  monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
  return name


def test_notebook_runs_tiny(tiny_shapes, tmp_path, monkeypatch):
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
  assert "CIFAR-10" in text and "decode|resize(160)|random_crop(128)|flip_lr|value_range(-1, 1)" in text
  results = json.loads(stdout[-1].strip().splitlines()[-1])
  assert results["tiny"] is True and results["transfer_steps"] == 10
  for key in ("upstream/val_accuracy", "transfer/test_accuracy"):
    assert 0.0 <= results[key] <= 1.0
  assert results["scratch/test_accuracy"] is None  # The from-scratch comparison runs at full size only.
  assert results["hyperrule"]["crop_size"] == 128 and results["hyperrule"]["total_steps"] == 500
