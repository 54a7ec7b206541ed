"""The example notebooks run top to bottom (at their tiny size, MG_NOTEBOOK_TINY=1) in a fresh kernel."""

import json
import os
import sys

import pytest

nbformat = pytest.importorskip("nbformat", reason="notebook tests need nbformat (pip install -e '.[dev]')")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need nbclient (pip install -e '.[dev]')")
pytest.importorskip("ipykernel", reason="notebook tests need ipykernel (pip install -e '.[dev]')")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")


def _kernel(tmp_path, monkeypatch) -> str:
  """A private kernel spec running this interpreter (the project's .venv python), whatever is installed."""
  name = "model_garden_notebook_test"
  spec_dir = tmp_path / "jupyter" / "kernels" / name
  spec_dir.mkdir(parents=True)
  (spec_dir / "kernel.json").write_text(json.dumps({
      "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
      "display_name": "model_garden tests", "language": "python"}))
  monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
  return name


def _execute(name, data_dir, tmp_path, monkeypatch):
  """Runs examples/<name> tiny, in a fresh kernel started in tmp_path; returns the executed notebook."""
  monkeypatch.setenv("MG_NOTEBOOK_TINY", "1")
  monkeypatch.setenv("MG_NOTEBOOK_DATA_DIR", data_dir)
  monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
  monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
  notebook = nbformat.read(os.path.join(EXAMPLES, name), as_version=4)
  nbformat.validate(notebook)
  client = nbclient.NotebookClient(notebook, timeout=600, kernel_name=_kernel(tmp_path, monkeypatch),
                                   resources={"metadata": {"path": str(tmp_path)}})
  client.execute()
  return notebook


def _last_json(notebook):
  for cell in reversed(notebook.cells):
    for output in reversed(cell.get("outputs", [])):
      if output.get("output_type") == "stream" and output.get("name") == "stdout":
        last = output["text"].strip().splitlines()[-1]
        if last.startswith("{"):
          return json.loads(last)
  raise AssertionError("The notebook printed no JSON results.")


def test_vit_finetune_fewshot(tiny_shapes, tmp_path, monkeypatch):
  _, data_dir = tiny_shapes  # The notebook's tiny mg_shapes is this fixture's config: already prepared.
  notebook = _execute("vit_finetune_fewshot.ipynb", data_dir, tmp_path, monkeypatch)
  results = _last_json(notebook)
  assert results["tiny"] is True
  assert 0.0 <= results["test_accuracy"] <= 1.0
  for task in ("mg_shapes", "mg_colours"):
    for shots in (1, 5, 10, 25):
      assert 0.0 <= results[f"fewshot/{task}_{shots}shot"] <= 1.0
      assert 0.0 <= results[f"fewshot_at_init/{task}_{shots}shot"] <= 1.0
  assert results["steps"] == 10
