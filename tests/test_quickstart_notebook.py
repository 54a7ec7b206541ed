"""examples/quickstart.ipynb executes end to end at tiny size (MG_NOTEBOOK_TINY=1), offline."""

import json

from notebook_kernel import execute, read_notebook, require_notebook_tools, stdout_texts

require_notebook_tools()


def test_quickstart_runs_tiny_and_offline(tiny_shapes, tmp_path, monkeypatch):
  _, data_dir = tiny_shapes
  notebook = read_notebook("quickstart.ipynb")
  assert "%pip install" in notebook.cells[1].source  # The Colab install cell (skipped: model_garden imports).
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
