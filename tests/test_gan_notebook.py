"""examples/gan_mg_shapes.ipynb executes end to end at tiny size (MG_NOTEBOOK_TINY=1), offline."""

import math

from notebook_kernel import last_json, require_notebook_tools, run_notebook, stdout_texts

require_notebook_tools()


def test_gan_notebook_runs_tiny(tiny_shapes, tmp_path, monkeypatch):
  _, data_dir = tiny_shapes  # Reuse the session's prepared tiny mg_shapes (the notebook's tiny config).
  notebook = run_notebook("gan_mg_shapes.ipynb", tmp_path, monkeypatch, data_dir=data_dir)
  text = "\n".join(stdout_texts(notebook))
  assert "discriminator: sndcgan_discriminator(ch=8, image_size=32, spectral_norm=True)" in text  # no trainer keys
  assert "objective:     gan(loss='non_saturating', n_disc=1, penalty='none', standing_stats_samples=0)" in text
  assert "untrained generator: FID" in text
  images = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
            if "image/png" in out.get("data", {})]
  assert len(images) >= 2  # the real images and the sample grid
  results = last_json(notebook)
  assert results["tiny"] is True and results["dataset"] == "mg_shapes/tiny32" and results["gan_steps"] == 4
  assert 0.0 <= results["classifier_accuracy"] <= 1.0
  for key in ("fid_init", "fid", "kid", "is"):
    assert math.isfinite(results[key]), key
  assert results["fid"] >= 0.0 and results["fid_init"] >= 0.0 and 1.0 <= results["is"] <= 8.0 + 1e-6
  assert results["num_fake"] == 64 and results["samples"] == "step_00000004.png"
