"""First contact and failure: bad input and broken files get one clear error, never a silent result.

One test (or a few) per case of the first-contact issue; each asserts the message or the behaviour.
Command lines run in subprocesses without TF_CPP_MIN_LOG_LEVEL, to check that they quiet TensorFlow themselves.
"""

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import model_garden
import keras
import tensorflow as tf

from model_garden import cli, errors
from model_garden.registry import Registry, SpecError
from model_garden.training import checkpointing, progress, workdir_lock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = "model_garden/configs/mg_shapes_classification.py"
TOOLS = sorted(f for f in os.listdir(os.path.join(ROOT, "tools")) if f.endswith(".py") and not f.startswith("_"))
# Tools whose module imports model_garden (so TensorFlow) at the top: their --help only exits 0.
HEAVY_TOOLS = ("benchmark.py", "gan_study.py")


def _env(**extra):
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
  env.update(extra)
  return env


def _run(args, **kwargs):
  return subprocess.run([sys.executable] + args, cwd=ROOT, env=_env(), capture_output=True, text=True,
                        timeout=300, **kwargs)


def _one_error_line(result):
  """The single stderr line of a user error (exit status 2, no traceback, no TensorFlow start-up lines)."""
  lines = [line for line in result.stderr.splitlines() if line.strip()]
  assert result.returncode == 2, result.stderr[-3000:]
  assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-3000:]
  return lines[0]


# -- Item 4/5: the command lines ------------------------------------------------------------------------------

def test_train_cli_user_errors_are_one_line(tmp_path):
  unknown_key = _one_error_line(_run(["-m", "model_garden.train", f"--config={CONFIG}:runlocal",
                                      f"--workdir={tmp_path}/w", "--config.optimizer.lrr=0.1"]))
  assert unknown_key == ("error: --config.optimizer.lrr=0.1: config.optimizer has no field 'lrr'. "
                         "Did you mean \"lr\" instead of \"lrr\"?")
  missing = _one_error_line(_run(["-m", "model_garden.train", "--config=no/such_config.py", f"--workdir={tmp_path}/w"]))
  assert missing.startswith("error: --config: cannot load no/such_config.py (No such file or directory).")
  a_file = tmp_path / "a_file"
  a_file.write_text("x")
  workdir_is_file = _one_error_line(_run(["-m", "model_garden.train", f"--config={CONFIG}:runlocal",
                                          f"--workdir={a_file}"]))
  assert "is a file" in workdir_is_file and str(a_file) in workdir_is_file
  not_writable = _one_error_line(_run(["-m", "model_garden.train", f"--config={CONFIG}:runlocal",
                                       f"--workdir={a_file}/sub"]))
  assert not_writable == f"error: {a_file}/sub: Not a directory"
  negative_steps = _one_error_line(_run(["-m", "model_garden.train", f"--config={CONFIG}:runlocal",
                                         f"--workdir={tmp_path}/steps", "--config.total_steps=-5"]))
  assert negative_steps == "error: config.total_steps must be a positive integer, got -5."
  helpers = _one_error_line(_run(["-m", "model_garden.train", "--config=model_garden/configs/gan/common.py:runlocal",
                                  f"--workdir={tmp_path}/helpers"]))
  assert "model_garden/configs/gan/common.py defines no get_config(), so it is not a config file" in helpers
  assert not os.path.exists(tmp_path / "steps")  # nothing trained, nothing written


def test_train_cli_verbose_shows_the_traceback(tmp_path):
  result = _run(["-m", "model_garden.train", "--config=no/such_config.py", f"--workdir={tmp_path}/w", "--verbose"])
  assert result.returncode == 1 and "Traceback (most recent call last)" in result.stderr
  assert "cannot load no/such_config.py" in result.stderr


@pytest.mark.parametrize("tool", TOOLS)
def test_tool_help_exits_zero_without_tensorflow(tool):
  # runpy runs the script as `python tools/<tool> --help` would; the last line says whether TF was imported.
  code = (f"import runpy, sys; sys.path.insert(0, 'tools'); sys.argv = ['tools/{tool}', '--help']\n"
          f"try:\n  runpy.run_path('tools/{tool}', run_name='__main__')\n"
          "except SystemExit as e:\n  code = e.code\nelse:\n  code = 0\n"
          "print('EXIT', code or 0, 'tensorflow' in sys.modules)")
  result = _run(["-c", code])
  assert result.returncode == 0, result.stderr[-2000:]
  last = result.stdout.strip().splitlines()[-1]
  assert last.startswith("EXIT 0"), last
  assert "usage" in result.stdout.lower() or "flags:" in result.stdout
  if tool not in HEAVY_TOOLS:
    assert last == "EXIT 0 False", f"{tool} --help imported TensorFlow"


def test_module_help_exits_zero():
  for module in ("model_garden.train", "model_garden.export"):
    result = _run(["-m", module, "--help"])
    assert result.returncode == 0 and "--workdir" in result.stdout, (module, result.stderr[-2000:])


def test_help_flags_agree():
  sys.path.insert(0, os.path.join(ROOT, "tools"))
  try:
    import _command  # pylint: disable=import-outside-toplevel
  finally:
    sys.path.pop(0)
  assert _command.HELP_FLAGS == cli.HELP_FLAGS


def test_strategy_names_agree():
  from model_garden import train  # pylint: disable=import-outside-toplevel
  from model_garden.training.strategy import STRATEGIES  # pylint: disable=import-outside-toplevel
  assert train.STRATEGY_NAMES == STRATEGIES


def test_tensorflow_startup_lines_obey_the_log_level():
  text = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
          "I0000 00:00:1796405923.878764   29915 port.cc:153] oneDNN custom operations are on.\n"
          "I0000 00:00:1796405923.975701   29915 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n"
          "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.\n"
          "W0000 00:00:1796405935.336881   29915 cache_dataset_ops.cc:912] The calling iterator did not fully read.\n"
          "E0000 00:00:1796405930.061607   29915 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n"
          "/site-packages/x.py:74: UserWarning: a Python warning stays\n")
  assert cli.filter_tensorflow_log(text, 0) == text
  assert cli.filter_tensorflow_log(text, 2).splitlines() == [text.splitlines()[5], text.splitlines()[6]]
  assert cli.filter_tensorflow_log(text, 3).splitlines() == [text.splitlines()[6]]


def test_wants_verbose():
  assert cli.wants_verbose(["--verbose"]) and cli.wants_verbose(["--verbose=true"])
  assert cli.wants_verbose(["--verbose", "--workdir=x"]) and cli.wants_verbose(["--verbose", "vit_b16"])
  assert not cli.wants_verbose(["--verbose=2"]) and not cli.wants_verbose(["--verbose", "auto"])
  assert not cli.wants_verbose(["--verbose", "--noverbose"]) and not cli.wants_verbose(["--", "--verbose"])


def test_user_errors_are_classified():
  assert errors.is_user_error(SpecError("x")) and errors.is_user_error(errors.UserError("x"))
  assert errors.is_user_error(checkpointing.CheckpointMismatchError("x"))
  assert errors.is_user_error(model_garden.data.DatasetUnavailableError("x"))
  assert errors.is_user_error(model_garden.training.ConfigError("x"))
  assert errors.is_user_error(PermissionError(13, "Permission denied", "/ro/config.json"))
  assert errors.is_user_error(tf.errors.NotFoundError(None, None, "no such file"))
  assert not errors.is_user_error(ValueError("a bug")) and not errors.is_user_error(KeyError("k"))
  assert not errors.is_user_error(FileNotFoundError("no filename"))
  assert errors.user_message(PermissionError(13, "Permission denied", "/ro/config.json")) == (
      "/ro/config.json: Permission denied")


# -- Item 3: the public names of issues #6 and #8 -------------------------------------------------------------

def test_public_corrupt_and_gan_metrics():
  from model_garden.data.corruptions import corrupt  # pylint: disable=import-outside-toplevel
  from model_garden.evaluation import gan_metrics  # pylint: disable=import-outside-toplevel
  assert model_garden.data.corrupt is corrupt
  images = tf.fill([1, 16, 16, 3], tf.constant(100, tf.uint8))
  brighter = model_garden.data.corrupt(images, "brightness", 3)
  assert brighter.shape == (1, 16, 16, 3) and float(tf.reduce_mean(brighter)) > 100
  ev = model_garden.evaluation
  assert (ev.frechet_distance, ev.kernel_inception_distance, ev.inception_score) == (
      gan_metrics.frechet_distance, gan_metrics.kernel_inception_distance, gan_metrics.inception_score)
  features = np.random.default_rng(0).normal(size=(200, 4))
  shift = np.array([1.0, -2.0, 0.5, 0.0])
  # Equal covariances: the Frechet distance is the squared distance of the means, ||shift||^2 = 5.25.
  np.testing.assert_allclose(ev.frechet_distance(features, features + shift), 5.25, rtol=1e-6)


# -- Registry: argument types -----------------------------------------------------------------------------------

def test_model_spec_argument_types_are_checked():
  with pytest.raises(SpecError) as info:
    model_garden.models.get("resnet_small(num_classes='8', image_size=32)")
  assert str(info.value) == ("model 'resnet_small': num_classes='8' is a str, but num_classes takes an int. "
                             "Write num_classes=8 without quotes.")
  with pytest.raises(SpecError, match=r"widths=16 is an int, but widths takes a Sequence of int"):
    model_garden.models.get("resnet_small(widths=16)")
  with pytest.raises(SpecError, match=r"num_classes=True is a bool, but num_classes takes an int"):
    model_garden.models.get("resnet_small(num_classes=True)")


def test_registry_type_rules():
  toys = Registry("toy")

  @toys.register("typed")
  def typed(count: int = 1, rate: float = 0.5, name: str = "a", size=None, shape: tuple = (1, 2),
            mode="fast", flag=False, table: dict = None, pair: "tuple[int, str]" = (1, "a")):
    return dict(count=count, rate=rate, name=name, size=size, shape=shape, mode=mode, flag=flag, table=table,
                pair=pair)

  assert toys.get("typed(count=3, rate=1, size='anything', shape=[1, 2], mode='slow', table=None)")["rate"] == 1
  assert toys.get("typed(pair=(2, 'b'))")["pair"] == (2, "b")
  for spec, message in (("typed(count=2.0)", "count=2.0 is a float, but count takes an int"),
                        ("typed(rate='0.1')", "rate='0.1' is a str, but rate takes a number. Write rate=0.1"),
                        ("typed(name=3)", "name=3 is an int, but name takes a string"),
                        ("typed(mode=1)", "mode=1 is an int, but mode takes a string"),  # From the default.
                        ("typed(flag='yes')", "flag='yes' is a str, but flag takes a bool"),
                        ("typed(shape=3)", "shape=3 is an int, but shape takes a tuple"),
                        ("typed(pair=(1, 2))", "pair=(1, 2) is a tuple, but pair takes a tuple of (int, str)")):
    with pytest.raises(SpecError, match=re.escape(message)):
      toys.get(spec)


# -- Workdir lock --------------------------------------------------------------------------------------------

_HOLDER = """
import sys, time
from model_garden.training.workdir_lock import WorkdirLock
lock = WorkdirLock(sys.argv[1]).acquire()
print("locked", flush=True)
sys.stdin.read()
lock.release()
"""


def test_second_run_on_a_workdir_is_refused_and_a_dead_holders_lock_taken_over(tmp_path, caplog):
  workdir = str(tmp_path / "run")
  holder = subprocess.Popen([sys.executable, "-c", _HOLDER, workdir], cwd=ROOT, env=_env(TF_CPP_MIN_LOG_LEVEL="2"),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(workdir_lock.WorkdirLockedError) as info:
      workdir_lock.WorkdirLock(workdir).acquire()
    message = str(info.value)
    assert f"host {socket.gethostname()}, pid {holder.pid}" in message
    assert "is in use by another training run" in message and "use another --workdir" in message
    assert errors.is_user_error(info.value)
    holder.send_signal(signal.SIGKILL)  # Dies without releasing: the lock file stays, naming it.
    holder.wait(timeout=60)
  finally:
    if holder.poll() is None:
      holder.kill()
  assert json.loads((tmp_path / "run" / ".lock").read_text())["pid"] == holder.pid
  with caplog.at_level("WARNING"):
    with workdir_lock.WorkdirLock(workdir) as lock:
      assert lock.took_over["pid"] == holder.pid
      assert json.loads((tmp_path / "run" / ".lock").read_text())["pid"] == os.getpid()
  assert f"pid {holder.pid}" in caplog.text and "no longer running" in caplog.text
  assert not os.path.exists(tmp_path / "run" / ".lock")  # Released.


def test_lock_refuses_a_second_holder_in_the_same_process_and_a_file_workdir(tmp_path):
  with workdir_lock.WorkdirLock(str(tmp_path)):
    with pytest.raises(workdir_lock.WorkdirLockedError, match=f"pid {os.getpid()}"):
      workdir_lock.WorkdirLock(str(tmp_path)).acquire()
  a_file = tmp_path / "file"
  a_file.write_text("")
  with pytest.raises(NotADirectoryError) as info:
    workdir_lock.WorkdirLock(str(a_file)).acquire()
  assert errors.is_user_error(info.value) and "is a file" in errors.user_message(info.value)


# -- Checkpoints: fall back to the newest intact one ------------------------------------------------------------

def _objective():
  model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
  model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
  model.optimizer.build(model.trainable_variables)
  return model


def _save_steps(directory, steps):
  model = _objective()
  checkpointer = checkpointing.TrainCheckpointer(model, directory, max_to_keep=5)
  for step in steps:
    model.optimizer.iterations.assign(step)
    model.layers[0].kernel.assign(np.full((3, 2), float(step), np.float32))
    checkpointer.save(step)
  return checkpointer


def _truncate(path):
  with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) // 2)


def test_truncated_newest_checkpoint_falls_back_with_a_warning(tmp_path, caplog):
  directory = str(tmp_path / "checkpoints")
  _save_steps(directory, [1, 2, 3])
  _truncate(os.path.join(directory, "ckpt-3.data-00000-of-00001"))
  model = _objective()
  checkpointer = checkpointing.TrainCheckpointer(model, directory)
  with caplog.at_level("WARNING"):
    assert checkpointer.restore_latest() == 2
  assert "ckpt-3 cannot be restored: its data is truncated or corrupt" in caplog.text
  assert "Resuming from the newest intact checkpoint" in caplog.text and "ckpt-2 (step 2)" in caplog.text
  np.testing.assert_array_equal(model.layers[0].kernel.numpy(), np.full((3, 2), 2.0))
  assert checkpointer.latest.endswith("ckpt-2")  # Named as the last good one until the next save.
  model.optimizer.iterations.assign(3)
  checkpointer.save(3)  # The rerun overwrites the damaged step.
  assert checkpointing.TrainCheckpointer(_objective(), directory).restore_latest() == 3


def test_deleted_newest_checkpoint_falls_back(tmp_path, caplog):
  directory = str(tmp_path / "checkpoints")
  _save_steps(directory, [1, 2, 3])
  for name in os.listdir(directory):
    if name.startswith("ckpt-3."):
      os.remove(os.path.join(directory, name))
  with caplog.at_level("WARNING"):
    assert checkpointing.TrainCheckpointer(_objective(), directory).restore_latest() == 2
  assert "ckpt-3 cannot be restored: its index file ckpt-3.index is missing" in caplog.text


def test_lost_index_file_still_finds_the_checkpoints(tmp_path):
  directory = str(tmp_path / "checkpoints")
  _save_steps(directory, [1, 2])
  os.remove(os.path.join(directory, "checkpoint"))
  assert checkpointing.TrainCheckpointer(_objective(), directory).restore_latest() == 2


def test_no_intact_checkpoint_is_one_error_with_the_fix(tmp_path):
  directory = str(tmp_path / "checkpoints")
  _save_steps(directory, [1, 2])
  for step in (1, 2):
    _truncate(os.path.join(directory, f"ckpt-{step}.data-00000-of-00001"))
  with pytest.raises(checkpointing.NoIntactCheckpointError) as info:
    checkpointing.TrainCheckpointer(_objective(), directory).restore_latest()
  message = str(info.value)
  assert message.startswith(f"No intact checkpoint in {directory} (ckpt-2: its data is truncated or corrupt")
  assert "ckpt-1: its data is truncated" in message and f"delete {directory}" in message
  assert errors.is_user_error(info.value)


def test_fresh_directory_starts_at_step_zero(tmp_path):
  assert checkpointing.TrainCheckpointer(_objective(), str(tmp_path / "none")).restore_latest() == 0


# -- Progress in steps ---------------------------------------------------------------------------------------

def test_progress_lines_count_steps_not_epochs():
  model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
  model.compile(optimizer="sgd", loss="mse")
  x, y = np.ones((8, 2), np.float32), np.zeros((8, 1), np.float32)
  dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4).repeat()
  stream = io.StringIO()
  model.fit(dataset, epochs=3, steps_per_epoch=2, verbose=0, callbacks=[progress.StepProgress(stream=stream)])
  lines = stream.getvalue().splitlines()
  assert [line.split(" - ")[0] for line in lines] == ["step 2/6", "step 4/6", "step 6/6"]
  assert re.fullmatch(r"step 2/6 - loss [0-9.e+-]+ - [0-9.]+ s \([0-9]+ ms/step\) - ETA \d+:\d\d:\d\d", lines[0])
  assert "ETA" not in lines[-1] and "Epoch" not in stream.getvalue()
  resumed = io.StringIO()
  model.fit(dataset, epochs=3, initial_epoch=2, steps_per_epoch=2, verbose=0,
            callbacks=[progress.StepProgress(stream=resumed)])
  assert resumed.getvalue().startswith("step 6/6 - loss ")


# -- Loading .keras files -----------------------------------------------------------------------------------

def test_load_model_errors_and_success(tmp_path):
  net = model_garden.models.get("resnet_small(num_classes=3, image_size=16, widths=(4,))")
  path = str(tmp_path / "net.keras")
  net.save(path)
  loaded = model_garden.load_model(path)
  x = tf.random.stateless_uniform([2, 16, 16, 3], seed=(1, 2), minval=-1, maxval=1)
  np.testing.assert_allclose(loaded(x).numpy(), net(x).numpy(), atol=1e-6)
  with pytest.raises(FileNotFoundError, match="no such .keras file"):
    model_garden.load_model(str(tmp_path / "missing.keras"))
  truncated = tmp_path / "truncated.keras"
  truncated.write_bytes(open(path, "rb").read()[:2000])
  with pytest.raises(model_garden.saving.ModelFileError,
                     match=r"truncated.keras is not a valid .keras archive \(2000 bytes, not a complete zip file"):
    model_garden.load_model(str(truncated))
  with zipfile.ZipFile(tmp_path / "other.keras", "w") as archive:
    archive.writestr("weights.txt", "x")
  with pytest.raises(model_garden.saving.ModelFileError, match="is a zip file but not a .keras archive"):
    model_garden.load_model(str(tmp_path / "other.keras"))


def test_export_cli_says_a_truncated_model_is_not_a_valid_archive(tmp_path):
  (tmp_path / "model.keras").write_bytes(b"PK\x03\x04 cut short")
  (tmp_path / "export.json").write_text(json.dumps({"image_size": 32, "class_names": None,
                                                    "activation": "softmax"}))
  line = _one_error_line(_run(["-m", "model_garden.export", f"--workdir={tmp_path}", f"--output={tmp_path}/out"]))
  assert "model.keras is not a valid .keras archive" in line


def test_keras_load_model_without_the_import_fails_as_documented(tmp_path):
  """README: plain keras.saving.load_model needs `import model_garden` first; model_garden.load_model works."""
  net = model_garden.models.get("resnet_small(num_classes=3, image_size=16, widths=(4,))")
  path = str(tmp_path / "net.keras")
  net.save(path)
  code = ("import sys, keras\ntry:\n  keras.saving.load_model(sys.argv[1])\nexcept TypeError as e:\n"
          "  print('FAILS', 'Could not locate class' in str(e))\n"
          "import model_garden\nprint('LOADS', type(keras.saving.load_model(sys.argv[1])).__name__)")
  result = subprocess.run([sys.executable, "-c", code, path], env=_env(TF_CPP_MIN_LOG_LEVEL="2"),
                          capture_output=True, text=True, timeout=300)
  assert result.stdout.split() == ["FAILS", "True", "LOADS", "ResNetSmall"], result.stderr[-2000:]


def test_load_weights_says_a_truncated_model_is_not_a_valid_archive(tmp_path):
  from model_garden import models  # pylint: disable=g-import-not-at-top
  spec = "resnet_small(num_classes=3, image_size=16, widths=(4,))"
  path = tmp_path / "m.keras"
  models.get(spec).save(path)
  data = path.read_bytes()
  path.write_bytes(data[: len(data) // 2])
  with pytest.raises(errors.UserError, match=r"is not a valid \.keras archive .*truncated or corrupt"):
    models.load_weights(models.get(spec), str(path))
