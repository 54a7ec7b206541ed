"""tools/gan_study.py: grid expansion, cell names, spec rewriting, invalid cells, a tiny 2-cell study, resume."""

import csv
import importlib.util
import os

import ml_collections
import pytest
from PIL import Image

import model_garden  # noqa: F401  (registers models, objectives, evaluators)
from model_garden.configs.gan import study_mg_shapes
from model_garden.registry import parse_spec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_tool(name):
  """tools/<name>.py as a module (tools/ is not a package)."""
  spec = importlib.util.spec_from_file_location(f"model_garden_tools_{name}", os.path.join(ROOT, "tools", f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


gan_study = _load_tool("gan_study")
quiet = lambda message: None  # noqa: E731


def _kwargs(spec):
  return parse_spec(spec)[2]


def test_cross_product_order_names_and_cell_configs():
  cells = gan_study.expand(study_mg_shapes.get_config("grid=proof"), log=quiet)
  assert [c.name for c in cells] == ["sndcgan-ns-nopen-sn", "sndcgan-ns-nopen-nonorm", "sndcgan-hinge-nopen-sn",
                                     "sndcgan-hinge-nopen-nonorm"]
  hinge_none = cells[3].config
  assert _kwargs(hinge_none.objective)["loss"] == "hinge"
  assert _kwargs(hinge_none.models.discriminator)["spectral_norm"] is False
  assert _kwargs(cells[0].config.models.discriminator)["spectral_norm"] is True

  config = study_mg_shapes.get_config("grid=proof,batch=16")
  config.grid = ml_collections.ConfigDict(dict(loss=("wasserstein",), penalty=("wgan_gp(weight=10.0)", "dragan"),
                                               lr=(1e-4,), beta1=(0.0,), n_disc=(5,), seed=(3,)))
  cells = gan_study.expand(config, log=quiet)
  assert [c.name for c in cells] == ["sndcgan-wgan-gp10-sn-lr0.0001-b1_0-nd5-seed3",
                                     "sndcgan-wgan-dragan1-sn-lr0.0001-b1_0-nd5-seed3"]  # dragan: base weight 1
  cell = cells[0].config
  assert _kwargs(cell.objective) == {"loss": "wasserstein", "penalty": "wgan_gp", "n_disc": 5,
                                     "penalty_weight": 10.0, "seed": 3}
  assert cell.input.batch_size == 16 * 5 and cell.seed == 3  # n_disc slices of the per-step batch
  for key in ("d", "g"):
    assert cell.optimizers[key].lr == 1e-4 and _kwargs(cell.optimizers[key].name)["b1"] == 0.0
  assert config.base.input.batch_size == 16 and "seed" not in _kwargs(config.base.objective)  # base untouched


def test_spec_rewriting_goes_through_the_parser():
  spec = "sndcgan_discriminator(image_size=32, ch=16, spectral_norm=True)"
  rewritten = gan_study.rewrite_spec(spec, spectral_norm=False, weight_norm=True, ch=None)
  assert parse_spec(rewritten) == ("sndcgan_discriminator", (), {"image_size": 32, "spectral_norm": False,
                                                                 "weight_norm": True})
  odd = gan_study.format_spec("x", (1, "a'b"), {"t": (1, 2.5), "s": "q\"r", "f": 2e-4})
  assert parse_spec(odd) == ("x", (1, "a'b"), {"t": (1, 2.5), "s": "q\"r", "f": 2e-4})
  assert gan_study.norm_arguments("layer_norm", "resnet_cifar_discriminator") == {
      "norm": "layer_norm", "spectral_norm": False, "weight_norm": False}
  assert gan_study.norm_of("resnet_cifar_discriminator(ch=8)") == "none"
  assert gan_study.supported_norms("dcgan_discriminator(image_size=32, ch=8)") == [
      "none", "batch_norm", "spectral_norm", "weight_norm"]

  config = study_mg_shapes.get_config("grid=norms,runlocal")  # resnet_cifar from config.architectures
  cells = gan_study.expand(config, log=quiet)
  assert [c.name for c in cells][:3] == ["resnet_cifar-ns-nopen-nonorm", "resnet_cifar-ns-nopen-bn",
                                         "resnet_cifar-ns-nopen-ln"]
  assert parse_spec(cells[2].config.models.discriminator) == (
      "resnet_cifar_discriminator", (), {"ch": 8, "norm": "layer_norm", "spectral_norm": False,
                                         "weight_norm": False})
  config.grid = ml_collections.ConfigDict(dict(arch=("dcgan",), norm=("batch_norm",)))  # derived from the base
  (cell,) = gan_study.expand(config, log=quiet)
  assert parse_spec(cell.config.models.generator) == ("dcgan_generator", (), {"image_size": 32, "z_dim": 16})
  assert _kwargs(cell.config.models.discriminator)["norm"] == "batch_norm"


def test_invalid_cells_are_rejected_before_training(tmp_path):
  config = study_mg_shapes.get_config("grid=proof,runlocal")
  config.grid = ml_collections.ConfigDict(dict(norm=("spectral_norm", "batch_norm")))
  with pytest.raises(gan_study.StudyError, match=r"cell sndcgan-ns-nopen-bn: architecture 'sndcgan' has no "
                     r"discriminator normalisation 'batch_norm'.*supports: none, spectral_norm, weight_norm"):
    gan_study.run_study(config, str(tmp_path), echo=quiet)
  assert sorted(os.listdir(tmp_path)) == ["study_log.txt"]  # no cell directory: nothing trained
  config.skip_unsupported = True
  assert [c.name for c in gan_study.expand(config, log=quiet)] == ["sndcgan-ns-nopen-sn"]
  config.grid = ml_collections.ConfigDict(dict(loss=("non_saturatin",)))
  with pytest.raises(gan_study.StudyError, match="Unknown GAN loss 'non_saturatin'. Did you mean 'non_saturating'"):
    gan_study.expand(config, log=quiet)
  config.grid = ml_collections.ConfigDict(dict(normalization=("none",)))
  with pytest.raises(gan_study.StudyError, match="Unknown grid axis 'normalization'"):
    gan_study.expand(config, log=quiet)
  config.grid = ml_collections.ConfigDict(dict(arch=("sndgan",)))
  with pytest.raises(gan_study.StudyError, match="Unknown GAN architecture 'sndgan'.*'sndcgan'"):
    gan_study.expand(config, log=quiet)
  config.grid = ml_collections.ConfigDict(dict(loss=("hinge",)))
  with pytest.raises(gan_study.StudyError, match="--only names unknown cell"):
    gan_study.select(gan_study.expand(config, log=quiet), ["sndcgan-ns-nopen-sn"])


def test_two_cell_study_writes_tables_and_rerun_skips(tiny_shapes, tmp_path):
  _, data_dir = tiny_shapes
  classifier = model_garden.models.get("resnet_small(num_classes=8, widths=(8,), image_size=32)")
  features = str(tmp_path / "classifier.keras")
  classifier.save(features)
  config = study_mg_shapes.get_config(f"runlocal,features={features}")  # 2 cells of 2 G steps, batch 8
  config.base.input.data = dict(name="mg_shapes/tiny32", split="train")
  config.base.input.data_dir = data_dir
  config.base.evals.fid.data = dict(name="mg_shapes/tiny32", split="test")
  config.base.evals.fid.num_samples = 16
  config.base.evals.fid.batch_size = 16
  config.base.evals.fid.kid_subsets = 4
  config.base.samples = dict(every_steps=-1)  # no sample grids: faster
  workdir = str(tmp_path / "study")
  names = ["sndcgan-ns-nopen-sn", "sndcgan-hinge-nopen-sn"]

  rows = gan_study.run_study(config, workdir, echo=quiet)
  assert sorted(r["cell"] for r in rows) == sorted(names)
  with open(os.path.join(workdir, "results.csv")) as f:
    table = list(csv.DictReader(f))
  assert [r["cell"] for r in table] == [r["cell"] for r in rows]
  fids = [float(r["fid"]) for r in table]
  assert fids == sorted(fids) and all(f >= 0 for f in fids)
  for r in table:
    assert r["steps"] == "2" and float(r["fid_init"]) >= 0 and r["loss"] in ("non_saturating", "hinge")
    assert r["norm"] == "spectral_norm" and r["arch"] == "sndcgan" and r["penalty"] == "none"
  with open(os.path.join(workdir, "results.md")) as f:
    markdown = f.read()
  header = "| cell | loss | penalty | norm | arch | FID | KID | IS | FID@0 | d_loss | g_loss | steps | seconds |"
  assert header in markdown
  assert all(f"| {n} | " in markdown for n in names)
  with Image.open(os.path.join(workdir, "fid.png")) as image:
    assert image.size[0] >= 640 and image.size[1] > 60

  # A rerun skips finished cells; a cell without results.json resumes from its checkpoint (at the last step).
  finished = os.path.join(workdir, names[0], "results.json")
  mtime = os.path.getmtime(finished)
  os.remove(os.path.join(workdir, names[1], "results.json"))
  rows = gan_study.run_study(config, workdir, echo=quiet)
  assert os.path.getmtime(finished) == mtime and len(rows) == 2
  with open(os.path.join(workdir, "study_log.txt")) as f:
    log = f.read()
  assert f"{names[0]}: skipped (finished: results.json exists)" in log
  assert f"{names[1]}: resuming from its checkpoint" in log
  assert log.count("evaluated the untrained generator") == 2  # init.json is kept, not recomputed
