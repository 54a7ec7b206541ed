r"""SNDCGAN with the non-saturating loss and spectral norm in D on mg_shapes 32 px (the study's default).

"A Large-Scale Study on Regularization and Normalization in GANs" (Kurach et al. 2019) recommends the
non-saturating loss with spectral normalisation of the discriminator as the default; this is its SNDCGAN
recipe (compare_gan `example_configs/sndcgan_celebahq128.gin`: NS, D spectral norm, no penalty, Adam
lr 2e-4, beta1 0.5, beta2 0.999, one D step per G step, batch 64, z ~ U[-1, 1)^128) on the embedded
mg_shapes dataset at 32 px, unconditional.

Command (trainer.train hands GAN configs, those with config.models, to training/gan_trainer.py):
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
Arguments: runlocal, steps, batch (per D step), n_disc, features, eval_samples.
"""

import ml_collections

from model_garden.configs.config_args import parse_arg


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal" or "steps=20000,features=PATH.keras"."""
  arg = parse_arg(arg, runlocal=False, steps=20_000, batch=64, n_disc=1, features="", eval_samples=2000)
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.deterministic = False
  config.precision = "float32"

  config.input = ml_collections.ConfigDict()
  config.input.data = dict(name="mg_shapes/px32", split="train")
  config.input.data_dir = ml_collections.config_dict.placeholder(str)
  # Each fit step runs n_disc D steps, each on its own slice of `batch` real images.
  config.input.batch_size = arg.batch * arg.n_disc
  config.input.shuffle_buffer = 10_000
  config.input.cache = True
  config.input.on_corrupt = "error"
  config.input.pp = "decode|value_range(-1, 1)|keep('image', 'label')"

  config.models = ml_collections.ConfigDict()
  config.models.generator = "sndcgan_generator(image_size=32, z_dim=128, norm='batch_norm')"
  config.models.discriminator = "sndcgan_discriminator(image_size=32, spectral_norm=True)"
  config.objective = f"gan(loss='non_saturating', penalty='none', n_disc={arg.n_disc})"

  config.optimizers = ml_collections.ConfigDict()
  for key in ("d", "g"):
    config.optimizers[key] = dict(name="adam(b1=0.5, b2=0.999, eps=1e-8)", lr=2e-4, schedule="constant")

  config.total_steps = arg.steps  # generator steps
  config.log_steps = 500
  config.checkpoint_steps = 2000
  config.keep_checkpoints = 2
  config.samples = dict(every_steps=2000, num_samples=64)
  config.standing_stats_samples = 0

  config.evals = ml_collections.ConfigDict()
  config.eval_steps = 0
  if arg.features:
    config.evals.fid = dict(type="gan_metrics", data=dict(name="mg_shapes/px32", split="test"),
                            pp="decode|value_range(-1, 1)|keep('image')", features=arg.features,
                            num_samples=arg.eval_samples, batch_size=250, is_splits=10)

  if arg.runlocal:
    config.input.batch_size = 8 * arg.n_disc
    config.input.shuffle_buffer = 64
    config.models.generator = "sndcgan_generator(image_size=32, z_dim=16, ch=8)"
    config.models.discriminator = "sndcgan_discriminator(image_size=32, ch=8, spectral_norm=True)"
    config.total_steps = 10
    config.log_steps = 5
    config.checkpoint_steps = 10
    config.samples = dict(every_steps=10, num_samples=16)
    for ev in config.evals.values():
      ev.data["split"] = "test[:64]"
      ev.num_samples = 64
      ev.kid_subset_size = 32
  return config
