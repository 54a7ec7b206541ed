r"""Offline proof of the self-supervision and S4L papers on mg_shapes (32 px) with 10% of the labels.

  python examples/ssl_mg_shapes.py [--data_dir=DIR] [--workdir=DIR] [--tiny]

Two claims, each checked by a pair of runs on the same data and the same labelled 10% (125 images per class,
the `semi_supervised` selector):

1. "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov, Zhai, Beyer 2019): a network
   pretrained on Rotation (no labels) and frozen, with a linear probe on its best layer, beats the same probe on
   the same network at random initialisation. The probe is the papers' protocol (logistic regression on every
   endpoint, L2 and layer chosen on the validation split), trained on the labelled 10%.
2. "S4L: Self-Supervised Semi-Supervised Learning" (Zhai, Oliver, Kolesnikov, Beyer 2019): S4L-Rotation
   (cross-entropy on the rotated labelled images + the rotation loss on labelled and unlabelled images, batches of
   half labelled, half unlabelled) beats the supervised baseline trained on the labelled images only, with the
   same network, steps, labelled batch size and schedule.

Data: mg_shapes at 32 px with 2,000 training images (a prefix of `mg_shapes/px32`'s), 500 validation and 1,000
test images, prepared on first use (about 20 s). 10% is then 25 labelled images per class, the label-scarce regime
S4L is about: on the standard px32 (10,000 images, 125 labels per class) the supervised baseline alone reaches
0.98 test accuracy after 1,000 steps (measured), leaving nothing for the unlabelled images to add.

The network is the foundation's small GroupNorm ResNet (`resnet_small`, widths 8/16/32), which learns within
minutes on 2 CPU cores at 32 px; the papers' ResNet-50 v1/v2 / RevNet-50 with BatchNorm need longer schedules
than this budget. Rotation on mg_shapes is learnable only from the upright shapes (triangle, star, heart), so its
loss stays flat for ~600 steps before dropping. Each run is `model_garden.training.train` on a config built with
`model_garden.configs.common` (its workdir under --workdir). Prints a markdown table and, last, one JSON line.

Measured (the command above, 2 shared CPU cores, 391 s): test accuracy of the linear probe 0.163 on the random
network and 0.431 after Rotation (best layer block3 for both); supervised baseline 0.500, S4L-Rotation 0.583.
"""

import argparse
import json
import os
import tempfile
import time

import keras
import tensorflow_datasets as tfds

import model_garden  # noqa: F401  (registers mg_shapes, the pp ops, the models and objectives)
from model_garden import data, training
from model_garden.configs import common
from model_garden.evaluation import linear_probe

PP_TRAIN = "decode|flip_lr|value_range(-1, 1)|onehot(8)|keep('image', 'labels', 'labelled')"
PP_PROBE = "decode|value_range(-1, 1)|keep('image', 'label')"
PP_TEST = "decode|value_range(-1, 1)|onehot(8)|keep('image', 'labels')"


def small_resnet(classes):
  """The proof's network: the foundation's small GroupNorm ResNet, widths 8/16/32, at 32 px."""
  return common.network("resnet_small", num_classes=classes, image_size=32, widths=(8, 16, 32))


class Setup:
  """Dataset, labelled subset and schedule of one run of the proof."""

  def __init__(self, args):
    self.data_dir = args.data_dir
    if args.tiny:
      tiny = data.mg_shapes.MgShapesConfig(name="tiny32", image_size=32, num_train=256, num_validation=64,
                                           num_test=64)
      self.data_dir = self.data_dir or tempfile.mkdtemp()
      tfds.builder("mg_shapes", config=tiny, data_dir=self.data_dir).download_and_prepare()
      self.dataset = "mg_shapes/tiny32"
      self.rotation_steps, self.semi_steps, self.probe_steps, self.epoch = 4, 4, 20, 2
    else:
      config = data.mg_shapes.MgShapesConfig(name="px32_2k", image_size=32, num_train=2000, num_validation=500,
                                             num_test=1000)
      tfds.builder("mg_shapes", config=config, data_dir=self.data_dir).download_and_prepare()
      self.dataset = "mg_shapes/px32_2k"
      self.rotation_steps, self.semi_steps, self.probe_steps, self.epoch = (args.rotation_steps, args.semi_steps,
                                                                             500, 100)
    self.batch = args.batch
    self.lr = args.lr
    self.workdir = args.workdir or tempfile.mkdtemp()
    data_dir = f", data_dir='{self.data_dir}'" if self.data_dir else ""
    self.labelled = f"semi_supervised(dataset='{self.dataset}', fraction=0.1, unlabelled_per_labelled=0{data_dir})"
    self.mixed = f"semi_supervised(dataset='{self.dataset}', fraction=0.1, unlabelled_per_labelled=1{data_dir})"
    self.num_labelled = len(data.semi_supervised.labelled_ids(self.dataset, "train", fraction=0.1,
                                                              data_dir=self.data_dir))

  def config(self, objective, *, classes, source, pp, batch_size, steps, shuffle_buffer=1, cache=False):
    """A training config of `small_resnet(classes)`, SGD momentum 0.9 with a cosine schedule, no L2."""
    per_epoch = min(self.epoch, steps)
    config = common.base_config(total_steps=steps, log_steps=per_epoch, checkpoint_steps=steps)
    config.input = common.input_config(source, "train", pp=pp, batch_size=batch_size, shuffle_buffer=shuffle_buffer,
                                       cache=cache, data_dir=self.data_dir)
    config.networks.network = small_resnet(classes)
    config.objective = common.objective(objective, weight_decay=0.0)
    config.optimizer = common.optimizer("sgd", momentum=0.9, lr=self.lr,
                                        schedule=common.schedule("cosine", warmup_steps=max(1, steps // 10)))
    if classes == 8:
      config.evals.test = common.classification_eval(self.dataset, "test", pp=PP_TEST)
    return config

  def train(self, name, config):
    """Trains `config` with the package's trainer in WORKDIR/name; returns (results, the trained network)."""
    workdir = os.path.join(self.workdir, name)
    results = training.train(config, workdir, verbose=0)
    return results, keras.saving.load_model(os.path.join(workdir, "model.keras"), compile=False)


def linear_eval(setup, network):
  """The papers' linear evaluation of every endpoint; the probe trains on the labelled 10%."""
  endpoints = [e for e in network.endpoint_names(32) if e != "logits"]
  features = linear_probe.feature_fn(network, endpoints)

  def split(name, split_name, limit=None):
    ds = data.get_dataset(name, split_name, batch_size=250, pp=PP_PROBE, train=False, data_dir=setup.data_dir)
    return linear_probe.extract_features(features, ds, max_examples=limit)

  return linear_probe.probe_features(split(setup.labelled, "train", setup.num_labelled),
                                     split(setup.dataset, "validation"), split(setup.dataset, "test"),
                                     num_classes=8, steps=setup.probe_steps)


def rotation_claim(setup, rows, results):
  keras.utils.set_random_seed(0)  # the trainer's seed (config.seed): the rotation run starts from this network
  random_net = training.build_network(small_resnet(4))
  start = time.time()
  report = linear_eval(setup, random_net)
  rows.append(("random network + linear probe", "10% (probe only)", report, time.time() - start))
  results["random_probe"] = report["best_test_accuracy"]

  start = time.time()
  config = setup.config("rotation", classes=4, source=setup.dataset, batch_size=setup.batch,
                        steps=setup.rotation_steps, pp="decode|flip_lr|value_range(-1, 1)|keep('image')",
                        shuffle_buffer=10_000, cache=True)
  trained, network = setup.train("rotation", config)
  report = linear_eval(setup, network)
  rows.append(("rotation pretraining + linear probe", "none (pretext); 10% (probe)", report, time.time() - start))
  results["rotation_probe"] = report["best_test_accuracy"]
  results["rotation_task_accuracy"] = trained["train/accuracy"]


def s4l_claim(setup, rows, results):
  start = time.time()
  config = setup.config("classification", classes=8, source=setup.labelled, pp=PP_TRAIN.replace(", 'labelled'", ""),
                        batch_size=setup.batch, steps=setup.semi_steps)
  trained, _ = setup.train("supervised", config)
  results["supervised"] = trained["test/accuracy"]
  rows.append(("supervised baseline", "10%", results["supervised"], time.time() - start))

  start = time.time()
  config = setup.config("s4l_rotation", classes=8, source=setup.mixed, pp=PP_TRAIN, batch_size=2 * setup.batch,
                        steps=setup.semi_steps)
  trained, _ = setup.train("s4l_rotation", config)
  results["s4l_rotation"] = trained["test/accuracy"]
  results["s4l_rotation_task_accuracy"] = trained["train/pretext_accuracy"]
  rows.append(("S4L-Rotation", "10% + all images unlabelled", results["s4l_rotation"], time.time() - start))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data_dir", default=None, help="tfds data_dir (default ~/tensorflow_datasets)")
  parser.add_argument("--workdir", default=None, help="where the four runs write (default: a temporary directory)")
  parser.add_argument("--tiny", action="store_true", help="a tiny dataset and a few steps (smoke test)")
  parser.add_argument("--rotation_steps", type=int, default=1200)
  parser.add_argument("--semi_steps", type=int, default=1000)
  parser.add_argument("--batch", type=int, default=16, help="images per step (S4L: labelled images per step)")
  parser.add_argument("--lr", type=float, default=0.05)
  args = parser.parse_args()
  started = time.time()
  setup = Setup(args)
  rows, results = [], {"dataset": setup.dataset, "labelled_images": setup.num_labelled, "tiny": args.tiny}
  rotation_claim(setup, rows, results)
  s4l_claim(setup, rows, results)

  print(f"\nmg_shapes 32 px, {setup.num_labelled} labelled training images (10%), test split accuracy:\n")
  print("| method | labels | test accuracy | seconds |")
  print("|---|---|---|---|")
  for name, labels, value, seconds in rows:
    if isinstance(value, dict):
      name = f"{name} (best layer: {value['best_endpoint']})"
      value = value["best_test_accuracy"]
    print(f"| {name} | {labels} | {value:.4f} | {seconds:.0f} |")
  results["claims_hold"] = {"rotation_beats_random": results["rotation_probe"] > results["random_probe"],
                            "s4l_beats_supervised": results["s4l_rotation"] > results["supervised"]}
  results["seconds"] = round(time.time() - started, 1)
  print(f"\nRotation pretraining beats a random network: {results['claims_hold']['rotation_beats_random']}; "
        f"S4L-Rotation beats the supervised baseline: {results['claims_hold']['s4l_beats_supervised']} "
        f"({results['seconds']:.0f} s).")
  print(json.dumps(results))


if __name__ == "__main__":
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  main()
