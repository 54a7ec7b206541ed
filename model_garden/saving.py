"""`load_model`: loads a model_garden `.keras` file, with one clear error for every way that can fail.

Why not plain `keras.saving.load_model`: Keras finds the classes of a `.keras` file in its registry of
serialisables, which holds model_garden's classes only once `model_garden` is imported (Keras imports the
modules named in a file by itself only for its own packages: keras, keras_hub, keras_cv, keras_nlp). So

    import model_garden                      # registers ResNetSmall, VisionTransformer, ...
    keras.saving.load_model("workdir/model.keras")

works, and without the first line Keras fails with "Could not locate class 'ResNetSmall'". This function
registers them (it imports `model_garden.models`), and says what is wrong in terms of the file:

  * a missing file: FileNotFoundError naming it;
  * a truncated or corrupt file (Keras says "File not found" for those): "... is not a valid .keras archive";
  * a class no installed package registers: which class, and which module it came from.

Example:
  >>> import model_garden
  >>> network = model_garden.load_model("workdirs/shapes/model.keras")
"""

from __future__ import annotations

import os
import re

# Re-exported: the archive check is in its own module, which models/ can import without a cycle.
from model_garden.keras_archive import ModelFileError, check_keras_archive  # noqa: F401


def load_model(path, compile: bool = False, **kwargs):  # pylint: disable=redefined-builtin
  """`keras.saving.load_model(path)` with model_garden's classes registered and one clear error per failure.

  Args:
    path: a `.keras` file (e.g. a training workdir's `model.keras`, or `tools/convert_checkpoint.py`'s output).
    compile: restore the training configuration too (off by default: model_garden's files hold networks).
    **kwargs: passed to `keras.saving.load_model` (e.g. `safe_mode`).

  Returns:
    The keras.Model.

  Raises:
    FileNotFoundError: `path` does not exist.
    ModelFileError: `path` is truncated or corrupt, or names a class no imported package registers.
  """
  import keras  # pylint: disable=g-import-not-at-top
  import model_garden.models  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import  (registers the networks)
  from model_garden.version import __version__  # pylint: disable=g-import-not-at-top
  path = os.fspath(path)
  check_keras_archive(path)
  try:
    return keras.saving.load_model(path, compile=compile, **kwargs)
  except TypeError as e:
    match = re.search(r"Could not (?:locate|deserialize) (?:class|function) '([^']+)'", str(e))
    if not match:
      raise
    module = re.search(r"'module': '([^']+)'", str(e))
    origin = f" (from module {module.group(1)})" if module else ""
    raise ModelFileError(
        f"{path} uses the class {match.group(1)}{origin}, which no imported package registers as a Keras "
        "serialisable. Import the package that defines it before loading; model_garden's own classes are "
        f"registered by `import model_garden` (installed version {__version__}).") from None
