"""Factories of Dense/Conv2D/Conv2DTranspose layers with an optional kernel reparameterisation.

GAN architectures switch spectral or weight normalisation on and off for all of their layers at once
(compare_gan's `use_sn` argument of `linear`, `conv2d`, `deconv2d`); these factories return the plain
Keras layer or the layer wrapped in `SpectralNorm`/`WeightNorm`, and name the initialisers of compare_gan's
`weights.initializer` switch.
"""

from __future__ import annotations

import keras

from model_garden.layers.spectral_norm import SpectralNorm
from model_garden.layers.weight_norm import WeightNorm

KERNEL_NORMS = ("none", "spectral", "weight")
INITIALIZERS = ("normal", "truncated", "orthogonal", "glorot_normal")


def initializer(name: str = "normal", stddev: float = 0.02):
  """compare_gan's `weights.initializer`: "normal" N(0, 0.02) (default), "truncated", "orthogonal".

  Keras' Orthogonal, like tf.initializers.orthogonal, flattens a kernel to (prod(shape[:-1]), shape[-1]).
  """
  if name == "normal":
    return keras.initializers.RandomNormal(0.0, stddev)
  if name == "truncated":
    return keras.initializers.TruncatedNormal(0.0, stddev)
  if name == "orthogonal":
    return keras.initializers.Orthogonal()
  if name == "glorot_normal":
    return keras.initializers.GlorotNormal()
  raise ValueError(f"Unknown kernel initializer {name!r}; choose one of {INITIALIZERS}.")


def _check(kernel_norm: str):
  if kernel_norm not in KERNEL_NORMS:
    raise ValueError(f"kernel_norm must be one of {KERNEL_NORMS}, got {kernel_norm!r}.")


def wrap(layer, kernel_norm: str = "none", singular_vector: str = "left", name: str | None = None):
  """`layer` itself, or wrapped in SpectralNorm ("spectral") or WeightNorm ("weight")."""
  _check(kernel_norm)
  if kernel_norm == "spectral":
    return SpectralNorm(layer, singular_vector=singular_vector, name=name or f"sn_{layer.name}")
  if kernel_norm == "weight":
    return WeightNorm(layer, name=name or f"wn_{layer.name}")
  return layer


def dense(units: int, *, name: str, kernel_norm: str = "none", init: str = "normal", use_bias: bool = True,
          bias_init: float = 0.0, singular_vector: str = "left"):
  """compare_gan's `linear`: Dense with N(0, 0.02) (or `init`) kernel and constant bias."""
  layer = keras.layers.Dense(units, use_bias=use_bias, kernel_initializer=initializer(init),
                             bias_initializer=keras.initializers.Constant(bias_init), name=name)
  return wrap(layer, kernel_norm, singular_vector)


def conv2d(filters: int, kernel_size: int, strides: int = 1, *, name: str, kernel_norm: str = "none",
           init: str = "normal", use_bias: bool = True, singular_vector: str = "left"):
  """compare_gan's `conv2d`: "SAME" padding, N(0, 0.02) (or `init`) kernel, zero bias."""
  layer = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=use_bias,
                              kernel_initializer=initializer(init), name=name)
  return wrap(layer, kernel_norm, singular_vector)


def conv2d_transpose(filters: int, kernel_size: int, strides: int = 2, *, name: str, kernel_norm: str = "none",
                     init: str = "normal", singular_vector: str = "left"):
  """compare_gan's `deconv2d`: transposed convolution, "SAME" padding, always with a bias."""
  layer = keras.layers.Conv2DTranspose(filters, kernel_size, strides=strides, padding="same",
                                       kernel_initializer=initializer(init), name=name)
  return wrap(layer, kernel_norm, singular_vector)
