r"""Linear probes of a frozen model at several endpoints (the self-supervision papers' linear evaluation).

Trains a logistic-regression head on the features of every endpoint (`network.intermediates`; spatial maps
global-average pooled) for every L2 value at once on cached features, keeps each endpoint's best L2 by
validation accuracy and reports test accuracy per endpoint and the best layer
(model_garden/evaluation/linear_probe.py has the details).

Usage:
  python tools/linear_probe.py --model=workdir/model.keras --dataset=mg_shapes/px32 \
      --endpoints=block1,block2,block3,pre_logits --train_split=train --val_split=validation --test_split=test \
      [--l2=1e-5,1e-4,1e-3,1e-2,1e-1 --steps=500 --batch_size=1024 --output=probe.json]

With no --val_split, the last 20% of the train features validate. With no --endpoints, every endpoint but
`logits` is probed.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Dict, Optional, Sequence

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def load_network(model: str):
  """A network from a `.keras` file or a model spec (built, random weights)."""
  import model_garden  # pylint: disable=g-import-not-at-top  (registers the serialisables)
  if model.endswith(".keras"):
    if not os.path.exists(model):
      raise FileNotFoundError(f"--model={model}: no such .keras file.")
    return model_garden.load_model(model)
  return model_garden.models.get(model)


def run(model: str, dataset: str, endpoints: Optional[Sequence[str]] = None, train_split: str = "train",
        val_split: Optional[str] = "validation", test_split: str = "test", l2_regs: Sequence[float] = (),
        steps: int = 500, batch_size: int = 1024, learning_rate: float = 0.01, pp: Optional[str] = None,
        num_classes: Optional[int] = None, max_train_examples: Optional[int] = None,
        max_eval_examples: Optional[int] = None, data_dir: Optional[str] = None, download: bool = True) -> Dict:
  """Runs the probe and returns its report (see `LinearProbe.probe`)."""
  from model_garden.evaluation import linear_probe as lp  # pylint: disable=g-import-not-at-top
  network = load_network(model)
  probe = lp.LinearProbe(
      dict(name=dataset, train_split=train_split, val_split=val_split, test_split=test_split, data_dir=data_dir),
      endpoints=endpoints, num_classes=num_classes, pp=pp or lp.DEFAULT_PP, l2_regs=l2_regs or lp.DEFAULT_L2,
      steps=steps, batch_size=batch_size, learning_rate=learning_rate, max_train_examples=max_train_examples,
      max_eval_examples=max_eval_examples, download=download)
  report = probe.probe(network)
  report["model"] = model
  report["dataset"] = dataset
  return report


def format_report(report: Dict) -> str:
  lines = [f"Linear probe of {report['model']} on {report['dataset']} ({report['num_train']} train, "
           f"{report['num_val']} val, {report['num_test']} test, {report['num_classes']} classes)", "",
           "| endpoint | best L2 | train | val | test |", "|---|---|---|---|---|"]
  for name, e in report["endpoints"].items():
    mark = " (best)" if name == report["best_endpoint"] else ""
    lines.append(f"| {name}{mark} | {e['best_l2']:g} | {e['train_accuracy']:.4f} | {e['val_accuracy']:.4f} | "
                 f"{e['test_accuracy']:.4f} |")
  lines += ["", f"best layer: {report['best_endpoint']}, test accuracy {report['best_test_accuracy']:.4f}"]
  return "\n".join(lines)


def _floats(text: str):
  return [float(v) for v in text.split(",") if v.strip()]


def main(argv=None):
  import argparse  # pylint: disable=import-outside-toplevel
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model", required=True, help="A .keras file or a model spec.")
  parser.add_argument("--dataset", required=True, help="A tfds name or dataset spec, e.g. mg_shapes/px32.")
  parser.add_argument("--endpoints", default="", help="Comma-separated endpoints (default: all but logits).")
  parser.add_argument("--train_split", default="train")
  parser.add_argument("--val_split", default="validation", help="Empty: hold out 20%% of train.")
  parser.add_argument("--test_split", default="test")
  parser.add_argument("--l2", default="", help="Comma-separated L2 values (default 1e-5..1e-1).")
  parser.add_argument("--steps", type=int, default=500)
  parser.add_argument("--batch_size", type=int, default=1024, help="Minibatch of the head training.")
  parser.add_argument("--learning_rate", type=float, default=0.01)
  parser.add_argument("--pp", default=None, help="Preprocessing (default: decode|value_range(-1, 1)).")
  parser.add_argument("--num_classes", type=int, default=None)
  parser.add_argument("--max_train_examples", type=int, default=None)
  parser.add_argument("--max_eval_examples", type=int, default=None)
  parser.add_argument("--data_dir", default=None)
  parser.add_argument("--no_download", action="store_true")
  parser.add_argument("--output", default=None, help="Write the report here as JSON.")
  parser.add_argument("--verbose", action="store_true", help="Show the traceback of every error and the INFO logs.")
  args = parser.parse_args(argv)
  try:
    report = run(args.model, args.dataset, endpoints=[e.strip() for e in args.endpoints.split(",") if e.strip()],
                 train_split=args.train_split, val_split=args.val_split or None, test_split=args.test_split,
                 l2_regs=_floats(args.l2), steps=args.steps, batch_size=args.batch_size,
                 learning_rate=args.learning_rate, pp=args.pp, num_classes=args.num_classes,
                 max_train_examples=args.max_train_examples, max_eval_examples=args.max_eval_examples,
                 data_dir=args.data_dir, download=not args.no_download)
  except (ValueError, FileNotFoundError, KeyError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(format_report(report))
  if args.output:
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
      json.dump(report, f, indent=2)
  return 0


if __name__ == "__main__":
  import _command  # pylint: disable=g-import-not-at-top  (tools/_command.py)
  sys.exit(_command.guard(main))
