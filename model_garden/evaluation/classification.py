"""Top-1 accuracy (and cross-entropy) of a network on a tfds split."""

from __future__ import annotations

from typing import Dict, Optional

import tensorflow as tf

from model_garden.evaluation.registry import register


class ClassificationEvaluator:
  """Accuracy of a classifier on a dataset split, preprocessed by a pp string.

  The standard evaluation of every supervised paper in the package (ViT, BiT, ...). Multi-hot labels
  count a prediction as correct when it is in the label set.

  Args:
    data: dict with the tfds `name` and `split` (and optionally `data_dir`).
    pp: preprocessing string producing `image` and `labels` (one-hot or integer).
    batch_size: evaluation batch size.
    download: allow tfds to prepare the dataset.

  Example:
    >>> ev = model_garden.evaluation.EVALUATORS.get(
    ...     "classification", data={"name": "mg_shapes/px32", "split": "test"},
    ...     pp="decode|value_range(-1, 1)|onehot(8)|keep('image', 'labels')")
    >>> ev.run(network)  # {"accuracy": 0.93, "loss": 0.21, "num_examples": 2000}
  """

  def __init__(self, data: Dict, pp: str, batch_size: int = 256, download: bool = True,
               data_dir: Optional[str] = None):
    self.data = dict(data)
    self.pp = pp
    self.batch_size = batch_size
    self.download = download
    self.data_dir = data_dir or self.data.get("data_dir")

  def dataset(self):
    from model_garden.data import get_dataset  # pylint: disable=g-import-not-at-top
    return get_dataset(self.data["name"], self.data["split"], batch_size=self.batch_size, pp=self.pp,
                       data_dir=self.data_dir, train=False, download=self.download)

  def run(self, network) -> Dict[str, float]:
    @tf.function
    def predict(images):
      return tf.cast(network(images, training=False), tf.float32)

    correct = total = 0
    xent_sum = 0.0
    for batch in self.dataset():
      logits = predict(batch["image"])
      labels = batch["labels"]
      predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
      if labels.shape.rank == 1:
        hit = tf.equal(predicted, tf.cast(labels, tf.int32))
        onehot = tf.one_hot(tf.cast(labels, tf.int32), logits.shape[-1])
      else:
        hit = tf.gather(labels, predicted, batch_dims=1) > 0
        onehot = tf.cast(labels, tf.float32)
        onehot = onehot / tf.maximum(tf.reduce_sum(onehot, -1, keepdims=True), 1.0)
      correct += int(tf.reduce_sum(tf.cast(hit, tf.int32)))
      total += int(tf.shape(logits)[0])
      xent_sum += float(tf.reduce_sum(-tf.reduce_sum(onehot * tf.nn.log_softmax(logits), -1)))
    if total == 0:
      raise ValueError(f"Evaluation split {self.data} is empty.")
    return {"accuracy": correct / total, "loss": xent_sum / total, "num_examples": total}


@register("classification")
def classification(*, data, pp: str, batch_size: int = 256, download: bool = True,
                   data_dir: Optional[str] = None) -> ClassificationEvaluator:
  """Spec factory for `ClassificationEvaluator`."""
  return ClassificationEvaluator(data=data, pp=pp, batch_size=batch_size, download=download,
                                 data_dir=data_dir)


