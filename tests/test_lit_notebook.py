"""examples/lit_zero_shot.ipynb executes end to end at tiny size (MG_NOTEBOOK_TINY=1)."""

import json
import os

from notebook_kernel import ROOT, require_notebook_tools, run_notebook, stdout_texts

require_notebook_tools()


def test_lit_notebook_runs_tiny(tiny_shapes, tmp_path, monkeypatch):
  _, data_dir = tiny_shapes  # Reuse the session's prepared tiny mg_shapes.
  # Run from the notebook's own folder, as Jupyter does: it imports examples/lit_demo.py beside it.
  notebook = run_notebook("lit_zero_shot.ipynb", tmp_path, monkeypatch, data_dir=data_dir,
                          cwd=os.path.join(ROOT, "examples"))
  stdout = stdout_texts(notebook)
  text = "\n".join(stdout)
  assert "pieces" in text and "zero-shot shapes" in text and "zero-shot colours" in text
  results = json.loads(stdout[-1].strip().splitlines()[-1])
  assert results["tiny"] is True and results["lit_steps"] == 10
  assert results["image_tower_locked"] is True
  for key in ("zero_shot_shapes", "zero_shot_colours", "held_out_shapes", "held_out_colours", "i2t_recall@1",
              "t2i_recall@1"):
    assert 0.0 <= results[key] <= 1.0, key
  assert set(results["image_tower"]) == {"test_shapes", "test_colours", "held_out_shapes", "held_out_colours"}
  for name in ("embed_images", "embed_texts", "zero_shot"):
    assert name in results["signatures"]
