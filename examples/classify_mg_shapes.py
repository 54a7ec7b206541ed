r"""Train, evaluate, export and serve a classifier with the Python API (no config file).

  python examples/classify_mg_shapes.py [--steps=600] [--tiny]

Walks through the pieces `make demo` drives from a config: a tfds pipeline with a preprocessing string,
a network from a spec, the classification objective with a model_garden optimizer, `model.fit`, the
evaluator, a SavedModel export, and serving it from encoded PNG bytes.
"""

import argparse
import os
import tempfile

import numpy as np
import tensorflow as tf

import model_garden
from model_garden import data, evaluation, export, models, objectives, optimizers


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=600)
  parser.add_argument("--tiny", action="store_true", help="a tiny dataset and 20 steps (smoke test)")
  parser.add_argument("--data_dir", default=None)
  args = parser.parse_args()

  dataset = "mg_shapes/px32"
  steps, log_every = args.steps, 50
  if args.tiny:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    tiny = data.mg_shapes.MgShapesConfig(name="example_tiny", image_size=32, num_train=128,
                                         num_validation=32, num_test=32)
    args.data_dir = args.data_dir or tempfile.mkdtemp()
    tfds.builder("mg_shapes", config=tiny, data_dir=args.data_dir).download_and_prepare()
    dataset, steps, log_every = "mg_shapes/example_tiny", 20, 10

  train_ds = data.get_dataset(
      dataset, "train", batch_size=64, data_dir=args.data_dir,
      pp="decode|random_crop(32)|flip_lr|value_range(-1, 1)|onehot(8)|keep('image', 'labels')")
  net = models.get("resnet_small(num_classes=8, image_size=32, widths=(16, 32, 64))")
  clf = objectives.get("classification(label_smoothing=0.1)", network=net)
  clf.compile(optimizer=optimizers.make(
      {"name": "sgd(momentum=0.9)", "lr": 0.05, "schedule": f"cosine(warmup_steps={min(50, steps // 4)})", "wd": 5e-5},
      total_steps=steps))
  clf.build_for_training((None, 32, 32, 3))
  clf.fit(train_ds, epochs=steps // log_every, steps_per_epoch=log_every, verbose=2)

  evaluator = evaluation.EVALUATORS.get(
      "classification", data={"name": dataset, "split": "test"}, data_dir=args.data_dir,
      pp="decode|value_range(-1, 1)|onehot(8)|keep('image', 'labels')")
  print("test:", evaluator.run(net))

  out_dir = os.path.join(tempfile.mkdtemp(), "shapes")
  class_names = data.mg_shapes.SHAPES
  export.export_classifier(net, out_dir, image_size=32, class_names=list(class_names))
  served = tf.saved_model.load(out_dir).signatures["serving_default"]
  example = next(iter(data.get_dataset(dataset, "test", batch_size=4, train=False, data_dir=args.data_dir,
                                       pp="decode|keep('image', 'label')")))
  png = tf.stack([tf.io.encode_png(image) for image in example["image"]])
  result = served(image_bytes=png)
  print("served classes:", [c.decode() for c in result["class_name"].numpy()],
        "true:", [class_names[i] for i in example["label"].numpy()])
  assert np.allclose(result["probabilities"].numpy().sum(-1), 1.0, atol=1e-5)
  print("SavedModel:", out_dir, "model_garden", model_garden.__version__)


if __name__ == "__main__":
  main()
