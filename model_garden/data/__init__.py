"""Input pipelines: tfds datasets, preprocessing strings and the embedded `mg_shapes` dataset.

`data/` imports only tensorflow, tfds, keras and `registry`; it knows nothing of models or objectives.
"""

from model_garden import backends as _backends

_backends.tensorflow("model_garden.data (tf.data input pipelines, tfds datasets)")

from model_garden.data import mg_shapes, ops_general, ops_image  # noqa: F401  (registers ops, dataset)
from model_garden.data.pipeline import (CorruptExampleError, DatasetUnavailableError, get_builder,
                                        get_dataset, guarded_map)
from model_garden.data.preprocess import PP_OPS, PreprocessConfigError, get_preprocess_fn, split_pp
from model_garden.data.sources import DATASETS, ImageFolder
from model_garden.data import vtab  # noqa: F401  (VTAB task table; registers the vtab_label pp op)
from model_garden.data import corruptions  # noqa: F401  (registers the corrupt pp op)
from model_garden.data.corruptions import CORRUPTIONS, corrupt  # noqa: E402  (the public names of issue #6)
from model_garden.data import robustness  # noqa: F401  (OOD readers; labelset, crop_border pp ops)
from model_garden.data import image_text  # noqa: F401  (image-text dataset specs)
from model_garden.data import semi_supervised  # noqa: F401  (labelled-subset selector and source)
from model_garden.data import ops_labels  # noqa: F401  (single_label, random_label, file_label pp ops)
from model_garden.data import held_out  # noqa: F401  (held_out_combinations source)
