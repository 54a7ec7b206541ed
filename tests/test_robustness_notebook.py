"""examples/robustness_mg_shapes.ipynb executes end to end at tiny size (MG_NOTEBOOK_TINY=1)."""

from notebook_kernel import EXAMPLES, all_text, execute, read_notebook, require_notebook_tools


def test_notebook_runs_tiny(tiny_shapes, tmp_path, monkeypatch):
  require_notebook_tools()
  _, data_dir = tiny_shapes  # Reuse the session's prepared tiny mg_shapes.
  notebook = read_notebook("robustness_mg_shapes.ipynb", validate=False)
  assert notebook.nbformat == 4
  # The kernel starts in examples/; PYTHONPATH is left as the test process has it.
  execute(notebook, tmp_path, monkeypatch, data_dir=data_dir, cwd=EXAMPLES, pythonpath=False)
  text = all_text(notebook)
  assert "streaming RealAccuracy:" in text
  assert "top-1: original" in text
  assert "| gaussian_noise |" in text  # The report's corruption table.
  assert "corruptions.png" in text
