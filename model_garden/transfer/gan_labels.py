"""Labels for conditional GANs from self-supervised features: CLUSTERING and S2GAN's classifier.

"High-Fidelity Image Generation With Fewer Labels" (Lucic, Tschannen, Ritter, Zhai, Bachem, Gelly 2019)
trains BigGAN with labels that are not (all) human ones. Two of its pre-trained label sources are offline
steps on the features of a self-supervised network (rotation prediction, "Unsupervised Representation
Learning by Predicting Image Rotations"; here any network of this package, e.g. one trained with
model_garden/configs/ssl/rotation.py, read at its `pre_logits`):

* CLUSTERING: k-means on the L2-normalised features of the whole split; the cluster id is the label
  (the paper clusters ImageNet into 1000 clusters). compare_gan has no clustering code: it reads the labels
  back from files (`replace_labels.file_pattern`); `cluster_labels` is ours: k-means++ seeding, Lloyd
  iterations, several seeded restarts keeping the lowest inertia.
* S2GAN: a linear classifier (multinomial logistic regression, L2-regularised, full-batch and so
  deterministic) trained on the features of the labelled subset only, predicting a label for every other
  example; labelled examples keep their true label. The subset is `semi_supervised.select_labelled`'s,
  so `semi_supervised(dataset=..., fraction=f, pseudo_labels=FILE)` sees the same subset.

Both write the pseudo-label file of `semi_supervised`: JSON `{"dataset", "split", "labels": {tfds_id:
label}}` (plus `method`, `num_classes` and the report), written atomically; read it with
`semi_supervised.read_pseudo_labels`, the `semi_supervised(pseudo_labels=FILE)` source (S2GAN/S3GAN: the
subset keeps its true labels) or the `file_label(FILE)` pp op (CLUSTERING: every example gets its cluster).

Scale: k-means runs in NumPy on the CPU, each Lloyd iteration O(N k D) in blocks of bounded memory: seconds
for mg_shapes or CIFAR-10 with a few thousand dimensions; ImageNet's 1.28M x 8192 features (RevNet-50 x4)
with k = 1000 need hours per restart (lower `restarts`/`max_iters`, or pool/project the features first).

Quality against the true labels is reported: `accuracy` (classifier: plain; clustering: after the best
one-to-one map of clusters to classes, Hungarian algorithm), `purity` (each cluster / inferred label
mapped to its majority class) and `nmi` (normalised mutual information, arithmetic mean of the entropies).

Example:
  >>> report = gan_labels.run("cluster", features="workdirs/rotation/model.keras", dataset="mg_shapes/px32",
  ...                         split="train", num_clusters=8, output="labels.json")
  >>> report["purity"]
"""

from __future__ import annotations

import json
import os
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

DEFAULT_PP = "decode|value_range(-1, 1)"
METHODS = ("cluster", "classifier")
# Rows of the (rows x clusters) distance matrix computed at once: bounds k-means' memory to ~64 MB a block.
_BLOCK_VALUES = 1 << 24


# -- Features ---------------------------------------------------------------------------------------------------

def load_network(features):
  """The network behind `--features`: a `.keras` file of this package (or a network object, returned as is)."""
  if not isinstance(features, str):
    return features
  import keras  # pylint: disable=import-outside-toplevel
  import model_garden.models  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import  (serialisables)
  if not features.endswith(".keras"):
    raise ValueError(f"features={features!r}: pass the .keras file of a trained network (e.g. "
                     "workdirs/rotation/model.keras, written by python -m model_garden.train).")
  if not os.path.exists(features):
    raise FileNotFoundError(f"features={features}: no such file. Train the self-supervised network first "
                            "(model_garden/configs/ssl/rotation.py) and pass its model.keras.")
  from model_garden.keras_archive import check_keras_archive  # pylint: disable=import-outside-toplevel
  check_keras_archive(features)  # one clear error for a truncated file
  return keras.saving.load_model(features, compile=False)


def extract_features(network, dataset: str, split: str, *, pp: str = DEFAULT_PP, feature_key: str = "pre_logits",
                     batch_size: int = 256, data_dir: Optional[str] = None, label_key: str = "label",
                     max_examples: Optional[int] = None) -> Tuple[List[str], np.ndarray, np.ndarray]:
  """(tfds ids, features (N, D) float32, true labels (N,) int64) of a split, in file order.

  Features are `network.intermediates(images)[feature_key]`, spatial maps global-average pooled (as the
  linear probe). `pp` must produce `image` from the raw example (no augmentation: the evaluation view).
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  from model_garden.data.pipeline import get_builder  # pylint: disable=import-outside-toplevel
  from model_garden.data.preprocess import get_preprocess_fn, split_pp  # pylint: disable=import-outside-toplevel
  from model_garden.data.sources import lookup_source  # pylint: disable=import-outside-toplevel
  from model_garden.evaluation.linear_probe import pool_features  # pylint: disable=import-outside-toplevel

  if lookup_source(dataset) is not None:
    raise ValueError(f"dataset={dataset!r} is a registered source; label inference reads a tfds dataset by name "
                     "(e.g. mg_shapes/px32 or imagenet2012), as semi_supervised(dataset=...) does.")
  builder = get_builder(dataset, data_dir=data_dir)
  if label_key not in builder.info.features:
    raise KeyError(f"{dataset} has no feature {label_key!r} (the true labels to score against); it has "
                   f"{sorted(builder.info.features)}. Pass label_key=... .")
  ops = split_pp(pp)
  decoders = None
  if ops and ops[0].split("(")[0] == "decode" and "image" in builder.info.features:
    decoders = {"image": tfds.decode.SkipDecoding()}
  preprocess = get_preprocess_fn(pp)
  ds = builder.as_dataset(split=split, shuffle_files=False, decoders=decoders,
                          read_config=tfds.ReadConfig(add_tfds_id=True))
  if max_examples:
    ds = ds.take(max_examples)
  ds = ds.map(lambda ex: (ex["tfds_id"], tf.cast(ex[label_key], tf.int64), preprocess({"image": ex["image"]})["image"]),
              num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)

  @tf.function(reduce_retracing=True)
  def features_of(images):
    out = network.intermediates(images, training=False)
    if feature_key not in out:
      raise KeyError(f"Network {network.name} has no endpoint {feature_key!r}; it has {sorted(out)}. Pass "
                     "feature_key=... (--feature_key).")
    return tf.cast(pool_features(out[feature_key]), tf.float32)

  ids, feats, labels = [], [], []
  for batch_ids, batch_labels, images in ds:
    ids.extend(i.decode() for i in batch_ids.numpy())
    labels.append(batch_labels.numpy())
    feats.append(features_of(images).numpy())
  if not ids:
    raise ValueError(f"{dataset}[{split}] is empty.")
  return ids, np.concatenate(feats), np.concatenate(labels)


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
  """Rows scaled to unit L2 norm (zero rows stay zero)."""
  x = np.asarray(x, np.float32)
  return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), eps)


# -- k-means ----------------------------------------------------------------------------------------------------

def _sq_distances(x: np.ndarray, x_sq: np.ndarray, centroids: np.ndarray) -> np.ndarray:
  c_sq = np.einsum("kd,kd->k", centroids, centroids)
  return np.maximum(x_sq[:, None] - 2.0 * (x @ centroids.T) + c_sq[None, :], 0.0)


def _assign(x: np.ndarray, x_sq: np.ndarray, centroids: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """(nearest centroid, squared distance to it) of every row, in blocks of bounded memory."""
  rows = max(1, _BLOCK_VALUES // max(len(centroids), 1))
  nearest = np.empty(len(x), np.int64)
  dist = np.empty(len(x), np.float64)
  for start in range(0, len(x), rows):
    d = _sq_distances(x[start:start + rows], x_sq[start:start + rows], centroids)
    nearest[start:start + rows] = np.argmin(d, axis=1)
    dist[start:start + rows] = d[np.arange(len(d)), nearest[start:start + rows]]
  return nearest, dist


def kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
  """k-means++ seeding (Arthur & Vassilvitskii 2007): each next centre drawn with probability ~ D(x)^2."""
  x_sq = np.einsum("nd,nd->n", x, x)
  centres = [int(rng.integers(len(x)))]
  closest = _sq_distances(x, x_sq, x[centres]).reshape(-1).astype(np.float64)
  for _ in range(1, k):
    total = closest.sum()
    index = int(rng.integers(len(x))) if total <= 0 else int(rng.choice(len(x), p=closest / total))
    centres.append(index)
    closest = np.minimum(closest, _sq_distances(x, x_sq, x[index:index + 1]).reshape(-1))
  return x[centres].copy()


def kmeans(x: np.ndarray, k: int, *, seed: int = 0, restarts: int = 10,
           max_iters: int = 300) -> Tuple[np.ndarray, np.ndarray, float]:
  """Lloyd's k-means with k-means++ seeding and restarts; returns (assignments, centroids, inertia).

  Restart r draws from `np.random.default_rng([seed, r])`; the run with the lowest inertia (sum of squared
  distances to the assigned centroid) is kept, the first on ties, so the result depends on the seed only.
  A run stops when no assignment changes (or after `max_iters`). A cluster left empty takes the point
  farthest from its centroid.
  """
  x = np.ascontiguousarray(x, np.float32)
  if x.ndim != 2 or not len(x):
    raise ValueError(f"kmeans needs a non-empty (N, D) matrix, got shape {x.shape}.")
  k = int(k)
  if not 1 <= k <= len(x):
    raise ValueError(f"num_clusters must be in [1, {len(x)}] (the number of examples), got {k}.")
  if int(restarts) < 1:
    raise ValueError(f"restarts must be >= 1, got {restarts}.")
  x_sq = np.einsum("nd,nd->n", x, x)
  best = None
  for restart in range(int(restarts)):
    rng = np.random.default_rng([int(seed), restart])
    centroids = kmeans_plus_plus(x, k, rng)
    assignments = None
    for _ in range(int(max_iters)):
      nearest, dist = _assign(x, x_sq, centroids)
      if assignments is not None and np.array_equal(nearest, assignments):
        break
      assignments = nearest
      centroids = _centroids(x, assignments, k, dist)
    nearest, dist = _assign(x, x_sq, centroids)
    inertia = float(dist.sum())
    if best is None or inertia < best[2]:
      best = (nearest, centroids, inertia)
  return best


def _centroids(x: np.ndarray, assignments: np.ndarray, k: int, dist: np.ndarray) -> np.ndarray:
  counts = np.bincount(assignments, minlength=k)
  sums = np.zeros((k, x.shape[1]), np.float64)
  order = np.argsort(assignments, kind="stable")
  starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
  present = counts > 0
  # reduceat over rows sorted by cluster: one pass, no (N, k) one-hot matrix.
  sums[present] = np.add.reduceat(x[order], starts[present], axis=0, dtype=np.float64)
  centroids = sums / np.maximum(counts, 1)[:, None]
  taken = set()
  for cluster in np.flatnonzero(~present):
    for index in np.argsort(-dist, kind="stable"):
      if int(index) not in taken:
        taken.add(int(index))
        centroids[cluster] = x[index]
        break
  return centroids.astype(np.float32)


# -- Quality of inferred labels -----------------------------------------------------------------------------------

def contingency(predicted: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """counts[i, j] = #examples with predicted id i (row) and true label j (column), over the ids present."""
  predicted = np.asarray(predicted).reshape(-1)
  labels = np.asarray(labels).reshape(-1)
  _, p = np.unique(predicted, return_inverse=True)
  _, t = np.unique(labels, return_inverse=True)
  table = np.zeros((p.max() + 1, t.max() + 1), np.int64)
  np.add.at(table, (p, t), 1)
  return table


def cluster_purity(predicted: np.ndarray, labels: np.ndarray) -> float:
  """Share of examples whose true label is their cluster's majority label."""
  table = contingency(predicted, labels)
  return float(table.max(axis=1).sum() / table.sum())


def normalized_mutual_information(predicted: np.ndarray, labels: np.ndarray) -> float:
  """MI / mean(H(predicted), H(labels)); 1.0 when both partitions are trivial and equal."""
  table = contingency(predicted, labels).astype(np.float64)
  joint = table / table.sum()
  pu, pv = joint.sum(axis=1), joint.sum(axis=0)
  nz = joint > 0
  mi = float((joint[nz] * np.log(joint[nz] / np.outer(pu, pv)[nz])).sum())
  hu, hv = -float((pu * np.log(pu)).sum()), -float((pv * np.log(pv)).sum())
  if hu + hv <= 0:
    return 1.0
  return max(0.0, mi / (0.5 * (hu + hv)))


def _min_cost_assignment(cost: np.ndarray) -> np.ndarray:
  """Column assigned to each row of an (n, m) cost matrix, n <= m, minimising the total (Hungarian method).

  The shortest-augmenting-path form with row/column potentials, O(n^2 m), its inner loop vectorised.
  """
  n, m = cost.shape
  u, v = np.zeros(n + 1), np.zeros(m + 1)
  owner = np.zeros(m + 1, np.int64)  # owner[j]: row (1-based) matched to column j; column 0 is the root
  way = np.zeros(m + 1, np.int64)
  for row in range(1, n + 1):
    owner[0] = row
    column = 0
    min_slack = np.full(m + 1, np.inf)
    used = np.zeros(m + 1, bool)
    while True:
      used[column] = True
      i = owner[column]
      slack = cost[i - 1] - u[i] - v[1:]
      free = ~used[1:]
      better = free & (slack < min_slack[1:])
      min_slack[1:][better] = slack[better]
      way[1:][better] = column
      candidates = np.where(free, min_slack[1:], np.inf)
      nxt = int(np.argmin(candidates)) + 1
      delta = candidates[nxt - 1]
      u[owner[used]] += delta
      v[used] -= delta
      min_slack[1:][free] -= delta
      column = nxt
      if owner[column] == 0:
        break
    while column:
      previous = way[column]
      owner[column] = owner[previous]
      column = previous
  assignment = np.full(n, -1, np.int64)
  for j in range(1, m + 1):
    if owner[j]:
      assignment[owner[j] - 1] = j - 1
  return assignment


def matched_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
  """Accuracy after the best one-to-one map from predicted ids to true labels (clustering accuracy)."""
  table = contingency(predicted, labels)
  if table.shape[0] > table.shape[1]:
    table = table.T
  columns = _min_cost_assignment(-table.astype(np.float64))
  return float(table[np.arange(len(columns)), columns].sum() / table.sum())


def label_report(predicted: np.ndarray, labels: np.ndarray, labelled: Optional[np.ndarray] = None,
                 clusters: bool = False) -> Dict[str, float]:
  """accuracy (matched for clusters), purity, nmi; with a labelled mask also the unlabelled examples' accuracy."""
  predicted, labels = np.asarray(predicted).reshape(-1), np.asarray(labels).reshape(-1)
  report = {"accuracy": matched_accuracy(predicted, labels) if clusters else float(np.mean(predicted == labels)),
            "purity": cluster_purity(predicted, labels),
            "nmi": normalized_mutual_information(predicted, labels)}
  if labelled is not None and not clusters:
    rest = ~np.asarray(labelled, bool)
    report["accuracy_unlabelled"] = float(np.mean(predicted[rest] == labels[rest])) if rest.any() else 1.0
  return report


# -- The two label sources -----------------------------------------------------------------------------------------

def cluster_labels(features: np.ndarray, num_clusters: int, *, seed: int = 0, restarts: int = 10,
                   max_iters: int = 300, normalize: bool = True) -> Tuple[np.ndarray, float]:
  """CLUSTERING: (cluster id per example, inertia) of k-means on the (L2-normalised) features."""
  x = l2_normalize(features) if normalize else np.asarray(features, np.float32)
  assignments, _, inertia = kmeans(x, num_clusters, seed=seed, restarts=restarts, max_iters=max_iters)
  return assignments, inertia


def classifier_labels(features: np.ndarray, labels: np.ndarray, labelled: Sequence[int], num_classes: int, *,
                      l2: float = 1e-3, steps: int = 500, learning_rate: float = 0.01, normalize: bool = True
                      ) -> Tuple[np.ndarray, float]:
  """S2GAN: (label per example, training accuracy) from a linear classifier on the labelled rows only.

  Only `features[labelled]` and `labels[labelled]` are read for training (the rest of `labels` may be
  anything, e.g. -1); the trained head predicts every row, and the labelled rows keep their true labels.
  The head is `linear_probe.train_heads`' multinomial logistic regression on standardised features (mean and
  std of the labelled rows), loss mean CE + l2 / 2 ||W||^2, full-batch Adam with a cosine-decayed rate:
  no sampling, so the same inputs give the same labels.
  """
  from model_garden.evaluation.linear_probe import head_logits, train_heads  # pylint: disable=import-outside-toplevel
  x = l2_normalize(features) if normalize else np.asarray(features, np.float32)
  labelled = np.asarray(labelled, np.int64).reshape(-1)
  if not labelled.size:
    raise ValueError("The classifier needs labelled examples: pass fraction=... or count_per_class=... .")
  train_y = np.asarray(labels)[labelled].astype(np.int64)
  head = train_heads({"f": x[labelled]}, train_y, int(num_classes), l2_regs=[float(l2)], steps=int(steps),
                     batch_size=len(labelled), learning_rate=float(learning_rate))["f"]
  predicted = head_logits(head, x)[0].argmax(axis=-1).astype(np.int64)
  train_accuracy = float(np.mean(predicted[labelled] == train_y))
  predicted[labelled] = train_y
  return predicted, train_accuracy


# -- Files ------------------------------------------------------------------------------------------------------

def write_label_file(path: str, ids: Sequence[str], labels: np.ndarray, *, dataset: str, split: str,
                     **metadata) -> Dict[str, int]:
  """Writes `semi_supervised`'s pseudo-label JSON ({"dataset", "split", "labels": {id: label}} + metadata).

  `semi_supervised.write_pseudo_labels` labels images with a predict function; these labels come from
  features, so the same format is written here (atomically, via a temporary file).
  """
  mapping = {str(i): int(l) for i, l in zip(ids, np.asarray(labels).reshape(-1))}
  if len(mapping) != len(ids):
    raise ValueError(f"{len(ids)} examples but {len(mapping)} distinct ids: the dataset's ids are not unique.")
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp"
  with open(tmp, "w") as f:
    json.dump({"dataset": dataset, "split": split, **metadata, "labels": mapping}, f)
  os.replace(tmp, path)
  return mapping


def run(method: str, *, features, dataset: str, split: str = "train", output: str, pp: str = DEFAULT_PP,
        feature_key: str = "pre_logits", data_dir: Optional[str] = None, label_key: str = "label",
        num_clusters: Optional[int] = None, fraction: Optional[float] = None, count_per_class: Optional[int] = None,
        selection_seed: int = 0, seed: int = 0, restarts: int = 10, max_iters: int = 300, l2: float = 1e-3,
        steps: int = 500, learning_rate: float = 0.01, batch_size: int = 256, normalize: bool = True,
        max_examples: Optional[int] = None) -> Dict:
  """Infers labels for every example of `dataset`/`split`, writes them to `output`; returns the report.

  Args:
    method: "cluster" (k-means, `num_clusters`) or "classifier" (S2GAN, the labelled subset from `fraction`
      or `count_per_class` and `selection_seed`, as `semi_supervised`).
    features: a `.keras` file of a network of this package (or the network).
    feature_key: its endpoint giving the features.
    Others: see `extract_features`, `kmeans`, `classifier_labels`.

  Returns:
    The report: method, dataset, split, num_examples, num_classes (labels in the file), feature_dim,
    accuracy / purity / nmi against the true labels (plus inertia, or num_labelled, train_accuracy and
    accuracy_unlabelled), output.
  """
  if method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
  if method == "cluster":
    if not num_clusters or int(num_clusters) < 1:
      raise ValueError("method='cluster' needs num_clusters=K (--num_clusters; the paper: 1000 on ImageNet).")
    if fraction is not None or count_per_class is not None:
      raise ValueError("method='cluster' uses no labels: drop fraction/count_per_class (they select the "
                       "classifier's labelled subset).")
  elif fraction is None and count_per_class is None:
    raise ValueError("method='classifier' trains on the labelled subset: pass fraction=0.1 (--fraction) or "
                     "count_per_class=N (--count_per_class).")
  network = load_network(features)
  ids, feats, true_labels = extract_features(network, dataset, split, pp=pp, feature_key=feature_key,
                                             batch_size=batch_size, data_dir=data_dir, label_key=label_key,
                                             max_examples=max_examples)
  report = {"method": method, "dataset": dataset, "split": split, "num_examples": len(ids),
            "feature_key": feature_key, "feature_dim": int(feats.shape[1])}
  if method == "cluster":
    predicted, inertia = cluster_labels(feats, int(num_clusters), seed=seed, restarts=restarts,
                                        max_iters=max_iters, normalize=normalize)
    report.update(num_classes=int(num_clusters), inertia=inertia, seed=seed, restarts=restarts)
    report.update(label_report(predicted, true_labels, clusters=True))
  else:
    from model_garden.data.semi_supervised import select_labelled  # pylint: disable=import-outside-toplevel
    labelled = select_labelled(true_labels, ids, fraction=fraction, count_per_class=count_per_class,
                               seed=selection_seed)
    num_classes = _num_classes(dataset, data_dir, label_key, true_labels)
    predicted, train_accuracy = classifier_labels(feats, true_labels, labelled, num_classes, l2=l2, steps=steps,
                                                  learning_rate=learning_rate, normalize=normalize)
    mask = np.zeros(len(ids), bool)
    mask[labelled] = True
    report.update(num_classes=num_classes, num_labelled=int(len(labelled)), fraction=fraction,
                  count_per_class=count_per_class, selection_seed=selection_seed, l2=l2,
                  train_accuracy=train_accuracy)
    report.update(label_report(predicted, true_labels, labelled=mask))
  report["output"] = output
  write_label_file(output, ids, predicted, dataset=dataset, split=split, method=method,
                   num_classes=report["num_classes"], report={k: v for k, v in report.items() if k != "output"})
  return report


def _num_classes(dataset: str, data_dir: Optional[str], label_key: str, labels: np.ndarray) -> int:
  from model_garden.data.pipeline import get_builder  # pylint: disable=import-outside-toplevel
  feature = get_builder(dataset, data_dir=data_dir).info.features[label_key]
  count = getattr(feature, "num_classes", None)
  return int(count) if count else int(np.max(labels)) + 1


def read_label_file(path: str) -> Mapping:
  """The whole JSON of a label file (labels, method, num_classes, report)."""
  from model_garden.data.semi_supervised import read_pseudo_labels  # pylint: disable=import-outside-toplevel
  labels = read_pseudo_labels(path)  # checks existence and the format
  with open(path) as f:
    content = json.load(f)
  content["labels"] = labels
  return content
