"""Standing batch-norm statistics: re-estimate a generator's BN moments over many sampled batches."""

from __future__ import annotations

from keras import ops

from model_garden import backends
from model_garden.layers.standing_batch_norm import StandingBatchNorm
from model_garden.layers.symbolic import all_layers


def batch_norm_layers(model):
  """Every `StandingBatchNorm` inside `model` (conditional and self-modulated norms included)."""
  return [layer for layer in all_layers(model) if isinstance(layer, StandingBatchNorm)]


def update_standing_statistics(generator, num_samples: int = 204_800, batch_size: int = 256, seed: int = 0) -> int:
  """Replaces the generator's BN moving averages by the average moments of `num_samples` generated images.

  BigGAN's "standing statistics" (Brock et al. 2019, Appendix C) and compare_gan's accumulators
  (`eval_gan_lib._update_bn_accumulators`, 204,800 samples): each batch norm's mean and variance are the
  averages of its per-batch means and variances over num_samples // batch_size batches of fresh latents
  (and uniform labels). During accumulation every layer normalises with its batch's moments, as
  BigGAN's PyTorch code does (compare_gan normalises with the running average so far). Sampling with
  `training=False` afterwards uses these statistics; an EMA generator, whose weights never produced the
  moving averages it carries, needs this before sampling.

  Returns the number of batch-norm layers updated (0: nothing to do).

  Example:
    >>> update_standing_statistics(objective.generator_ema, num_samples=20_480, batch_size=256)
    >>> images = objective.generator_ema(z, training=False)
  """
  layers = batch_norm_layers(generator)
  if not layers:
    return 0
  num_batches = max(1, int(num_samples) // int(batch_size))
  for layer in layers:
    layer.start_standing_statistics()

  def run(step):
    step_seed = ops.stack([ops.convert_to_tensor(seed, "int32"), ops.cast(step, "int32")])
    z = generator.sample_latents(batch_size, step_seed)
    labels = generator.sample_labels(batch_size, step_seed + 1)
    generator(z, labels=labels, training=False)

  # One traced step on TensorFlow; JAX and PyTorch run it eagerly, since each step adds to the
  # accumulators as a side effect, which a jitted JAX function could not do.
  if backends.is_tensorflow():
    run = backends.tensorflow().function(run)
  try:
    for step in range(num_batches):
      run(ops.convert_to_tensor(step, "int32"))
  finally:
    for layer in layers:
      layer.finish_standing_statistics()
  return len(layers)
