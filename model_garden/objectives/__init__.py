"""Objectives: Keras Models that own a training step. `get(spec, network=...)` builds one.

Each objective declares the networks it takes (`network_names(spec)`: classification takes `network`, LiT's
`contrastive` takes `image` and `text`, GANs `generator` and `discriminator`, `pseudo_label` `network` and
`teacher`), which one is evaluated and what is exported; `build(spec, networks)` makes one from the trainer's
named networks. Objectives may import models/, layers/ and optimizers/; never data/ or the trainer.
"""

from model_garden import backends as _backends

_backends.require_tensorflow("model_garden.objectives (the objectives' TensorFlow train steps)")

from model_garden.objectives.classification import Classification
from model_garden.objectives.contrastive import Contrastive
from model_garden.objectives.gan import GAN
from model_garden.objectives.objective import EXPORT_KINDS, OBJECTIVES, Objective, build, network_names, register
from model_garden.objectives.s3gan import S3GAN
from model_garden.objectives.ssgan import SSGAN
from model_garden.registry import Spec


def get(spec: Spec, **overrides):
  """Builds the objective named by `spec`; pass the networks as keyword overrides (network=...)."""
  return OBJECTIVES.get(spec, **overrides)


def names():
  return OBJECTIVES.names()


from model_garden.objectives import ssl  # noqa: E402,F401  (pretext tasks, S4L, VAT, EntMin, pseudo-labels)
