"""Runs an example notebook at its tiny size (MG_NOTEBOOK_TINY=1) in a fresh, private kernel.

The kernel runs this interpreter (the project's .venv python) through a kernel spec in a private
JUPYTER_PATH, so the test never depends on which kernels the machine has installed. Notebook tests call
`require_notebook_tools()` (skips without nbformat/nbclient/ipykernel), then `run_notebook(...)`.

Example:
  >>> require_notebook_tools()
  >>> notebook = run_notebook("gan_mg_shapes.ipynb", tmp_path, monkeypatch, data_dir=data_dir)
  >>> results = last_json(notebook)
"""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
KERNEL_NAME = "model_garden_notebook_test"


def require_notebook_tools():
  """(nbformat, nbclient); skips the calling test (or module, at import) when a notebook tool is missing."""
  nbformat = pytest.importorskip("nbformat", reason="notebook tests need nbformat (pip install -e '.[dev]')")
  nbclient = pytest.importorskip("nbclient", reason="notebook tests need nbclient (pip install -e '.[dev]')")
  pytest.importorskip("ipykernel", reason="notebook tests need ipykernel (pip install -e '.[dev]')")
  return nbformat, nbclient


def kernel_spec(tmp_path, monkeypatch, name: str = KERNEL_NAME) -> str:
  """Writes a kernel spec running sys.executable into tmp_path/jupyter and points JUPYTER_PATH at it."""
  spec_dir = tmp_path / "jupyter" / "kernels" / name
  spec_dir.mkdir(parents=True, exist_ok=True)
  (spec_dir / "kernel.json").write_text(json.dumps({
      "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
      "display_name": "model_garden tests", "language": "python"}))
  monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
  return name


def read_notebook(name: str, validate: bool = True):
  """examples/<name> (or a path) as an nbformat v4 notebook, validated against the schema."""
  nbformat, _ = require_notebook_tools()
  path = name if os.path.isabs(name) else os.path.join(EXAMPLES, name)
  notebook = nbformat.read(path, as_version=4)
  if validate:
    nbformat.validate(notebook)
  return notebook


def execute(notebook, tmp_path, monkeypatch, *, data_dir=None, cwd=None, env=None, pythonpath: bool = True,
            timeout: int = 600):
  """Executes `notebook` in place, tiny, in a fresh kernel; returns it.

  Args:
    data_dir: MG_NOTEBOOK_DATA_DIR (the session's prepared tiny mg_shapes), if given.
    cwd: the kernel's working directory (default tmp_path).
    env: extra environment variables.
    pythonpath: put the repository first on PYTHONPATH (the notebook imports this checkout).
  """
  _, nbclient = require_notebook_tools()
  monkeypatch.setenv("MG_NOTEBOOK_TINY", "1")
  if data_dir is not None:
    monkeypatch.setenv("MG_NOTEBOOK_DATA_DIR", data_dir)
  monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
  if pythonpath:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
  for key, value in (env or {}).items():
    monkeypatch.setenv(key, value)
  client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name=kernel_spec(tmp_path, monkeypatch),
                                   resources={"metadata": {"path": str(cwd or tmp_path)}})
  client.execute()
  return notebook


def run_notebook(name: str, tmp_path, monkeypatch, validate: bool = True, **kwargs):
  """`execute(read_notebook(name))`: examples/<name> run tiny; returns the executed notebook."""
  return execute(read_notebook(name, validate=validate), tmp_path, monkeypatch, **kwargs)


def stdout_texts(notebook):
  """The stdout stream outputs of the code cells, in order."""
  return [out["text"] for cell in notebook.cells if cell.cell_type == "code"
          for out in cell.get("outputs", []) if out.get("output_type") == "stream" and out.get("name") == "stdout"]


def all_text(notebook) -> str:
  """Every text output (streams and text results) of the code cells, joined."""
  return "\n".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for out in cell.get("outputs", []))


def last_json(notebook):
  """The last stdout line starting with "{" of the notebook, parsed (the notebooks print their summary)."""
  for text in reversed(stdout_texts(notebook)):
    last = text.strip().splitlines()[-1] if text.strip() else ""
    if last.startswith("{"):
      return json.loads(last)
  raise AssertionError("The notebook printed no JSON results.")
