r"""A VTAB-style transfer run, offline, on two structured tasks of the embedded mg_shapes dataset.

  python examples/vtab_mg_shapes.py [--workdir=DIR] [--data_dir=DIR] [--tiny]

The VTAB-1k protocol of `model_garden.transfer.vtab` at small scale: for each task a sweep of lr x steps
trained on train800 (800 examples) and scored on val200, the best setting retrained on train800val200 and
evaluated on the whole test split; SGD momentum 0.9, piecewise decays at 30/60/90%, a zero head, no
augmentation. The tasks (`model_garden.data.vtab.EXTRA_TASKS`, not part of VTAB's 19):

  mg_shapes_count     how many objects, 1..4 -> 4 classes (`count - 1`)
  mg_shapes_position  which region holds them: left, right, top, bottom, center -> 5 classes

It first trains a small "upstream" network on the shape label (8 classes) and transfers from it, as a
real VTAB run transfers a pre-trained model (`--init`), then prints the report table (also written with
CSV, JSON and a PNG bar chart to the workdir). The same tasks run from the command line:

  python tools/vtab.py --model="resnet_small(widths=(16, 32, 64))" --image_size=32 \
      --tasks=mg_shapes_count,mg_shapes_position --lrs=0.1,0.01 --steps=150,300 --batch=64 \
      --init=DIR/upstream/model.keras --workdir=DIR2

Expected (measured): test accuracy mg_shapes_count 99.0%, mg_shapes_position 88.4% (chance: 25%, 20%);
the sweep picks lr 0.1 and 300 steps for both. About 8 CPU-minutes on 2 cores, preparing mg_shapes/px32
included. `--tiny` runs a few steps on a small dataset (a smoke test, about 30 CPU-seconds).
"""

import argparse
import os
import tempfile

import model_garden
from model_garden.data import mg_shapes
from model_garden.data.vtab import get_task
from model_garden.transfer import vtab, vtab_report


def _upstream(workdir, data_dir, dataset, steps, batch):
  """A shape classifier trained on mg_shapes train (the transfer source), saved as model.keras."""
  path = os.path.join(workdir, "upstream", "model.keras")
  if os.path.exists(path):
    return path
  from model_garden.configs import mg_shapes_classification  # pylint: disable=g-import-not-at-top
  config = mg_shapes_classification.get_config(f"steps={steps},batch={batch}")
  config.input.data = dict(name=dataset, split="train")
  config.input.data_dir = data_dir
  config.log_steps = min(config.log_steps, steps)
  config.checkpoint_steps = config.log_steps
  config.evals = {}
  config.optimizer.schedule.warmup_steps = max(1, steps // 10)
  model_garden.training.train(config, os.path.dirname(path), verbose=2)
  return path


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", default=None, help="default: a new temporary directory")
  parser.add_argument("--data_dir", default=None, help="tfds data_dir (mg_shapes is prepared there)")
  parser.add_argument("--tiny", action="store_true", help="a small dataset and a few steps (smoke test)")
  args = parser.parse_args()
  workdir = args.workdir or tempfile.mkdtemp(prefix="vtab_mg_shapes_")
  data_dir = args.data_dir

  tasks = [get_task("mg_shapes_count"), get_task("mg_shapes_position")]
  if args.tiny:
    # The VTAB slices need >= 800 train and >= 200 validation examples.
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    data_dir = data_dir or os.path.join(workdir, "tfds")
    config = mg_shapes.MgShapesConfig(name="vtab_tiny", image_size=32, num_train=800, num_validation=200,
                                      num_test=100)
    tfds.builder("mg_shapes", config=config, data_dir=data_dir).download_and_prepare()
    tasks = [task.with_builder("mg_shapes/vtab_tiny", config.split_sizes) for task in tasks]
    protocol = vtab.VtabProtocol(lrs=(0.1, 0.01), steps=(4,), batch_size=16, image_size=32,
                                 eval_batch_size=64)
    upstream_steps, upstream_batch = 10, 16
  else:
    protocol = vtab.VtabProtocol(lrs=(0.1, 0.01), steps=(150, 300), batch_size=64, image_size=32,
                                 eval_batch_size=500)
    upstream_steps, upstream_batch = 300, 64

  init = _upstream(workdir, data_dir, tasks[0].builder, upstream_steps, upstream_batch)
  report = protocol.run("resnet_small(widths=(16, 32, 64))", tasks, workdir, init=init, data_dir=data_dir,
                        verbose=0)
  for result in report["results"]:
    sweep = ", ".join(f"lr={s['lr']:g} steps={s['steps']}: {100 * s['val_accuracy']:.1f}%"
                      for s in result["sweep"])
    print(f"{result['task']}: val200 sweep [{sweep}] -> test {100 * result['accuracy']:.1f}% "
          f"on {result['test_examples']} examples")
  print(vtab_report.markdown_table(report))
  print("report:", report["files"]["md"], report["files"]["png"])


if __name__ == "__main__":
  main()
