"""Objectives: Keras Models that own a training step. `get(spec, network=...)` builds one.

Objectives may import models/, layers/ and optimizers/; never data/ or the trainer.
"""

from model_garden.objectives.classification import Classification
from model_garden.objectives.contrastive import Contrastive
from model_garden.objectives.gan import GAN
from model_garden.objectives.objective import OBJECTIVES, Objective, register
from model_garden.objectives.s3gan import S3GAN
from model_garden.objectives.ssgan import SSGAN


def get(spec: str, **overrides):
  """Builds the objective named by `spec`; pass the networks as keyword overrides (network=...)."""
  return OBJECTIVES.get(spec, **overrides)


def names():
  return OBJECTIVES.names()
from model_garden.objectives import ssl  # noqa: F401  (pretext tasks, S4L, VAT, EntMin, pseudo-labels)
