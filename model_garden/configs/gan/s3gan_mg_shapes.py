r"""The S3GAN family on mg_shapes 32 px: conditional GANs with all, one, random, inferred or few labels.

"High-Fidelity Image Generation With Fewer Labels" (Lucic, Tschannen, Ritter, Zhai, Bachem, Gelly 2019)
trains BigGAN on ImageNet with labels from several sources; `variant` picks one (compare_gan `gans/s3gan.py`,
`datasets.py`; gans.md section 4). Here at 32 px on mg_shapes (8 shape classes): the ResNet-CIFAR pair
(SNGAN's 32 px ResNet) with a conditional-BN generator and a projection discriminator, both spectrally
normalised, trained with the BigGAN recipe of compare_gan's `biggan_imagenet128.gin` (hinge loss,
Adam beta1 0, beta2 0.999, lr G 1e-4 / D 5e-4, 2 D steps per G step, z ~ N(0, 1)) at batch 64 instead of
2048, without the G EMA.

Objectives (all with loss='hinge', n_disc=2; the rotation ones with the rotation arguments below):
  gan(...)                                                  fully_supervised, single_label, random_label,
                                                            clustering, s2gan
  s3gan(use_predictor=False, self_supervision='rotation')   clustering_ss, s3gan
  s3gan(use_predictor=True, self_supervision='none')        s2gan_co
  s3gan(use_predictor=True, self_supervision='rotation')    s3gan_co
  ssgan(self_supervision='rotation_gan')                    ssgan (the unconditional SS-GAN)

Labels (data source or pp op) and the label_classes of G and D:
  fully_supervised    mg_shapes/px32's true labels                                              num_classes
  single_label        pp single_label(): every label 0                                          1
  random_label        pp random_label(num_classes): uniform, redrawn on every pass              num_classes
  clustering(_ss)     pp file_label(FILE): k-means cluster ids (gan_labels --method=cluster)    num_clusters
  s2gan, s3gan        semi_supervised(fraction=f, pseudo_labels=FILE) (--method=classifier)     num_classes
  s2gan_co, s3gan_co  semi_supervised(fraction=f, unlabelled_per_labelled=k): -1 = unlabelled   num_classes
  ssgan               none                                                                      0

Rotation variants pass `rotated_batch_fraction=0.5` (half of the b images of a step are in the rotation
loss: the last b/8 real and b/8 fake images, each at 0/90/180/270 degrees; compare_gan's S3GAN divisor 2, its
test value), `weight_rotation_loss_d=1.0`, `weight_rotation_loss_g=0.2` (the paper's beta and alpha).
In the co-training variants the discriminator's class head labels the unlabelled real images (label -1)
for the projection; their stream holds one labelled example, then k = round(1 / f) - 1 unlabelled ones
(images of the whole split, label -1), so a fraction f of the real images carry a label, as in the paper's
mixed batches (the pipeline's shuffle is off, so the stream is exactly periodic: a batch of b holds f * b
labelled images, give or take one). s2gan and s3gan read the classifier's file (tools/gan_labels.py
--method=classifier, the labelled subset of `semi_supervised(fraction=f)`, whose true labels they keep);
the clustering variants read k-means cluster ids for every example.

Steps (the labels are inferred offline from a self-supervised rotation network's `pre_logits`):
  1. Pretrain the rotation network (the paper: a rotation network on ImageNet; here the recipe of
     configs/ssl/rotation.py, "Revisiting Self-Supervised Visual Representation Learning"):
       python -m model_garden.train --config=model_garden/configs/ssl/rotation.py --workdir=workdirs/rotation
     (`:runlocal` trains a tiny rotation net on mg_shapes/px32 in seconds: smoke only; no mg_shapes-sized
     rotation config exists yet, so on mg_shapes the inferred labels are only as good as that network.)
  2. Infer the labels:
       python tools/gan_labels.py --method=cluster --features=workdirs/rotation/model.keras \
           --dataset=mg_shapes/px32 --num_clusters=8 --output=workdirs/labels/cluster.json
       python tools/gan_labels.py --method=classifier --features=workdirs/rotation/model.keras \
           --dataset=mg_shapes/px32 --fraction=0.1 --output=workdirs/labels/s2gan_10.json
  3. Train the GAN:
       python -m model_garden.train \
           --config=model_garden/configs/gan/s3gan_mg_shapes.py:variant=s3gan_co,fraction=0.1 \
           --workdir=workdirs/s3gan_co_10
       python -m model_garden.train \
           --config=model_garden/configs/gan/s3gan_mg_shapes.py:variant=clustering,labels=LABELS \
           --workdir=workdirs/clustering        # LABELS: workdirs/labels/cluster.json

Smoke test (tiny networks, 10 generator steps of batch 8; the label files default to these paths):
  python -m model_garden.train --config=model_garden/configs/ssl/rotation.py:runlocal --workdir=/tmp/s3gan_smoke/rot
  python tools/gan_labels.py --method=cluster --features=/tmp/s3gan_smoke/rot/model.keras \
      --dataset=mg_shapes/px32 --num_clusters=8 --restarts=2 --output=/tmp/s3gan_smoke/cluster.json
  python tools/gan_labels.py --method=classifier --features=/tmp/s3gan_smoke/rot/model.keras \
      --dataset=mg_shapes/px32 --fraction=0.1 --output=/tmp/s3gan_smoke/s2gan.json
  python -m model_garden.train --config=model_garden/configs/gan/s3gan_mg_shapes.py:variant=s2gan,runlocal \
      --workdir=/tmp/s3gan_smoke/s2gan

Expected: none published on mg_shapes. The paper (ImageNet 128, FID, medians over seeds): S3GAN with 10%
labels matches fully supervised BigGAN and beats it with 20%; the TF-Hub S3GAN models score FID 12.6 /
8.4 / 7.6 / 6.9 with 2.5 / 5 / 10 / 20% labels (gans.md section 4). FID on mg_shapes: `features=PATH.keras`
(a shapes classifier, see sndcgan_mg_shapes.py).
Arguments: variant, fraction, labels, num_classes, num_clusters, dataset, data_dir, runlocal, steps, batch
(per D step), n_disc, features, eval_samples. Every field overrides from the command line, e.g.
`--config.networks.generator.ch=128`, `--config.objective.weight_class_loss=0.5` or
`--config.optimizers.generator.lr=2e-4` (the semi-supervised variants' data source is the spec mapping
`config.input.data.name`; change `fraction` and `labels` through the arguments, which keep the labelled stream
and the label file consistent).
"""

from model_garden.configs import common
from model_garden.configs.config_args import parse_arg
from model_garden.configs.gan import common as gan_common

VARIANTS = ("fully_supervised", "single_label", "random_label", "clustering", "clustering_ss", "s2gan",
            "s3gan", "s2gan_co", "s3gan_co", "ssgan")
_NEEDS_LABELS = {"clustering": "cluster", "clustering_ss": "cluster", "s2gan": "s2gan", "s3gan": "s2gan"}
_SMOKE_LABELS = {"cluster": "/tmp/s3gan_smoke/cluster.json", "s2gan": "/tmp/s3gan_smoke/s2gan.json"}
_ROTATION = dict(rotated_batch_fraction=0.5, weight_rotation_loss_d=1.0, weight_rotation_loss_g=0.2)
_PREDICTOR = dict(use_soft_pred=False, weight_class_loss=1.0)


def _objective(variant: str, n_disc: int):
  """`config.objective` of `variant`: BigGAN's hinge loss and n_disc D steps, plus its S3GAN arguments."""
  if variant == "ssgan":
    return common.objective("ssgan", loss="hinge", n_disc=n_disc, self_supervision="rotation_gan", **_ROTATION)
  if variant in ("clustering_ss", "s3gan"):
    return common.objective("s3gan", loss="hinge", n_disc=n_disc, use_predictor=False, self_supervision="rotation",
                            **_ROTATION)
  if variant == "s2gan_co":
    return common.objective("s3gan", loss="hinge", n_disc=n_disc, use_predictor=True, self_supervision="none",
                            **_PREDICTOR)
  if variant == "s3gan_co":
    return common.objective("s3gan", loss="hinge", n_disc=n_disc, use_predictor=True, self_supervision="rotation",
                            **_PREDICTOR, **_ROTATION)
  return common.objective("gan", loss="hinge", n_disc=n_disc)


def _input(variant: str, arg, labels: str):
  """`config.input`: the variant's label source (a pp op or a `semi_supervised` dataset spec)."""
  label_op = {"single_label": "single_label()|", "random_label": f"random_label({arg.num_classes})|",
              "clustering": f"file_label({labels!r})|", "clustering_ss": f"file_label({labels!r})|"}.get(variant, "")
  keep = "keep('image')" if variant == "ssgan" else "keep('image', 'label')"
  block = gan_common.input_config(arg.dataset, batch=arg.batch, n_disc=arg.n_disc,
                                  pp=f"decode|value_range(-1, 1)|{label_op}{keep}", data_dir=arg.data_dir or None)
  if variant in ("s2gan", "s3gan", "s2gan_co", "s3gan_co"):
    source = dict(name="semi_supervised", dataset=arg.dataset, fraction=arg.fraction)
    if variant in ("s2gan", "s3gan"):
      source.update(pseudo_labels=labels)
    else:
      source.update(unlabelled_per_labelled=max(0, round(1.0 / arg.fraction) - 1))
    if arg.data_dir:
      source.update(data_dir=arg.data_dir)
    block.data = dict(name=source, split="train")  # a spec mapping: --config.input.data.name.fraction=0.2
    # The source shuffles and repeats each stream itself; no shuffle here keeps the labelled share per batch.
    block.shuffle_buffer = 1
    block.cache = False
  return block


def get_config(arg=None):
  """The config; `arg` is a comma list like "variant=s3gan_co,fraction=0.1" or "variant=ssgan,runlocal"."""
  arg = parse_arg(arg, variant="s3gan_co", fraction=0.1, labels="", num_classes=8, num_clusters=8,
                  dataset="mg_shapes/px32", data_dir="", runlocal=False, steps=20_000, batch=64, n_disc=2,
                  features="", eval_samples=2000)
  variant = arg.variant
  if variant not in VARIANTS:
    raise ValueError(f"Unknown variant {variant!r}; the variants are {', '.join(VARIANTS)} "
                     "(e.g. s3gan_mg_shapes.py:variant=s2gan_co,fraction=0.1).")
  if not 0.0 < arg.fraction <= 1.0:
    raise ValueError(f"fraction must be in (0, 1] (the share of labelled images), got {arg.fraction}.")
  labels = arg.labels
  if variant in _NEEDS_LABELS and not labels:
    kind = _NEEDS_LABELS[variant]
    if not arg.runlocal:
      method = (f"--method=cluster --num_clusters={arg.num_clusters}" if kind == "cluster"
                else f"--method=classifier --fraction={arg.fraction}")
      raise ValueError(f"variant={variant} trains on inferred labels: pass labels=FILE, written by python "
                       f"tools/gan_labels.py {method} --features=SSL.keras --dataset={arg.dataset} "
                       f"--output=FILE (see this config's docstring).")
    labels = _SMOKE_LABELS[kind]
  classes = {"single_label": 1, "clustering": arg.num_clusters, "clustering_ss": arg.num_clusters,
             "ssgan": 0}.get(variant, arg.num_classes)

  config = common.base_config(total_steps=arg.steps, log_steps=500, checkpoint_steps=2000, keep_checkpoints=2)
  config.variant = variant
  config.input = _input(variant, arg, labels)
  # SNGAN's 32 px ResNet pair (G 256, D 128 channels), both spectrally normalised; conditional BN in G and a
  # projection D for the label_classes, none for the unconditional ssgan.
  config.networks.generator = common.network(
      "resnet_cifar_generator", z_dim=128, ch=256, label_classes=classes,
      norm="conditional_batch_norm" if classes else "batch_norm", spectral_norm=True, z_distribution="normal")
  config.networks.discriminator = common.network("resnet_cifar_discriminator", ch=128, label_classes=classes,
                                                 spectral_norm=True)
  config.objective = _objective(variant, arg.n_disc)
  config.optimizers = gan_common.adam_optimizers(generator_lr=1e-4, discriminator_lr=5e-4, b1=0.0)
  config.evals.samples = gan_common.samples_eval()
  if arg.features:
    config.evals.fid = gan_common.fid_eval(arg.dataset, features=arg.features, num_samples=arg.eval_samples)

  if arg.runlocal:
    gan_common.runlocal(config, n_disc=arg.n_disc)
  return config
