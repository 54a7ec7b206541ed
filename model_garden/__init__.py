"""model_garden: Keras 3 models and training objectives of Google Brain Zurich's vision research.

Importing the package registers its Keras serialisables (so `.keras` files load), its models,
preprocessing ops, objectives, evaluators and the embedded `mg_shapes` tfds dataset.
"""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from model_garden import cli as _cli  # noqa: E402  (standard library and absl only)

_cli.on_package_import()  # TensorFlow's start-up lines obey TF_CPP_MIN_LOG_LEVEL (quiet for the CLIs)

from model_garden import data, text, evaluation, export, layers, models, objectives, optimizers, registry  # noqa: E402,I001
from model_garden import training  # noqa: E402  (after the packages it drives)
from model_garden import transfer  # noqa: E402  (VTAB protocol, BiT-HyperRule; above training)
from model_garden.registry import SpecError  # noqa: E402
from model_garden.saving import load_model  # noqa: E402  (.keras files, with clear errors)
from model_garden.version import __version__  # noqa: E402
from model_garden import presets  # noqa: E402
from model_garden.presets import from_preset  # noqa: E402  (after export and models, which presets use)
