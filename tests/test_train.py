"""The training job end to end on a tiny mg_shapes: outputs, resume, NaN guard, precision, bad input."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import model_garden
from model_garden.configs import mg_shapes_classification
from model_garden.training import NonFiniteLossError, TrainCheckpointer, train


def _config(tiny_shapes, **overrides):
  builder, data_dir = tiny_shapes
  config = mg_shapes_classification.get_config("runlocal")
  config.input.data_dir = data_dir
  config.input.data = dict(name="mg_shapes/tiny32", split="train")
  config.deterministic = True
  for ev in config.evals.values():
    ev.data["name"] = "mg_shapes/tiny32"
  for key, value in overrides.items():
    node = config
    *parents, leaf = key.split(".")
    for p in parents:
      node = node[p]
    node[leaf] = value
  return config


class _Crash(Exception):
  pass


class _CrashAt(keras.callbacks.Callback):
  """Dies abruptly (no cleanup) after `step` steps, like a killed process."""

  def __init__(self, step):
    super().__init__()
    self.step = step

  def on_train_batch_end(self, batch, logs=None):
    if int(self.model.optimizer.iterations.numpy()) >= self.step:
      raise _Crash()


class _PoisonAt(keras.callbacks.Callback):
  """Writes a NaN into the weights after `step` steps, as a diverging run would."""

  def __init__(self, step):
    super().__init__()
    self.step = step

  def on_train_batch_end(self, batch, logs=None):
    if int(self.model.optimizer.iterations.numpy()) == self.step:
      v = self.model.network.weights[0]
      v.assign(tf.fill(v.shape, float("nan")))


def _weights(workdir):
  model = keras.saving.load_model(os.path.join(workdir, "model.keras"))
  return [w.numpy() for w in model.weights]


def test_train_writes_outputs_and_learns(tiny_shapes, tmp_path):
  workdir = str(tmp_path / "run")
  results = train(_config(tiny_shapes), workdir, verbose=0)
  assert results["step"] == 20
  for name in ("model.keras", "export.json", "results.json", "config.json"):
    assert os.path.exists(os.path.join(workdir, name)), name
  assert os.listdir(os.path.join(workdir, "tensorboard"))
  assert TrainCheckpointer.__name__  # checkpoints every 10 steps, 2 kept
  ckpts = tf.train.get_checkpoint_state(os.path.join(workdir, "checkpoints")).all_model_checkpoint_paths
  assert [os.path.basename(p) for p in ckpts] == ["ckpt-10", "ckpt-20"]
  assert 0.0 <= results["test/accuracy"] <= 1.0 and results["test/num_examples"] == 64
  assert np.isfinite(results["train/loss"])
  saved = json.load(open(os.path.join(workdir, "results.json")))
  assert saved["step"] == 20


def test_killed_run_resumes_to_the_same_result(tiny_shapes, tmp_path):
  config = _config(tiny_shapes)
  straight = str(tmp_path / "straight")
  train(config, straight, verbose=0)

  resumed = str(tmp_path / "resumed")
  with pytest.raises(_Crash):
    train(_config(tiny_shapes), resumed, verbose=0, extra_callbacks=[_CrashAt(13)])
  assert not os.path.exists(os.path.join(resumed, "model.keras"))
  assert tf.train.latest_checkpoint(os.path.join(resumed, "checkpoints")).endswith("ckpt-10")
  results = train(_config(tiny_shapes), resumed, verbose=0)
  assert results["step"] == 20
  for a, b in zip(_weights(straight), _weights(resumed)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_nan_stops_training_and_keeps_last_good_checkpoint(tiny_shapes, tmp_path):
  workdir = str(tmp_path / "nan")
  with pytest.raises(NonFiniteLossError, match=r"step 1[2-5].*ckpt-10.*lr"):
    train(_config(tiny_shapes), workdir, verbose=0, extra_callbacks=[_PoisonAt(12)])
  ckpt_dir = os.path.join(workdir, "checkpoints")
  assert tf.train.latest_checkpoint(ckpt_dir).endswith("ckpt-10")
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(ckpt_dir))
  for name in reader.get_variable_to_shape_map():
    value = reader.get_tensor(name)
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
      assert np.all(np.isfinite(value)), name
  # A rerun resumes from the good checkpoint and finishes.
  assert train(_config(tiny_shapes), workdir, verbose=0)["step"] == 20


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains(tiny_shapes, tmp_path, precision):
  try:
    results = train(_config(tiny_shapes, precision=precision, total_steps=10, checkpoint_steps=10),
                    str(tmp_path / precision), verbose=0)
  finally:
    keras.mixed_precision.set_global_policy("float32")
  assert results["step"] == 10 and np.isfinite(results["train/loss"])


def test_schedule_mismatch_is_explained(tiny_shapes, tmp_path):
  with pytest.raises(ValueError, match="multiple of config.log_steps"):
    train(_config(tiny_shapes, total_steps=21), str(tmp_path / "x"), verbose=0)


def test_unknown_config_argument_suggests():
  with pytest.raises(KeyError, match="runlocal"):
    mg_shapes_classification.get_config("runlocl")


def _cli(*args, env=None):
  return subprocess.run([sys.executable, "-m", "model_garden.train", *args], capture_output=True, text=True,
                        timeout=600, env={**os.environ, **(env or {})})


def test_cli_rejects_unknown_config_key(tmp_path):
  proc = _cli("--config=model_garden/configs/mg_shapes_classification.py:runlocal",
              f"--workdir={tmp_path}", "--config.optimizer.lrr=0.1")
  assert proc.returncode != 0
  assert "lrr" in proc.stderr


def test_cli_trains_with_overrides(tiny_shapes, tmp_path):
  _, data_dir = tiny_shapes
  proc = _cli("--config=model_garden/configs/mg_shapes_classification.py:runlocal",
              f"--workdir={tmp_path}", f"--config.input.data_dir={data_dir}",
              "--config.input.data.name=mg_shapes/tiny32", "--config.evals.val.data.name=mg_shapes/tiny32",
              "--config.evals.test.data.name=mg_shapes/tiny32", "--config.total_steps=10")
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.loads(proc.stdout.strip().splitlines()[-1])
  assert results["step"] == 10


def test_checkpoint_that_does_not_fit_lists_variables(tiny_shapes, tmp_path):
  workdir = str(tmp_path / "run")
  train(_config(tiny_shapes, total_steps=10, checkpoint_steps=10), workdir, verbose=0)
  with pytest.raises(model_garden.training.CheckpointMismatchError) as info:
    train(_config(tiny_shapes, **{"networks.network.widths": (8, 24)}), workdir, verbose=0)
  text = str(info.value)
  assert "does not fit" in text and "mis-shaped" in text
  assert "final_norm/gamma: checkpoint (16,) vs model (24,)" in text
