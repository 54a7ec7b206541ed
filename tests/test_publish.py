"""tools/publish.py: the dry run validates a preset and lists the upload; the upload calls kagglehub (faked)."""

import importlib.util
import inspect
import json
import os
import shutil
import sys
import types

import pytest

import model_garden  # noqa: F401
from model_garden.models import registry as model_registry
from model_garden.presets import save_preset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SPEC = importlib.util.spec_from_file_location("model_garden_tools_publish", os.path.join(ROOT, "tools", "publish.py"))
publish = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(publish)

SPEC = "vit(variant='mu/8', num_classes=2, image_size=16)"
CARD = {"licence": {"name": "Apache-2.0", "kaggle_license_name": "Apache 2.0", "source": "this test"},
        "training_data": "none", "paper": {"title": "An Image is Worth 16x16 Words"}, "accuracy": None,
        "accuracy_note": "random weights", "title": "Tiny ViT"}
HANDLE = "me/tiny-vit/keras/v1"


@pytest.fixture(scope="module")
def preset_dir(tmp_path_factory):
  model = model_registry.get(SPEC)
  return save_preset(model, tmp_path_factory.mktemp("publish") / "tiny_vit", spec=SPEC, image_size=16, metadata=CARD,
                     class_names=["a", "b"])


def _run(argv):
  out, err = [], []
  status = publish.run(argv, out=out.append, err=err.append)
  return status, "\n".join(out), "\n".join(err)


def test_dry_run_validates_and_lists_the_upload(preset_dir, monkeypatch):
  monkeypatch.setitem(sys.modules, "kagglehub", None)  # The dry run needs no kagglehub and no network.
  status, out, err = _run([f"--preset={preset_dir}", f"--handle={HANDLE}", "--dry_run"])
  assert status == 0, err
  assert "DRY RUN" in out and f"handle:        {HANDLE}" in out and "licence:       Apache 2.0" in out
  for name in ("model.weights.h5", "config.json", "preprocessing.json", "metadata.json", "README.md",
               "assets/class_names.txt", "saved_model/saved_model.pb"):
    assert f"  {name}" in out, name
  assert "KiB" in out and "agrees with Keras" in out and "serving_default" in out
  assert f"kagglehub.model_upload('{HANDLE}'" in out


def test_dry_run_reports_what_is_missing(preset_dir, tmp_path):
  broken = tmp_path / "broken"
  shutil.copytree(preset_dir, broken)
  card = json.loads((broken / "metadata.json").read_text())
  card["licence"] = None
  (broken / "metadata.json").write_text(json.dumps(card))
  os.remove(broken / "saved_model" / "saved_model.pb")
  status, out, err = _run([f"--preset={broken}", f"--handle={HANDLE}", "--dry_run"])
  assert status == 1 and "not ready to publish" in err
  assert "licence" in out and "saved_model/saved_model.pb" in out


@pytest.mark.parametrize("handle, message", [("me/tiny-vit", "OWNER/MODEL/FRAMEWORK/VARIATION"),
                                             ("me/tiny-vit/keras/v1/3", "includes a version")])
def test_bad_handles_are_refused(preset_dir, handle, message):
  status, _, err = _run([f"--preset={preset_dir}", f"--handle={handle}", "--dry_run"])
  assert status == 2 and message in err


def test_upload_calls_kagglehub_model_upload(preset_dir, monkeypatch):
  calls = []
  fake = types.ModuleType("kagglehub")
  fake.model_upload = lambda handle, local_model_dir, license_name=None, version_notes="": calls.append(
      (handle, local_model_dir, license_name, version_notes))
  monkeypatch.setitem(sys.modules, "kagglehub", fake)
  status, out, err = _run([f"--preset={preset_dir}", f"--handle={HANDLE}", "--version_notes=first"])
  assert status == 0, err
  assert calls == [(HANDLE, str(preset_dir), "Apache 2.0", "first")]
  assert "https://www.kaggle.com/models/me/tiny-vit" in out


def test_upload_without_kagglehub_says_how_to_install(preset_dir, monkeypatch):
  monkeypatch.setitem(sys.modules, "kagglehub", None)
  status, _, err = _run([f"--preset={preset_dir}", f"--handle={HANDLE}"])
  assert status == 1 and "pip install kagglehub" in err and "--dry_run works without it" in err


def test_installed_kagglehub_has_the_signature_publish_uses():
  kagglehub = pytest.importorskip("kagglehub")
  parameters = inspect.signature(kagglehub.model_upload).parameters
  assert list(parameters)[:4] == ["handle", "local_model_dir", "license_name", "version_notes"]


def test_missing_weights_are_reported_without_a_false_no_licence(preset_dir, tmp_path):
  broken = tmp_path / "no_weights"
  shutil.copytree(preset_dir, broken)
  os.remove(broken / "model.weights.h5")
  status, out, err = _run([f"--preset={broken}", f"--handle={HANDLE}", "--dry_run"])
  assert status == 1 and "missing model.weights.h5" in out
  assert "no licence" not in out and "licence:       Apache 2.0" in out  # The card has one.


def test_upload_offline_is_one_clear_error(preset_dir, monkeypatch):
  requests = pytest.importorskip("requests")

  def offline(*args, **kwargs):
    raise requests.exceptions.ConnectionError("HTTPSConnectionPool(host='www.kaggle.com', port=443): Max retries "
                                              "exceeded (NameResolutionError)")

  fake = types.ModuleType("kagglehub")
  fake.model_upload = offline
  monkeypatch.setitem(sys.modules, "kagglehub", fake)
  status, _, err = _run([f"--preset={preset_dir}", f"--handle={HANDLE}"])
  assert status == 1 and err.count("\n") == 0
  assert err.startswith("error: could not reach Kaggle to upload (ConnectionError: HTTPSConnectionPool")
  assert "Check the network connection" in err and "--dry_run validates the preset offline" in err
