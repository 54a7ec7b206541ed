"""Export: trained classifiers as TF-Serving SavedModels that take encoded image bytes.

`export_classifier(model, dir, image_size=...)` writes the SavedModel from a Python model;
`python -m model_garden.export --workdir=DIR --output=DIR [--version=N]` exports a training workdir.

SavedModels are TensorFlow programs: the names below load TensorFlow on first use (PEP 562), so
`model_garden.export.preprocessing` (the preprocessing contract, also on JAX and PyTorch) imports without it.
"""

import importlib as _importlib

_NAMES = {
    "model_garden.export.serving": ("SERVE_BYTES", "SERVE_FLOAT", "SERVE_UINT8", "SERVING_DEFAULT",
                                    "SIGNATURE_NAMES", "decode_and_preprocess", "export_classifier",
                                    "preprocess_uint8"),
    "model_garden.export.workdir": ("CONFIG_FILE", "MODEL_FILE", "export_workdir", "read_export_config",
                                    "write_export_config", "write_two_towers_export_config"),
    "model_garden.export.lit_serving": ("export_lit",),
}
_MODULE_OF = {name: module for module, names in _NAMES.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name):
  if name in _MODULE_OF:
    from model_garden import backends  # pylint: disable=g-import-not-at-top
    backends.require_tensorflow(f"model_garden.export.{name} (SavedModel export)")
    return getattr(_importlib.import_module(_MODULE_OF[name]), name)
  raise AttributeError(f"module 'model_garden.export' has no attribute {name!r}")


def __dir__():
  return sorted(set(globals()) | set(_MODULE_OF))
