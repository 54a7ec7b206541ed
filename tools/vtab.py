r"""Runs the VTAB-1k protocol for a model on any subset of the 19 VTAB tasks and writes the report.

  .venv/bin/python tools/vtab.py --model="vit(variant='B/16')" --init=workdirs/upstream/model.keras \
      --tasks=all --workdir=workdirs/vtab_b16 [--lrs=0.1,0.01 --steps=2500,10000 --batch=512 \
      --image_size=224 --data_dir=~/tensorflow_datasets]

Per task (model_garden.transfer.vtab): every lr x steps run trains on train800 and is scored on val200;
the best is retrained on train800val200 and evaluated on the whole test split. The head (`--head`
regex, default "head/.*") is re-created with the task's classes, not loaded from --init, and zeroed.

--tasks: "all", a group ("natural", "specialized", "structured"), task names, or a comma mix
("natural,clevr_count"); the extra mg_shapes tasks: "mg_shapes_count,mg_shapes_position".

Rerunning the same command resumes: finished runs (results.json) are read, an interrupted run continues
from its newest checkpoint. A task whose dataset is missing (resisc45 and diabetic_retinopathy need
manual downloads; the message names the files and the directory) is reported and skipped; the exit
status is then 1.

Writes <workdir>/report.{md,csv,json,png} (per-task accuracy, natural/specialized/structured means, VTAB
mean) and prints the markdown table. `--mock_data=N` runs on fake data (N examples per split, no files):
an offline smoke test of the whole protocol.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Optional, Sequence

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _floats(text: str):
  return tuple(float(x) for x in text.split(",") if x.strip())


def _ints(text: str):
  return tuple(int(x) for x in text.split(",") if x.strip())


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(prog="tools/vtab.py", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--model", required=True, help="model spec, e.g. \"vit(variant='B/16')\" (num_classes "
                      "is set per task; image_size, if the model takes one, defaults to --image_size)")
  parser.add_argument("--init", default=None,
                      help="a .keras file to initialise every run from (head excluded)")
  parser.add_argument("--tasks", default="all", help="all | natural | specialized | structured | names, "
                      "comma separated")
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--lrs", type=_floats, default=(0.1, 0.01))
  parser.add_argument("--steps", type=_ints, default=(2500, 10000))
  parser.add_argument("--batch", type=int, default=512)
  parser.add_argument("--eval_batch", type=int, default=256)
  parser.add_argument("--image_size", type=int, default=224)
  parser.add_argument("--warmup_fraction", type=float, default=0.05)
  parser.add_argument("--head", default="head/.*", help="regex of the head variables (re-initialised)")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--precision", default="float32",
                      choices=("float32", "mixed_bfloat16", "mixed_float16"))
  parser.add_argument("--strategy", default="default", help="tf.distribute strategy of every run "
                      "(default, mirrored, multi_worker, tpu)")
  parser.add_argument("--data_dir", default=None, help="tfds data_dir (default $TFDS_DATA_DIR or "
                      "~/tensorflow_datasets)")
  parser.add_argument("--keep_checkpoints", action="store_true", help="keep checkpoints of finished runs")
  parser.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity (0, 1, 2)")
  parser.add_argument("--mock_data", type=int, default=0,
                      help="N > 0: fake data, N examples per split (offline smoke test)")
  return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = parse_args(argv)
  from absl import logging  # pylint: disable=g-import-not-at-top
  import model_garden  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  from model_garden.data.vtab import mock_vtab_data  # pylint: disable=g-import-not-at-top
  from model_garden.transfer import vtab, vtab_report  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.INFO)
  protocol = vtab.VtabProtocol(lrs=args.lrs, steps=args.steps, batch_size=args.batch,
                               image_size=args.image_size,
                               warmup_fraction=args.warmup_fraction, eval_batch_size=args.eval_batch,
                               head=args.head, seed=args.seed, precision=args.precision,
                               keep_checkpoints=args.keep_checkpoints, strategy=args.strategy)
  context = mock_vtab_data(num_examples=args.mock_data) if args.mock_data else contextlib.nullcontext()
  with context:
    report = protocol.run(args.model, args.tasks, args.workdir, init=args.init, data_dir=args.data_dir,
                          verbose=args.verbose)
  print(vtab_report.markdown_table(report))
  for name, path in report["files"].items():
    print(f"{name}: {path}")
  for task, reason in report["unavailable"].items():
    print(f"UNAVAILABLE {task}: {reason}", file=sys.stderr)
  return 1 if report["unavailable"] else 0


if __name__ == "__main__":
  import _command  # pylint: disable=g-import-not-at-top  (tools/_command.py)
  sys.exit(_command.guard(main))
