r"""SNDCGAN with the non-saturating loss and spectral norm in D on mg_shapes 32 px (the study's default).

"A Large-Scale Study on Regularization and Normalization in GANs" (Kurach et al. 2019) recommends the
non-saturating loss with spectral normalisation of the discriminator as the default; this is its SNDCGAN
recipe (compare_gan `example_configs/sndcgan_celebahq128.gin`: NS, D spectral norm, no penalty, Adam
lr 2e-4, beta1 0.5, beta2 0.999, one D step per G step, batch 64, z ~ U[-1, 1)^128) on the embedded
mg_shapes dataset at 32 px, unconditional.

Command:
  python -m model_garden.train --config=model_garden/configs/gan/sndcgan_mg_shapes.py \
      --workdir=workdirs/sndcgan_mg_shapes

Smoke test (a tiny SNDCGAN, 10 generator steps of batch 8, seconds):
  python -m model_garden.train --config=model_garden/configs/gan/sndcgan_mg_shapes.py:runlocal \
      --workdir=/tmp/sndcgan_smoke

FID offline: train the shapes classifier first (model_garden/configs/mg_shapes_classification.py) and
pass its network as the feature extractor: `:features=workdirs/mg_shapes_cls/model.keras` (FID, KID and
IS on its pre-logits/logits, comparable only between runs using the same classifier);
`features=inception_v3` uses Keras' InceptionV3 (downloads; not the papers' FID network either).

Expected: losses stay finite and bounded (D loss ~1.0-1.4, G loss ~0.7-2) and samples show coloured shapes
after a few thousand steps. No FID on mg_shapes is published; the study's SNDCGAN + NS + SN reached FID
25.27 on CIFAR-10 (table of gans.md), which this config does not reproduce (different data).
Arguments: runlocal, steps, batch (per D step), n_disc, features, eval_samples. Every field overrides from the
command line, e.g. `--config.networks.discriminator.ch=32`, `--config.objective.loss=hinge`,
`--config.optimizers.discriminator.lr=4e-4` or `--config.evals.samples.every_steps=1000` (the blocks:
model_garden/configs/gan/common.py).
"""

from model_garden.configs.config_args import parse_arg
from model_garden.configs.gan import common as gan_common


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal" or "steps=20000,features=PATH.keras"."""
  arg = parse_arg(arg, runlocal=False, steps=20_000, batch=64, n_disc=1, features="", eval_samples=2000)
  config = gan_common.sndcgan_config(steps=arg.steps, batch=arg.batch, n_disc=arg.n_disc, features=arg.features,
                                     eval_samples=arg.eval_samples)
  if arg.runlocal:
    gan_common.runlocal(config, n_disc=arg.n_disc)
  return config
