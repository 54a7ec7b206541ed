r"""`make demo`: the LiT pipeline on the embedded mg_shapes dataset, offline; a SavedModel; one JSON line.

  python examples/demo.py --workdir=workdirs/demo            # LiT (the default job)
  python examples/demo.py --workdir=workdirs/demo --tiny     # the same, smoke-test sized (a minute or two)
  python examples/demo.py --job=classification --workdir=workdirs/cls   # the supervised classifier

The LiT job ("LiT: Zero-Shot Transfer with Locked-image text Tuning", Zhai et al. 2022) is
`examples/lit_demo.py` (its docstring lists the steps, what overlaps and the measured figures): pretrain a
small ViT on the shape and colour labels of 9,000 images, train a SentencePiece vocabulary on the captions,
LiT-tune a text tower against the locked image tower (Lu) on 787 image-text pairs from which 16 shape-colour
pairs are held out and, at the same budget, uu, Uu and UU; zero-shot accuracy for shapes and colours (test
split and held-out pairs), Recall@1 both ways, a linear probe on the locked features, the paper's result
checked per figure; a table (`results.md`), a chart (`results.png`). Then the
Lu model is exported as one SavedModel (`saved_model/`: `embed_images`, `embed_texts`, `zero_shot` with
the tokenizer in the graph), reloaded, and its `zero_shot` signature scored on test images, so the served
model is checked against the Keras one.

The classification job trains ResNetSmall on the shapes (600 steps: test accuracy ~0.97 in about 90 s)
and exports a classifier SavedModel.

The last line printed is a JSON object with the figures (accuracies, recalls, seconds, paths).
"""

import json
import os
import time

from absl import app, flags

_JOB = flags.DEFINE_enum("job", "lit", ["lit", "classification"], "Which demo: the LiT pipeline or the classifier.")
_WORKDIR = flags.DEFINE_string("workdir", "workdirs/demo", "Where the runs, the results and the SavedModel go.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "tfds data_dir (default ~/tensorflow_datasets).")
_TINY = flags.DEFINE_bool("tiny", False, "LiT job: a tiny smoke test (tiny dataset, a few steps each).")
_STEPS = flags.DEFINE_integer("steps", 600, "Classification job: training steps (a multiple of 50).")

SERVED_EXAMPLES = 200  # test images scored through the reloaded SavedModel


def check_saved_model(lit, saved_model: str, vocab: str, dataset: str, data_dir, split: str = "test",
                      num_examples: int = SERVED_EXAMPLES) -> dict:
  """Scores the reloaded SavedModel's `zero_shot` signature on encoded test images, next to the Keras model.

  Returns the served model's shape accuracy and the fraction of images on which its predicted class equals
  the Keras model's (same prompts, same preprocessing: 1.0 unless a tie is broken differently).
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  import tensorflow_text  # noqa: F401  pylint: disable=g-import-not-at-top  (the tokenizer's ops)
  from model_garden.evaluation import zero_shot  # pylint: disable=g-import-not-at-top
  from lit_demo import SHAPES  # pylint: disable=g-import-not-at-top  (examples/lit_demo.py)
  from model_garden.text import get_tokenizer, prompts  # pylint: disable=g-import-not-at-top
  served = tf.saved_model.load(saved_model).signatures["zero_shot"]
  builder = tfds.builder(dataset, data_dir=data_dir)
  num_examples = min(num_examples, builder.info.splits[split].num_examples)
  ds = builder.as_dataset(split=f"{split}[:{num_examples}]", decoders={"image": tfds.decode.SkipDecoding()})
  image_bytes, labels = next(iter(ds.map(lambda e: (e["image"], e["label"])).batch(num_examples)))
  labels = labels.numpy()
  served_classes = served(image_bytes=image_bytes, class_names=tf.constant(SHAPES))["classes"].numpy()
  images = tf.map_fn(lambda b: tf.io.decode_png(b, channels=3), image_bytes, fn_output_signature=tf.uint8)
  zimg = lit.embed_images(tf.cast(images, tf.float32) / 127.5 - 1.0, training=False).numpy()
  texts = zero_shot.build_prompts([prompts.canonicalize(n) for n in SHAPES], prompts.templates("mg_shapes_shape"))
  ztxt = lit.embed_texts(get_tokenizer(vocab, lit.max_len)(tf.constant(texts)), training=False).numpy()
  keras_classes = zero_shot.zero_shot_predict(zimg, zero_shot.class_embeddings(ztxt, len(SHAPES)))
  return {"saved_model_examples": num_examples,
          "saved_model_zero_shot_shapes": round(float(np.mean(served_classes == labels)), 4),
          "saved_model_agrees_with_keras": round(float(np.mean(served_classes == keras_classes)), 4)}


def run_lit(workdir: str, data_dir, tiny: bool) -> dict:
  import keras  # pylint: disable=g-import-not-at-top
  import lit_demo  # pylint: disable=g-import-not-at-top  (examples/lit_demo.py, beside this file)
  from model_garden.export import lit_serving  # pylint: disable=g-import-not-at-top
  started = time.time()
  figures = lit_demo.run(workdir, data_dir=data_dir, tiny=tiny)
  lit = keras.saving.load_model(os.path.join(workdir, "lit_Lu", "model.keras"))
  saved_model = os.path.join(workdir, "saved_model")
  lit_serving.export_lit(lit, saved_model, tokenizer=os.path.join(workdir, "vocab.model"),
                         templates="mg_shapes_shape")
  vocab = os.path.join(workdir, "vocab.model")
  served = check_saved_model(lit, saved_model, vocab, figures["dataset"], figures["data_dir"])
  lu = figures["settings"]["Lu"]
  print(f"LiT (Lu) zero-shot test accuracy: shapes {lu['zero_shot_shapes']:.4f}, colours "
        f"{lu['zero_shot_colours']:.4f} (held-out shape-colour pairs: {lu['held_out_shapes']:.4f}, "
        f"{lu['held_out_colours']:.4f}); Recall@1 image->text {lu['i2t_recall@1']:.4f}, text->image "
        f"{lu['t2i_recall@1']:.4f}. SavedModel written to {saved_model} (its zero_shot signature: "
        f"{served['saved_model_zero_shot_shapes']:.4f} on {served['saved_model_examples']} test images, the Keras model's "
        f"class on {served['saved_model_agrees_with_keras']:.1%} of them).")
  figures.update({"demo": "LiT on mg_shapes", "saved_model": saved_model, **served,
                  "total_seconds": round(time.time() - started, 1)})
  return figures


def run_classification(workdir: str, data_dir, steps: int) -> dict:
  from model_garden import export  # pylint: disable=g-import-not-at-top
  from model_garden.configs import mg_shapes_classification  # pylint: disable=g-import-not-at-top
  from model_garden.training.networks import network_spec  # pylint: disable=g-import-not-at-top
  from model_garden.training import train  # pylint: disable=g-import-not-at-top
  started = time.time()
  config = mg_shapes_classification.get_config(f"steps={steps}")
  config.input.data_dir = data_dir
  results = train(config, workdir, verbose=2)
  saved_model = os.path.join(workdir, "saved_model")
  export.export_workdir(workdir, saved_model, overwrite=True)
  figures = {
      "demo": "mg_shapes shape classification",
      "model": network_spec(config.networks.network),
      "steps": results["step"],
      "test_accuracy": round(results["test/accuracy"], 4),
      "validation_accuracy": round(results["val/accuracy"], 4),
      "train_seconds": results["train_seconds"],
      "total_seconds": round(time.time() - started, 1),
      "saved_model": saved_model,
  }
  print(f"Test accuracy: {figures['test_accuracy']:.4f}. SavedModel written to {saved_model}.")
  return figures


def main(argv):
  del argv
  import model_garden  # noqa: F401  pylint: disable=g-import-not-at-top
  if _JOB.value == "lit":
    figures = run_lit(_WORKDIR.value, _DATA_DIR.value, _TINY.value)
  else:
    figures = run_classification(_WORKDIR.value, _DATA_DIR.value, _STEPS.value)
  print(json.dumps(figures))


if __name__ == "__main__":
  app.run(main)
