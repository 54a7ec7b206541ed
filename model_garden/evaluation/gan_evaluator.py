"""FID, KID and Inception Score of a generator against a dataset split (the `gan_metrics` evaluator)."""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import tensorflow as tf

from model_garden.evaluation import gan_metrics
from model_garden.evaluation.gan_features import get_feature_extractor
from model_garden.evaluation.registry import register


class GanEvaluator:
  """Sample quality of a `GanGenerator`: FID and KID against real images, Inception Score of the samples.

  compare_gan's evaluation (`eval_gan_lib`): `num_samples` generated images (latents from the generator's
  prior, uniform labels when conditional; fixed seed, so runs are comparable) against up to `num_samples`
  real images of `data`, both through the same feature extractor. Real features are computed once per
  evaluator. Sampling uses `training=False` (moving or standing batch-norm statistics); with
  `standing_stats_samples` the generator's BN statistics are first re-estimated over that many samples.

  Which numbers compare with the papers': see `model_garden.evaluation.gan_metrics` (only the original
  Inception graph, `features="inception_2015_12_05"`, with the papers' sample sizes and splits;
  `features="inception_v3"` is Keras' InceptionV3 and is not that graph).

  Args:
    data: dict with the tfds `name` and `split` (and optionally `data_dir`).
    pp: preprocessing string producing `image` in [-1, 1] (e.g. "decode|value_range(-1, 1)|keep('image')").
    features: "inception_2015_12_05" (TF-GAN's frozen FID/IS graph, the papers' network: from
      ~/.cache/model_garden/inception or downloaded once), a path to that graph's .pb, "inception_v3" (Keras'
      InceptionV3, downloads weights once), a path to a `.keras` ImageModel (its `pre_logits`), or a
      `FeatureExtractor`.
    num_samples: generated images, and the cap on real images (compare_gan: 10,000).
    batch_size: generation and feature batch size.
    kid_subsets, kid_subset_size: KID protocol (100 subsets of at most 1,000).
    is_splits: Inception Score splits (10 as improved-GAN and Mimicry; compare_gan/TF-GAN: 1).
    standing_stats_samples: re-estimate BN statistics over this many samples first (0: off).
    seed: seed of the latents and labels.

  Example:
    >>> ev = model_garden.evaluation.EVALUATORS.get(
    ...     "gan_metrics", data={"name": "mg_shapes/px32", "split": "test"},
    ...     pp="decode|value_range(-1, 1)|keep('image')", features="workdirs/mg_shapes_cls/model.keras")
    >>> ev.run(generator)   # {"fid": ..., "kid": ..., "kid_std": ..., "is": ..., "is_std": ..., ...}
  """

  def __init__(self, data: Dict, pp: str, features="inception_v3", num_samples: int = 10_000,
               batch_size: int = 256, kid_subsets: int = 100, kid_subset_size: int = 1000, is_splits: int = 10,
               standing_stats_samples: int = 0, seed: int = 0, data_dir: Optional[str] = None,
               download: bool = True, image_key: str = "image"):
    self.data, self.pp = dict(data), pp
    self.features_spec = features
    self.num_samples, self.batch_size = int(num_samples), int(batch_size)
    self.kid_subsets, self.kid_subset_size, self.is_splits = int(kid_subsets), int(kid_subset_size), int(is_splits)
    self.standing_stats_samples, self.seed = int(standing_stats_samples), int(seed)
    self.data_dir = data_dir or self.data.get("data_dir")
    self.download, self.image_key = download, image_key
    self._extractor = None
    self._real = None

  @property
  def extractor(self):
    if self._extractor is None:
      self._extractor = get_feature_extractor(self.features_spec)
    return self._extractor

  def real_features(self) -> Dict[str, np.ndarray]:
    if self._real is None:
      from model_garden.data import get_dataset  # pylint: disable=g-import-not-at-top
      ds = get_dataset(self.data["name"], self.data["split"], batch_size=self.batch_size, pp=self.pp,
                       data_dir=self.data_dir, train=False, download=self.download)
      batches, seen = [], 0
      for batch in ds:
        images = batch[self.image_key]
        batches.append(images[:self.num_samples - seen])
        seen += int(batches[-1].shape[0])
        if seen >= self.num_samples:
          break
      self._real = self.extractor.extract(batches)
    return self._real

  def generated_images(self, generator):
    """Yields batches of `num_samples` images of `generator` (fixed seeds)."""
    @tf.function
    def sample(step, size):
      seed = tf.stack([tf.constant(self.seed, tf.int32), step])
      z = generator.sample_latents(size, seed)
      labels = generator.sample_labels(size, seed + 1)
      return tf.cast(generator(z, labels=labels, training=False), tf.float32)

    for step, start in enumerate(range(0, self.num_samples, self.batch_size)):
      yield sample(tf.constant(step, tf.int32), min(self.batch_size, self.num_samples - start))

  def run(self, generator) -> Dict[str, float]:
    if self.standing_stats_samples:
      from model_garden.models.gan import update_standing_statistics  # pylint: disable=g-import-not-at-top
      update_standing_statistics(generator, num_samples=self.standing_stats_samples,
                                 batch_size=self.batch_size, seed=self.seed)
    real = self.real_features()
    fake = self.extractor.extract(self.generated_images(generator))
    results = {"fid": gan_metrics.frechet_distance(real["pool"], fake["pool"])}
    kid, kid_std = gan_metrics.kernel_inception_distance(real["pool"], fake["pool"], self.kid_subsets,
                                                         self.kid_subset_size, seed=self.seed)
    results.update({"kid": kid, "kid_std": kid_std})
    if fake.get("logits") is not None:
      score, score_std = gan_metrics.inception_score(fake["logits"], min(self.is_splits, len(fake["logits"])))
      results.update({"is": score, "is_std": score_std})
    results.update({"num_real": int(real["pool"].shape[0]), "num_fake": int(fake["pool"].shape[0])})
    return results


@register("gan_metrics")
def gan_metrics_evaluator(*, data, pp: str, features="inception_v3", num_samples: int = 10_000,
                          batch_size: int = 256, kid_subsets: int = 100, kid_subset_size: int = 1000,
                          is_splits: int = 10, standing_stats_samples: int = 0, seed: int = 0,
                          data_dir: Optional[str] = None, download: bool = True,
                          image_key: str = "image") -> GanEvaluator:
  """Spec factory for `GanEvaluator` (config: `evals.fid = dict(type="gan_metrics", ...)`)."""
  return GanEvaluator(data=data, pp=pp, features=features, num_samples=num_samples, batch_size=batch_size,
                      kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, is_splits=is_splits,
                      standing_stats_samples=standing_stats_samples, seed=seed, data_dir=data_dir,
                      download=download, image_key=image_key)
