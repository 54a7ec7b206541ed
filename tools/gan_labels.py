r"""Labels for the S3GAN family from self-supervised features: k-means clusters or S2GAN's classifier.

  # CLUSTERING: k-means on the L2-normalised features of the whole split
  python tools/gan_labels.py --method=cluster --features=workdirs/rotation/model.keras \
      --dataset=mg_shapes/px32 --split=train --num_clusters=8 --output=workdirs/labels/cluster.json
  # S2GAN: a linear classifier on the features of the labelled 10%, predicting the other 90%
  python tools/gan_labels.py --method=classifier --features=workdirs/rotation/model.keras \
      --dataset=mg_shapes/px32 --split=train --fraction=0.1 --output=workdirs/labels/s2gan_10.json

Prints one JSON line: accuracy of the inferred labels against the true ones (clusters: after the best
one-to-one map of clusters to classes), purity, NMI and the method's details. The file is the
pseudo-label JSON of `model_garden.data.semi_supervised` (read by `semi_supervised(pseudo_labels=FILE)`
and by the `file_label(FILE)` pp op); model_garden/configs/gan/s3gan_mg_shapes.py trains on it
(`:variant=clustering,labels=FILE` / `:variant=s2gan,fraction=0.1,labels=FILE`).
model_garden/transfer/gan_labels.py has the details.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Optional, Sequence

from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def make_flags() -> flags.FlagValues:
  """This tool's flags, in their own FlagValues (so tests and other tools can parse them side by side)."""
  fv = flags.FlagValues()
  flags.DEFINE_enum("method", None, ["cluster", "classifier"], "cluster: k-means (CLUSTERING); classifier: "
                    "linear classifier on the labelled subset (S2GAN).", flag_values=fv)
  flags.DEFINE_string("features", None, "The .keras file of the self-supervised network.", flag_values=fv)
  flags.DEFINE_string("feature_key", "pre_logits", "Endpoint of the network giving the features.", flag_values=fv)
  flags.DEFINE_string("dataset", None, "tfds name, e.g. mg_shapes/px32 or imagenet2012.", flag_values=fv)
  flags.DEFINE_string("split", "train", "Split to label.", flag_values=fv)
  flags.DEFINE_string("data_dir", None, "tfds data_dir.", flag_values=fv)
  flags.DEFINE_string("pp", "decode|value_range(-1, 1)", "Preprocessing making `image` (no augmentation).",
                      flag_values=fv)
  flags.DEFINE_string("label_key", "label", "The true-label feature (scores; the classifier's subset).",
                      flag_values=fv)
  flags.DEFINE_float("fraction", None, "classifier: share of labelled examples (semi_supervised's subset).",
                     flag_values=fv)
  flags.DEFINE_integer("count_per_class", None, "classifier: labelled examples per class instead.", flag_values=fv)
  flags.DEFINE_integer("selection_seed", 0, "classifier: which labelled subset (semi_supervised's).", flag_values=fv)
  flags.DEFINE_integer("num_clusters", None, "cluster: k.", flag_values=fv)
  flags.DEFINE_integer("restarts", 10, "cluster: k-means restarts (the lowest inertia is kept).", flag_values=fv)
  flags.DEFINE_integer("max_iters", 300, "cluster: Lloyd iterations per restart at most.", flag_values=fv)
  flags.DEFINE_integer("seed", 0, "cluster: k-means seed.", flag_values=fv)
  flags.DEFINE_float("l2", 1e-3, "classifier: L2 penalty (loss = CE + l2 / 2 ||W||^2).", flag_values=fv)
  flags.DEFINE_integer("steps", 500, "classifier: full-batch Adam steps.", flag_values=fv)
  flags.DEFINE_float("learning_rate", 0.01, "classifier: Adam learning rate (cosine-decayed).", flag_values=fv)
  flags.DEFINE_integer("batch_size", 256, "Feature extraction batch size.", flag_values=fv)
  flags.DEFINE_bool("normalize", True, "L2-normalise the features first.", flag_values=fv)
  flags.DEFINE_integer("max_examples", None, "Label only the first N examples (quick checks).", flag_values=fv)
  flags.DEFINE_string("output", "labels.json", "The label file to write.", flag_values=fv)
  return fv


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Parses `argv` (sys.argv style), runs, prints the report as one JSON line; returns the exit code."""
  argv = list(sys.argv if argv is None else argv)
  fv = make_flags()
  if any(a in ("-h", "--help", "-help") for a in argv[1:]):
    print(__doc__)
    print(fv.get_help())
    return 0
  try:
    fv(argv)
  except flags.Error as e:
    print(f"error: {e}\nRun with --help for the flags.", file=sys.stderr)
    return 2
  missing = [name for name in ("method", "features", "dataset") if not fv[name].value]
  if missing:
    print(f"error: --{', --'.join(missing)} required (see --help).", file=sys.stderr)
    return 2
  from model_garden.transfer import gan_labels  # pylint: disable=import-outside-toplevel
  try:
    report = gan_labels.run(
        fv.method, features=fv.features, dataset=fv.dataset, split=fv.split, output=fv.output, pp=fv.pp,
        feature_key=fv.feature_key, data_dir=fv.data_dir, label_key=fv.label_key, num_clusters=fv.num_clusters,
        fraction=fv.fraction, count_per_class=fv.count_per_class, selection_seed=fv.selection_seed, seed=fv.seed,
        restarts=fv.restarts, max_iters=fv.max_iters, l2=fv.l2, steps=fv.steps, learning_rate=fv.learning_rate,
        batch_size=fv.batch_size, normalize=fv.normalize, max_examples=fv.max_examples)
  except (ValueError, KeyError, FileNotFoundError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(json.dumps(report, sort_keys=True), flush=True)
  return 0


if __name__ == "__main__":
  import _command  # pylint: disable=g-import-not-at-top  (tools/_command.py)
  sys.exit(_command.guard(lambda argv: main(sys.argv[:1] + argv)))
