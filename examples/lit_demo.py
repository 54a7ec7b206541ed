r"""The LiT pipeline on mg_shapes, offline, in minutes on a CPU: `python examples/lit_demo.py --workdir=DIR`.

"LiT: Zero-Shot Transfer with Locked-image text Tuning" (Zhai et al. 2022) in miniature, in the paper's
regime: an image tower pretrained on many labelled images, then contrastive tuning on far fewer image-text
pairs. mg_shapes' train split (10,000 images) is cut in two disjoint parts:

  * the labelled images, `train[1000:]` (9,000): each labelled with its shape and its colour;
  * the image-text data, `train[:1000]` without the held-out pairs (787 captioned images, 11x fewer).

Held-out pairs: 16 of the 80 (shape, colour) combinations (`mg_shapes_lit.HELD_OUT`: a red circle, a cyan
star, ...; each shape with two colours) never appear in the image-text data, so no contrastive run sees
their images or a caption naming them. Zero-shot is reported on the whole test split and on the held-out
pairs' 380 test images: there a right answer is transfer, not a remembered caption.

  1. prepare mg_shapes (32 px; rendered locally, no download);
  2. pretrain a small ViT image tower on the labelled images, multi-label over the 8 shapes + 10 colours (one
     softmax with the target split evenly between the two labels; 1,500 steps of 128; big_vision's sigmoid
     per label learned shapes more slowly here: 0.40-0.48 shape accuracy in single runs of 800 steps on
     8,000 images, against 0.52);
  3. train a SentencePiece vocabulary on the training captions;
  4. pretrain a small text transformer to name a caption's shape and colour (sigmoid per label; the
     labelled images' captions; the "pretrained" text tower of the U settings, BERT in the paper);
  5. contrastive image-text tuning on the image-text data at one budget (100 steps of 128, lr 3e-3) in four
     settings: Lu (LiT: image tower locked, text tower from scratch), uu (both from scratch), Uu (pretrained
     image tower unlocked, text from scratch), UU (both pretrained, both trained);
  6. report zero-shot accuracy for shapes and for colours, on the test split and on the held-out pairs,
     image<->text Recall@1/10, and a linear probe (ridge classifier, lambda chosen on validation) on the
     locked features for comparison;
  7. write a table (`results.md`), a bar chart (`results.png`) and `results.json`; the last printed line
     is a JSON object with every figure, and `paper_checks` states the paper's result per zero-shot figure.

What overlaps, as LiT's premise allows: the image tower's labels are the zero-shot tasks' classes (shape and
colour), as the paper's JFT labels cover ImageNet's classes, and the labelled images include the held-out
pairs (labelled as a shape and a colour, never named together); the text pretraining reads the labelled
images' captions. The zero-shot classifier itself comes from the text tower and prompts alone
(`text_assets/mg_shapes_*_templates.txt`: no count, size or position, so no prompt is a training caption),
and the Lu text tower learns only from the 787 image-text pairs.

Step 5 goes through `model_garden.train`'s trainer with `configs/lit/mg_shapes_lit.py`, so each run leaves a
normal workdir (`DIR/lit_Lu/model.keras`, checkpoints, TensorBoard, results.json).

Measured (`python examples/demo.py --workdir=DIR --data_dir=<fresh>`, i.e. `make demo`, from a clean clone
on the 2 shared cores at load 5-6: 9 min 2 s wall including preparing mg_shapes px32 (16 s) and the
SavedModel export and check; 564 CPU seconds, of which image pretraining 304, the four LiT runs 38-54 each):

  | setting | zero-shot shapes | zero-shot colours | held-out: shapes | held-out: colours | R@1 i->t | R@1 t->i |
  |---|---|---|---|---|---|---|
  | Lu | 0.652 | 0.995 | 0.618 | 0.995 | 0.036 | 0.036 |
  | uu | 0.116 | 0.863 | 0.082 | 0.850 | 0.004 | 0.005 |
  | Uu | 0.189 | 0.984 | 0.092 | 0.958 | 0.011 | 0.017 |
  | UU | 0.539 | 0.985 | 0.526 | 0.979 | 0.026 | 0.041 |
  | linear probe, locked features | 0.732 | 0.998 | 0.747 | 0.997 | | |
  | supervised image tower's head | 0.745 | 0.997 | 0.745 | 0.997 | | |
  (chance 0.125 shapes, 0.1 colours; the LiT runs are seeded and repeat to the digit on one machine: uu gave
  0.863 / 0.850 colours in two separate runs)

The paper's result holds on every zero-shot figure: Lu >= uu + 0.1 (by 0.13 to 0.54), Lu >= UU - 0.03 and
Lu >= Uu - 0.03 (Lu is first everywhere; order Lu > UU > Uu > uu for shapes and colours, on all test images
and on the held-out pairs). From scratch, 100 steps on 787 pairs teach colours partly and shapes not at
all; the same text tower against the pretrained image tower unlocked (Uu) reaches 0.19 on shapes where
locked (Lu) reaches 0.65: unlocking costs most of what the pretrained tower gives, as in the paper; UU, whose
text tower starts pretrained too, keeps more (0.54). Lu's zero-shot comes within 0.08 (test) and 0.13
(held-out pairs) of a linear probe on the same features for shapes, and within 0.003 for colours.
The margin that is closest: colours, Lu 0.995 against uu 0.863 (0.13). With a longer or larger contrastive
budget uu learns colours (0.97 after 200 steps of lr 1e-3) and the colour margin over uu vanishes, as it
should: the paper's advantage of LiT is largest where image-text data or compute is scarce. Recall@1 is low
in every setting because many test images share a caption ("a photo of 2 red triangles"): a caption's own
image is one of many equally right answers.

`--tiny` shrinks everything to a smoke test (a tiny mg_shapes config, a few steps each; about a minute or two).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Dict, List, Optional

import numpy as np

SHAPES = ("circle", "square", "triangle", "diamond", "star", "cross", "heart", "ring")
COLOURS = ("red", "green", "blue", "yellow", "purple", "orange", "white", "black", "pink", "cyan")
SETTINGS = ("Lu", "uu", "Uu", "UU")
# The pretraining label space: shape and colour, 8 + 10 labels, two of them on per image. The image tower
# learns them with a softmax over all 18 and the target split evenly (0.5 / 0.5); the text tower with a
# sigmoid per label.
LABELS = f"concat_onehot(({len(SHAPES)}, {len(COLOURS)}), ('label', 'colour'))"
SPLIT_LABELS = f"concat_onehot(({len(SHAPES)}, {len(COLOURS)}), ('label', 'colour'), on=0.5)"
NUM_LABELS = len(SHAPES) + len(COLOURS)
IMAGE_TOWER = ("vit(variant='mu/{patch}', width={width}, depth=3, mlp_dim={mlp}, num_heads=4, image_size=32, "
               f"pool='gap', num_classes={NUM_LABELS})")
TEXT_TOWER = ("text_transformer(width=64, depth=2, mlp_dim=128, num_heads=4, vocab_size={vocab_size}, "
              f"max_len=16, num_classes={NUM_LABELS})")
VOCAB_SIZE = 256

# `pairs`: the image-text data (captioned images) of step 5; `labelled`: the labelled images of steps 2 and 4.
# Disjoint slices of mg_shapes' train split, both without the held-out (shape, colour) pairs.
FULL = dict(dataset="mg_shapes/px32", pairs="train[:1000]", labelled="train[1000:]", width=64, patch=4,
            img_steps=1500, img_batch=128, txt_steps=200, txt_batch=128, lit_steps=100, lit_batch=128, lit_lr=3e-3,
            probe_train=9_000, eval_split="test")
TINY = dict(dataset=None, pairs="train[:128]", labelled="train[128:]", width=32, patch=4, img_steps=20,
            img_batch=32, txt_steps=10, txt_batch=32, lit_steps=10, lit_batch=32, lit_lr=3e-3, probe_train=128,
            eval_split="test")


def _log(message: str) -> None:
  print(f"[lit_demo {time.strftime('%H:%M:%S')}] {message}", flush=True)


def seen(dataset: str) -> str:
  """`dataset` without the held-out (shape, colour) pairs (a data spec for `get_dataset`)."""
  from model_garden.configs.lit.mg_shapes_lit import combinations_data  # pylint: disable=g-import-not-at-top
  return combinations_data(dataset, "seen")


def held_out(dataset: str) -> str:
  """Only the held-out (shape, colour) pairs of `dataset`."""
  from model_garden.configs.lit.mg_shapes_lit import combinations_data  # pylint: disable=g-import-not-at-top
  return combinations_data(dataset, "held_out")


def prepare_data(dataset: Optional[str], data_dir: Optional[str], workdir: str):
  """(tfds name, data_dir): mg_shapes/px32, or a tiny private config for --tiny."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from model_garden.data.mg_shapes import MgShapesConfig  # pylint: disable=g-import-not-at-top
  if dataset is None:
    data_dir = data_dir or os.path.join(workdir, "tfds")
    # The test suite's tiny config (same name and sizes, so a prepared copy is reused).
    config = MgShapesConfig(name="tiny32", image_size=32, num_train=256, num_validation=64, num_test=64)
    tfds.builder("mg_shapes", config=config, data_dir=data_dir).download_and_prepare()
    return "mg_shapes/tiny32", data_dir
  from model_garden.data import get_builder  # pylint: disable=g-import-not-at-top
  get_builder(dataset, data_dir=data_dir)
  return dataset, data_dir


def count_examples(spec: str, split: str, data_dir: Optional[str]) -> int:
  """Examples of a data spec's split (images are not decoded)."""
  from model_garden.data import get_builder  # pylint: disable=g-import-not-at-top
  from model_garden.data.sources import lookup_source  # pylint: disable=g-import-not-at-top
  source = lookup_source(spec, data_dir=data_dir)
  if source is None:
    return int(get_builder(spec, data_dir=data_dir).info.splits[split].num_examples)
  return int(source.as_dataset(split).reduce(0, lambda n, _: n + 1))


def train_vocab(dataset: str, data_dir: Optional[str], path: str) -> str:
  """A SentencePiece vocabulary of the training captions (held-out pairs excluded; BPE, pad 0 / EOS 1 / unk 2)."""
  from model_garden import text  # pylint: disable=g-import-not-at-top
  captions = text.dataset_captions(dataset, "train", data_dir=data_dir)
  text.train_sentencepiece(captions, VOCAB_SIZE, output=path)
  return path


def _fit(objective, ds, steps: int):
  epoch = min(steps, 100)
  return objective.fit(ds, epochs=steps // epoch, steps_per_epoch=epoch, verbose=0).history


def label_accuracies(logits: np.ndarray, shape: np.ndarray, colour: np.ndarray) -> Dict[str, float]:
  """Shape and colour accuracy of multi-label logits [N, 8 + 10]: the argmax within each label block."""
  return {"shapes": float(np.mean(np.argmax(logits[:, :len(SHAPES)], -1) == shape)),
          "colours": float(np.mean(np.argmax(logits[:, len(SHAPES):], -1) == colour))}


def pretrain_image_tower(dataset: str, data_dir: Optional[str], path: str, *, split: str, width: int,
                         patch: int = 4, steps: int, batch: int) -> Dict[str, float]:
  """A ViT pretrained on the shape and colour labels of the labelled images, saved to `path`.

  Multi-label: a softmax over the 8 + 10 labels with the target split evenly between the image's shape and
  colour (the multi-label softmax of Mahajan et al. 2018; label smoothing 0.1). Returns the shape and colour
  accuracy (argmax within each label block) on the test split and on the held-out pairs' test images.
  """
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from model_garden import models, objectives, optimizers  # pylint: disable=g-import-not-at-top
  from model_garden.data import get_dataset  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(0)
  vit = models.get(IMAGE_TOWER.format(width=width, mlp=2 * width, patch=patch))
  objective = objectives.get("classification(label_smoothing=0.1)", network=vit)
  objective.compile(optimizer=optimizers.make(
      {"name": "adam", "lr": 1e-3, "schedule": f"cosine(warmup_steps={min(100, steps // 10)})",
       "wd": 1e-4, "grad_clip_norm": 1.0}, total_steps=steps))
  objective.build_for_training((None, 32, 32, 3))
  pp = f"decode|value_range(-1, 1)|{SPLIT_LABELS}|keep('image', 'labels')"
  _fit(objective, get_dataset(dataset, split, batch_size=batch, pp=pp, data_dir=data_dir, cache=True), steps)
  vit.save(path)
  predict = tf.function(lambda images: vit(images, training=False))
  results = {}
  for name, spec in (("test", dataset), ("held_out", held_out(dataset))):
    ds = get_dataset(spec, "test", batch_size=500, data_dir=data_dir, train=False,
                     pp="decode|value_range(-1, 1)|keep('image', 'label', 'colour')")
    logits, shape, colour = [], [], []
    for b in ds:
      logits.append(predict(b["image"]).numpy())
      shape.append(b["label"].numpy())
      colour.append(b["colour"].numpy())
    for key, value in label_accuracies(np.concatenate(logits), np.concatenate(shape), np.concatenate(colour)).items():
      results[f"{name}_{key}"] = value
  return results


def pretrain_text_tower(dataset: str, data_dir: Optional[str], vocab: str, path: str, *, split: str, steps: int,
                        batch: int) -> Dict[str, float]:
  """A text transformer pretrained to name a caption's shape and colour (multi-label; one caption per image
  per step, the labelled images' captions); saved to `path`."""
  import keras  # pylint: disable=g-import-not-at-top
  from model_garden import models, objectives, optimizers  # pylint: disable=g-import-not-at-top
  from model_garden.data import get_dataset  # pylint: disable=g-import-not-at-top
  import model_garden.text  # noqa: F401  pylint: disable=g-import-not-at-top  (registers the text pp ops)
  keras.utils.set_random_seed(0)
  net = models.get(TEXT_TOWER.format(vocab_size=VOCAB_SIZE))
  # The classification objective reads `image`; here it holds token ids (any network input works).
  objective = objectives.get("classification(loss='sigmoid_xent')", network=net)
  objective.compile(optimizer=optimizers.make(
      {"name": "adam", "lr": 1e-3, "schedule": f"cosine(warmup_steps={min(50, steps // 10)})",
       "grad_clip_norm": 1.0}, total_steps=steps))
  objective.build_for_training((None, 16))
  pp = f"sample_caption|tokenize(16, model={vocab!r}, outkey='image')|{LABELS}|keep('image', 'labels')"
  history = _fit(objective, get_dataset(dataset, split, batch_size=batch, pp=pp, data_dir=data_dir, cache=True),
                 steps)
  net.save(path)
  return {"train_loss": float(history["loss"][-1])}


def lit_run(setting: str, dataset: str, data_dir: Optional[str], workdir: str, *, img_init: str,
            txt_init: str, vocab: str, width: int, steps: int, batch: int, pairs: str, patch: int = 4,
            lr: float = 1e-3, eval_split: str) -> Dict[str, float]:
  """One contrastive run of `configs/lit/mg_shapes_lit.py` through the trainer on the image-text `pairs`
  (held-out pairs excluded); its results dict."""
  from model_garden import training  # pylint: disable=g-import-not-at-top
  from model_garden.configs.lit import mg_shapes_lit  # pylint: disable=g-import-not-at-top
  args = [f"setting={setting}", f"vocab={vocab}", f"embed_dim={width}", f"patch={patch}", f"steps={steps}",
          f"batch={batch}", f"lr={lr}", f"dataset={dataset}", f"split={pairs}", "held_out=True"]
  if setting[0].isupper():
    args.append(f"img_init={img_init}")
  if setting[1].isupper():
    args.append(f"txt_init={txt_init}")
  config = mg_shapes_lit.get_config(",".join(args))
  config.input.data_dir = data_dir
  config.log_steps = min(config.log_steps, steps)
  config.checkpoint_steps = steps
  for ev in config.evals.values():
    ev.data["split"] = eval_split
  return training.train(config, os.path.join(workdir, f"lit_{setting}"), verbose=0)


def linear_probe(dataset: str, data_dir: Optional[str], img_init: str, *, split: str,
                 train_examples: int) -> Dict[str, float]:
  """Ridge classifiers on the locked pretrained features (pre-logits) of the labelled images: test accuracy
  for shapes and colours, on the test split and on the held-out pairs' test images."""
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from model_garden.data import get_dataset  # pylint: disable=g-import-not-at-top
  from model_garden.evaluation.fewshot import fewshot_accuracy  # pylint: disable=g-import-not-at-top
  vit = keras.saving.load_model(img_init)
  features = tf.function(lambda images: vit.intermediates(images)["pre_logits"])

  def read(spec, split, limit=None):
    ds = get_dataset(spec, split, batch_size=256, data_dir=data_dir, train=False,
                     pp="decode|value_range(-1, 1)|keep('image', 'label', 'colour')")
    out = {"x": [], "label": [], "colour": []}
    for batch in ds:
      out["x"].append(features(batch["image"]).numpy())
      out["label"].append(batch["label"].numpy())
      out["colour"].append(batch["colour"].numpy())
      if limit and sum(len(x) for x in out["x"]) >= limit:
        break
    return {k: np.concatenate(v)[:limit] for k, v in out.items()}

  train = read(dataset, split, train_examples)
  val, test, held = read(dataset, "validation"), read(dataset, "test"), read(held_out(dataset), "test")
  lambdas = [0.1, 1.0, 10.0, 100.0, 1000.0]
  results = {}
  for key, classes in (("label", len(SHAPES)), ("colour", len(COLOURS))):
    on_val = fewshot_accuracy(train["x"], train[key], val["x"], val[key], classes, lambdas)
    best = lambdas[int(np.argmax(on_val))]
    name = "shapes" if key == "label" else "colours"
    for prefix, data in (("", test), ("held_out_", held)):
      results[prefix + name] = float(fewshot_accuracy(train["x"], train[key], data["x"], data[key], classes,
                                                      [best])[0])
  return results


ZERO_SHOT = {"zero_shot_shapes": "zeroshot_shapes/accuracy", "zero_shot_colours": "zeroshot_colours/accuracy",
             "held_out_shapes": "zeroshot_shapes_held_out/accuracy",
             "held_out_colours": "zeroshot_colours_held_out/accuracy"}
RETRIEVAL = {"i2t_recall@1": "retrieval/i2t_recall@1", "t2i_recall@1": "retrieval/t2i_recall@1",
             "i2t_recall@10": "retrieval/i2t_recall@10", "t2i_recall@10": "retrieval/t2i_recall@10"}
# The paper's result as this demo checks it, on every zero-shot figure: LiT (Lu) beats training from scratch
# (uu) clearly and is not beaten by unlocking the pretrained towers (UU, Uu) beyond noise.
MARGIN_OVER_SCRATCH, TOLERANCE_UNLOCKED = 0.1, 0.03


def summarize(runs: Dict[str, Dict[str, float]]) -> Dict[str, Dict[str, float]]:
  keys = {**ZERO_SHOT, **RETRIEVAL}
  return {s: {name: round(float(r[key]), 4) for name, key in keys.items()} for s, r in runs.items()}


def paper_checks(summary: Dict[str, Dict[str, float]]) -> Dict[str, Dict[str, bool]]:
  """Per zero-shot figure: Lu >= uu + 0.1, Lu >= UU - 0.03 and Lu >= Uu - 0.03 (settings that ran)."""
  checks = {}
  for metric in ZERO_SHOT:
    lu, row = summary["Lu"][metric], {}
    if "uu" in summary:
      row["Lu>=uu+0.1"] = lu >= summary["uu"][metric] + MARGIN_OVER_SCRATCH - 1e-9
    for other in ("UU", "Uu"):
      if other in summary:
        row[f"Lu>={other}-0.03"] = lu >= summary[other][metric] - TOLERANCE_UNLOCKED - 1e-9
    checks[metric] = row
  return checks


def table(summary: Dict[str, Dict[str, float]], probe: Dict[str, float], image: Dict[str, float]) -> str:
  header = ["setting", "zero-shot shapes", "zero-shot colours", "held-out pairs: shapes", "held-out pairs: colours",
            "R@1 image->text", "R@1 text->image", "R@10 image->text", "R@10 text->image"]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for setting, row in summary.items():
    lines.append(f"| {setting} | " + " | ".join(f"{row[k]:.3f}" for k in (*ZERO_SHOT, *RETRIEVAL)) + " |")
  lines.append(f"| linear probe on the locked features | {probe['shapes']:.3f} | {probe['colours']:.3f} | "
               f"{probe['held_out_shapes']:.3f} | {probe['held_out_colours']:.3f} | - | - | - | - |")
  lines.append(f"| (supervised image tower's own head) | {image['test_shapes']:.3f} | {image['test_colours']:.3f} | "
               f"{image['held_out_shapes']:.3f} | {image['held_out_colours']:.3f} | - | - | - | - |")
  return "\n".join(lines)


def bar_chart(summary: Dict[str, Dict[str, float]], probe: Dict[str, float], path: str) -> str:
  """A grouped bar chart with PIL: one group per metric, one bar per setting, probe as dashed lines."""
  from PIL import Image, ImageDraw, ImageFont  # pylint: disable=g-import-not-at-top
  try:
    font = ImageFont.load_default(size=13)  # The size-less default font drops spaces at small sizes.
  except TypeError:  # Pillow < 10.1
    font = ImageFont.load_default()
  metrics = [*ZERO_SHOT, "i2t_recall@1", "t2i_recall@1"]
  probe_keys = {"zero_shot_shapes": "shapes", "zero_shot_colours": "colours", "held_out_shapes": "held_out_shapes",
                "held_out_colours": "held_out_colours"}
  colours = {"Lu": (31, 119, 180), "uu": (255, 127, 14), "Uu": (148, 103, 189), "UU": (44, 160, 44)}
  width, height, left, bottom, top = 1000, 440, 60, 80, 40
  image = Image.new("RGB", (width, height), "white")
  draw = ImageDraw.Draw(image)
  draw.font = font
  plot_h = height - bottom - top
  y = lambda v: top + plot_h * (1 - v)
  for tick in range(0, 11, 2):
    value = tick / 10
    draw.line([(left, y(value)), (width - 20, y(value))], fill=(225, 225, 225))
    draw.text((10, y(value) - 6), f"{value:.1f}", fill="black")
  group_w = (width - left - 40) / len(metrics)
  bar_w = group_w / (len(summary) + 1.5)
  for g, metric in enumerate(metrics):
    x0 = left + g * group_w + bar_w * 0.5
    for s, (setting, row) in enumerate(summary.items()):
      xa = x0 + s * bar_w
      draw.rectangle([xa, y(row[metric]), xa + bar_w - 4, y(0)], fill=colours.get(setting, (120, 120, 120)))
      draw.text((xa, y(row[metric]) - 14), f"{row[metric]:.2f}".lstrip("0"), fill="black")
    if metric in probe_keys:
      py = y(probe[probe_keys[metric]])
      for xd in range(int(x0), int(x0 + len(summary) * bar_w), 8):
        draw.line([(xd, py), (xd + 4, py)], fill=(200, 0, 0), width=2)
    label = metric.replace("zero_shot_", "zero-shot ").replace("held_out_", "held-out ").replace("_", " ")
    draw.text((x0, height - bottom + 8), label, fill="black")
  for s, setting in enumerate(summary):
    draw.rectangle([left + s * 70, height - 24, left + s * 70 + 12, height - 12], fill=colours.get(setting))
    draw.text((left + s * 70 + 16, height - 25), setting, fill="black")
  lx = left + 70 * len(summary) + 20
  draw.line([(lx, height - 18), (lx + 20, height - 18)], fill=(200, 0, 0), width=2)
  draw.text((lx + 25, height - 25), "linear probe, locked features", fill="black")
  draw.text((left, 12), "LiT on mg_shapes: zero-shot accuracy (test split; held-out shape-colour pairs) and "
            "Recall@1", fill="black")
  image.save(path)
  return path


def run(workdir: str, data_dir: Optional[str] = None, tiny: bool = False, **overrides) -> Dict:
  """The whole pipeline; returns the figures (also written to `workdir/results.json`)."""
  os.environ.setdefault("KERAS_BACKEND", "tensorflow")
  import model_garden  # noqa: F401  pylint: disable=g-import-not-at-top  (registers everything)
  from model_garden.data import image_text  # noqa: F401  pylint: disable=g-import-not-at-top
  from model_garden.evaluation import retrieval, zero_shot  # noqa: F401  pylint: disable=g-import-not-at-top
  from model_garden.models import two_towers  # noqa: F401  pylint: disable=g-import-not-at-top
  from model_garden.objectives import contrastive  # noqa: F401  pylint: disable=g-import-not-at-top
  import model_garden.text  # noqa: F401  pylint: disable=g-import-not-at-top
  params = {**(TINY if tiny else FULL), **overrides}
  os.makedirs(workdir, exist_ok=True)
  seconds: Dict[str, float] = {}
  cpu_seconds: Dict[str, float] = {}  # user + system CPU of this process: load from other jobs does not count
  started, cpu_started = time.time(), time.process_time()

  def timed(name, fn, *args, **kwargs):
    t0, c0 = time.time(), time.process_time()
    out = fn(*args, **kwargs)
    seconds[name] = round(time.time() - t0, 1)
    cpu_seconds[name] = round(time.process_time() - c0, 1)
    _log(f"{name}: {seconds[name]} s ({cpu_seconds[name]} CPU s)")
    return out

  dataset, data_dir = timed("prepare_data", prepare_data, params["dataset"], data_dir, workdir)
  examples = {"labelled_images": count_examples(dataset, params["labelled"], data_dir),
              "image_text_pairs": count_examples(seen(dataset), params["pairs"], data_dir),
              "held_out_test_images": count_examples(held_out(dataset), params["eval_split"], data_dir)}
  _log(f"labelled images {examples['labelled_images']} ({params['labelled']}); image-text pairs "
       f"{examples['image_text_pairs']} ({params['pairs']} without the held-out shape-colour pairs)")
  vocab = timed("vocabulary", train_vocab, dataset, data_dir, os.path.join(workdir, "vocab.model"))
  img_init = os.path.join(workdir, "img.keras")
  image = timed("pretrain_image_tower", pretrain_image_tower, dataset, data_dir, img_init, split=params["labelled"],
                width=params["width"], patch=params["patch"], steps=params["img_steps"], batch=params["img_batch"])
  image = {k: round(v, 4) for k, v in image.items()}
  _log(f"supervised image tower (test): shapes {image['test_shapes']:.3f}, colours {image['test_colours']:.3f}")
  txt_init = os.path.join(workdir, "txt.keras")
  timed("pretrain_text_tower", pretrain_text_tower, dataset, data_dir, vocab, txt_init, split=params["labelled"],
        steps=params["txt_steps"], batch=params["txt_batch"])
  runs = {}
  for setting in SETTINGS:
    runs[setting] = timed(f"lit_{setting}", lit_run, setting, dataset, data_dir, workdir, img_init=img_init,
                          txt_init=txt_init, vocab=vocab, width=params["width"], patch=params["patch"],
                          steps=params["lit_steps"], batch=params["lit_batch"], lr=params["lit_lr"],
                          pairs=params["pairs"], eval_split=params["eval_split"])
  probe = timed("linear_probe", linear_probe, dataset, data_dir, img_init, split=params["labelled"],
                train_examples=params["probe_train"])
  probe = {k: round(v, 4) for k, v in probe.items()}
  summary = summarize(runs)
  checks = paper_checks(summary)
  holds = all(all(row.values()) for row in checks.values())
  ordering = {metric: sorted(summary, key=lambda s, m=metric: -summary[s][m]) for metric in ZERO_SHOT}
  md = table(summary, probe, image)
  with open(os.path.join(workdir, "results.md"), "w") as f:
    f.write(md + "\n")
  bar_chart(summary, probe, os.path.join(workdir, "results.png"))
  seconds["total"] = round(time.time() - started, 1)
  cpu_seconds["total"] = round(time.process_time() - cpu_started, 1)
  figures = {"dataset": dataset, "data_dir": data_dir, "settings": summary, "linear_probe": probe,
             "image_tower": image, "order_by_zero_shot": ordering, "paper_checks": checks, "paper_result_holds": holds,
             "examples": examples, "seconds": seconds, "cpu_seconds": cpu_seconds,
             "steps": {k: params[k] for k in ("img_steps", "txt_steps", "lit_steps")},
             "batch": {k: params[k] for k in ("img_batch", "txt_batch", "lit_batch")}}
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump(figures, f, indent=2)
  print(md)
  failed = [f"{metric}: {name}" for metric, row in checks.items() for name, ok in row.items() if not ok]
  print(f"Paper's result (on every zero-shot figure Lu >= uu + {MARGIN_OVER_SCRATCH}, Lu >= UU - "
        f"{TOLERANCE_UNLOCKED}, Lu >= Uu - {TOLERANCE_UNLOCKED}) "
        + ("holds here." if holds else f"does not hold here for {', '.join(failed)}.")
        + f" Order by zero-shot shapes: {' > '.join(ordering['zero_shot_shapes'])}; colours: "
        f"{' > '.join(ordering['zero_shot_colours'])}. Chart: {os.path.join(workdir, 'results.png')}")
  print(json.dumps(figures))
  return figures


def main(argv: Optional[List[str]] = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--data_dir", default=None, help="tfds data_dir (default ~/tensorflow_datasets).")
  parser.add_argument("--tiny", action="store_true", help="A smoke test on a tiny mg_shapes config.")
  for key in ("img_steps", "txt_steps", "lit_steps", "img_batch", "lit_batch"):
    parser.add_argument(f"--{key}", type=int, default=None)
  parser.add_argument("--lit_lr", type=float, default=None)
  args = parser.parse_args(argv)
  overrides = {k: getattr(args, k) for k in ("img_steps", "txt_steps", "lit_steps", "img_batch", "lit_batch",
                                               "lit_lr") if getattr(args, k) is not None}
  run(args.workdir, data_dir=args.data_dir, tiny=args.tiny, **overrides)


if __name__ == "__main__":
  main()
