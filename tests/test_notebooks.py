"""The example notebooks run top to bottom (at their tiny size, MG_NOTEBOOK_TINY=1) in a fresh kernel."""

from notebook_kernel import last_json, require_notebook_tools, run_notebook

require_notebook_tools()


def test_vit_finetune_fewshot(tiny_shapes, tmp_path, monkeypatch):
  _, data_dir = tiny_shapes  # The notebook's tiny mg_shapes is this fixture's config: already prepared.
  notebook = run_notebook("vit_finetune_fewshot.ipynb", tmp_path, monkeypatch, data_dir=data_dir)
  results = last_json(notebook)
  assert results["tiny"] is True
  assert 0.0 <= results["test_accuracy"] <= 1.0
  for task in ("mg_shapes", "mg_colours"):
    for shots in (1, 5, 10, 25):
      assert 0.0 <= results[f"fewshot/{task}_{shots}shot"] <= 1.0
      assert 0.0 <= results[f"fewshot_at_init/{task}_{shots}shot"] <= 1.0
  assert results["steps"] == 10
