"""tools/gan_study.py: grid expansion, cell names, cell fields, invalid cells, a tiny 2-cell study, resume; the
trainer's refusal of a study config."""

import csv
import importlib.util
import os

import ml_collections
import pytest
from PIL import Image

import model_garden  # noqa: F401  (registers models, objectives, evaluators)
from model_garden.configs import common
from model_garden.configs.gan import study_mg_shapes
from model_garden.registry import spec_call
from model_garden.training import ConfigError, train

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
  """The keyword arguments of a spec (string or mapping), a network's trainer keys left out."""
  return {k: v for k, v in spec_call(spec)[2].items() if k not in ("init", "init_skip", "frozen")}


def test_cross_product_order_names_and_cell_configs():
  cells = gan_study.expand(study_mg_shapes.get_config("grid=proof"), log=quiet)
  assert [c.name for c in cells] == ["sndcgan-ns-nopen-sn", "sndcgan-ns-nopen-nonorm", "sndcgan-hinge-nopen-sn",
                                     "sndcgan-hinge-nopen-nonorm"]
  hinge_none = cells[3].config
  assert hinge_none.objective.loss == "hinge" and hinge_none.objective.name == "gan"
  assert hinge_none.networks.discriminator.spectral_norm is False
  assert cells[0].config.networks.discriminator.spectral_norm is True
  assert cells[0].config.networks.discriminator.ch == 32 and cells[0].config.networks.generator.ch == 32

  config = study_mg_shapes.get_config("grid=proof,batch=16")
  config.grid = ml_collections.ConfigDict(dict(loss=("wasserstein",), penalty=("wgan_gp(weight=10.0)", "dragan"),
                                               lr=(1e-4,), beta1=(0.0,), n_disc=(5,), seed=(3,)))
  cells = gan_study.expand(config, log=quiet)
  assert [c.name for c in cells] == ["sndcgan-wgan-gp10-sn-lr0.0001-b1_0-nd5-seed3",
                                     "sndcgan-wgan-dragan1-sn-lr0.0001-b1_0-nd5-seed3"]  # dragan: base weight 1
  cell = cells[0].config
  assert _kwargs(cell.objective) == {"loss": "wasserstein", "penalty": "wgan_gp", "n_disc": 5,
                                     "penalty_weight": 10.0, "seed": 3, "standing_stats_samples": 0}
  assert cell.input.batch_size == 16 * 5 and cell.seed == 3  # n_disc slices of the per-step batch
  for network in ("generator", "discriminator"):
    assert cell.optimizers[network].lr == 1e-4 and cell.optimizers[network].b1 == 0.0
    assert cell.optimizers[network].b2 == 0.999  # the base's other Adam arguments stay
  # The base is untouched: its own batch, lr and objective.
  assert config.base.input.batch_size == 16 and "seed" not in config.base.objective
  assert config.base.optimizers.discriminator.lr == 2e-4 and config.base.optimizers.discriminator.b1 == 0.5


def test_cells_set_fields_of_spec_mappings_or_rewrite_spec_strings():
  network = common.network("sndcgan_discriminator", image_size=32, ch=16, spectral_norm=True)
  assert gan_study.set_arguments(network, spectral_norm=False, weight_norm=True) is network  # in place
  assert (network.spectral_norm, network.weight_norm, network.ch, network.init) == (False, True, 16, "")
  spec = "sndcgan_discriminator(image_size=32, ch=16, spectral_norm=True)"
  assert spec_call(gan_study.set_arguments(spec, spectral_norm=False, weight_norm=True)) == (
      "sndcgan_discriminator", (), {"image_size": 32, "ch": 16, "spectral_norm": False, "weight_norm": True})
  objective = common.objective("gan", penalty_weight=1)  # an int field takes the float weight too
  assert gan_study.set_arguments(objective, penalty_weight=10.0).penalty_weight == 10.0
  assert gan_study.describe(network) == ("sndcgan_discriminator(ch=16, image_size=32, spectral_norm=False, "
                                         "weight_norm=True)")  # no trainer keys
  assert gan_study.describe(common.optimizer("adam", b1=0.5, lr=1e-3)) == "adam(b1=0.5)"
  assert gan_study.norm_arguments("layer_norm", "resnet_cifar_discriminator") == {
      "norm": "layer_norm", "spectral_norm": False, "weight_norm": False}
  assert gan_study.norm_of("resnet_cifar_discriminator(ch=8)") == "none"
  assert gan_study.norm_of(network) == "weight_norm"
  assert gan_study.supported_norms(common.network("dcgan_discriminator", image_size=32, ch=8)) == [
      "none", "batch_norm", "spectral_norm", "weight_norm"]

  config = study_mg_shapes.get_config("grid=norms,runlocal")  # resnet_cifar from config.architectures
  cells = gan_study.expand(config, log=quiet)
  assert [c.name for c in cells][:3] == ["resnet_cifar-ns-nopen-nonorm", "resnet_cifar-ns-nopen-bn",
                                         "resnet_cifar-ns-nopen-ln"]
  assert gan_study.model_spec(cells[2].config.networks.discriminator) == {
      "name": "resnet_cifar_discriminator", "ch": 8, "norm": "layer_norm", "spectral_norm": False,
      "weight_norm": False}
  config.grid = ml_collections.ConfigDict(dict(arch=("dcgan",), norm=("batch_norm",)))  # derived from the base
  (cell,) = gan_study.expand(config, log=quiet)
  assert gan_study.model_spec(cell.config.networks.generator) == {
      "name": "dcgan_generator", "image_size": 32, "norm": "batch_norm", "z_dim": 16}  # no ch: its own width
  assert cell.config.networks.discriminator.norm == "batch_norm"
  # A base that still gives its objective as a spec string is rewritten by the registry, not by hand.
  config = study_mg_shapes.get_config("grid=proof,runlocal")
  del config.base["objective"]
  config.base.objective = "gan(loss='non_saturating', n_disc=1)"
  cells = gan_study.expand(config, log=quiet)
  assert spec_call(cells[1].config.objective) == ("gan", (), {"loss": "hinge", "n_disc": 1, "penalty": "none",
                                                              "penalty_weight": 1.0})


def test_the_trainer_refuses_a_study_config_and_names_the_tool(tmp_path):
  with pytest.raises(ConfigError, match=r"GAN study config .*python tools/gan_study.py --config=\.\.\. "):
    train(study_mg_shapes.get_config("runlocal"), str(tmp_path / "run"))
  assert not os.path.exists(tmp_path / "run")  # refused before anything is written


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
  del config.base.evals["samples"]  # no sample grids: faster
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
