"""Shared blocks of the self-supervised and semi-supervised configs (`configs/ssl/*.py`).

Two families:

* `pretext_config`: "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov, Zhai, Beyer
  2019): unlabelled ImageNet (the first 1,231,121 train images), SGD momentum 0.9 at 0.1 * batch / 256,
  35 epochs, 5 warmup epochs, x0.1 at epochs 15 and 25. `patch_config` adds the patch models' data and
  trunk (Jigsaw, Relative Patch Location).
* `semi_supervised_config`: "S4L: Self-Supervised Semi-Supervised Learning" (Zhai, Oliver, Kolesnikov,
  Beyer 2019): ImageNet with 10% (or 1%) of its labels through the `semi_supervised` source, ResNet-50 v2,
  the class accuracy on ImageNet validation; `sgd_epochs` does the papers' epoch arithmetic.

`runlocal` shrinks either to a smoke test of seconds on the embedded mg_shapes (32 px): the tiny network of
the same family (one block per stage, 1/16 of the width), 6 steps, the first 64 examples of every split.
The data pipelines are chosen by `arg.runlocal` when the config is built (mg_shapes needs no ImageNet crops).
"""

from __future__ import annotations

from model_garden.configs import common
from model_garden.configs.config_args import parse_arg

REVISITING_TRAIN = 1_231_121  # revisiting-self-supervised's "train": ImageNet train minus 50,046 for "val"
IMAGENET_TRAIN = 1_281_167
COUNT_PER_CLASS = {10: 128, 1: 13}  # S4L's label maps: label_map_count_{128000,13000}_index_0
RUNLOCAL_DATASET = "mg_shapes/px32"
EVAL_CROP = "resize_small(256)|central_crop(224)|"  # the papers' evaluation view of ImageNet
# runlocal's network of each architecture: its `ssl_*` twin with one block per stage (vgg19_bn has no depth).
TINY_NAMES = {"resnet50_v1": "ssl_resnet_v1", "resnet50_v2": "ssl_resnet_v2", "revnet50": "ssl_revnet",
              "vgg19_bn": "vgg19_bn"}
TINY_ARGS = {"vgg19_bn": dict(width=0.125)}
TINY_DEFAULT = dict(layers=(1, 1, 1, 1), width=0.0625)
TRAINER_KEYS = ("name", "init", "init_skip", "frozen")


def parse_args(arg, *, batch=None, **defaults):
  """The config's `arg` with the family's arguments: runlocal, width, dataset, data_dir (and `defaults`).

  `batch=(recipe, runlocal)` adds a `batch` argument whose default is the recipe's, or the smoke test's
  under `runlocal`; `runlocal,batch=2` still sets it.
  """
  extra = {"batch": 0} if batch else {}
  parsed = parse_arg(arg, runlocal=False, dataset="", data_dir="", **extra, **defaults)
  if batch and parsed.batch <= 0:
    parsed.batch = batch[1] if parsed.runlocal else batch[0]
  return parsed


def dataset(arg, default: str = "imagenet2012") -> str:
  """The training dataset: `dataset=...`, else mg_shapes under runlocal, else the papers' ImageNet."""
  return arg.dataset or (RUNLOCAL_DATASET if arg.runlocal else default)


def num_classes(name: str) -> int:
  return 8 if name.startswith("mg_shapes") else 1000


def sgd_epochs(config, *, lr: float, examples: int, batch: int, epochs: int, warmup_epochs: int,
               decay_epochs, log_epochs: float = 1, checkpoint_epochs: float = 5) -> int:
  """`config.optimizer` and step counts of the papers' schedule, counted in epochs of `examples` images.

  SGD with momentum 0.9 at `lr`, linear warmup over `warmup_epochs`, x0.1 at each of `decay_epochs`, `epochs`
  in all (trimmed to whole logging periods); the L2 is coupled, in the objective (`weight_decay`), so the
  optimizer has no decoupled decay. Returns the steps per epoch.
  """
  steps_per_epoch = max(1, examples // batch)
  config.log_steps = max(1, int(steps_per_epoch * log_epochs))
  config.total_steps = epochs * steps_per_epoch // config.log_steps * config.log_steps
  config.checkpoint_steps = config.log_steps * max(1, round(checkpoint_epochs / log_epochs))
  config.optimizer = common.optimizer(
      "sgd", momentum=0.9, lr=lr,
      schedule=common.schedule("piecewise", warmup_steps=warmup_epochs * steps_per_epoch,
                               boundaries=tuple(e / epochs for e in decay_epochs), factor=0.1))
  return steps_per_epoch


def _data_dir(arg):
  return arg.data_dir or None


# -- "Revisiting Self-Supervised Visual Representation Learning" ------------------------------------------------

def pretext_config(arg, *, crop: str, runlocal_crop: str, network):
  """A pretext task's config but its objective: unlabelled images, `network`, the paper's 35-epoch schedule.

  `crop` is the ImageNet augmentation before `value_range` (e.g. "inception_crop(224)|flip_lr|"),
  `runlocal_crop` the one on mg_shapes' 32 px images. `arg` needs `batch` (images per step).
  """
  config = common.base_config()
  name = dataset(arg)
  split = "train" if arg.runlocal else f"train[:{REVISITING_TRAIN}]"
  config.input = common.input_config(
      name, split, batch_size=arg.batch, shuffle_buffer=50_000, data_dir=_data_dir(arg),
      pp=f"decode|{runlocal_crop if arg.runlocal else crop}value_range(-1, 1)|keep('image')")
  config.networks.network = network
  sgd_epochs(config, lr=0.1 * arg.batch / 256, examples=REVISITING_TRAIN, batch=arg.batch, epochs=35,
             warmup_epochs=5, decay_epochs=(15, 25), log_epochs=0.25, checkpoint_epochs=1)
  config.export = dict(class_names=None)
  return config


def linear_eval(arg, endpoints=("pre_logits",)):
  """A `linear_probe` evaluator (the papers' linear evaluation) of the trained network, at the end of the run.

  On ImageNet it is a cheap monitor, not the paper's protocol: logistic regression on the `endpoints` of the
  50,046 train images the pretext task does not see (about 50 per class; 20% of them choose the L2), tested
  on ImageNet validation. The paper trains its linear heads on all of train (`tools/linear_probe.py`).
  """
  name = dataset(arg)
  if arg.runlocal:
    data = dict(name=name, train_split="train", val_split="validation", test_split="test")
  else:
    data = dict(name=name, train_split=f"train[{REVISITING_TRAIN}:]", test_split="validation")
  if arg.data_dir:
    data["data_dir"] = arg.data_dir
  crop = "" if arg.runlocal else EVAL_CROP
  return dict(type="linear_probe", every_steps=0, data=data, endpoints=tuple(endpoints),
              pp=f"decode|{crop}value_range(-1, 1)|keep('image', 'label')", steps=500)


def patch_config(arg, objective):
  """Jigsaw / Relative Patch Location: the patch models' data, trunk, head and L2 around `objective`.

  Images resized to 292 and randomly cropped to 255 (runlocal: 30 px crops of 32 px images); a 3x3 grid of
  85 px cells with one 64 px patch each (runlocal: 10 px cells, 8 px patches); ResNet-50 v1 with root stride
  1 and strides (2, 2, 1), 1000-way embedding head; the fc4096 head; coupled L2 1e-4 (trunk) and 5e-4 (head).
  """
  config = pretext_config(
      arg, crop="resize(292)|random_crop(255)|", runlocal_crop="random_crop(30)|",
      network=common.network("resnet50_v1", width=arg.width, root_stride=1, strides=(2, 2, 1), image_size=64,
                             num_classes=1000))
  config.objective = objective
  config.objective.update(dict(patch_size=64, hidden=4096, grayscale_probability=0.66,
                               weight_decay=1e-4, head_weight_decay=5e-4))
  if arg.runlocal:
    runlocal(config, image_size=8, num_classes=16)
    config.objective.update(dict(patch_size=8, hidden=32))
  return config


# -- "S4L: Self-Supervised Semi-Supervised Learning" --------------------------------------------------------------

def semi_supervised_source(name: str, *, arg, labels: int = 10, unlabelled_per_labelled: int = 0,
                           pseudo_labels: str = "") -> str:
  """The `semi_supervised(...)` source of `name`: its labelled subset (runlocal: 10%), with unlabelled images
  interleaved (`unlabelled_per_labelled`) or every image with its pseudo-label (`pseudo_labels`)."""
  subset = "fraction=0.1" if arg.runlocal else f"count_per_class={COUNT_PER_CLASS[labels]}"
  stream = f"pseudo_labels={pseudo_labels!r}" if pseudo_labels else f"unlabelled_per_labelled={unlabelled_per_labelled}"
  data_dir = f", data_dir={arg.data_dir!r}" if arg.data_dir else ""
  return f"semi_supervised(dataset={name!r}, {subset}, {stream}{data_dir})"


def semi_supervised_config(arg, *, batch_size: int, labels: int = 10, unlabelled_per_labelled: int = 0,
                           pseudo_labels: str = "", width: float = 1.0, crop: str = "inception_crop(224)|flip_lr|",
                           runlocal_crop: str = "flip_lr|"):
  """An S4L config but its objective and schedule: data, ResNet-50 v2 x `width`, the validation accuracy.

  Training images get `crop` before `value_range` (default the Inception crop (224) and a flip; runlocal:
  `runlocal_crop`, the flip); `batch_size` is the global batch (labelled and unlabelled together).
  `shuffle_buffer = 1` keeps the source's exact interleaving of labelled and unlabelled examples (the source
  shuffles), and `cache` stays off (the stream is infinite). The batch carries `labelled` when unlabelled
  images are interleaved.
  """
  name = dataset(arg)
  classes = num_classes(name)
  config = common.base_config()
  keep = "'image', 'labels', 'labelled'" if unlabelled_per_labelled and not pseudo_labels else "'image', 'labels'"
  source = semi_supervised_source(name, arg=arg, labels=labels, unlabelled_per_labelled=unlabelled_per_labelled,
                                  pseudo_labels=pseudo_labels)
  augment = runlocal_crop if arg.runlocal else crop
  config.input = common.input_config(source, "train", batch_size=batch_size, shuffle_buffer=1,
                                     data_dir=_data_dir(arg),
                                     pp=f"decode|{augment}value_range(-1, 1)|onehot({classes})|keep({keep})")
  config.networks.network = common.network("resnet50_v2", width=width, num_classes=classes)
  eval_crop = "" if arg.runlocal else EVAL_CROP
  config.evals.test = common.classification_eval(
      name, "validation", pp=f"decode|{eval_crop}value_range(-1, 1)|onehot({classes})|keep('image', 'labels')")
  config.export = dict(class_names=None)
  return config


def s4l_schedule(config, *, lr: float, labels: int, batch: int, warmup_epochs: int = 5, end_epochs: int = 200,
                 checkpoint_epochs: int = 10):
  """S4L's schedule on 10% (or 1%) labels: epochs of the labelled subset (`batch` labelled images a step),
  x0.1 at 70%, 80% and 90% of `end_epochs`, logged every 5 epochs."""
  sgd_epochs(config, lr=lr, examples=COUNT_PER_CLASS[labels] * 1000, batch=batch, epochs=end_epochs,
             warmup_epochs=warmup_epochs, decay_epochs=tuple(f * end_epochs // 10 for f in (7, 8, 9)),
             log_epochs=5, checkpoint_epochs=checkpoint_epochs)


def pseudo_label_recipe(config, *, objective: str, batch: int):
  """S4L's pseudo-label retraining (`config/pseudo_labels.sh`): `objective` ("classification" on pseudo-labels,
  or "pseudo_label" with a teacher) with coupled L2 1e-4; epochs of all of ImageNet train, lr 0.1 * batch / 256,
  5 warmup epochs, x0.1 at 30, 60, 90 of 100 epochs."""
  config.objective = common.objective(objective, weight_decay=1e-4)
  sgd_epochs(config, lr=0.1 * batch / 256, examples=IMAGENET_TRAIN, batch=batch, epochs=100, warmup_epochs=5,
             decay_epochs=(30, 60, 90))


def check_labels(arg):
  if arg.labels not in COUNT_PER_CLASS:
    raise ValueError(f"labels must be 10 or 1 (percent of ImageNet labels), got {arg.labels}.")


# -- Smoke tests ---------------------------------------------------------------------------------------------------

def tiny_network(entry, *, image_size: int = 32, **changes):
  """The runlocal twin of a `config.networks` entry: same family and arguments, one block per stage, 1/16 wide.

  An entry without a name (architecture from its `init` file) is returned as it is.
  """
  if not entry.name:
    return entry
  if entry.name not in TINY_NAMES:
    raise ValueError(f"No runlocal twin for network {entry.name!r}; known: {', '.join(TINY_NAMES)}.")
  kwargs = {k: v for k, v in entry.items() if k not in TRAINER_KEYS}
  kwargs.update(TINY_ARGS.get(entry.name, TINY_DEFAULT), image_size=image_size, **changes)
  return common.network(TINY_NAMES[entry.name], init=entry.init, init_skip=entry.init_skip, frozen=entry.frozen,
                        **kwargs)


def runlocal(config, *, image_size: int = 32, **network_changes):
  """Shrinks an SSL config in place to a smoke test: `common.runlocal` (6 steps, 64 examples per evaluation
  split, linear probes included) and every network replaced by its tiny twin (`tiny_network`)."""
  common.runlocal(config, batch_size=config.input.batch_size, total_steps=6, log_steps=3)
  for name in list(config.networks):
    config.networks[name] = tiny_network(config.networks[name], image_size=image_size, **network_changes)
  return config
