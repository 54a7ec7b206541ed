"""Building blocks shared by the networks. Layers import only keras/tensorflow, never models/."""

from model_garden.layers.checks import ImageInputError, check_images
