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

import errno
import os
import re
import zipfile

from model_garden.errors import UserError


class ModelFileError(UserError):
  """A `.keras` file that cannot be loaded: not a valid archive, or naming classes that are not registered."""


def check_keras_archive(path: str) -> None:
  """Raises FileNotFoundError / ModelFileError unless `path` is a readable, complete `.keras` zip archive."""
  path = os.fspath(path)
  if not os.path.exists(path):
    raise FileNotFoundError(errno.ENOENT, "no such .keras file", path)
  if os.path.isdir(path):
    return  # Keras' directory format: Keras reads and checks it.
  size = os.path.getsize(path)
  fix = ("Save the model again (model.save(path)), or copy the file again if it was copied or downloaded: an "
         "interrupted copy or write leaves such a file.")
  if not zipfile.is_zipfile(path):
    raise ModelFileError(f"{path} is not a valid .keras archive ({size} bytes, not a complete zip file: it is "
                         f"truncated or corrupt). {fix}")
  try:
    with zipfile.ZipFile(path) as archive:
      names = archive.namelist()
      bad = archive.testzip()  # Reads every member and checks its CRC.
  except (zipfile.BadZipFile, OSError, EOFError) as e:
    raise ModelFileError(f"{path} is not a valid .keras archive ({e}). {fix}") from None
  if bad is not None:
    raise ModelFileError(f"{path} is not a valid .keras archive: its member {bad} is corrupt (CRC mismatch). {fix}")
  if "config.json" not in names:
    raise ModelFileError(f"{path} is a zip file but not a .keras archive (it has no config.json; members: "
                         f"{', '.join(names[:8])}{' ...' if len(names) > 8 else ''}).")


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
