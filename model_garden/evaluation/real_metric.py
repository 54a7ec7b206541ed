"""Streaming ReaL top-k accuracy as a Keras metric."""

from __future__ import annotations

import keras
import tensorflow as tf

LABEL_FORMATS = ("multihot", "padded")


@keras.saving.register_keras_serializable("model_garden")
class RealAccuracy(keras.metrics.Metric):
  """ReaL top-k accuracy ("Are we done with ImageNet?", Beyer et al. 2020), accumulated over batches.

  A prediction is correct when any of its top-k classes is in the image's set of acceptable labels; images
  whose set is empty are left out of numerator and denominator (the same semantics as
  `model_garden.evaluation.real.real_accuracy`). The result is correct / scored over everything seen since
  the last `reset_state`, so it equals the whole-set value however the data is batched.

  Label input (`y_true`), chosen by `label_format`:
    "multihot": a (batch, num_classes) tensor, > 0 where a class is acceptable; an all-zero row is an empty
      set. The pp op `labelset(1000, key='real_label', key_result='real_label')` makes it from tfds
      `imagenet2012_real`.
    "padded": a (batch, max_labels) integer tensor of class ids padded with negative values (e.g. -1), or a
      `tf.RaggedTensor` of class ids (padded with -1 here); a row of padding only is an empty set.
  `y_pred`: (batch, num_classes) logits or probabilities. `sample_weight` (batch,) weights each scored image.

  Args:
    k: top-k.
    label_format: "multihot" or "padded".
    name: metric name (default "real_accuracy" for k=1, "real_top{k}" otherwise).

  Example:
    >>> model.compile(metrics=[RealAccuracy(), RealAccuracy(k=5)])   # y = multi-hot ReaL labels
    >>> m = RealAccuracy(label_format="padded")
    >>> m.update_state([[1, -1], [-1, -1]], [[0.1, 0.9], [0.9, 0.1]])  # second image: empty set
    >>> float(m.result())
    1.0
  """

  def __init__(self, k: int = 1, label_format: str = "multihot", name=None, dtype=None):
    if label_format not in LABEL_FORMATS:
      raise ValueError(f"RealAccuracy label_format must be one of {LABEL_FORMATS}, got {label_format!r}.")
    if int(k) < 1:
      raise ValueError(f"RealAccuracy k must be >= 1, got {k}.")
    name = name or ("real_accuracy" if int(k) == 1 else f"real_top{int(k)}")
    super().__init__(name=name, dtype=dtype)
    self.k = int(k)
    self.label_format = label_format
    self.correct = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="correct")
    self.scored = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="scored")

  def update_state(self, y_true, y_pred, sample_weight=None):
    y_pred = tf.convert_to_tensor(y_pred)
    if y_pred.shape.rank != 2:
      raise ValueError(f"RealAccuracy expects (batch, num_classes) predictions, got shape {y_pred.shape}.")
    num_classes = y_pred.shape[-1]
    if num_classes is not None and self.k > num_classes:
      raise ValueError(f"RealAccuracy k={self.k} exceeds the {num_classes} classes of the predictions.")
    top = tf.math.top_k(tf.cast(y_pred, tf.float32), k=self.k).indices  # (batch, k)
    if self.label_format == "multihot":
      hot = tf.convert_to_tensor(y_true) > 0
      if hot.shape.rank != 2:
        raise ValueError(f"RealAccuracy(label_format='multihot') expects (batch, num_classes) labels, got shape "
                         f"{hot.shape}; for lists of class ids use label_format='padded'.")
      if num_classes is not None and hot.shape[-1] is not None and hot.shape[-1] != num_classes:
        raise ValueError(f"Multi-hot labels have {hot.shape[-1]} classes but predictions have {num_classes}. "
                         "Use label_format='padded' for padded lists of class ids.")
      hit = tf.reduce_any(tf.gather(hot, top, batch_dims=1), axis=-1)
      scored = tf.reduce_any(hot, axis=-1)
    else:
      if isinstance(y_true, tf.RaggedTensor):
        ids = y_true.to_tensor(default_value=-1)
      else:
        ids = tf.convert_to_tensor(y_true)
      if ids.shape.rank == 1:
        ids = ids[:, None]
      ids = tf.cast(ids, tf.int32)
      valid = ids >= 0
      match = tf.equal(top[:, :, None], ids[:, None, :]) & valid[:, None, :]
      hit = tf.reduce_any(match, axis=[1, 2])
      scored = tf.reduce_any(valid, axis=-1)
    weight = tf.cast(scored, tf.float32)
    if sample_weight is not None:
      weight *= tf.reshape(tf.cast(sample_weight, tf.float32), [-1])
    self.correct.assign_add(tf.reduce_sum(weight * tf.cast(hit, tf.float32)))
    self.scored.assign_add(tf.reduce_sum(weight))

  def result(self):
    return tf.math.divide_no_nan(self.correct, self.scored)

  def get_config(self):
    config = super().get_config()
    config.update({"k": self.k, "label_format": self.label_format})
    return config
