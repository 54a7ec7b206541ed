"""Which Keras backend runs, and the one clear error of the parts that need TensorFlow.

The networks (`model_garden.models`, `model_garden.layers`), the checkpoint converters and preset loading
compute with `keras.ops` and run on Keras 3's TensorFlow, JAX and PyTorch backends. The tf.data input
pipelines, the in-graph tokenizers, SavedModel export, tf.distribute and the objectives' train steps are
TensorFlow programs: they call `require_tensorflow(...)`, which names the feature and the fix.

Nothing here imports TensorFlow unless asked to.

Example:
  >>> from model_garden import backends
  >>> if backends.is_tensorflow():
  ...   tf = backends.tensorflow()   # the module, imported on first use
  >>> backends.require_tensorflow("SavedModel export")  # raises TensorFlowRequiredError on JAX/PyTorch
"""

from __future__ import annotations

import importlib
import importlib.util

BACKENDS = ("tensorflow", "jax", "torch")


class TensorFlowRequiredError(ImportError):
  """A TensorFlow-only feature was used without TensorFlow, or under another Keras backend."""


def default_backend() -> str:
  """The backend `import model_garden` picks when KERAS_BACKEND is unset: TensorFlow, else JAX, else torch."""
  for name in BACKENDS:
    if _installed(name):
      return name
  return "tensorflow"  # Keras' own default; its import error then names what is missing.


def _installed(module: str) -> bool:
  try:
    return importlib.util.find_spec(module) is not None
  except (ImportError, ValueError):  # ValueError: a module entry of None in sys.modules (import blocked).
    return False


def backend() -> str:
  """The running Keras backend: "tensorflow", "jax" or "torch"."""
  import keras  # pylint: disable=g-import-not-at-top  (keras reads KERAS_BACKEND once, at its import)
  return keras.backend.backend()


def is_tensorflow() -> bool:
  """True when Keras runs on TensorFlow (the TF-only fast paths and tf.distribute apply)."""
  return backend() == "tensorflow"


def tensorflow(feature: str = "This part of model_garden"):
  """The `tensorflow` module; TensorFlowRequiredError naming `feature` (not a bare ModuleNotFoundError) if missing.

  For TF programs that run beside any Keras backend (tf.data pipelines, tokenizers): TensorFlow must be
  installed, Keras need not run on it.
  """
  try:
    return importlib.import_module("tensorflow")
  except ImportError as e:
    raise TensorFlowRequiredError(
        f"{feature} needs TensorFlow, which is not installed ({e}). Install it with `pip install tensorflow`; "
        "without it, model_garden.models, layers, convert and presets run on JAX and PyTorch.") from None


def require_tensorflow(feature: str):
  """Returns the `tensorflow` module if `feature` can run; else raises TensorFlowRequiredError naming it.

  `feature` needs TensorFlow installed and Keras running on it (KERAS_BACKEND=tensorflow), because it
  builds TF graphs or steps around the Keras variables.
  """
  name = backend()
  if name != "tensorflow":
    raise TensorFlowRequiredError(
        f"{feature} is TensorFlow-only, and Keras runs on {name!r} here. Run it with KERAS_BACKEND=tensorflow "
        "(the default when TensorFlow is installed). On JAX and PyTorch, model_garden.models, layers, convert "
        "and presets work, and networks train with Keras' own compile()/fit().")
  return tensorflow(feature)


