"""Blocks shared by the GAN configs: the input, Adam per network, sample grids, FID, the SNDCGAN recipe, runlocal.

A GAN config is a training config (`model_garden/configs/common.py`) with two named networks and one optimizer
for each:

  config = gan_common.sndcgan_config(steps=20_000, batch=64, n_disc=1)   # compare_gan's SNDCGAN recipe
  config.networks.generator / .discriminator                             # common.network(...) entries
  config.objective                                                       # common.objective("gan", ...)
  config.optimizers.generator / .discriminator                           # compare_gan's Adam, constant lr
  config.evals.samples, config.evals.fid                                 # gan_samples, gan_metrics
  if arg.runlocal: gan_common.runlocal(config, n_disc=1)                 # tiny networks, 10 G steps of batch 8

`total_steps` counts generator steps; one step takes `n_disc` slices of `batch` real images (one per
discriminator step), so `config.input.batch_size` is `batch * n_disc`. Configs import only this module,
`model_garden.configs.common` and `config_args` (no TensorFlow).
"""

from __future__ import annotations

from typing import Optional

import ml_collections

from model_garden.configs import common

MG_SHAPES = "mg_shapes/px32"
TRAIN_PP = "decode|value_range(-1, 1)|keep('image', 'label')"
EVAL_PP = "decode|value_range(-1, 1)|keep('image')"


def input_config(dataset: str, *, batch: int, n_disc: int, pp: str = TRAIN_PP, data_dir: Optional[str] = None,
                 shuffle_buffer: int = 10_000, cache: bool = True) -> ml_collections.ConfigDict:
  """`config.input` of a GAN: `n_disc` slices of `batch` real images per training step."""
  return common.input_config(dataset, "train", pp=pp, batch_size=batch * n_disc, shuffle_buffer=shuffle_buffer,
                             cache=cache, data_dir=data_dir)


def adam_optimizers(*, generator_lr: float, discriminator_lr: float, b1: float) -> ml_collections.ConfigDict:
  """`config.optimizers`: compare_gan's Adam (beta2 0.999, eps 1e-8, constant lr) for each network."""
  return ml_collections.ConfigDict({
      name: common.optimizer("adam", b1=b1, b2=0.999, eps=1e-8, lr=lr)
      for name, lr in (("generator", generator_lr), ("discriminator", discriminator_lr))})


def samples_eval(*, every_steps: int = 2000, num_samples: int = 64) -> ml_collections.ConfigDict:
  """`config.evals.samples`: a grid of fixed-latent samples (samples/step_*.png, TensorBoard) every_steps."""
  return ml_collections.ConfigDict(dict(type="gan_samples", every_steps=every_steps, num_samples=num_samples))


def fid_eval(dataset: str, *, features: str, num_samples: int, kid_subset_size: int = 1000,
             every_steps: int = 0) -> ml_collections.ConfigDict:
  """`config.evals.fid`: FID, KID and IS of `num_samples` samples against as many test images, in the feature
  space of `features` (a classifier's .keras file, or "inception_v3", which downloads)."""
  return ml_collections.ConfigDict(dict(
      type="gan_metrics", every_steps=every_steps, data=dict(name=dataset, split="test"), pp=EVAL_PP,
      features=features, num_samples=num_samples, batch_size=250, is_splits=10, kid_subset_size=kid_subset_size))


def sndcgan_config(*, steps: int, batch: int, n_disc: int, ch: int = 64, lr: float = 2e-4, features: str = "",
                   eval_samples: int = 2000) -> ml_collections.ConfigDict:
  """SNDCGAN with the non-saturating loss and spectral norm in D on mg_shapes 32 px (sndcgan_mg_shapes.py).

  compare_gan's `sndcgan_celebahq128.gin` recipe: NS loss, no penalty, Adam lr 2e-4 (beta1 0.5, beta2
  0.999) for both networks, batch 64, z ~ U[-1, 1)^128, a batch-norm generator; `ch` is both networks' width
  (the study's 64). With `features` the `fid` evaluator runs at the end.
  """
  config = common.base_config(total_steps=steps, log_steps=500, checkpoint_steps=2000, keep_checkpoints=2)
  config.input = input_config(MG_SHAPES, batch=batch, n_disc=n_disc)
  config.networks.generator = common.network("sndcgan_generator", image_size=32, z_dim=128, ch=ch,
                                             norm="batch_norm")
  config.networks.discriminator = common.network("sndcgan_discriminator", image_size=32, ch=ch,
                                                 spectral_norm=True)
  # standing_stats_samples > 0 re-estimates the generator's batch-norm statistics before evaluation and export.
  config.objective = common.objective("gan", loss="non_saturating", penalty="none", n_disc=n_disc,
                                      standing_stats_samples=0)
  config.optimizers = adam_optimizers(generator_lr=lr, discriminator_lr=lr, b1=0.5)
  config.evals.samples = samples_eval()
  if features:
    config.evals.fid = fid_eval(MG_SHAPES, features=features, num_samples=eval_samples)
  return config


def runlocal(config: ml_collections.ConfigDict, *, n_disc: int, total_steps: int = 10,
             log_steps: int = 5) -> ml_collections.ConfigDict:
  """Shrinks a GAN config in place to a smoke test of seconds: `common.runlocal` (batches of 8 per D step,
  `total_steps` generator steps, evaluators at the end on 64 test images) with networks of width 8 and 16-d
  latents, 16-sample grids and 64-sample FID."""
  common.runlocal(config, batch_size=8 * n_disc, total_steps=total_steps, log_steps=log_steps)
  config.networks.generator.z_dim = 16
  config.networks.generator.ch = config.networks.discriminator.ch = 8
  for ev in config.evals.values():
    if ev.type == "gan_samples":
      ev.num_samples = 16
    elif ev.type == "gan_metrics":
      ev.num_samples = 64
      ev.kid_subset_size = 32
  return config
