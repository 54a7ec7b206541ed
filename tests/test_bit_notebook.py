"""examples/bit_hyperrule_transfer.ipynb executes end to end at tiny size (MG_NOTEBOOK_TINY=1)."""

import json

from notebook_kernel import require_notebook_tools, run_notebook, stdout_texts

require_notebook_tools()


def test_notebook_runs_tiny(tiny_shapes, tmp_path, monkeypatch):
  _, data_dir = tiny_shapes  # Reuse the session's prepared tiny mg_shapes.
  notebook = run_notebook("bit_hyperrule_transfer.ipynb", tmp_path, monkeypatch, data_dir=data_dir)
  stdout = stdout_texts(notebook)
  text = "\n".join(stdout)
  assert "CIFAR-10" in text and "decode|resize(160)|random_crop(128)|flip_lr|value_range(-1, 1)" in text
  results = json.loads(stdout[-1].strip().splitlines()[-1])
  assert results["tiny"] is True and results["transfer_steps"] == 10
  for key in ("upstream/val_accuracy", "transfer/test_accuracy"):
    assert 0.0 <= results[key] <= 1.0
  assert results["scratch/test_accuracy"] is None  # The from-scratch comparison runs at full size only.
  assert results["hyperrule"]["crop_size"] == 128 and results["hyperrule"]["total_steps"] == 500
