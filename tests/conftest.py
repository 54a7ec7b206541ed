"""Shared fixtures: a tiny prepared mg_shapes in a session-wide data_dir, quiet TF logs."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_shapes(tmp_path_factory):
  """(tfds name, data_dir) of a tiny 32 px mg_shapes config prepared once per test session."""
  import tensorflow_datasets as tfds
  from model_garden.data.mg_shapes import MgShapesConfig
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  config = MgShapesConfig(name="tiny32", image_size=32, num_train=256, num_validation=64, num_test=64)
  builder = tfds.builder("mg_shapes", config=config, data_dir=data_dir)
  builder.download_and_prepare()
  return builder, data_dir
