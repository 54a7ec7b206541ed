"""`make demo`'s job: the LiT pipeline (tiny), its SavedModel, the final JSON line; the classifier job's flags."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")


def test_lit_demo_tiny_end_to_end(tiny_shapes, tmp_path):
  _, data_dir = tiny_shapes
  workdir = tmp_path / "demo"
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
             PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
  proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, "demo.py"), "--tiny", f"--workdir={workdir}",
                         f"--data_dir={data_dir}"], capture_output=True, text=True, env=env, timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  lines = proc.stdout.strip().splitlines()
  figures = json.loads(lines[-1])
  assert figures["demo"] == "LiT on mg_shapes"
  assert set(figures["settings"]) == {"Lu", "uu", "Uu", "UU"}
  zero_shot = ("zero_shot_shapes", "zero_shot_colours", "held_out_shapes", "held_out_colours")
  for row in figures["settings"].values():
    for key in (*zero_shot, "i2t_recall@1", "t2i_recall@1"):
      assert 0.0 <= row[key] <= 1.0, key
  assert set(figures["linear_probe"]) == {"shapes", "colours", "held_out_shapes", "held_out_colours"}
  # The paper's checks are the stated inequalities on the printed figures.
  settings = figures["settings"]
  for metric in zero_shot:
    assert sorted(figures["order_by_zero_shot"][metric]) == sorted(settings)
    lu = settings["Lu"][metric]
    assert figures["paper_checks"][metric] == {"Lu>=uu+0.1": lu >= settings["uu"][metric] + 0.1 - 1e-9,
                                               "Lu>=UU-0.03": lu >= settings["UU"][metric] - 0.03 - 1e-9,
                                               "Lu>=Uu-0.03": lu >= settings["Uu"][metric] - 0.03 - 1e-9}
  assert figures["paper_result_holds"] == all(all(r.values()) for r in figures["paper_checks"].values())
  # Held-out pairs never reach the image-text data: of the tiny train[:128], fewer than 128 images are pairs.
  examples = figures["examples"]
  assert 0 < examples["image_text_pairs"] < 128 and examples["labelled_images"] == 128
  assert examples["held_out_test_images"] > 0
  assert any(line.startswith("LiT (Lu) zero-shot test accuracy: shapes") for line in lines)
  # The SavedModel serves: its zero_shot signature scored the test images in the run.
  assert os.path.isfile(workdir / "saved_model" / "saved_model.pb")
  assert 0.0 <= figures["saved_model_zero_shot_shapes"] <= 1.0
  assert figures["saved_model_agrees_with_keras"] >= 0.99
  for name in ("results.md", "results.png", "results.json", "vocab.model", "img.keras", "txt.keras"):
    assert (workdir / name).is_file(), name
  assert (workdir / "lit_Lu" / "model.keras").is_file()
  assert "| Lu |" in (workdir / "results.md").read_text()


def test_demo_rejects_unknown_job():
  proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, "demo.py"), "--job=gan"], capture_output=True,
                        text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), timeout=300)
  assert proc.returncode != 0
  assert "lit" in proc.stderr and "classification" in proc.stderr
