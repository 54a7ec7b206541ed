"""A network on a grid of patches whose endpoints are the patch endpoints averaged (patch-task evaluation)."""

from __future__ import annotations

import keras
from keras import ops

from model_garden.models.image_model import ImageModel
from model_garden.models.registry import MODELS, register
from model_garden.models.ssl.patches import cell_geometry, grid_patches, per_image_standardization


@keras.saving.register_keras_serializable("model_garden")
class PatchAverage(ImageModel):
  """Runs `network` on every cell of a grid of patches and averages each endpoint over the patches.

  The evaluation of patch-based pretext models (Jigsaw, Relative Patch Location) in "Revisiting
  Self-Supervised Visual Representation Learning" (Kolesnikov, Zhai, Beyer 2019): a 192 px crop is cut into
  3x3 patches of 64 px (no jitter), each patch is standardised, the trunk runs on each, and every
  representation is averaged over the 9 patches (`combine_patches='avg_pool'` in
  google/revisiting-self-supervised `patch_utils.get_patch_representation`). Spatial endpoints are averaged
  element-wise, so they keep their shape. A linear probe reads this model like any other network.

  Args:
    network: the trunk (an `ImageModel` trained on patches) or its spec string.
    grid: patches per side.
    patch_size: patch side; default the cell size (`image_size // grid`).
    standardize: per-patch standardisation (as in pretext training).
    image_size: the full image size (default grid * 64 = 192).

  Example:
    >>> trunk = keras.saving.load_model("jigsaw/model.keras")
    >>> probe_net = PatchAverage(trunk, grid=3, image_size=192)
    >>> probe_net.intermediates(images)["pre_logits"]  # mean over the 9 patches
  """

  def __init__(self, network, grid: int = 3, patch_size: int | None = None, standardize: bool = True,
               image_size: int | None = 192, **kwargs):
    if isinstance(network, str):
      network = MODELS.get(network)
    super().__init__(num_classes=getattr(network, "num_classes", 0), image_size=image_size, **kwargs)
    self.network = network
    self.grid = int(grid)
    self.patch_size = None if patch_size is None else int(patch_size)
    self.standardize = bool(standardize)
    if image_size is not None:
      cell_geometry(image_size, self.grid, self.patch_size)

  def build(self, input_shape):
    if not self.network.built:
      _, patch, _ = cell_geometry(input_shape[1], self.grid, self.patch_size)
      self.network.build((None, patch, patch, input_shape[-1]))
    super().build(input_shape)

  def forward(self, images, training=False):
    patches = grid_patches(images, self.grid, self.patch_size)
    count = self.grid * self.grid
    flat = ops.reshape(patches, (-1,) + tuple(patches.shape[2:]))
    if self.standardize:
      flat = per_image_standardization(flat)
    out = self.network.intermediates(flat, training=training)
    averaged = {}
    for name, value in out.items():
      value = ops.reshape(value, (-1, count) + tuple(value.shape[1:]))
      averaged[name] = ops.mean(value, axis=1)
    return averaged["logits"], averaged

  def get_config(self):
    config = super().get_config()
    config.pop("num_classes", None)
    config.update({"network": keras.saving.serialize_keras_object(self.network), "grid": self.grid,
                   "patch_size": self.patch_size, "standardize": self.standardize})
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["network"] = keras.saving.deserialize_keras_object(config["network"])
    return cls(**config)


@register("patch_average")
def patch_average(*, network: str, grid: int = 3, patch_size: int | None = None, standardize: bool = True,
                  image_size: int = 192) -> PatchAverage:
  """Spec factory: `patch_average(network="resnet50_v1(width=2, root_stride=1, strides=(2, 2, 1))")`."""
  return PatchAverage(network, grid=grid, patch_size=patch_size, standardize=standardize,
                      image_size=image_size)
