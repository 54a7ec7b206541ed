"""`mg_shapes`, the embedded procedural dataset: importing this package registers it with tfds.

It lives in its own package so that the renderer can be used (and tested) without preparing a dataset, and so
that registration happens exactly once, wherever it is imported from.
"""

from model_garden.data.mg_shapes.mg_shapes import MgShapes, MgShapesConfig, features
from model_garden.data.mg_shapes.render import (COLOUR_NAMES, COLOURS, NUM_CAPTIONS, POSITIONS, SHAPES, SIZES,
                                                render_example)

__all__ = ["MgShapes", "MgShapesConfig", "features", "render_example", "SHAPES", "COLOURS", "COLOUR_NAMES",
           "SIZES", "POSITIONS", "NUM_CAPTIONS"]
