"""S3GAN label sources: pp ops, k-means and S2GAN's classifier, the gan_labels CLI, the s3gan configs."""

import importlib.util
import io
import json
import os
import contextlib

import numpy as np
import pytest
import tensorflow as tf

import model_garden  # noqa: F401  (registers models, objectives, pp ops, sources)
from model_garden.configs.gan import s3gan_mg_shapes
from model_garden.data import ops_labels  # noqa: F401  (registers single_label, random_label, file_label)
from model_garden.data import semi_supervised
from model_garden.data.pipeline import get_dataset
from model_garden.data.preprocess import PP_OPS, RNG_KEY
from model_garden.registry import SpecError
from model_garden.transfer import gan_labels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = "mg_shapes/tiny32"


def _cli():
  spec = importlib.util.spec_from_file_location("gan_labels_tool", os.path.join(ROOT, "tools", "gan_labels.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _run_cli(*args):
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    code = _cli().main(["gan_labels.py", *args])
  return code, out.getvalue()


# -- pp ops ---------------------------------------------------------------------------------------------------

def _example(seed):
  return {"image": tf.zeros([2, 2, 3]), "label": tf.constant(5, tf.int64), RNG_KEY: tf.constant([seed, 7], tf.int64)}


def test_single_label_sets_zero_under_any_key():
  out = PP_OPS.get("single_label()")(_example(0))
  assert out["label"].dtype == tf.int64 and int(out["label"]) == 0
  out = PP_OPS.get("single_label(key='y')")(_example(0))
  assert int(out["y"]) == 0 and int(out["label"]) == 5
  with pytest.raises(ValueError, match="class id >= 0"):
    PP_OPS.get("single_label(value=-1)")


def test_random_label_in_range_and_reproducible_per_seed():
  op = PP_OPS.get("random_label(8)")
  draws = np.array([int(op(_example(s))["label"]) for s in range(200)])
  assert draws.min() >= 0 and draws.max() < 8 and len(set(draws)) == 8
  again = np.array([int(op(_example(s))["label"]) for s in range(200)])
  np.testing.assert_array_equal(draws, again)
  other_key = np.array([int(PP_OPS.get("random_label(8, key='y')")(_example(s))["y"]) for s in range(200)])
  assert np.mean(other_key == draws) < 0.5  # its own salt: an independent draw
  with pytest.raises(ValueError, match="num_classes must be a positive int"):
    PP_OPS.get("random_label(0)")
  with pytest.raises(SpecError, match="per-example seed"):
    op({"label": tf.constant(1)})


def test_random_label_redrawn_every_pass_and_replayed_on_resume(tiny_shapes):
  _, data_dir = tiny_shapes
  pp = "random_label(8)|copy('tfds_id', 'id')|keep('label', 'id')"

  def passes(skip=0, seed=0):  # the 64 validation examples, read twice (two passes of the repeated stream)
    ds = get_dataset(TINY, "validation", batch_size=64, pp=pp, data_dir=data_dir, shuffle_buffer=1, seed=seed,
                     skip_examples=skip)
    return [dict(zip(b["id"].numpy(), b["label"].numpy())) for b in ds.take(2 - skip // 64)]

  first, second = passes()
  assert set(first) == set(second) and len(first) == 64
  changed = np.mean([first[i] != second[i] for i in first])
  assert changed > 0.6  # ~7/8 expected: a new label per read, as compare_gan's random_class dataset
  assert passes() == [first, second]  # same seed, same labels
  assert passes(skip=64) == [second]  # a resumed run draws the uninterrupted run's labels
  assert passes(seed=1)[0] != first


# -- k-means, metrics, classifier --------------------------------------------------------------------------------

def _blobs(num=6, per=30, dim=8, noise=0.05, seed=0):
  rng = np.random.default_rng(seed)
  centres = rng.normal(size=(num, dim))
  centres /= np.linalg.norm(centres, axis=1, keepdims=True)
  labels = np.repeat(np.arange(num), per)
  scale = rng.uniform(0.5, 3.0, size=(len(labels), 1))  # L2 normalisation removes the scale
  return (centres[labels] + noise * rng.normal(size=(len(labels), dim))) * scale, labels


def test_kmeans_recovers_blobs_deterministically():
  x, labels = _blobs()
  assignments, inertia = gan_labels.cluster_labels(x, 6, seed=3, restarts=4)
  assert gan_labels.cluster_purity(assignments, labels) == 1.0
  assert gan_labels.matched_accuracy(assignments, labels) == 1.0
  assert gan_labels.normalized_mutual_information(assignments, labels) == pytest.approx(1.0)
  again, inertia_again = gan_labels.cluster_labels(x, 6, seed=3, restarts=4)
  np.testing.assert_array_equal(assignments, again)
  assert inertia == inertia_again
  single = gan_labels.kmeans(gan_labels.l2_normalize(x), 6, seed=3, restarts=1)[2]
  assert inertia <= single + 1e-9  # restart 0 is one of the four kept from
  with pytest.raises(ValueError, match="num_clusters must be in"):
    gan_labels.kmeans(x, 0)


def test_label_metrics_by_hand():
  predicted, labels = np.array([0, 0, 0, 1, 1, 2]), np.array([0, 0, 1, 1, 1, 1])
  assert gan_labels.cluster_purity(predicted, labels) == pytest.approx(5 / 6)
  assert gan_labels.matched_accuracy(predicted, labels) == pytest.approx(4 / 6)  # 0->0, 1->1, 2 unmatched
  assert gan_labels.normalized_mutual_information(labels, labels) == pytest.approx(1.0)
  cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
  assert list(gan_labels._min_cost_assignment(cost)) == [1, 0, 2]  # 1 + 2 + 2 (brute force: the minimum)


def test_classifier_reaches_full_accuracy_from_labelled_rows_only(monkeypatch):
  from model_garden.evaluation import linear_probe  # pylint: disable=g-import-not-at-top
  x, labels = _blobs(num=4, per=40, dim=16, noise=0.1, seed=1)
  labelled = semi_supervised.select_labelled(labels, count_per_class=3)
  seen = {}
  original = linear_probe.train_heads

  def spy(features, train_labels, *args, **kwargs):
    seen["rows"], seen["labels"] = len(features["f"]), np.array(train_labels)
    return original(features, train_labels, *args, **kwargs)

  monkeypatch.setattr(linear_probe, "train_heads", spy)
  poisoned = np.full_like(labels, -1)  # a label outside [0, 4) would make training fail if it were read
  poisoned[labelled] = labels[labelled]
  predicted, train_accuracy = gan_labels.classifier_labels(x, poisoned, labelled, 4, steps=200)
  assert seen["rows"] == 12 and (seen["labels"] == labels[labelled]).all()
  assert train_accuracy == 1.0
  assert np.mean(predicted == labels) == 1.0
  again, _ = gan_labels.classifier_labels(x, poisoned, labelled, 4, steps=200)
  np.testing.assert_array_equal(predicted, again)


# -- CLI, label files, semi_supervised --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def label_files(tiny_shapes, tmp_path_factory):
  """The tiny network's .keras file and both label files written by the CLI (with the CLI's reports)."""
  _, data_dir = tiny_shapes
  tmp = tmp_path_factory.mktemp("gan_labels")
  network = model_garden.models.get("resnet_small(widths=(8,), num_classes=4, image_size=32)")
  network.save(str(tmp / "ssl.keras"))
  common = [f"--features={tmp / 'ssl.keras'}", f"--dataset={TINY}", f"--data_dir={data_dir}"]
  code, out = _run_cli("--method=cluster", "--num_clusters=8", "--restarts=2", f"--output={tmp / 'c.json'}",
                       *common)
  assert code == 0, out
  cluster = json.loads(out.strip().splitlines()[-1])
  code, out = _run_cli("--method=classifier", "--fraction=0.1", "--steps=50", f"--output={tmp / 's.json'}", *common)
  assert code == 0, out
  classifier = json.loads(out.strip().splitlines()[-1])
  return data_dir, tmp, cluster, classifier


def test_cli_writes_label_files_and_reports(label_files):
  data_dir, tmp, cluster, classifier = label_files
  for report in (cluster, classifier):
    assert report["num_examples"] == 256 and report["feature_key"] == "pre_logits"
    assert 0.0 <= report["accuracy"] <= 1.0 and report["purity"] >= 1 / 8
  assert cluster["num_classes"] == 8 and cluster["method"] == "cluster"
  assert classifier["num_labelled"] == 24 and classifier["train_accuracy"] >= 0.0
  clusters = semi_supervised.read_pseudo_labels(str(tmp / "c.json"))
  assert len(clusters) == 256 and set(clusters.values()) <= set(range(8))
  content = gan_labels.read_label_file(str(tmp / "s.json"))
  assert content["method"] == "classifier" and content["dataset"] == TINY and content["num_classes"] == 8
  ids, true = semi_supervised.read_labels(TINY, "train", data_dir=data_dir)
  subset = semi_supervised.labelled_ids(TINY, "train", fraction=0.1, data_dir=data_dir)
  truth = dict(zip(ids, true))
  assert all(content["labels"][i] == truth[i] for i in subset)  # the labelled subset keeps its labels
  assert _run_cli("--method=cluster", f"--features={tmp / 'ssl.keras'}", f"--dataset={TINY}")[0] == 2


def test_label_file_read_back_by_semi_supervised_and_file_label(label_files):
  data_dir, tmp, _, _ = label_files
  labels = semi_supervised.read_pseudo_labels(str(tmp / "s.json"))
  spec = (f"semi_supervised(dataset='{TINY}', fraction=0.1, pseudo_labels='{tmp / 's.json'}', "
          f"data_dir='{data_dir}', shuffle_buffer=16)")
  raw = list(model_garden.data.sources.lookup_source(spec).as_dataset("train").take(64).as_numpy_iterator())
  assert all(int(ex["label"]) == labels[ex["tfds_id"].decode()] for ex in raw)
  clusters = semi_supervised.read_pseudo_labels(str(tmp / "c.json"))
  ds = get_dataset(TINY, "train", batch_size=64, pp=f"file_label('{tmp / 'c.json'}')|copy('tfds_id', 'id')|"
                   "keep('label', 'id')", data_dir=data_dir, train=False)
  got = {i.decode(): int(l) for b in ds for i, l in zip(b["id"].numpy(), b["label"].numpy())}
  assert got == clusters


# -- configs ----------------------------------------------------------------------------------------------------

def test_every_variant_config_is_valid():
  from model_garden.data.preprocess import split_pp  # pylint: disable=g-import-not-at-top
  from model_garden.data.sources import DATASETS  # pylint: disable=g-import-not-at-top
  from model_garden.models import MODELS  # pylint: disable=g-import-not-at-top
  from model_garden.objectives import OBJECTIVES, network_names  # pylint: disable=g-import-not-at-top
  from model_garden.registry import parse_spec, spec_call  # pylint: disable=g-import-not-at-top
  from model_garden.training import check_config  # pylint: disable=g-import-not-at-top
  from model_garden.training.networks import split_entry  # pylint: disable=g-import-not-at-top

  def check(registry, spec, **networks):
    name, args, kwargs = spec_call(spec) if not isinstance(spec, str) else parse_spec(spec)
    registry.check_arguments(name, args, {**kwargs, **networks})  # registered, and every argument accepted
    return name

  objectives = {"fully_supervised": "gan", "single_label": "gan", "random_label": "gan", "clustering": "gan",
                "s2gan": "gan", "clustering_ss": "s3gan", "s3gan": "s3gan", "s2gan_co": "s3gan",
                "s3gan_co": "s3gan", "ssgan": "ssgan"}
  assert set(objectives) == set(s3gan_mg_shapes.VARIANTS)
  for variant in s3gan_mg_shapes.VARIANTS:
    config = s3gan_mg_shapes.get_config(f"variant={variant},runlocal")
    check_config(config)  # the trainer's checks: keys, step multiples, batch
    assert config.input.batch_size == 16 and config.total_steps == 10  # 2 slices (n_disc=2) of 8 per D step
    classes = {"single_label": 1, "ssgan": 0}.get(variant, 8)
    generator, _ = split_entry(config.networks.generator)
    discriminator, _ = split_entry(config.networks.discriminator)
    assert generator["label_classes"] == discriminator["label_classes"] == classes, variant
    assert generator["norm"] == ("conditional_batch_norm" if classes else "batch_norm")
    assert generator["ch"] == discriminator["ch"] == 8 and generator["z_dim"] == 16  # runlocal widths
    check(MODELS, generator)
    check(MODELS, discriminator)
    for op in split_pp(config.input.pp):
      check(PP_OPS, op)
    if not isinstance(config.input.data.name, str):
      assert check(DATASETS, config.input.data.name) == "semi_supervised"
      assert ("pseudo_labels" in config.input.data.name) == (variant in ("s2gan", "s3gan")), variant
    assert check(OBJECTIVES, config.objective, generator=None, discriminator=None) == objectives[variant], variant
    assert network_names(config.objective) == ("generator", "discriminator")
    assert set(config.optimizers) == {"generator", "discriminator"}
    assert (config.optimizers.generator.lr, config.optimizers.discriminator.lr) == (1e-4, 5e-4)
  # Building a GAN costs seconds: the two tests below build and step s2gan (gan) and s3gan_co (s3gan).
  with pytest.raises(ValueError, match="fully_supervised, single_label.*ssgan"):
    s3gan_mg_shapes.get_config("variant=bigan")
  with pytest.raises(ValueError, match="tools/gan_labels.py --method=cluster"):
    s3gan_mg_shapes.get_config("variant=clustering")


def test_s2gan_config_trains_on_classifier_labels(label_files):
  """The s2gan config's own input pipeline (semi_supervised + the CLI's file) feeds its GAN a step."""
  from model_garden.training import build_objective  # pylint: disable=g-import-not-at-top
  data_dir, tmp, _, _ = label_files
  config = s3gan_mg_shapes.get_config(f"variant=s2gan,runlocal,dataset={TINY},data_dir={data_dir},"
                                      f"labels={tmp / 's.json'},n_disc=1")
  ds = get_dataset(config.input.data.name, config.input.data.split, batch_size=config.input.batch_size,
                   pp=config.input.pp, data_dir=config.input.data_dir, shuffle_buffer=config.input.shuffle_buffer,
                   cache=config.input.cache)
  batch = next(iter(ds))
  assert set(batch) == {"image", "label"} and batch["image"].shape == (8, 32, 32, 3)
  assert ((batch["label"].numpy() >= 0) & (batch["label"].numpy() < 8)).all()  # every example labelled
  gan, _ = build_objective(config)
  logs = gan.train_step(batch)
  assert (int(gan.d_optimizer.iterations.numpy()), int(gan.optimizer.iterations.numpy())) == (1, 1)
  assert np.isfinite([float(logs["d_loss"]), float(logs["g_loss"])]).all()


def test_s3gan_co_config_trains_on_partly_labelled_batches(tiny_shapes):
  """S3GAN-CO's stream: one labelled example then k = 1 / f - 1 unlabelled ones (-1), into the s3gan objective."""
  from model_garden.training import build_objective  # pylint: disable=g-import-not-at-top
  _, data_dir = tiny_shapes
  config = s3gan_mg_shapes.get_config(f"variant=s3gan_co,runlocal,dataset={TINY},data_dir={data_dir},"
                                      "fraction=0.25,n_disc=1")
  assert config.input.data.name.unlabelled_per_labelled == 3 and config.input.data.name.fraction == 0.25
  ds = get_dataset(config.input.data.name, config.input.data.split, batch_size=config.input.batch_size,
                   pp=config.input.pp, data_dir=config.input.data_dir, shuffle_buffer=config.input.shuffle_buffer,
                   cache=config.input.cache)
  batch = next(iter(ds))
  labels = batch["label"].numpy()
  assert (labels >= 0).sum() == 2 and (labels == -1).sum() == 6  # a quarter labelled, exactly
  gan, _ = build_objective(config)
  logs = gan.train_step(batch)
  assert np.isfinite([float(v) for v in logs.values()]).all(), logs
