"""Errors of the presets package; each message names the problem and the fix."""


class PresetNotFoundError(FileNotFoundError):
  """A preset name or path that is not on disk (a catalogue name not fetched yet, or a wrong path)."""


class PresetFormatError(ValueError):
  """A preset directory that is missing files or holds files this version cannot read."""


class FetchError(RuntimeError):
  """A published checkpoint could not be obtained (offline, or a `--source` file that does not exist)."""
