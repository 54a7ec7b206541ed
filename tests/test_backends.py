"""The networks give TensorFlow's outputs on Keras' JAX and PyTorch backends, with TensorFlow blocked.

This process (TensorFlow) builds every tiny network of tests/backend_worker.py, perturbs and saves its
weights, converts a big_vision ViT checkpoint and writes a preset; one subprocess per backend
(`KERAS_BACKEND=jax` / `torch`, `sys.modules["tensorflow"] = None`) loads them and recomputes. Outputs agree
to 1e-4. The workers also report what needs no TensorFlow reference (RevNet's memory-saving gradients,
standing statistics, `compile`/`fit`, the TensorFlow-only packages' errors), checked below.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import model_garden  # noqa: F401  (the TensorFlow backend: conftest sets it)
from model_garden import convert, presets

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BACKENDS = ("jax", "torch")
TOL = 1e-4


def _load(name):
  spec = importlib.util.spec_from_file_location(f"model_garden_tests_{name}", os.path.join(HERE, f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  sys.modules[spec.name] = module
  spec.loader.exec_module(module)
  return module


worker = _load("backend_worker")


def _installed(module):
  return importlib.util.find_spec(module) is not None


def _extra_cases(directory, arrays):
  """A big_vision ViT checkpoint (converted on each backend) and a classifier preset (loaded on each)."""
  helpers = _load("test_convert")
  flat = helpers.big_vision_npz(helpers.random_vit(seed=3, pool="map"))
  npz = os.path.join(directory, "vit_big_vision.npz")
  np.savez(npz, **flat)
  spec = helpers.vit_spec(pool="map")
  images = helpers.images(seed=4)
  arrays["converted_vit/input/images"] = images
  arrays["converted_vit/output/infer"] = np.asarray(convert.convert(npz, spec)(images))

  preset_spec = "vit(variant='mu/8', num_classes=3, image_size=16)"
  model = worker.build(preset_spec)
  worker.perturb(model, seed=11)
  path = presets.save_preset(model, os.path.join(directory, "preset"), spec=preset_spec, image_size=16,
                             saved_model=False, class_names=["circle", "square", "star"],
                             metadata={"licence": {"name": "Apache-2.0", "source": "this test"},
                                       "training_data": "none (random weights)", "accuracy": None,
                                       "accuracy_note": "random weights"})
  preset = presets.load_preset(path)
  pixels = np.random.default_rng(5).integers(0, 256, (2, 21, 27, 3)).astype(np.uint8)
  arrays["preset/input/pixels"] = pixels
  arrays["preset/output/logits"] = np.asarray(preset.model(preset.preprocess(pixels)))
  top1 = [[(n, round(p, 6)) for n, p in row] for row in preset.classify(pixels, top_k=1)]
  return {"converted_vit": {"npz": npz, "spec": spec}, "preset": {"path": path, "top1": top1}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  missing = [b for b in BACKENDS if not _installed(b)]
  if missing:
    pytest.fail(f"{', '.join(missing)} not installed: `make test` installs them (setup.py extra 'dev'); "
                "else pip install -e '.[jax,torch]'.")
  directory = str(tmp_path_factory.mktemp("backends"))
  worker.save(directory, extra=_extra_cases)
  procs = {}
  for backend in BACKENDS:
    env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")])}
    procs[backend] = subprocess.Popen([sys.executable, os.path.join(HERE, "backend_worker.py"), "check", directory],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
  reports = {}
  for backend, proc in procs.items():
    output, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, f"{backend} worker failed:\n{output[-6000:]}"
    with open(os.path.join(directory, f"report_{backend}.json"), encoding="utf-8") as f:
      reports[backend] = json.load(f)
  with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as f:
    manifest = json.load(f)
  return directory, reports, manifest


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_network_gives_tensorflows_outputs(runs, backend):
  directory, _, _ = runs
  reference = np.load(os.path.join(directory, "reference.npz"))
  got = np.load(os.path.join(directory, f"outputs_{backend}.npz"))
  expected_keys = sorted(k for k in reference.files if "/output/" in k)
  assert sorted(got.files) == expected_keys
  names = {k.split("/")[0] for k in expected_keys}
  assert set(worker.NETWORKS) | {"converted_vit", "preset"} == names
  for key in expected_keys:
    want, have = reference[key], got[key]
    assert want.shape == have.shape, key
    assert np.std(want) > 1e-3, f"{key}: a constant output would not test the weights"
    np.testing.assert_allclose(have, want, atol=TOL, rtol=0, err_msg=f"{key} on {backend}")


def test_second_training_call_sees_the_updated_spectral_norm_vectors(runs):
  # So the equality of train_2 above also compares the `u` that each backend's first call stored.
  directory, _, _ = runs
  reference = np.load(os.path.join(directory, "reference.npz"))
  for name in ("biggan_g", "dcgan_d_bn", "resnet_cifar_d_ln"):  # The spectral-normalised ones.
    first, second = reference[f"{name}/output/train_1"], reference[f"{name}/output/train_2"]
    assert np.max(np.abs(first - second)) > 1e-7, name


@pytest.mark.parametrize("backend", BACKENDS)
def test_preset_classifies_as_on_tensorflow(runs, backend):
  _, reports, manifest = runs
  got = reports[backend]["preset_top1"]
  want = manifest["preset"]["top1"]
  assert [[n for n, _ in row] for row in got] == [[n for n, _ in row] for row in want]
  np.testing.assert_allclose([[p for _, p in row] for row in got], [[p for _, p in row] for row in want],
                             atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_revnet_memory_saving_gradients_equal_plain_autodiff(runs, backend):
  report = runs[1][backend]
  assert report["revnet_grad_count"] > 20
  assert report["revnet_grad_max_abs"] > 1e-3
  assert report["revnet_grad_max_abs_diff"] <= 1e-4 * max(1.0, report["revnet_grad_max_abs"])
  # The moving averages are updated once per training call, as in plain autodiff.
  assert report["revnet_moving_stats_max_abs_diff"] <= 1e-5


@pytest.mark.parametrize("backend", BACKENDS)
def test_standing_statistics_accumulate(runs, backend):
  report = runs[1][backend]
  assert report["standing_layers"] >= 2
  assert report["standing_max_abs_diff"] <= 1e-5


@pytest.mark.parametrize("backend", BACKENDS)
def test_classifier_fine_tunes_with_keras_fit(runs, backend):
  report = runs[1][backend]
  assert report["fit_loss"][-1] < 0.5 * report["fit_loss"][0]
  assert report["fit_accuracy"] >= 0.9


@pytest.mark.parametrize("backend", BACKENDS)
def test_tensorflow_stays_out_and_its_parts_say_so(runs, backend):
  report = runs[1][backend]
  assert report["tensorflow_modules"] == []
  errors = report["tensorflow_only_errors"]
  assert set(errors) == {"data", "text", "evaluation", "objectives", "training", "export"}
  for what in ("data", "text", "evaluation"):
    assert "needs TensorFlow, which is not installed" in errors[what], errors[what]
  for what in ("objectives", "training", "export"):
    assert f"is TensorFlow-only, and Keras runs on '{backend}'" in errors[what], errors[what]
