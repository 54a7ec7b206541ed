"""The GAN configs' `runlocal` smoke tests on the default dataset (mg_shapes/px32, prepared when missing).

Through the command line, exactly as the configs' docstrings type them: sndcgan_mg_shapes.py:runlocal and
s3gan_mg_shapes.py:variant=s3gan_co,runlocal (the s3gan objective with the class head and the rotation loss
on the semi-supervised stream: the most machinery of the family). A CLI run costs about 20-35 s on 2 CPU
cores (process start, tracing the two-optimizer step), so the other nine s3gan variants run in-process
instead, each through what `train()` does before `fit`: the trainer's config checks, the config's own input
pipeline (one batch) and `training.build_objective`, then one (eager) training step. The variants that read
inferred labels get label files written here (`labels=FILE`), since their runlocal default files come from the
smoke chain in s3gan_mg_shapes.py's docstring. (The trainer's refusal of the study config, and the study's own
runlocal, are in tests/test_gan_study.py.)
"""

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

import model_garden  # noqa: F401  (registers models, objectives, pp ops, sources, evaluators)
from model_garden.configs.gan import s3gan_mg_shapes
from model_garden.data.pipeline import get_builder, get_dataset
from model_garden.training import build_objective, check_config
from model_garden.transfer import gan_labels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASET = "mg_shapes/px32"


def _train_cli(config, workdir):
  return subprocess.run([sys.executable, "-m", "model_garden.train", f"--config={config}", f"--workdir={workdir}"],
                        capture_output=True, text=True, timeout=600, cwd=ROOT,
                        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def _results(proc):
  assert proc.returncode == 0, proc.stderr[-3000:]
  return json.loads(proc.stdout.strip().splitlines()[-1])


def test_sndcgan_runlocal_through_the_cli(tmp_path):
  results = _results(_train_cli("model_garden/configs/gan/sndcgan_mg_shapes.py:runlocal", tmp_path))
  assert results["step"] == 10 and results["d_steps"] == 10  # n_disc=1
  assert all(math.isfinite(results[f"train/{k}"]) for k in ("d_loss", "g_loss", "d_real", "d_fake"))
  assert sorted(os.listdir(tmp_path / "samples")) == ["step_00000010.png"]  # the gan_samples evaluator, at the end
  assert (tmp_path / "model.keras").exists() and not (tmp_path / "generator.keras").exists()  # no EMA
  config = json.loads((tmp_path / "config.json").read_text())
  assert config["networks"]["generator"]["ch"] == config["networks"]["discriminator"]["ch"] == 8
  assert config["input"]["batch_size"] == 8 and config["evals"]["samples"]["num_samples"] == 16


def test_s3gan_co_runlocal_through_the_cli(tmp_path):
  results = _results(_train_cli("model_garden/configs/gan/s3gan_mg_shapes.py:variant=s3gan_co,runlocal", tmp_path))
  assert results["step"] == 10 and results["d_steps"] == 20  # n_disc=2
  # One labelled example, then 9 unlabelled ones: a tenth of the reals carry a label.
  assert results["train/labelled_fraction"] == pytest.approx(0.1, abs=0.02)
  for key in ("class_loss", "rotation_loss_d", "rotation_loss_g", "d_loss", "g_loss"):
    assert math.isfinite(results[f"train/{key}"]), key
  assert (tmp_path / "model.keras").exists() and (tmp_path / "samples" / "step_00000010.png").exists()


@pytest.fixture(scope="module")
def label_files(tmp_path_factory):
  """{"cluster": FILE, "s2gan": FILE} over every train id of mg_shapes/px32: labels (true + 3) % 8 stand for
  cluster ids, the true labels for S2GAN's classifier."""
  builder = get_builder(DATASET)
  ds = builder.as_dataset(split="train", decoders={"image": tfds.decode.SkipDecoding()},
                          read_config=tfds.ReadConfig(add_tfds_id=True))
  ids, labels = [], []
  for batch_ids, batch_labels in ds.map(lambda ex: (ex["tfds_id"], ex["label"])).batch(4096):
    ids += [i.decode() for i in batch_ids.numpy()]
    labels.append(batch_labels.numpy())
  labels = np.concatenate(labels)
  folder = tmp_path_factory.mktemp("labels")
  files = {"cluster": str(folder / "cluster.json"), "s2gan": str(folder / "s2gan.json")}
  gan_labels.write_label_file(files["cluster"], ids, (labels + 3) % 8, dataset=DATASET, split="train")
  gan_labels.write_label_file(files["s2gan"], ids, labels, dataset=DATASET, split="train")
  return files


# variant -> (labels file, objective, label_classes, check of the batch's labels)
IN_PROCESS = {
    "fully_supervised": (None, "GAN", 8, lambda l: ((l >= 0) & (l < 8)).all()),
    "single_label": (None, "GAN", 1, lambda l: (l == 0).all()),
    "random_label": (None, "GAN", 8, lambda l: ((l >= 0) & (l < 8)).all()),
    "clustering": ("cluster", "GAN", 8, lambda l: ((l >= 0) & (l < 8)).all()),
    "clustering_ss": ("cluster", "S3GAN", 8, lambda l: ((l >= 0) & (l < 8)).all()),
    "s2gan": ("s2gan", "GAN", 8, lambda l: ((l >= 0) & (l < 8)).all()),  # every example labelled
    "s3gan": ("s2gan", "S3GAN", 8, lambda l: ((l >= 0) & (l < 8)).all()),
    "s2gan_co": (None, "S3GAN", 8, lambda l: 1 <= (l >= 0).sum() <= 2 and (l == -1).sum() >= 14),
    "ssgan": (None, "SSGAN", 0, None),
}


def test_in_process_covers_the_variants_the_cli_does_not():
  assert sorted([*IN_PROCESS, "s3gan_co"]) == sorted(s3gan_mg_shapes.VARIANTS)


@pytest.mark.parametrize("variant", sorted(IN_PROCESS))
def test_s3gan_variant_runlocal_builds_and_steps(variant, label_files):
  files = label_files
  source, objective_class, classes, check_labels = IN_PROCESS[variant]
  arg = f"variant={variant},runlocal" + (f",labels={files[source]}" if source else "")
  config = s3gan_mg_shapes.get_config(arg)
  check_config(config)
  ds = get_dataset(config.input.data.name, config.input.data.split, batch_size=config.input.batch_size,
                   pp=config.input.pp, data_dir=config.input.get("data_dir"), seed=config.seed,
                   shuffle_buffer=config.input.shuffle_buffer, cache=config.input.cache)
  batch = next(iter(ds))
  assert batch["image"].shape == (16, 32, 32, 3)  # 2 D steps of 8
  if check_labels is None:
    assert "label" not in batch
  else:
    assert check_labels(batch["label"].numpy()), batch["label"].numpy()
  objective, _ = build_objective(config)
  assert type(objective).__name__ == objective_class and objective.generator.label_classes == classes
  logs = objective.train_step(batch)
  assert all(np.isfinite(float(v)) for v in logs.values()), logs
  assert (int(objective.d_optimizer.iterations.numpy()), int(objective.optimizer.iterations.numpy())) == (2, 1)
  keras.backend.clear_session()
