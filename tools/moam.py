r"""MOAM (S4L's "Mix Of All Models") in one command: step 1, pseudo-labelling, step 2, step 3.

  python tools/moam.py --workdir=workdirs/moam [--config_arg=runlocal] [--data_dir=...]

"S4L: Self-Supervised Semi-Supervised Learning" (Zhai, Oliver, Kolesnikov, Beyer 2019), section 5:
  1. train the mix of all models (rotation + VAT + EntMin + CE) on 10% labels      -> WORKDIR/step1
  2. label the whole training split with it (evaluation preprocessing, arg-max)    -> WORKDIR/pseudo_labels.json
     and retrain from scratch on every image (true labels for the labelled 10%)    -> WORKDIR/step2
  3. fine-tune the step-2 model on the labelled 10%                                 -> WORKDIR/step3
Each step is `model_garden.training.train` on `model_garden/configs/ssl/moam.py:step=N` (step 3 with
`init=WORKDIR/step2/model.keras`, which the trainer loads into `config.networks.network`), so each resumes
from its checkpoints when the command is rerun, and a finished step (its results.json exists) is skipped.
Prints each step's test accuracy and writes WORKDIR/moam_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)


def _moam_config(config_arg: str):
  # model_garden (and with it TensorFlow) loads here, not at import: `--help` stays fast.
  from model_garden.configs.ssl import moam  # pylint: disable=g-import-not-at-top
  return moam.get_config(config_arg)


def _arg(config_arg: str, **extra) -> str:
  parts = [p for p in (config_arg or "").split(",") if p.strip()]
  parts += [f"{k}={v}" for k, v in extra.items()]
  return ",".join(parts)


def _step(number: int, workdir: str, config_arg: str, verbose, **extra):
  step_dir = os.path.join(workdir, f"step{number}")
  results_path = os.path.join(step_dir, "results.json")
  if os.path.exists(results_path):
    print(f"MOAM step {number}: already done ({results_path}).", flush=True)
    with open(results_path) as f:
      return step_dir, json.load(f)
  print(f"MOAM step {number}: training in {step_dir}.", flush=True)
  config = _moam_config(_arg(config_arg, step=number, **extra))
  from model_garden import training  # pylint: disable=g-import-not-at-top  (TensorFlow)
  return step_dir, training.train(config, step_dir, verbose=verbose)


def label_training_set(step_dir: str, config_arg: str, path: str):
  """Writes the pseudo-labels of the step-1 model for the whole training split."""
  if os.path.exists(path):
    print(f"Pseudo-labels: already written ({path}).", flush=True)
    return
  spec = _moam_config(_arg(config_arg, step=1)).label_with
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import model_garden  # pylint: disable=g-import-not-at-top
  from model_garden.data import semi_supervised  # pylint: disable=g-import-not-at-top
  # model_garden.load_model: one clear error for a truncated or missing archive.
  network = model_garden.load_model(os.path.join(step_dir, "model.keras"), compile=False)
  predict = tf.function(lambda images: network(images, training=False))
  labels = semi_supervised.write_pseudo_labels(predict, spec["dataset"], spec["split"], pp=spec["pp"], path=path,
                                               data_dir=spec.get("data_dir"))
  print(f"Pseudo-labels: {len(labels)} examples labelled -> {path}.", flush=True)


def run(workdir: str, config_arg: str = "", verbose="auto"):
  """Runs the three MOAM steps; returns {step: test accuracy}."""
  os.makedirs(workdir, exist_ok=True)
  step1_dir, step1 = _step(1, workdir, config_arg, verbose)
  labels_path = os.path.join(workdir, "pseudo_labels.json")
  label_training_set(step1_dir, config_arg, labels_path)
  step2_dir, step2 = _step(2, workdir, config_arg, verbose, pseudo_labels=labels_path)
  _, step3 = _step(3, workdir, config_arg, verbose, init=os.path.join(step2_dir, "model.keras"))
  summary = {f"step{i}": r.get("test/accuracy") for i, r in ((1, step1), (2, step2), (3, step3))}
  with open(os.path.join(workdir, "moam_results.json"), "w") as f:
    json.dump(summary, f, indent=2)
  print("MOAM test accuracy:", "  ".join(f"{k}: {v:.4f}" if v is not None else f"{k}: -" for k, v in summary.items()))
  return summary


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--config_arg", default="", help='arguments of configs/ssl/moam.py, e.g. "runlocal"')
  parser.add_argument("--data_dir", default="", help="tfds data_dir (passed to the configs)")
  parser.add_argument("--verbose", default="auto")
  args = parser.parse_args(argv)
  config_arg = _arg(args.config_arg, **({"data_dir": args.data_dir} if args.data_dir else {}))
  verbose = int(args.verbose) if args.verbose.isdigit() else args.verbose
  run(args.workdir, config_arg, verbose=verbose)


if __name__ == "__main__":
  import _command  # pylint: disable=g-import-not-at-top  (tools/_command.py)
  sys.exit(_command.guard(main))
