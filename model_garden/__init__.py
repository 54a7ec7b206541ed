"""model_garden: Keras 3 models and training objectives of Google Brain Zurich's vision research.

On Keras' TensorFlow backend (the default when TensorFlow is installed), importing the package registers
all its Keras serialisables (so `.keras` files load), its models, preprocessing ops, objectives,
evaluators and the embedded `mg_shapes` tfds dataset.

On the JAX and PyTorch backends it imports only the networks (`layers`, `models`, which register their
serialisables) and nothing of TensorFlow; the other sub-packages load on first use
(`model_garden.convert`, `model_garden.presets`, ... through PEP 562 `__getattr__`), and those that are
TensorFlow programs (tf.data pipelines, tokenizers, SavedModel export, the objectives' train steps) say
so in one clear error (`model_garden.backends.TensorFlowRequiredError`).
"""

import importlib as _importlib
import os as _os
import sys as _sys

from model_garden import backends as _backends

if "keras" not in _sys.modules:  # Keras reads KERAS_BACKEND once, at its first import.
  _os.environ.setdefault("KERAS_BACKEND", _backends.default_backend())

from model_garden import cli as _cli  # noqa: E402  (standard library and absl only)

if ("keras" not in _sys.modules and _os.environ.get("KERAS_BACKEND") == "tensorflow") or (
    "keras" in _sys.modules and _sys.modules["keras"].backend.backend() == "tensorflow"):
  _cli.on_package_import()  # TensorFlow's start-up lines obey TF_CPP_MIN_LOG_LEVEL (quiet for the CLIs)

from model_garden.saving import load_model  # noqa: E402  (.keras files, with clear errors; TensorFlow-free)
from model_garden.version import __version__  # noqa: E402

# Sub-packages, loaded on first attribute access (or eagerly on the TensorFlow backend, below).
_SUBPACKAGES = ("backends", "cli", "convert", "data", "errors", "evaluation", "export", "layers", "models",
                "objectives", "optimizers", "presets", "registry", "saving", "text", "training", "transfer")
_ATTRIBUTES = {"SpecError": "model_garden.registry", "from_preset": "model_garden.presets"}
# What each TensorFlow-only sub-package is, for the error on another backend.
_TENSORFLOW_ONLY = {
    "objectives": "model_garden.objectives (the objectives' TensorFlow train steps)",
    "training": "model_garden.training (the tf.distribute training job)",
}


def __getattr__(name):
  if name in _SUBPACKAGES:
    if name in _TENSORFLOW_ONLY:
      _backends.require_tensorflow(_TENSORFLOW_ONLY[name])
    return _importlib.import_module(f"model_garden.{name}")
  if name in _ATTRIBUTES:
    return getattr(_importlib.import_module(_ATTRIBUTES[name]), name)
  raise AttributeError(f"module 'model_garden' has no attribute {name!r}")


def __dir__():
  return sorted(set(globals()) | set(_SUBPACKAGES) | set(_ATTRIBUTES))


def _import_everything():
  # The TensorFlow backend keeps the import-time registration of every serialisable, op and dataset; the
  # order matters (training drives the packages above it, presets use export and models).
  # pylint: disable=g-import-not-at-top,unused-import
  from model_garden import data, text, evaluation, export, layers, models, objectives, optimizers, registry  # noqa
  from model_garden import training  # noqa: F401
  from model_garden import transfer  # noqa: F401
  from model_garden import presets  # noqa: F401


if _backends.is_tensorflow():
  _import_everything()
else:
  from model_garden import layers, models  # noqa: E402,F401  (register the networks' serialisables)
