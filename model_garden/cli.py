r"""What every model_garden command line shares: a quiet start, one-line user errors, `--help` that exits 0.

`python -m model_garden.train`, `python -m model_garden.export` and the `tools/*.py` scripts run their `main`
through this module:

  * absl programs: `cli.run(main)` instead of `absl.app.run(main)`;
  * argparse programs: `sys.exit(cli.guard(main))`, where `main(argv)` parses `argv` and returns the status.

Both
  * print a *user error* (`model_garden.errors.is_user_error`: a bad flag, config key or value, spec, path,
    dataset, checkpoint...) as one `error: <message>` line on stderr and exit with status 2; an internal error
    keeps its traceback (status 1), and `--verbose` shows the traceback of every error;
  * quiet the start-up (unless `--verbose`): TensorFlow's C++ INFO and WARNING lines (`TF_CPP_MIN_LOG_LEVEL=2`,
    also for the lines TensorFlow prints while it loads, before it reads that variable), absl's and tfds'
    INFO lines, TensorFlow's Python deprecation warnings;
  * leave `--help` fast (TensorFlow is not imported for it) and exit 0 (absl exits 1 after printing help).

Errors raised while absl parses the flags (an `--config.key=value` override naming no key, a value of the
wrong type, a config file's `get_config` rejecting its argument) are user errors too, reported with the flag.

This module imports only the standard library and absl at import time, so a command line can use it before
TensorFlow is loaded.

Example (an absl program):
  >>> from absl import flags
  >>> from model_garden import cli
  >>> _WORKDIR = flags.DEFINE_string("workdir", None, "Where to write.")
  >>> def main(argv):
  ...   from model_garden import training  # TensorFlow loads here, after the flags are parsed.
  ...   ...
  >>> if __name__ == "__main__":
  ...   cli.run(main)
"""

from __future__ import annotations

import ast
import contextlib
import logging
import os
import re
import sys
import tempfile
import warnings
from typing import Callable, List, Optional, Sequence

from model_garden.errors import is_user_error, user_message

HELP_FLAGS = ("-h", "--help", "-?", "--helpshort", "--helpfull", "--helpxml")
# The `python -m` command lines of the package (tools/*.py set TF_CPP_MIN_LOG_LEVEL themselves).
COMMAND_MODULES = ("model_garden.train", "model_garden.export")
USER_ERROR_STATUS = 2
# C++ log levels of TF_CPP_MIN_LOG_LEVEL: 0 shows everything, 1 hides INFO, 2 also WARNING, 3 also ERROR.
QUIET_TF_CPP_MIN_LOG_LEVEL = "2"
# A line of absl's C++ log format: "I0000 00:00:1796405923.878764   29915 port.cc:153] message".
_CPP_LOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\]\s]+:\d+\] ")
_ABSL_PRE_INIT_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# The second line of TensorFlow's cpu_feature_guard INFO message.
_CONTINUATION = ("To enable the following instructions:",)
_NO_CUDA_DRIVER = "Could not find cuda drivers on your machine"
_SEVERITY_LEVEL = {"I": 0, "W": 1, "E": 2, "F": 3}
_TRUE = ("1", "true", "t", "yes", "y")
_VALUES = ("0", "2", "false", "f", "no", "n", "auto")  # Values a tool's own --verbose may take.


def wants_help(argv: Sequence[str]) -> bool:
  return any(arg in HELP_FLAGS for arg in argv)


def wants_verbose(argv: Sequence[str]) -> bool:
  """Whether `argv` asks for `--verbose`, read before any flag parser runs (or MODEL_GARDEN_VERBOSE=1 is set).

  `--verbose`, `--verbose=true|1` and `--verbose true|1` count; `--verbose=2` or `--verbose auto` (a Keras
  verbosity, which some tools call --verbose) do not.
  """
  verbose = os.environ.get("MODEL_GARDEN_VERBOSE", "").strip().lower() in _TRUE
  for i, arg in enumerate(argv):
    if arg == "--":
      break
    if arg == "--verbose":
      following = argv[i + 1].strip().lower() if i + 1 < len(argv) else ""
      verbose = following in _TRUE if following in _TRUE + _VALUES else True
    elif arg == "--noverbose":
      verbose = False
    elif arg.startswith("--verbose="):
      verbose = arg.split("=", 1)[1].strip().lower() in _TRUE
  return verbose


def filter_tensorflow_log(text: str, min_level: int) -> str:
  """`text` (what TensorFlow wrote to stderr) without the C++ log lines below `min_level`.

  `min_level` is TF_CPP_MIN_LOG_LEVEL's scale (1 drops INFO, 2 also WARNING, 3 also ERROR). absl's banner
  "All log messages before absl::InitializeLog()..." goes with the INFO lines it announces, and the second line
  of the CPU-instructions notice with its first. Every other line (a Python warning, a traceback) is kept.
  """
  kept: List[str] = []
  dropping = False
  for line in text.splitlines(keepends=True):
    header = _CPP_LOG_LINE.match(line)
    if header:
      dropping = _SEVERITY_LEVEL[header.group(1)] < min_level
    elif line.strip() == _ABSL_PRE_INIT_BANNER:
      dropping = min_level >= 1
    elif not (dropping and line.startswith(_CONTINUATION)):
      dropping = False
    if not dropping:
      kept.append(line)
  return "".join(kept)


@contextlib.contextmanager
def _stderr_captured():
  """Redirects file descriptor 2 (C++ writes there directly) into a temporary file; yields a reader of it."""
  sys.stderr.flush()
  try:
    saved = os.dup(2)
  except OSError:  # No usable fd 2 (an embedded interpreter): nothing to capture.
    yield lambda: ""
    return
  with tempfile.TemporaryFile() as capture:
    os.dup2(capture.fileno(), 2)
    def read():
      capture.seek(0)
      return capture.read().decode("utf-8", errors="replace")
    try:
      yield read
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)


def _min_level() -> int:
  try:
    return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") or 0)
  except ValueError:
    return 0


def import_tensorflow_quietly() -> None:
  """Imports TensorFlow honouring TF_CPP_MIN_LOG_LEVEL for the lines it prints while loading.

  TensorFlow 2.21 logs its start-up notices (oneDNN, CUDA drivers, CPU instructions) before it reads
  TF_CPP_MIN_LOG_LEVEL, so they appear whatever the variable says. This captures fd 2 during the import and
  writes back what the variable lets through. When no CUDA driver was found, the device initialisation's
  "failed call to cuInit" error that follows is dropped too (it says the same thing). Nothing happens when
  TensorFlow is already imported or the variable is unset or 0.
  """
  if "tensorflow" in sys.modules:
    return
  min_level = _min_level()
  if min_level <= 0:
    import tensorflow  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
    return
  text = ""
  with _stderr_captured() as read:
    try:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      if _NO_CUDA_DRIVER in read():
        tf.config.list_physical_devices()  # Initialises the devices, which logs the cuInit failure, here.
    finally:
      text = read()
  if _NO_CUDA_DRIVER in text:
    text = "".join(line for line in text.splitlines(keepends=True) if "failed call to cuInit" not in line)
  text = filter_tensorflow_log(text, min_level)
  if text:
    sys.stderr.write(text)
    sys.stderr.flush()


def started_as_command_line() -> bool:
  """Whether this interpreter runs one of model_garden's `python -m` command lines (`COMMAND_MODULES`)."""
  args = list(getattr(sys, "orig_argv", []))
  for i, arg in enumerate(args):
    if arg == "-m" and i + 1 < len(args):
      return args[i + 1] in COMMAND_MODULES
    if arg.startswith("-m") and len(arg) > 2:
      return arg[2:] in COMMAND_MODULES
  return False


def on_package_import() -> None:
  """Called by `model_garden/__init__.py` before it imports TensorFlow.

  Python imports the package before it runs `python -m model_garden.train`, so the quiet start of those
  command lines has to begin here: for them (without `--verbose`) TF_CPP_MIN_LOG_LEVEL defaults to 2. For
  every importer, TensorFlow's start-up lines then obey TF_CPP_MIN_LOG_LEVEL (`import_tensorflow_quietly`);
  a library user who does not set it sees what TensorFlow prints.
  """
  if started_as_command_line() and not wants_verbose(sys.orig_argv):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_CPP_MIN_LOG_LEVEL)
  import_tensorflow_quietly()


def quiet(verbose: bool = False) -> None:
  """The quiet start of a command line; call it before TensorFlow is imported (no-op parts once it is).

  Sets TF_CPP_MIN_LOG_LEVEL=2 unless the environment sets it, imports TensorFlow with its start-up lines
  filtered, lowers absl's and tfds' Python logging to warnings and TensorFlow's Python logger to errors
  (deprecation notices of library internals), and drops Keras' "`shuffle=True` ... will be ignored" warning
  (model_garden's pipelines shuffle in tf.data). With `verbose`, it only makes sure Keras uses TensorFlow.
  """
  os.environ.setdefault("KERAS_BACKEND", "tensorflow")
  if verbose:
    return
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_CPP_MIN_LOG_LEVEL)
  import_tensorflow_quietly()
  quiet_python_logs()


def quiet_python_logs() -> None:
  """absl and tfds log warnings and above; TensorFlow's Python logger errors and above."""
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  absl_logging.set_verbosity(absl_logging.WARNING)
  logging.getLogger("tensorflow").setLevel(logging.ERROR)
  logging.getLogger("tensorflow_datasets").setLevel(logging.WARNING)
  warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed, but will be ignored", category=UserWarning)


def report(error: BaseException, flag: Optional[str] = None) -> int:
  """Prints `error: <message>` (naming `flag` when the error came from parsing it) and returns status 2."""
  message = user_message(error)
  if flag:
    message = f"{flag}: {_flag_message(error, message, flag)}"
  print(f"error: {message}", file=sys.stderr)
  sys.stderr.flush()
  return USER_ERROR_STATUS


def _flag_message(error: BaseException, message: str, flag: str) -> str:
  # ml_collections wraps the KeyError of an unknown field in an AttributeError whose message is the KeyError's
  # repr ("'lrr'\nDid you mean ..."): unquote it and say what it is.
  if len(message) >= 2 and message[0] == message[-1] and message[0] in "'\"":
    try:
      message = ast.literal_eval(message)
    except (ValueError, SyntaxError):
      pass
  lines = [line.strip() for line in message.splitlines() if line.strip()]
  if isinstance(error, AttributeError) and "has no attribute 'get_config'" in message:
    # ml_collections loads --config=FILE as a module and calls its get_config.
    path = flag.split("=", 1)[-1].split(":", 1)[0]
    return (f"{path} defines no get_config(), so it is not a config file (a `common.py` holds helpers shared by "
            "the configs). Give a training config, e.g. --config=model_garden/configs/mg_shapes_classification.py.")
  if isinstance(error, AttributeError) and lines:
    key = lines[0].strip("'\"")
    rest = " ".join(lines[1:])
    path = flag.lstrip("-").split("=", 1)[0].split(".")
    parent = ".".join(path[:-1]) if len(path) > 1 and path[-1] == key else path[0]
    return f"{parent} has no field {key!r}." + (f" {rest}" if rest else "")
  return " ".join(lines)


def _failing_flag(error: BaseException, argv: Sequence[str]) -> Optional[str]:
  """`--name=value` of the absl flag whose parsing raised `error` (read from the traceback), if any."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  name = None
  tb = error.__traceback__
  while tb is not None:
    local = tb.tb_frame.f_locals
    if isinstance(local.get("self"), flags.Flag):
      name = local["self"].name
      if isinstance(local.get("field_path"), str):  # ml_collections' config flag applying an override.
        name = f"{name}.{local['field_path']}"
    tb = tb.tb_next
  if name is None:
    return None
  for arg in argv:
    if arg == f"--{name}" or arg.startswith(f"--{name}="):
      return arg
  return f"--{name}"


def _is_flag_value_error(error: BaseException) -> bool:
  # Errors a flag's parser (ml_collections' config file and override flags) raises for a bad value; a config
  # file's own bug (NameError, ImportError, SyntaxError...) is not among them and keeps its traceback.
  return isinstance(error, (KeyError, ValueError, TypeError, AttributeError, OSError))


def run(main: Callable[[List[str]], object], argv: Optional[Sequence[str]] = None) -> None:
  """`absl.app.run(main)` with a quiet start, one-line user errors, `--verbose` and `--help` exiting 0.

  Defines a `--verbose` boolean flag unless the program has one (then that flag also shows tracebacks).
  """
  from absl import app, flags  # pylint: disable=g-import-not-at-top
  argv = list(sys.argv if argv is None else argv)
  if "verbose" not in flags.FLAGS:
    flags.DEFINE_bool("verbose", False, "Show the traceback of every error, and TensorFlow/absl INFO logs.")
  verbose = wants_verbose(argv[1:])
  if wants_help(argv[1:]):
    try:
      app.run(main, argv=argv)
    except SystemExit as e:
      sys.exit(0 if e.code == 1 else e.code)  # absl exits 1 after printing the help.
    return
  quiet(verbose)
  started = []

  def guarded_main(args):
    started.append(True)
    if not verbose:
      quiet_python_logs()  # Again: parsing the flags reset absl's verbosity.
    try:
      return main(args)
    except Exception as e:  # pylint: disable=broad-except
      if verbose or not is_user_error(e):
        raise
      sys.exit(report(e))

  try:
    app.run(guarded_main, argv=argv)
  except Exception as e:  # pylint: disable=broad-except  (raised while absl parsed the flags)
    if started or verbose:
      raise
    flag = _failing_flag(e, argv)
    if not (is_user_error(e) or (flag and _is_flag_value_error(e))):
      raise
    sys.exit(report(e, flag))


def guard(main: Callable[[List[str]], Optional[int]], argv: Optional[Sequence[str]] = None) -> int:
  """Runs an argparse program's `main(argv)` with a quiet start and one-line user errors; returns its status.

  `argv` defaults to `sys.argv[1:]`. The program's parser should accept `--verbose` (see `add_verbose`).
  """
  argv = list(sys.argv[1:] if argv is None else argv)
  verbose = wants_verbose(argv)
  if not wants_help(argv):
    quiet(verbose)
  try:
    status = main(argv)
  except Exception as e:  # pylint: disable=broad-except
    if verbose or not is_user_error(e):
      raise
    return report(e)
  return 0 if status is None else int(status)


def add_verbose(parser) -> None:
  """Adds `--verbose` to an argparse parser (read by `guard` before parsing)."""
  parser.add_argument("--verbose", action="store_true",
                      help="Show the traceback of every error, and TensorFlow/absl INFO logs.")


def config_value(holder):
  """The value of an ml_collections `DEFINE_config_file` flag, or a user error saying why the file did not load.

  ml_collections defers a config file's load failure (a missing or unreadable file) to the first use of the
  value, as a multi-line OSError; this reports it at once, on one line.
  """
  from model_garden.errors import UserError  # pylint: disable=g-import-not-at-top
  value = holder.value
  if type(value).__name__ != "_ErrorConfig":
    return value
  text = str(object.__getattribute__(value, "_error"))
  path = re.search(r"Attempted \[[^\]]*\]:\s*\n\s*(\S+)", text)
  reason = re.search(r"\[Errno \d+\] ([^\n:]+)", text)
  where = path.group(1) if path else "the --config file"
  raise UserError(f"--config: cannot load {where} ({reason.group(1) if reason else text.splitlines()[0]}). Give "
                  "the path of a config file, e.g. --config=model_garden/configs/mg_shapes_classification.py.")
