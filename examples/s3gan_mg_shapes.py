r"""Offline run of the S3GAN family on mg_shapes 32 px: labels from self-supervision, then one GAN per variant.

"High-Fidelity Image Generation With Fewer Labels" (Lucic, Tschannen, Ritter, Zhai, Bachem, Gelly 2019) trains
conditional GANs whose labels come from several sources: none (one label), random labels, k-means clusters of
self-supervised features (CLUSTERING), a classifier trained on a labelled fraction over those features
(S2GAN), the discriminator's own class head co-trained on the labelled fraction (S2GAN-CO), and each of the
last with a rotation loss in the discriminator (S3GAN, S3GAN-CO, CLUSTERING(SS)). This script runs the whole
chain offline at CPU scale:

  (a) rotation pretraining (no labels) of a small network on the training images: the approach of
      examples/ssl_mg_shapes.py (the `rotation` objective, `resnet_small` 8/16/32, SGD momentum, cosine);
  (b) labels from its `pre_logits` (model_garden/transfer/gan_labels.py): k-means with k clusters
      (CLUSTERING) and a linear classifier on the labelled fraction (S2GAN), scored against the true shapes,
      next to the same two on the network at random initialisation (is the pretraining worth anything?);
  (c) every selected variant of model_garden/configs/gan/s3gan_mg_shapes.py, each for the same number of
      generator steps with the same networks, batch and seed, evaluated once at the end with FID / KID / IS
      on a shapes classifier's features (the `gan_metrics` evaluator, `features=PATH.keras`), the same sample
      count for all, plus the untrained generator as a step-0 reference;
  (d) WORKDIR/results.md and WORKDIR/results.json (one row per variant), then one JSON line on stdout.

  nice python examples/s3gan_mg_shapes.py --workdir=workdirs/s3gan_proof --data_dir=workdirs/gan_proof/tfds \
      --features=workdirs/gan_proof/classifier/model.keras --fraction=0.1 --steps=200 --rotation_steps=800
  python examples/s3gan_mg_shapes.py --tiny --data_dir=/tmp/tfds --workdir=/tmp/s3gan_tiny   # smoke

The first command took 17.5 min on 2 shared CPU cores; its numbers are in docs/gans.md ("S3GAN family on
mg_shapes"). `--tiny` prepares mg_shapes/tiny32 (256 images), trains 4 rotation steps and 2 steps of tiny
GANs (the config's `runlocal` networks, 64 evaluation samples) and runs TensorFlow functions eagerly: tracing
each variant's train step would cost more than running it. Without `--features` the rotation network is also
the FID network (smoke runs only: its logits are the 4 rotations).

The GAN recipe is the config's (BigGAN's hinge loss, Adam beta1 0 / beta2 0.999, lr G 1e-4 / D 5e-4, 2 D
steps per G step, SN on both networks, conditional BN in G, projection D) with the networks narrowed
(`--g_ch`, `--d_ch`) and the batch lowered (`--batch`, per D step) to fit a CPU; `--lr_g`/`--lr_d` override the
rates; `--lr_g` defaults to 5e-4, not the recipe's 1e-4: in a run of a few hundred steps the recipe's
rate leaves G near its start (fully_supervised, 100 steps, measured: FID 13.9 with 1e-4, 3.0 with 5e-4, where
the untrained generator scores 6.4), as docs/gans.md's SNDCGAN proof raised its rates for minutes-long runs.
Written under WORKDIR: rotation/model.keras, labels/{cluster,s2gan}.json (plus the random-init
references), one directory per variant (the trainer's checkpoints, samples/, model.keras, results.json).
A rerun starts every stage afresh (it deletes the directories it writes; nothing else).

What the numbers are: FID on a classifier trained on mg_shapes (not Inception), 1,000 samples: comparable
between the rows of one run, never with published FIDs. A few hundred steps per GAN is the start of training;
the paper's ordering (S3GAN-CO ~ fully supervised > S2GAN > clustering > single/random label, 250k steps of
batch 2048 on ImageNet) need not show.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_VARIANTS = ("single_label", "random_label", "clustering", "s2gan", "s3gan", "s2gan_co", "s3gan_co",
                    "fully_supervised", "ssgan")
ROTATION_NETWORK = "resnet_small(num_classes=4, image_size=32, widths={widths})"
ROTATION_PP = "decode|flip_lr|value_range(-1, 1)|keep('image')"
NUM_SHAPES = 8

# Where each variant's labels come from (results.md's "labels" column).
LABEL_SOURCES = {
    "fully_supervised": "true labels, 100%",
    "single_label": "one label for every image",
    "random_label": "uniform random, redrawn every pass",
    "clustering": "k-means on rotation features",
    "clustering_ss": "k-means on rotation features (+ D rotation loss)",
    "s2gan": "{pct} true + linear classifier on rotation features",
    "s3gan": "{pct} true + linear classifier on rotation features (+ D rotation loss)",
    "s2gan_co": "{pct} true + D's class head for the rest",
    "s3gan_co": "{pct} true + D's class head for the rest (+ D rotation loss)",
    "ssgan": "none (unconditional, D rotation loss)",
}


class Stopwatch:
  """Wall and process CPU seconds (all threads) of a block."""

  def __enter__(self):
    self._wall, self._cpu = time.time(), time.process_time()
    return self

  def __exit__(self, *exc):
    self.wall = time.time() - self._wall
    self.cpu = time.process_time() - self._cpu
    return False


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", default=os.path.join(ROOT, "workdirs", "s3gan_proof"))
  parser.add_argument("--data_dir", default=None, help="tfds data_dir (default: tfds' own)")
  parser.add_argument("--dataset", default=None, help="tfds name (default mg_shapes/px32; --tiny: mg_shapes/tiny32)")
  parser.add_argument("--features", default="",
                      help="FID/KID/IS feature network: a classifier's .keras file (e.g. "
                           "workdirs/gan_proof/classifier/model.keras). Empty: the rotation network of (a) "
                           "(smoke runs only; its IS has 4 classes)")
  parser.add_argument("--fraction", type=float, default=0.1, help="share of labelled images (S2GAN, S3GAN, -CO)")
  parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                      help="comma list of s3gan_mg_shapes.py variants")
  parser.add_argument("--steps", type=int, default=200, help="generator steps per variant")
  parser.add_argument("--batch", type=int, default=32, help="real images per D step (2 D steps per G step)")
  parser.add_argument("--g_ch", type=int, default=32, help="generator width (the config: 256)")
  parser.add_argument("--d_ch", type=int, default=32, help="discriminator width (the config: 128)")
  parser.add_argument("--lr_g", type=float, default=5e-4,
                      help="generator lr (the config: 1e-4, which barely moves G in a few hundred steps)")
  parser.add_argument("--lr_d", type=float, default=None, help="discriminator lr (default: the config's 5e-4)")
  parser.add_argument("--eval_samples", type=int, default=1000, help="generated and real images per evaluation")
  parser.add_argument("--num_clusters", type=int, default=8)
  parser.add_argument("--rotation_steps", type=int, default=800,
                      help="rotation pretraining steps (on mg_shapes its loss only starts to fall after ~400)")
  parser.add_argument("--rotation_batch", type=int, default=32, help="images per step (x4 rotations)")
  parser.add_argument("--rotation_lr", type=float, default=0.05)
  parser.add_argument("--rotation_widths", default="8,16,32")
  parser.add_argument("--eval_init", type=int, default=1, help="1: also evaluate the untrained generator")
  parser.add_argument("--tiny", action="store_true", help="tiny data, networks and step counts (smoke test)")
  args = parser.parse_args(argv)
  args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
  return args


def check_args(args):
  from model_garden.configs.gan import s3gan_mg_shapes  # pylint: disable=import-outside-toplevel
  unknown = [v for v in args.variants if v not in s3gan_mg_shapes.VARIANTS]
  if unknown or not args.variants:
    raise SystemExit(f"error: --variants: unknown {unknown or '(empty list)'}; choose from "
                     f"{', '.join(s3gan_mg_shapes.VARIANTS)}.")
  if not 0.0 < args.fraction <= 1.0:
    raise SystemExit(f"error: --fraction must be in (0, 1], got {args.fraction}.")
  if args.features and not os.path.exists(args.features):
    raise SystemExit(f"error: --features={args.features}: no such file. Train the shapes classifier first "
                     "(python -m model_garden.train --config=model_garden/configs/mg_shapes_classification.py "
                     "--workdir=DIR; see docs/gans.md) and pass DIR/model.keras, or leave --features empty.")
  if args.steps < 1 or args.rotation_steps < 1:
    raise SystemExit("error: --steps and --rotation_steps must be positive.")


def prepare_data(args):
  """(dataset name, data_dir), preparing mg_shapes if needed (the tiny config in --tiny)."""
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  from model_garden import data  # pylint: disable=import-outside-toplevel
  if args.tiny:
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="s3gan_tfds_")
    tiny = data.mg_shapes.MgShapesConfig(name="tiny32", image_size=32, num_train=256, num_validation=64,
                                         num_test=64)
    tfds.builder("mg_shapes", config=tiny, data_dir=data_dir).download_and_prepare()
    return args.dataset or "mg_shapes/tiny32", data_dir
  dataset = args.dataset or "mg_shapes/px32"
  data.get_builder(dataset, data_dir=args.data_dir)  # prepares it (about 20 s for px32) when missing
  return dataset, args.data_dir


# -- (a) rotation pretraining ----------------------------------------------------------------------------------

def pretrain_rotation(args, dataset, data_dir, workdir):
  """Trains the rotation network on the unlabelled training images; saves it and its untrained twin."""
  import keras  # pylint: disable=import-outside-toplevel
  from model_garden import data, models, objectives, optimizers  # pylint: disable=import-outside-toplevel
  widths = tuple(int(w) for w in args.rotation_widths.split(","))
  spec = ROTATION_NETWORK.format(widths=widths)
  os.makedirs(workdir, exist_ok=True)
  keras.utils.set_random_seed(0)
  models.get(spec).save(os.path.join(workdir, "random_init.keras"))  # the same seed: the run's starting point
  keras.utils.set_random_seed(0)
  network = models.get(spec)
  steps = args.rotation_steps
  objective = objectives.get("rotation(weight_decay=0.0)", network=network)
  objective.compile(optimizer=optimizers.make(
      {"name": "sgd(momentum=0.9)", "lr": args.rotation_lr, "schedule": f"cosine(warmup_steps={max(1, steps // 10)})"},
      total_steps=steps))
  objective.build_for_training((None, 32, 32, 3))
  train = data.get_dataset(dataset, "train", batch_size=args.rotation_batch, pp=ROTATION_PP, data_dir=data_dir,
                           cache=True)
  per_epoch = math.gcd(steps, 100)  # epochs of up to 100 steps; the history keeps each epoch's mean
  history = objective.fit(train, epochs=steps // per_epoch, steps_per_epoch=per_epoch, verbose=0).history
  path = os.path.join(workdir, "model.keras")
  network.save(path)
  return {"network": spec, "steps": steps, "batch": args.rotation_batch, "model": path,
          "random_init_model": os.path.join(workdir, "random_init.keras"),
          "loss_first": float(history["loss"][0]), "loss_last": float(history["loss"][-1]),
          "rotation_accuracy_first": float(history["accuracy"][0]),
          "rotation_accuracy_last": float(history["accuracy"][-1]),
          "history": {"steps_per_point": per_epoch, "loss": [round(float(v), 4) for v in history["loss"]],
                      "accuracy": [round(float(v), 4) for v in history["accuracy"]]}}


# -- (b) labels --------------------------------------------------------------------------------------------------

def infer_labels(args, dataset, data_dir, features, workdir, prefix=""):
  """CLUSTERING and S2GAN label files from `features` (a .keras file); returns both reports."""
  from model_garden.transfer import gan_labels  # pylint: disable=import-outside-toplevel
  restarts, classifier_steps = (2, 50) if args.tiny else (10, 500)
  cluster = gan_labels.run("cluster", features=features, dataset=dataset, split="train", data_dir=data_dir,
                           num_clusters=args.num_clusters, restarts=restarts,
                           output=os.path.join(workdir, f"{prefix}cluster.json"))
  s2gan = gan_labels.run("classifier", features=features, dataset=dataset, split="train", data_dir=data_dir,
                         fraction=args.fraction, steps=classifier_steps,
                         output=os.path.join(workdir, f"{prefix}s2gan.json"))
  return cluster, s2gan


def _label_summary(cluster, s2gan):
  keys = ("accuracy", "purity", "nmi")
  out = {"cluster": {k: round(cluster[k], 4) for k in keys},
         "s2gan": {k: round(s2gan[k], 4) for k in keys + ("accuracy_unlabelled", "train_accuracy")}}
  out["cluster"]["output"], out["s2gan"]["output"] = cluster["output"], s2gan["output"]
  out["s2gan"]["num_labelled"] = s2gan["num_labelled"]
  return out


# -- (c) the GANs ------------------------------------------------------------------------------------------------

def variant_config(args, variant, dataset, data_dir, labels, features):
  """The s3gan_mg_shapes config of `variant`, at this run's widths, batch, steps and evaluation."""
  from model_garden.configs.gan import s3gan_mg_shapes  # pylint: disable=import-outside-toplevel
  arg = (f"variant={variant},fraction={args.fraction},dataset={dataset},num_clusters={args.num_clusters},"
         f"features={features},eval_samples={args.eval_samples}")
  if data_dir:
    arg += f",data_dir={data_dir}"
  if variant in ("clustering", "clustering_ss"):
    arg += f",labels={labels['cluster']}"
  elif variant in ("s2gan", "s3gan"):
    arg += f",labels={labels['s2gan']}"
  if args.tiny:
    arg += ",runlocal"
  else:
    arg += f",steps={args.steps},batch={args.batch}"
  config = s3gan_mg_shapes.get_config(arg)
  if not args.tiny:
    config.networks.generator.ch = args.g_ch
    config.networks.discriminator.ch = args.d_ch
    config.evals.fid.kid_subset_size = min(1000, args.eval_samples)
  if args.lr_g:
    config.optimizers.generator.lr = args.lr_g
  if args.lr_d:
    config.optimizers.discriminator.lr = args.lr_d
  steps = 2 if args.tiny else args.steps
  # One fit "epoch" for the whole run: the final losses are then means over every step.
  config.total_steps = config.log_steps = config.checkpoint_steps = steps
  config.evals.samples.update(every_steps=steps, num_samples=16 if args.tiny else 64)
  return config


def evaluate_untrained(config):
  """FID / KID / IS of the untrained sampling generator of `config`: built as `training.train` builds it (same
  seed), so these are the weights each run starts from."""
  import keras  # pylint: disable=import-outside-toplevel
  from model_garden import evaluation, training  # pylint: disable=import-outside-toplevel
  keras.utils.set_random_seed(config.seed)
  gan, _ = training.build_objective(config)
  (fid,) = evaluation.build_evaluators({"fid": config.evals.fid}, data_dir=config.input.get("data_dir"))
  return {k: float(v) for k, v in fid.evaluator.run(gan.evaluated_network()).items() if isinstance(v, (int, float))}


def train_variant(config, workdir):
  import keras  # pylint: disable=import-outside-toplevel
  from model_garden import training  # pylint: disable=import-outside-toplevel
  if os.path.isdir(workdir):
    shutil.rmtree(workdir)  # a fresh run: the trainer would otherwise resume the finished one
  keras.backend.clear_session()
  with Stopwatch() as watch:
    results = training.train(config, workdir, verbose=0)
  return results, watch


def label_accuracy(variant, labels_report):
  """Accuracy of the labels the variant trains on, against the true shapes, where that is defined."""
  if variant == "fully_supervised":
    return 1.0
  if variant in ("clustering", "clustering_ss"):
    return labels_report["cluster"]["accuracy"]  # after the best one-to-one map of clusters to shapes
  if variant in ("s2gan", "s3gan"):
    return labels_report["s2gan"]["accuracy"]
  return None  # single/random label: no label to score; -CO: D's head predicts online; ssgan: no labels


# -- (d) outputs -------------------------------------------------------------------------------------------------

def _fmt(value, digits=4):
  if value is None:
    return "—"
  if isinstance(value, float):
    return f"{value:.{digits}f}"
  return str(value)


def write_results(workdir, summary):
  rows = summary["variants"]
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump(summary, f, indent=2)
  lines = [f"# S3GAN family on {summary['dataset']}", "",
           f"{summary['settings']}", "",
           "## Labels from rotation features (train split)", "",
           "| features | rotation task accuracy | k-means accuracy (matched) | k-means purity | k-means NMI | "
           f"S2GAN classifier accuracy (all) | S2GAN accuracy on the unlabelled {100 - summary['fraction_pct']:g}% |",
           "|---|---|---|---|---|---|---|"]
  for name, key in (("rotation-pretrained", "labels"), ("random init (reference)", "labels_random_init")):
    rep = summary[key]
    if rep is None:
      continue
    task = summary["rotation"]["rotation_accuracy_last"] if key == "labels" else None
    lines.append(f"| {name} | {_fmt(task)} | {_fmt(rep['cluster']['accuracy'])} | {_fmt(rep['cluster']['purity'])} | "
                 f"{_fmt(rep['cluster']['nmi'])} | {_fmt(rep['s2gan']['accuracy'])} | "
                 f"{_fmt(rep['s2gan']['accuracy_unlabelled'])} |")
  lines += ["", f"Chance: {1 / NUM_SHAPES:.3f} (8 shapes).", "",
            "## GANs (same steps, networks, batch and seed; FID/KID/IS at the end)", "",
            "| variant | objective | labels | label accuracy | D head accuracy | FID | KID | IS | d_loss | g_loss | "
            "train s | wall s | CPU s |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
  for r in sorted(rows, key=lambda r: (math.isnan(r["fid"]), r["fid"])):
    lines.append(f"| {r['variant']} | {r['objective']} | {r['labels']} | {_fmt(r['label_accuracy'])} | "
                 f"{_fmt(r['head_accuracy'])} | {_fmt(r['fid'], 3)} | {_fmt(r['kid'])} | {_fmt(r['is'], 3)} | "
                 f"{_fmt(r['d_loss'], 3)} | {_fmt(r['g_loss'], 3)} | {r['train_seconds']:.0f} | "
                 f"{r['wall_seconds']:.0f} | {r['cpu_seconds']:.0f} |")
  if summary.get("untrained"):
    u = summary["untrained"]
    lines += ["", f"Untrained conditional generator (step 0, the same seed): FID {u['fid']:.3f}, KID {u['kid']:.4f}, "
              f"IS {u['is']:.3f}.",
              "label accuracy: of the labels the variant trains on, against the true shapes, over the train split "
              "(k-means: after the best one-to-one map of clusters to shapes). D head accuracy (-CO variants): the "
              "discriminator's class head on the labelled real images, mean over the whole run (chance: 0.125)."]
  timing = summary["timing"]
  lines += ["", "## Time", "", "| stage | wall s | CPU s |", "|---|---|---|"]
  lines += [f"| {stage} | {t['wall']:.0f} | {t['cpu']:.0f} |" for stage, t in timing.items()]
  lines.append("")
  with open(os.path.join(workdir, "results.md"), "w") as f:
    f.write("\n".join(lines))
  return "\n".join(lines)


def main(argv=None):
  args = parse_args(argv)
  check_args(args)
  started = Stopwatch().__enter__()
  import model_garden  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  from model_garden.registry import format_spec, spec_call  # pylint: disable=import-outside-toplevel
  from model_garden.training import network_spec  # pylint: disable=import-outside-toplevel
  workdir = os.path.abspath(args.workdir)
  os.makedirs(workdir, exist_ok=True)
  timing = {}

  with Stopwatch() as watch:
    dataset, data_dir = prepare_data(args)
  timing["data"] = {"wall": watch.wall, "cpu": watch.cpu}

  if args.tiny:
    args.rotation_steps, args.rotation_batch = 4, 8
    # A smoke run of a few steps: tracing every variant's train step would cost far more than running it.
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    tf.config.run_functions_eagerly(True)
  for sub in ("rotation", "labels"):
    shutil.rmtree(os.path.join(workdir, sub), ignore_errors=True)
  with Stopwatch() as watch:
    rotation = pretrain_rotation(args, dataset, data_dir, os.path.join(workdir, "rotation"))
  timing["(a) rotation pretraining"] = {"wall": watch.wall, "cpu": watch.cpu}
  print(f"(a) rotation: {rotation['steps']} steps, rotation accuracy {rotation['rotation_accuracy_first']:.3f} "
        f"(first epoch) -> {rotation['rotation_accuracy_last']:.3f} (last), {watch.wall:.0f} s", flush=True)

  label_dir = os.path.join(workdir, "labels")
  with Stopwatch() as watch:
    labels = _label_summary(*infer_labels(args, dataset, data_dir, rotation["model"], label_dir))
    labels_random = _label_summary(*infer_labels(args, dataset, data_dir, rotation["random_init_model"], label_dir,
                                                 prefix="random_init_"))
  timing["(b) labels (rotation + random-init features)"] = {"wall": watch.wall, "cpu": watch.cpu}
  for name, rep in (("rotation features", labels), ("random-init features", labels_random)):
    print(f"(b) {name}: k-means purity {rep['cluster']['purity']:.4f}, matched accuracy "
          f"{rep['cluster']['accuracy']:.4f}, NMI {rep['cluster']['nmi']:.4f}; S2GAN classifier accuracy "
          f"{rep['s2gan']['accuracy']:.4f} (unlabelled {rep['s2gan']['accuracy_unlabelled']:.4f}, "
          f"{rep['s2gan']['num_labelled']} labelled)", flush=True)

  features = os.path.abspath(args.features) if args.features else rotation["model"]
  label_files = {"cluster": labels["cluster"]["output"], "s2gan": labels["s2gan"]["output"]}
  untrained = None
  if args.eval_init:
    with Stopwatch() as watch:
      untrained = evaluate_untrained(variant_config(args, "fully_supervised", dataset, data_dir, label_files,
                                                    features))
    timing["untrained generator evaluation"] = {"wall": watch.wall, "cpu": watch.cpu}
    print(f"(c) untrained generator: FID {untrained['fid']:.3f}, KID {untrained['kid']:.4f}, IS {untrained['is']:.3f}",
          flush=True)

  pct = f"{100 * args.fraction:g}%"
  rows = []
  for variant in args.variants:
    config = variant_config(args, variant, dataset, data_dir, label_files, features)
    results, watch = train_variant(config, os.path.join(workdir, variant))
    row = {"variant": variant, "objective": config.objective.name,
           "labels": LABEL_SOURCES[variant].format(pct=pct), "label_accuracy": label_accuracy(variant, labels),
           "fid": float(results["fid/fid"]), "kid": float(results["fid/kid"]), "is": float(results["fid/is"]),
           "d_loss": results.get("train/d_loss"), "g_loss": results.get("train/g_loss"),
           "head_accuracy": results.get("train/class_accuracy"),
           "rotation_accuracy_real": results.get("train/rotation_accuracy_real"),
           "steps": int(results["step"]), "train_seconds": float(results["train_seconds"]),
           "wall_seconds": round(watch.wall, 1), "cpu_seconds": round(watch.cpu, 1),
           "generator": network_spec(config.networks.generator),
           "discriminator": network_spec(config.networks.discriminator),
           "objective_spec": format_spec(*spec_call(config.objective)), "workdir": os.path.join(workdir, variant)}
    rows.append(row)
    timing[f"(c) {variant}"] = {"wall": watch.wall, "cpu": watch.cpu}
    print(f"(c) {variant}: FID {row['fid']:.3f}, KID {row['kid']:.4f}, IS {row['is']:.3f}, "
          f"{row['wall_seconds']:.0f} s wall, {row['cpu_seconds']:.0f} s CPU", flush=True)

  started.__exit__()
  timing["total"] = {"wall": started.wall, "cpu": started.cpu}
  config = variant_config(args, "fully_supervised", dataset, data_dir, label_files, features)
  settings = (f"{config.total_steps} generator steps per variant, {config.input.batch_size // 2} real images per D "
              f"step (2 D steps per G step), G `{network_spec(config.networks.generator)}`, D "
              f"`{network_spec(config.networks.discriminator)}` (label_classes: 1 for single_label, "
              f"{args.num_clusters} for clustering, 0 for ssgan; ssgan's G uses plain batch norm), "
              f"lr G {config.optimizers.generator.lr:g} / D {config.optimizers.discriminator.lr:g}, labelled fraction "
              f"{pct}, FID/KID/IS on "
              f"`{os.path.relpath(features, ROOT) if not args.tiny else features}` with "
              f"{config.evals.fid.num_samples} samples against the first {config.evals.fid.num_samples} images "
              f"of `{config.evals.fid.data['split']}`. FID of this feature network compares only within this table.")
  summary = {"dataset": dataset, "tiny": args.tiny, "fraction": args.fraction,
             "fraction_pct": 100 * args.fraction, "settings": settings, "features": features,
             "rotation": rotation, "labels": labels, "labels_random_init": labels_random,
             "untrained": untrained, "variants": rows,
             "timing": {k: {"wall": round(v["wall"], 1), "cpu": round(v["cpu"], 1)} for k, v in timing.items()}}
  print()
  print(write_results(workdir, summary))
  final = {"dataset": dataset, "tiny": args.tiny, "workdir": workdir,
           "rotation_accuracy": round(rotation["rotation_accuracy_last"], 4),
           "cluster_purity": labels["cluster"]["purity"], "cluster_accuracy": labels["cluster"]["accuracy"],
           "s2gan_accuracy": labels["s2gan"]["accuracy"],
           "s2gan_accuracy_unlabelled": labels["s2gan"]["accuracy_unlabelled"],
           "s2gan_accuracy_unlabelled_random_init": labels_random["s2gan"]["accuracy_unlabelled"],
           "fid_untrained": untrained["fid"] if untrained else None,
           "fid": {r["variant"]: round(r["fid"], 4) for r in rows},
           "wall_seconds": round(started.wall, 1), "cpu_seconds": round(started.cpu, 1)}
  print(json.dumps(final), flush=True)
  return summary


if __name__ == "__main__":
  main()
