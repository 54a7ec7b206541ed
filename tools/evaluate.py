r"""Original-label and ReaL accuracy of a model, side by side ("Are we done with ImageNet?", Beyer et al. 2020).

Usage:
  # tfds imagenet2012_real (needs ILSVRC2012_img_val.tar in <data_dir>/downloads/manual/):
  python tools/evaluate.py --model=workdir/model.keras --dataset=imagenet2012_real
  # the original real.json, joined by file name to a prepared tfds imagenet2012 validation split:
  python tools/evaluate.py --model=workdir/model.keras --dataset=imagenet2012 --real_json=real.json
  # offline: mg_shapes with constructed ReaL-style label sets
  python tools/evaluate.py --model="resnet_small(num_classes=8)" --dataset=mg_shapes/px32 --split=test

`--model` is a `.keras` file (a trained network, e.g. a training workdir's model.keras) or a model spec (random
weights: useful only to check the plumbing). Prints a table (top-1 and top-5 against the original labels
and against ReaL, images scored by ReaL, empty and multi-label sets) and with `--output` writes it as JSON.

What the mg_shapes run shows: mg_shapes has no re-annotation, so the `mg_shapes_real` pp op constructs one
(shape + its look-alike at low resolution for small objects; no acceptable label for four small objects).
ReaL accuracy there is >= the original accuracy on the scored images, because confusions between look-alike
shapes are forgiven, and the empty sets leave the score - the two effects that make ReaL numbers differ
from original-label numbers on ImageNet.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Dict, Optional

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402  (TensorFlow is imported where used, so that --help is instant)


def load_network(model: str):
  """A network from a `.keras` file or a model spec (built, random weights)."""
  import model_garden  # pylint: disable=g-import-not-at-top  (registers the serialisables)
  if model.endswith(".keras"):
    if not os.path.exists(model):
      raise FileNotFoundError(f"--model={model}: no such .keras file.")
    return model_garden.load_model(model)
  return model_garden.models.get(model)


def network_image_size(network, image_size: Optional[int]) -> int:
  size = image_size or getattr(network, "image_size", None)
  if not size:
    raise ValueError("The model does not record its image_size; pass --image_size.")
  return int(size)


def predict_fn(network):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  @tf.function(reduce_retracing=True)
  def predict(images):
    return tf.cast(network(images, training=False), tf.float32)
  return predict


def resolve_dataset(dataset: str, split: Optional[str], real_json: Optional[str]):
  """(OodDataset, real lists or None) for the command line's dataset."""
  from model_garden.data import robustness  # pylint: disable=g-import-not-at-top
  from model_garden.evaluation import real as real_lib  # pylint: disable=g-import-not-at-top
  if real_json:
    real = real_lib.load_real_json(real_json, expect_all=False)
    if len(real) != real_lib.NUM_VALIDATION_IMAGES:
      print(f"warning: {real_json} holds {len(real)} lists, not {real_lib.NUM_VALIDATION_IMAGES}; files beyond "
            "it cannot be scored.", file=sys.stderr)
    name = dataset or "imagenet2012"
    ood = robustness.OodDataset(f"{name}+real.json", name, split or "validation",
                                robustness.LabelSpace.for_dataset("imagenet"), keys=("label", "file_name"))
    return ood, real
  if dataset.startswith("mg_shapes"):
    config = dataset.split("/", 1)[1] if "/" in dataset else "px32"
    return robustness.get_ood_dataset(f"mg_shapes_real(config={config!r}, split={split or 'test'!r})"), None
  spec = robustness.canonical_spec(dataset)
  if split and spec == "imagenet_real":
    spec = f"imagenet_real(split={split!r})"
  ood = robustness.get_ood_dataset(spec)
  if ood.metric != "real":
    raise ValueError(f"--dataset={dataset} has no ReaL label sets. Use --dataset=imagenet2012_real, or "
                     "--dataset=imagenet2012 --real_json=real.json, or an mg_shapes config.")
  return ood, None


def run(model: str, dataset: str = "imagenet2012_real", split: Optional[str] = None,
        data_dir: Optional[str] = None, batch_size: int = 64, image_size: Optional[int] = None,
        max_examples: Optional[int] = None, real_json: Optional[str] = None, download: bool = True) -> Dict:
  """Evaluates and returns {"dataset", "model", original and ReaL accuracies, counts}."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from model_garden.evaluation import real as real_lib  # pylint: disable=g-import-not-at-top
  network = load_network(model)
  size = network_image_size(network, image_size)
  ood, real = resolve_dataset(dataset, split, real_json)
  predict = predict_fn(network)
  width = None

  def checked(images):
    nonlocal width
    logits = predict(tf.constant(images))
    if width is None:
      width = int(logits.shape[-1])
      if width != ood.label_space.num_model_classes:
        raise ValueError(f"The model has {width} outputs but {ood.name} has {ood.label_space.num_model_classes} "
                         "classes; evaluate a model trained on this label space.")
    return logits

  batches = ood.batches(batch_size, size, data_dir=data_dir, download=download, max_examples=max_examples)
  if real is not None and ood.source == "imagenet2012":
    batches = _only_validation_files(batches)
  results = real_lib.evaluate_real(checked, batches, ks=(1, 5), real=real)
  return {"dataset": ood.name, "split": ood.split, "model": model, **results}


def _only_validation_files(batches):
  """real.json covers only ImageNet validation files: fail early on others (e.g. a train split)."""
  from model_garden.evaluation.real import validation_index  # pylint: disable=g-import-not-at-top
  for batch in batches:
    for name in batch["file_name"][:1]:
      validation_index(name)
    yield batch


def format_table(results: Dict) -> str:
  rows = [f"ReaL evaluation of {results['model']} on {results['dataset']}[{results['split']}]",
          f"examples: {results['num_examples']}; scored by ReaL: {results['num_real_scored']} "
          f"(empty sets left out: {results['num_real_empty']}; multi-label sets: {results['num_real_multi']})",
          "", "| metric | original labels | ReaL labels |", "|---|---|---|"]
  for k in (1, 5):
    key, real_key = ("accuracy", "real_accuracy") if k == 1 else (f"top{k}", f"real_top{k}")
    if key in results:
      rows.append(f"| top-{k} | {results[key]:.4f} | {results[real_key]:.4f} |")
  return "\n".join(rows)


def main(argv=None):
  import argparse  # pylint: disable=import-outside-toplevel
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model", required=True, help="A .keras file or a model spec.")
  parser.add_argument("--dataset", default="imagenet2012_real",
                      help="imagenet2012_real, imagenet2012 (with --real_json) or mg_shapes/<config>.")
  parser.add_argument("--split", default=None, help="Split (default: validation for ImageNet, test for mg_shapes).")
  parser.add_argument("--real_json", default=None, help="Path of the original real.json.")
  parser.add_argument("--data_dir", default=None, help="tfds data_dir.")
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--image_size", type=int, default=None, help="Default: the model's image_size.")
  parser.add_argument("--max_examples", type=int, default=None)
  parser.add_argument("--no_download", action="store_true", help="Never let tfds download or prepare data.")
  parser.add_argument("--output", default=None, help="Write the results here as JSON.")
  parser.add_argument("--verbose", action="store_true", help="Show the traceback of every error and the INFO logs.")
  args = parser.parse_args(argv)
  try:
    results = run(args.model, args.dataset, split=args.split, data_dir=args.data_dir, batch_size=args.batch_size,
                  image_size=args.image_size, max_examples=args.max_examples, real_json=args.real_json,
                  download=not args.no_download)
  except (ValueError, FileNotFoundError, KeyError, RuntimeError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(format_table(results))
  if args.output:
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
      json.dump({k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in results.items()}, f,
                indent=2)
  return 0


if __name__ == "__main__":
  import _command  # pylint: disable=g-import-not-at-top  (tools/_command.py)
  sys.exit(_command.guard(main))
