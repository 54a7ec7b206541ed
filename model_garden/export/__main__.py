r"""Exports a training workdir as a TF-Serving SavedModel.

Usage:
  python -m model_garden.export --workdir=workdirs/demo --output=/tmp/serving/demo --version=1

Reads `WORKDIR/model.keras` and `WORKDIR/export.json` (written by `python -m model_garden.train`) and
writes a SavedModel whose `serving_default` signature takes encoded image bytes: a classifier's (see
`model_garden.export.serving`), or a LiT two-tower model's with image/text embeddings and zero-shot
classification (`model_garden.export.lit_serving`). Serve it with
  tensorflow_model_server --rest_api_port=8501 --model_name=demo --model_base_path=/tmp/serving/demo
"""

import sys

from absl import app, flags

from model_garden import cli
from model_garden.export import serving, workdir

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training workdir holding model.keras and export.json.")
flags.DEFINE_string("output", None, "SavedModel directory; with --version, the TF-Serving base path.")
flags.DEFINE_integer("version", None, "Write into OUTPUT/VERSION/, the layout TF-Serving expects.")
flags.DEFINE_bool("overwrite", False, "Allow writing into a non-empty output directory.")
flags.DEFINE_bool("verbose", False, "Print Keras's listing of every endpoint, and the traceback of any error.")
flags.mark_flags_as_required(["workdir", "output"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  try:
    path = workdir.export_workdir(FLAGS.workdir, FLAGS.output, version=FLAGS.version,
                                  overwrite=FLAGS.overwrite, verbose=FLAGS.verbose)
  except (FileNotFoundError, ValueError) as e:
    if FLAGS.verbose:
      raise
    # The message already says what to do; a traceback would only bury it.
    sys.exit(f"error: {e}")
  print(f"Exported SavedModel to {path}")
  if workdir.read_export_config(FLAGS.workdir).get("kind") == workdir.TWO_TOWERS:
    from model_garden.export import lit_serving  # pylint: disable=g-import-not-at-top
    print(f"Signatures: {', '.join(lit_serving.SIGNATURE_NAMES)} (serving_default = {lit_serving.EMBED_IMAGES}); "
          "load with `import tensorflow_text` first")
  else:
    print(f"Signatures: {', '.join(serving.SIGNATURE_NAMES)} (serving_default = {serving.SERVE_BYTES})")


if __name__ == "__main__":
  cli.run(main)
