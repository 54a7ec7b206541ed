"""Whether a file is a complete `.keras` archive: one clear error before Keras reads it.

Keras reports a truncated `.keras` file as "File not found"; `check_keras_archive` says what is wrong with the
file instead. It imports nothing of the package but its errors, so networks (`models.load_weights`), evaluators
and tools call it before `keras.saving.load_model` (`model_garden.load_model` does, and re-exports it).
"""

from __future__ import annotations

import errno
import os
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
