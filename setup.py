"""Installs model_garden: Keras 3 models and objectives of Google Brain Zurich's vision research."""
import pathlib

import setuptools

_HERE = pathlib.Path(__file__).parent
_VERSION = {}
exec((_HERE / "model_garden" / "version.py").read_text(), _VERSION)  # pylint: disable=exec-used

# Pinned to what the suite is run against: Keras private trainer methods are overridden for
# multi-worker training (see model_garden/objectives/objective.py), so the Keras minor is pinned.
INSTALL_REQUIRES = [
    "tensorflow==2.21.*",
    "keras>=3.15,<3.16",
    "tensorflow-text==2.21.1",
    "tensorflow-datasets>=4.9,<4.10",
    "absl-py>=2.1",
    "ml-collections>=1.0",
    "numpy>=1.26",
    "pillow>=10",
    "sentencepiece>=0.2",  # trains LiT text vocabularies offline
    "tensorboard>=2.19",  # TF 2.21 no longer pulls it; the trainer writes summaries.
    "importlib_resources",  # tfds 4.9.10 imports it on Python 3.11 without declaring it.
]
# The networks, converters and presets also run on Keras' JAX and PyTorch backends (KERAS_BACKEND=jax/torch):
# `pip install model_garden[jax]` or `[torch]`; for GPUs install the framework's CUDA build as its docs say.
JAX_REQUIRES = ["jax>=0.4.34", "jaxlib>=0.4.34"]
TORCH_REQUIRES = ["torch>=2.4"]
EXTRAS_REQUIRE = {
    "jax": JAX_REQUIRES,
    "torch": TORCH_REQUIRES,
    "dev": [
        *JAX_REQUIRES,  # tests/test_backends.py runs every network on JAX and PyTorch (the Makefile adds
        # PyTorch's CPU build).
        "pytest>=8",
        "pytest-xdist>=3.5",
        "keras-hub>=0.31,<0.32",
        "nbclient>=0.10",  # tests execute the example notebooks
        "nbformat>=5.10",
        "ipykernel>=6.29",
        "scipy>=1.11",  # tests only: FID against pytorch-fid's scipy.linalg.sqrtm formulation
    ],
}

setuptools.setup(
    name="model_garden",
    version=_VERSION["__version__"],
    description="Keras 3 model garden for the Google Brain Zurich vision research line.",
    long_description=(_HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=setuptools.find_packages(include=["model_garden", "model_garden.*"]),
    include_package_data=True,
    package_data={
        "model_garden.data.robustness": ["data/*.json"],
        "model_garden.data": ["text_assets/*"],
        "model_garden.presets": ["catalogue.json"],
    },
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    license="Apache-2.0",
)
