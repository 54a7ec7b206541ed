"""examples/quickstart.ipynb executes end to end at tiny size (MG_NOTEBOOK_TINY=1), offline; its install cell
finds where to install model_garden from (Colab's GitHub notebook path, the checkout, or MODEL_GARDEN_SOURCE)."""

import ast
import http.server
import json
import os
import threading

import pytest

from notebook_kernel import execute, read_notebook, require_notebook_tools, stdout_texts

require_notebook_tools()


def test_quickstart_runs_tiny_and_offline(tiny_shapes, tmp_path, monkeypatch):
  _, data_dir = tiny_shapes
  notebook = read_notebook("quickstart.ipynb")
  assert "MODEL_GARDEN_SOURCE = \"\"" in notebook.cells[1].source  # The install cell (skipped: model_garden imports).
  # Tiny: the notebook makes its own preset, never downloads.
  execute(notebook, tmp_path, monkeypatch, data_dir=data_dir,
          env={"MODEL_GARDEN_PRESETS": str(tmp_path / "presets")})
  stdout = stdout_texts(notebook)
  text = "\n".join(stdout)
  assert "Preset('tiny_vit', VisionTransformer" in text and "model.weights.h5" in text
  assert "the preset is complete" in text
  results = json.loads(stdout[-1].strip().splitlines()[-1])
  assert results["tiny"] is True and results["fine_tune_steps"] == 10 and results["image_size"] == 32
  assert 0.0 <= results["test_accuracy"] <= 1.0
  assert results["served_matches_keras"] is True


def _install_cell_functions():
  """The install cell's definitions, executed without its last statement (the install itself)."""
  source = read_notebook("quickstart.ipynb").cells[1].source
  tree = ast.parse(source)
  assert isinstance(tree.body[-1], ast.If) and "pip" in ast.unparse(tree.body[-1])
  tree.body = tree.body[:-1]
  namespace = {"__name__": "quickstart_install_cell"}
  exec(compile(tree, "quickstart.ipynb cell 1", "exec"), namespace)  # pylint: disable=exec-used
  return namespace


def test_install_cell_derives_the_source_from_colabs_github_path():
  cell = _install_cell_functions()
  github = cell["github_source"]
  assert github("github/someone/model_garden/blob/main/examples/quickstart.ipynb") == (
      "git+https://github.com/someone/model_garden.git@main")
  assert github("fileId=https%3A%2F%2Fgithub.com%2Fa-b%2Fgarden.git%2Fblob%2Ffeature%2Fx%2Fexamples%2Fquickstart"
                ".ipynb") == "git+https://github.com/a-b/garden.git@feature/x"
  assert github("fileId=1AbCdEf_drive_id") is None and github(None) is None


def test_install_cell_reads_the_colab_session_and_falls_back_to_the_checkout(monkeypatch, tmp_path):
  sessions = [{"path": "fileId=https%3A%2F%2Fgithub.com%2Fsomeone%2Fmodel_garden%2Fblob%2Fv2%2Fexamples%2F"
                       "quickstart.ipynb", "name": "quickstart.ipynb"}]

  class Sessions(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # pylint: disable=invalid-name
      body = json.dumps(sessions if self.path == "/api/sessions" else []).encode()
      self.send_response(200)
      self.end_headers()
      self.wfile.write(body)

    def log_message(self, *args):
      pass

  server = http.server.HTTPServer(("127.0.0.1", 0), Sessions)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  try:
    cell = _install_cell_functions()
    assert cell["colab_notebook_path"]() is None  # Not Colab: nothing is asked.
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-test")
    monkeypatch.setenv("COLAB_JUPYTER_IP", "127.0.0.1")
    monkeypatch.setenv("COLAB_JUPYTER_PORT", str(server.server_port))
    monkeypatch.delenv("MODEL_GARDEN_PIP", raising=False)
    monkeypatch.chdir(tmp_path)  # Not inside a checkout.
    assert cell["pip_source"]() == "git+https://github.com/someone/model_garden.git@v2"
    cell["MODEL_GARDEN_SOURCE"] = "/my/wheel.whl"  # The one obvious place to name another source wins.
    assert cell["pip_source"]() == "/my/wheel.whl"
    cell["MODEL_GARDEN_SOURCE"] = ""
    monkeypatch.chdir(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
    assert cell["pip_source"]() == os.path.dirname(os.getcwd())  # Jupyter in a checkout: the checkout.
    sessions[:] = [{"path": "fileId=1AbCdEf_drive_id"}]  # A Drive copy: no repository to name.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeError, match="Set MODEL_GARDEN_SOURCE at the top of this cell"):
      cell["pip_source"]()
  finally:
    server.shutdown()
