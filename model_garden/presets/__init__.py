"""Pretrained presets: name a model, get it with its weights, preprocessing, model card and SavedModel.

  model = model_garden.presets.from_preset("vit_augreg_b16_i21k_ft_i1k")   # after tools/fetch_preset.py
  preset = model_garden.presets.load_preset("path/to/preset")               # model + preprocessing + card
  model_garden.presets.save_preset(model, "my_preset", spec=..., image_size=224, metadata={...})

See docs/presets.md for the format, the catalogue of published checkpoints and publishing to Kaggle.
"""

from model_garden.presets import catalogue, model_card
from model_garden.presets.errors import FetchError, PresetFormatError, PresetNotFoundError
from model_garden.presets.fetch import download_file, fetch_preset
from model_garden.presets.preset import (Preset, cache_root, extract_archive, from_preset, list_files, load_preset,
                                         resolve, save_preset, validate_preset)

__all__ = ["FetchError", "Preset", "PresetFormatError", "PresetNotFoundError", "cache_root", "catalogue",
           "download_file", "extract_archive", "fetch_preset", "from_preset", "list_files", "load_preset",
           "model_card", "resolve", "save_preset", "validate_preset"]
