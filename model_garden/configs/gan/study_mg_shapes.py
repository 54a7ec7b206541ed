r"""A grid of GAN cells on mg_shapes 32 px in the manner of the Brain Zurich GAN studies (tools/gan_study.py).

"A Large-Scale Study on Regularization and Normalization in GANs" (Kurach, Lucic, Zhai, Michalski, Gelly
2019) and "Are GANs Created Equal?" (Lucic et al. 2018) train one GAN per point of a grid of losses
(non-saturating, WGAN, least-squares; hinge is SNGAN's), penalties (WGAN-GP, DRAGAN, L2 with weight
lambda), discriminator normalisations (none, batch norm, layer norm, spectral norm, weight norm),
architectures and optimiser settings, and compare FID. This config is a base GAN config (the SNDCGAN
recipe of `sndcgan_mg_shapes.py`) plus such a grid; `tools/gan_study.py` expands it into one full GAN
config per cell and trains them one after the other.

Command (the 2x2 offline proof of docs/gans.md: CPU-sized networks and steps; FID on a shape classifier):
  python tools/gan_study.py --config=model_garden/configs/gan/study_mg_shapes.py:grid=proof,steps=300,\
batch=32,ch=16,lr=5e-4,eval_samples=1000,features=workdirs/mg_shapes_cls/model.keras \
      --workdir=workdirs/gan_study_proof
  python tools/gan_study.py --config=model_garden/configs/gan/study_mg_shapes.py:grid=study --dry_run \
      --workdir=/tmp/unused    # lists the cells and their specs, trains nothing

Smoke test (two tiny cells of 2 generator steps; needs a classifier for FID, or leave features out):
  python tools/gan_study.py --config=model_garden/configs/gan/study_mg_shapes.py:runlocal \
      --workdir=/tmp/gan_study_smoke

Keys read by tools/gan_study.py:
  config.base: a complete GAN config (config.networks.generator / .discriminator, config.objective,
    config.optimizers.generator / .discriminator, config.evals; see model_garden/configs/gan/common.py).
  config.grid: {axis: [values]} expanded as a cross product. Axes: loss ("non_saturating", "wasserstein",
    "least_squares", "hinge"); penalty (a spec: "none", "wgan_gp", "wgan_gp(weight=10.0)", "dragan(1.0)",
    "l2(weight=0.01)"; without a weight the base objective's penalty_weight); norm, the discriminator's
    normalisation ("none", "batch_norm", "layer_norm", "spectral_norm", "weight_norm"); arch ("sndcgan",
    "dcgan", "resnet_cifar", ...); optionally lr (both optimizers), beta1 (Adam's b1, both), n_disc, seed.
    An axis left out keeps the base config's value.
  config.cells: an explicit list of cells (dicts of the same axes, optionally "name") used instead of
    config.grid when not empty.
  config.architectures: {arch: {"generator": network, "discriminator": network}} (common.network entries):
    the base networks of an arch other than the base config's (a missing arch is derived from the base
    networks: the same arguments where the arch's factories accept them, widths left at their defaults).
  config.skip_unsupported: drop cross-product cells whose arch lacks the normalisation (else: an error).
  config.eval_init: evaluate each cell's untrained generator first (FID at step 0, `init.json`).
Every field overrides from the command line, e.g. `--config.base.optimizers.discriminator.lr=4e-4` or
`--config.base.input.data_dir=/data/tfds`. `python -m model_garden.train` refuses this config (it is a
grid, not one job) and names tools/gan_study.py.

Arguments: runlocal, grid (proof, single, losses, penalties, norms, study), steps, batch, ch, lr (both
optimizers), features, eval_samples, eval_init.
Expected (the command above, 2 shared CPU cores, about 2 min per cell): FID 22.05 at step 0 for all four cells;
after 300 steps hinge+SN 5.53, NS+SN 5.79, NS 6.98, hinge 8.11 (one seed; see docs/gans.md). Only comparisons
within one study (same classifier file, same sample sizes) mean anything; none compare with published FIDs.
"""

import math

import ml_collections

from model_garden.configs import common
from model_garden.configs.config_args import parse_arg
from model_garden.configs.gan import common as gan_common

LOSSES = ("non_saturating", "wasserstein", "least_squares", "hinge")

# Named grids; "study" is the large-scale study's space restricted to a few points per axis.
GRIDS = {
    # NS vs hinge x SN vs none: the 2x2 offline proof of docs/gans.md.
    "proof": dict(loss=["non_saturating", "hinge"], norm=["spectral_norm", "none"]),
    "single": dict(loss=["non_saturating"], norm=["spectral_norm"]),
    "losses": dict(loss=list(LOSSES), norm=["spectral_norm"]),
    "penalties": dict(loss=["non_saturating"], norm=["none"],
                      penalty=["none", "wgan_gp(weight=1.0)", "wgan_gp(weight=10.0)", "dragan(weight=1.0)",
                               "l2(weight=0.01)"]),
    # Batch and layer norm exist in the ResNet discriminators only (compare_gan's SNDCGAN has no D norm).
    "norms": dict(loss=["non_saturating"], arch=["resnet_cifar"],
                  norm=["none", "batch_norm", "layer_norm", "spectral_norm", "weight_norm"]),
    "study": dict(loss=["non_saturating", "wasserstein", "least_squares"],
                  penalty=["none", "wgan_gp(weight=10.0)", "dragan(weight=1.0)"],
                  norm=["none", "batch_norm", "layer_norm", "spectral_norm", "weight_norm"],
                  arch=["sndcgan", "resnet_cifar"]),
}


def get_config(arg=None):
  """The config; `arg` is a comma list like "grid=proof,steps=600,features=PATH.keras"."""
  arg = parse_arg(arg, runlocal=False, grid="proof", steps=600, batch=64, ch=32, lr=2e-4, features="",
                  eval_samples=2000, eval_init=True)
  if arg.grid not in GRIDS:
    raise ValueError(f"Unknown grid {arg.grid!r}; known: {', '.join(GRIDS)}.")
  # Half the reference widths (ch=64) by default: CPU-sized cells; the study's networks are ch=64.
  base = gan_common.sndcgan_config(steps=arg.steps, batch=arg.batch, n_disc=1, ch=arg.ch, lr=arg.lr,
                                   features=arg.features, eval_samples=arg.eval_samples)
  base.log_steps = math.gcd(arg.steps, 100)  # total_steps must be a multiple of it
  base.checkpoint_steps = base.log_steps * max(1, arg.steps // base.log_steps // 3)
  base.evals.samples.every_steps = arg.steps
  for ev in base.evals.values():
    if ev.type == "gan_metrics":
      ev.kid_subset_size = min(1000, arg.eval_samples // 2)

  config = ml_collections.ConfigDict()
  config.base = base
  config.grid = ml_collections.ConfigDict({k: tuple(v) for k, v in GRIDS[arg.grid].items()})
  config.cells = []
  # The ResNet-CIFAR networks at their own widths (SNGAN's: G 256, D 128), halved like the SNDCGAN ones.
  config.architectures = ml_collections.ConfigDict()
  config.architectures.resnet_cifar = dict(
      generator=common.network("resnet_cifar_generator", z_dim=128, ch=4 * arg.ch, norm="batch_norm"),
      discriminator=common.network("resnet_cifar_discriminator", ch=2 * arg.ch, spectral_norm=True))
  config.skip_unsupported = arg.grid == "study"
  config.eval_init = bool(arg.eval_init)

  if arg.runlocal:
    gan_common.runlocal(base, n_disc=1, total_steps=2, log_steps=1)
    config.architectures.resnet_cifar.generator.update(z_dim=16, ch=8)
    config.architectures.resnet_cifar.discriminator.ch = 8
    if arg.grid == "proof":
      config.grid = ml_collections.ConfigDict(dict(loss=("non_saturating", "hinge"), norm=("spectral_norm",)))
  return config
