"""Which exceptions are the user's to fix: command lines print their message on one line, without a traceback.

A *user error* is one whose message already names the problem and the fix (a bad spec or config value, a
missing or unreadable file, a dataset that is not prepared, a checkpoint that does not fit the model): a
traceback would only bury that message. Every other exception is an internal error and keeps its traceback.

An exception is a user error when any class of its MRO is
  * `UserError` (new error classes of model_garden subclass it), or
  * named in `USER_ERRORS` (classes that predate `UserError`, listed by their dotted name so that this module
    imports nothing: a class whose module was never imported cannot have been raised), or
  * registered with `register_user_error` (e.g. a tool's own error class), or
  * an OS error about a path (FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError,
    FileExistsError with a `filename`), or TensorFlow's NotFoundError / PermissionDeniedError (file I/O).

This module imports nothing beyond the standard library (the command lines import it before TensorFlow).

Example:
  >>> is_user_error(FileNotFoundError(2, "No such file or directory", "config.py"))
  True
  >>> is_user_error(ZeroDivisionError())
  False
"""

from __future__ import annotations

from typing import Set, Type, Union


class UserError(Exception):
  """An error in what the user gave (flags, config, files, data), whose message says what to change."""


# Error classes of model_garden that predate `UserError`, by "module.QualifiedName".
USER_ERRORS: Set[str] = {
    "model_garden.registry.SpecError",
    "model_garden.training.trainer.ConfigError",
    "model_garden.training.networks.InitError",
    "model_garden.training.checkpointing.CheckpointMismatchError",
    "model_garden.training.checkpointing.NonFiniteLossError",
    "model_garden.convert.errors.CheckpointMismatchError",
    "model_garden.presets.errors.PresetNotFoundError",
    "model_garden.presets.errors.PresetFormatError",
    "model_garden.presets.errors.FetchError",
    "model_garden.layers.checks.ImageInputError",
    "model_garden.models.weights.WeightsMismatchError",
    "model_garden.data.pipeline.DatasetUnavailableError",
    "model_garden.data.pipeline.CorruptExampleError",
    "model_garden.data.vtab.availability.SplitSizeMismatchError",
    "model_garden.data.robustness.ood_dataset.CorruptionsUnavailableError",
    "model_garden.evaluation.gan_features.FeatureExtractorUnavailableError",
    # TensorFlow's file errors (tf.io.gfile, checkpoint readers): a missing or unreadable path.
    "tensorflow.python.framework.errors_impl.NotFoundError",
    "tensorflow.python.framework.errors_impl.PermissionDeniedError",
}

_PATH_ERRORS = (FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError, FileExistsError)


def _name(cls: type) -> str:
  return f"{cls.__module__}.{cls.__qualname__}"


def register_user_error(cls: Union[Type[BaseException], str]):
  """Marks an exception class (or its dotted name) as a user error; usable as a class decorator."""
  USER_ERRORS.add(cls if isinstance(cls, str) else _name(cls))
  return cls


def is_user_error(error: BaseException) -> bool:
  """Whether `error` is the user's to fix (its message is enough), rather than a bug (needs the traceback)."""
  if isinstance(error, UserError):
    return True
  if isinstance(error, _PATH_ERRORS) and getattr(error, "filename", None) is not None:
    return True
  return any(_name(cls) in USER_ERRORS for cls in type(error).__mro__)


def user_message(error: BaseException) -> str:
  """The message of a user error, without Python's decorations (a KeyError's quotes, an OSError's errno)."""
  if isinstance(error, OSError) and getattr(error, "filename", None) is not None and error.strerror:
    where = error.filename if error.filename2 is None else f"{error.filename} -> {error.filename2}"
    return f"{where}: {error.strerror}"
  message = getattr(error, "message", None)  # tf.errors.OpError keeps the bare message here.
  if not isinstance(message, str):
    message = error.args[0] if len(error.args) == 1 and isinstance(error.args[0], str) else str(error)
  return message.strip() or type(error).__name__
