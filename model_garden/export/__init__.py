"""Export: trained classifiers as TF-Serving SavedModels that take encoded image bytes.

`export_classifier(model, dir, image_size=...)` writes the SavedModel from a Python model;
`python -m model_garden.export --workdir=DIR --output=DIR [--version=N]` exports a training workdir.
"""

from model_garden.export.serving import (SERVE_BYTES, SERVE_FLOAT, SERVE_UINT8, SERVING_DEFAULT,
                                         SIGNATURE_NAMES, decode_and_preprocess, export_classifier,
                                         preprocess_uint8)
from model_garden.export.workdir import (CONFIG_FILE, MODEL_FILE, export_workdir, read_export_config,
                                         write_export_config, write_two_towers_export_config)
from model_garden.export.lit_serving import export_lit
