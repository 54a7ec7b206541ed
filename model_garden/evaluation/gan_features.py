"""Feature extractors for GAN metrics: images in [-1, 1] -> {"pool": features, "logits": class logits}.

Only features of the original FID Inception graph at 299 px give numbers comparable to the papers (see
`gan_metrics`): `inception_graph_features.InceptionGraphFeatures` (spec "inception_2015_12_05" or a path to
its .pb) loads that graph. This module offers the others:

* `InceptionV3Features`: `keras.applications.InceptionV3` with ImageNet weights (downloaded once into
  ~/.keras/models; fails with a clear message offline). Its weights are not the FID graph's: its FID, IS and
  KID are comparable only among runs that use it.
* `NetworkFeatures`: any model_garden `ImageModel` (e.g. a classifier trained on the dataset), its
  `pre_logits` as features and its logits for the Inception Score. Works offline; numbers are comparable
  only with the same network.

`get_feature_extractor(spec)` builds one from a string: "inception_2015_12_05", a `.pb` path, "inception_v3"
or a path to a `.keras` network.
"""

from __future__ import annotations

from typing import Dict, Optional

import keras
import numpy as np
import tensorflow as tf

from model_garden.evaluation.feature_extractor import FeatureExtractor, FeatureExtractorUnavailableError
from model_garden.keras_archive import check_keras_archive

INCEPTION_SIZE = 299


def _resize(images, size):
  images = tf.convert_to_tensor(images, tf.float32)
  if size and (images.shape[1] != size or images.shape[2] != size):
    images = tf.image.resize(images, (size, size), method="bilinear")
  return images


class InceptionV3Features(FeatureExtractor):
  """Pool (2048-d, global average of the last block) and 1000 ImageNet logits of Keras' InceptionV3.

  Images in [-1, 1] are resized to 299x299 (bilinear) and fed as they are: Keras' `inception_v3`
  preprocessing also maps pixels to [-1, 1]. The weights (`keras.applications.InceptionV3(weights=
  "imagenet")`) are downloaded on first use; offline, `FeatureExtractorUnavailableError` says how to
  provide them. NOT the FID network: see the module docstring.

  Args:
    logits: also compute the logits (the full model with its top); False loads the no-top weights.
    batch_size: images per forward pass.
    weights: "imagenet", a path to a weights file, or None (random weights: plumbing tests only).

  Example:
    >>> features = InceptionV3Features()(images)   # {"pool": (n, 2048), "logits": (n, 1000)}
  """

  name = "inception_v3_keras"
  comparable_to_papers = False

  def __init__(self, logits: bool = True, batch_size: int = 64, weights: Optional[str] = "imagenet"):
    self.batch_size = int(batch_size)
    try:
      base = keras.applications.InceptionV3(weights=weights, include_top=bool(logits),
                                            pooling=None if logits else "avg")
    except Exception as e:  # pylint: disable=broad-except  (download errors come in many types)
      weights = ("inception_v3_weights_tf_dim_ordering_tf_kernels.h5" if logits
                 else "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")
      raise FeatureExtractorUnavailableError(
          f"Could not load keras.applications.InceptionV3 ImageNet weights ({type(e).__name__}: "
          f"{str(e)[:200]}). They are downloaded from storage.googleapis.com on first use; offline, copy "
          f"{weights} into ~/.keras/models/ (or $KERAS_HOME/models/) from a machine with internet, or use "
          "NetworkFeatures(classifier) with a network trained on your data.") from None
    if logits:
      predictions = base.get_layer("predictions")
      pool = base.get_layer("avg_pool").output
      self.model = keras.Model(base.input, pool)
      self.kernel, self.bias = predictions.kernel, predictions.bias
    else:
      self.model, self.kernel, self.bias = base, None, None
    self._forward = tf.function(self._features)

  def _features(self, images):
    pool = self.model(_resize(images, INCEPTION_SIZE), training=False)
    logits = tf.matmul(pool, self.kernel) + self.bias if self.kernel is not None else tf.zeros([0])
    return pool, logits

  def __call__(self, images):
    pools, logits = [], []
    for start in range(0, int(images.shape[0]), self.batch_size):
      pool, logit = self._forward(tf.convert_to_tensor(images[start:start + self.batch_size], tf.float32))
      pools.append(pool.numpy())
      logits.append(logit.numpy())
    return {"pool": np.concatenate(pools), "logits": np.concatenate(logits) if self.kernel is not None else None}


class NetworkFeatures(FeatureExtractor):
  """Features of a model_garden `ImageModel`: an intermediate (default `pre_logits`) and its logits.

  Images are resized (bilinear) to the network's `image_size` when it is set and differs. The logits are
  returned for the Inception Score only when the network has a head (num_classes > 0).

  Args:
    network: an `ImageModel` (or a path to a `.keras` file of one).
    feature_key: the intermediate used as features.
    batch_size: images per forward pass.

  Example:
    >>> clf = keras.saving.load_model("workdirs/mg_shapes_cls/model.keras")
    >>> NetworkFeatures(clf)(images)["pool"].shape   # (n, width)
  """

  comparable_to_papers = False

  def __init__(self, network, feature_key: str = "pre_logits", batch_size: int = 256):
    if isinstance(network, str):
      check_keras_archive(network)  # one clear error for a missing or truncated file
      network = keras.saving.load_model(network)
    if not hasattr(network, "intermediates"):
      raise TypeError(f"NetworkFeatures needs a model_garden ImageModel (with intermediates()), got "
                      f"{type(network).__name__}.")
    self.network, self.feature_key, self.batch_size = network, feature_key, int(batch_size)
    self.name = f"{network.name}/{feature_key}"
    self.has_logits = bool(getattr(network, "num_classes", 0))
    self._forward = tf.function(self._features)

  def _features(self, images):
    out = self.network.intermediates(_resize(images, getattr(self.network, "image_size", None)), training=False)
    if self.feature_key not in out:
      raise KeyError(f"{self.network.name} has no intermediate {self.feature_key!r}; it has {sorted(out)}.")
    pool = tf.cast(out[self.feature_key], tf.float32)
    pool = tf.reshape(pool, [tf.shape(pool)[0], -1])
    return pool, tf.cast(out["logits"], tf.float32)

  def __call__(self, images):
    pools, logits = [], []
    for start in range(0, int(images.shape[0]), self.batch_size):
      pool, logit = self._forward(tf.convert_to_tensor(images[start:start + self.batch_size], tf.float32))
      pools.append(pool.numpy())
      logits.append(logit.numpy())
    return {"pool": np.concatenate(pools), "logits": np.concatenate(logits) if self.has_logits else None}


def get_feature_extractor(spec) -> FeatureExtractor:
  """An extractor from a spec.

  "inception_2015_12_05" (the papers' frozen Inception graph, `InceptionGraphFeatures`: cache folder or
  download), a path to that graph's .pb (or its .tar.gz), "inception_v3" (Keras InceptionV3, downloads), a
  `.keras` path, a network, or an extractor itself.
  """
  if isinstance(spec, FeatureExtractor):
    return spec
  if isinstance(spec, str):
    if spec == "inception_2015_12_05" or spec.endswith((".pb", ".tar.gz", ".tgz")):
      from model_garden.evaluation import inception_graph_features  # pylint: disable=g-import-not-at-top
      return inception_graph_features.InceptionGraphFeatures(None if spec == "inception_2015_12_05" else spec)
    if spec == "inception_v3":
      return InceptionV3Features()
    if spec.endswith(".keras"):
      return NetworkFeatures(spec)
    raise ValueError(f"Unknown feature extractor {spec!r}: use 'inception_2015_12_05' (the papers' FID graph), "
                     "a path to its .pb, 'inception_v3' or a path to a .keras network.")
  return NetworkFeatures(spec)
