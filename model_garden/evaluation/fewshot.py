"""Few-shot linear evaluation: closed-form ridge regression on frozen features, as big_vision's fewshot_lsr.

The recipe (big_vision `evaluators/fewshot_lsr.py`, the few-shot numbers of "Scaling Vision Transformers",
Zhai et al. 2021): read a representation (default `pre_logits`) for a train and a test split; per seed, draw
`shots` train examples of each class; standardise every feature with the mean and std of the drawn
examples (std + 1e-5); append a constant feature of 100 as the bias (large, so the ridge penalty barely
touches it); regress one-vs-all targets in {-1, +1} with L2 penalty lambda, in closed form; report test
accuracy of the argmax. One eigendecomposition of X^T X (or X X^T when there are fewer examples than
features) serves every lambda.

The math is in pure numpy functions (`select_shots`, `standardize`, `ridge_eig_fit`, `fewshot_accuracy`) so
it is testable without a network; `FewShotEvaluator` only adds feature extraction and bookkeeping.
"""

from __future__ import annotations

import time
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf
from absl import logging

from model_garden.evaluation.registry import register

# big_vision's bias feature: a constant column this large makes the bias weight's penalty ~lambda / 100^2.
BIAS_CONSTANT = 100.0
# Added to the per-feature std, as big_vision does, so constant features (e.g. dead ReLUs) stay finite.
STD_EPSILON = 1e-5
# Test rows standardised at a time (bounds the float64 copy).
_TEST_CHUNK = 8192
DEFAULT_PP = "decode|value_range(-1, 1)|keep('image', 'label')"


# -- Pure math ----------------------------------------------------------------------------------------------

def select_shots(labels: np.ndarray, shots: int, num_classes: int, seed: int) -> np.ndarray:
  """Indices of `shots` examples of each class, drawn without replacement, deterministic per `seed`.

  As big_vision, every class's indices are permuted once by `np.random.default_rng(seed)` and the first
  `shots` are taken, so for one seed the 1-shot set is a subset of the 5-shot set, and so on. A class with
  fewer than `shots` examples contributes all it has.

  Returns:
    int64 indices into `labels`, grouped by class (class 0 first).
  """
  labels = np.asarray(labels).reshape(-1)
  if shots < 1:
    raise ValueError(f"shots must be >= 1, got {shots}.")
  rng = np.random.default_rng(seed)
  picked = [rng.permutation(np.flatnonzero(labels == c))[:shots] for c in range(num_classes)]
  return np.concatenate(picked).astype(np.int64) if picked else np.zeros([0], np.int64)


def standardization(x_train: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """Per-feature (mean, population std + 1e-5) of the selected shots, as big_vision whitens."""
  x_train = np.asarray(x_train, np.float64)
  return x_train.mean(axis=0, keepdims=True), x_train.std(axis=0, keepdims=True) + STD_EPSILON


def apply_standardization(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
  """(x - mean) / std in float64, with a last column of `BIAS_CONSTANT` appended."""
  x = (np.asarray(x, np.float64) - mean) / std
  return np.concatenate([x, np.full([x.shape[0], 1], BIAS_CONSTANT)], axis=1)


def standardize(x_train: np.ndarray, *others: np.ndarray) -> Tuple[np.ndarray, ...]:
  """`x_train` and each of `others`, standardised with `x_train`'s statistics, bias column appended."""
  mean, std = standardization(x_train)
  return tuple(apply_standardization(x, mean, std) for x in (x_train,) + others)


def signed_onehot(labels: np.ndarray, num_classes: int) -> np.ndarray:
  """One-vs-all regression targets: +1 for the example's class, -1 elsewhere."""
  labels = np.asarray(labels).reshape(-1).astype(np.int64)
  return 2.0 * np.eye(num_classes)[labels] - 1.0


def ridge_eig_decompose(x: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Factors ridge regression so that W(lambda) = lhs @ diag(1 / (eigs + lambda)) @ rhs for every lambda.

  With N examples and D features:
    N >= D: X^T X = Q diag(e) Q^T, W = (X^T X + lambda I)^-1 X^T Y = Q diag(1/(e+lambda)) Q^T X^T Y.
    N <  D: X X^T = Q diag(e) Q^T, W = X^T (X X^T + lambda I)^-1 Y = X^T Q diag(1/(e+lambda)) Q^T Y,
  the push-through identity, so the eigenproblem is min(N, D) sized (big_vision's trick; eigh beat SVD).

  Returns:
    (lhs, eigs, rhs) of shapes (D, K), (K,), (K, C) with K = min(N, D).
  """
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
    raise ValueError(f"x must be (N, D) and y (N, C) with the same N; got {x.shape} and {y.shape}.")
  num_points, dim = x.shape
  if num_points >= dim:
    eigs, q = np.linalg.eigh(x.T @ x)
    return q, eigs, q.T @ (x.T @ y)
  eigs, q = np.linalg.eigh(x @ x.T)
  return x.T @ q, eigs, q.T @ y


def _check_l2_regs(l2_regs) -> np.ndarray:
  regs = np.atleast_1d(np.asarray(l2_regs, np.float64))
  if regs.ndim != 1 or not regs.size or np.any(regs < 0) or not np.all(np.isfinite(regs)):
    raise ValueError(f"l2_regs must be a non-empty list of finite values >= 0, got {l2_regs!r}.")
  return regs


def ridge_eig_fit(x: np.ndarray, y: np.ndarray, l2_regs: Union[float, Sequence[float]]) -> np.ndarray:
  """Ridge weights argmin ||XW - Y||^2 + lambda ||W||^2 for each lambda, from one eigendecomposition.

  Args:
    x: (N, D) design matrix (already standardised, bias column included if wanted).
    y: (N, C) targets.
    l2_regs: one lambda or a sequence of them.

  Returns:
    (len(l2_regs), D, C) float64 weights; entry i equals `solve(X^T X + l2_regs[i] I, X^T Y)`.
  """
  lhs, eigs, rhs = ridge_eig_decompose(x, y)
  return np.stack([(lhs / (eigs + lam)) @ rhs for lam in _check_l2_regs(l2_regs)])


def fewshot_accuracy(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                     num_classes: int, l2_regs: Union[float, Sequence[float]]) -> np.ndarray:
  """Test accuracy of big_vision's few-shot ridge classifier, one value per lambda.

  Args:
    x_train: (N, D) raw features of the selected shots.
    y_train: (N,) integer labels of the shots.
    x_test: (M, D) raw test features.
    y_test: (M,) integer test labels.
    num_classes: number of classes (the width of the one-vs-all targets).
    l2_regs: one lambda or a sequence of them.

  Returns:
    (len(l2_regs),) float64 accuracies.
  """
  regs = _check_l2_regs(l2_regs)
  x_train = np.asarray(x_train).reshape(len(x_train), -1)
  x_test = np.asarray(x_test).reshape(len(x_test), -1)
  y_test = np.asarray(y_test).reshape(-1)
  mean, std = standardization(x_train)
  lhs, eigs, rhs = ridge_eig_decompose(apply_standardization(x_train, mean, std),
                                       signed_onehot(y_train, num_classes))
  correct = np.zeros(len(regs))
  # Test features in chunks: a float64 copy of a 50k x 1024 test set would be 400 MB.
  for start in range(0, len(x_test), _TEST_CHUNK):
    chunk = apply_standardization(x_test[start:start + _TEST_CHUNK], mean, std)
    # Project once: scores(lambda) = (x lhs) diag(1/(e+lambda)) rhs, so each extra lambda costs an
    # (M, K) x (K, C) product and no new (D, C) weight matrix.
    projected = chunk @ lhs
    labels = y_test[start:start + _TEST_CHUNK]
    correct += [np.sum(np.argmax((projected / (eigs + lam)) @ rhs, axis=1) == labels) for lam in regs]
  return correct / max(len(x_test), 1)


def l2_key(lam: float) -> str:
  """A TensorBoard-safe tag fragment for lambda: 1024 -> "1024", 1e6 -> "1e06", 0.5 -> "0.5"."""
  return f"{lam:g}".replace("+", "")


# -- The evaluator ------------------------------------------------------------------------------------------

class FewShotEvaluator:
  """Few-shot linear evaluation of frozen features (big_vision's fewshot_lsr).

  The few-shot linear evaluation of "Scaling Vision Transformers" (Zhai et al. 2021), run during training
  in big_vision every 10k steps: for each dataset, features of the network's `representation` endpoint
  are read for a train and a test split; for each of `seeds` draws of `shots` examples per class, a ridge
  regression on standardised features (+ a constant bias feature of 100, one-vs-all {-1, +1} targets) is
  solved in closed form and its test accuracy recorded. Results are averaged over the seeds.

  Keys of `run`: `{dataset}_{shots}shot` (mean accuracy over seeds). With several `l2_regs`, also
  `{dataset}_{shots}shot_l2_{lambda}` per lambda and `{dataset}_{shots}shot_best_l2`; the headline key
  then holds the best lambda's accuracy, which is chosen on the *test* split (an oracle sweep, as when
  tuning lambda by hand) - keep a single lambda (big_vision's fixed 2**10) for unbiased numbers. With
  `per_seed=True`, also `{dataset}_{shots}shot_seed{i}` (at the best lambda).

  Args:
    datasets: {display name: dict(name=tfds name or dataset spec, train_split=..., test_split=...,
      and optionally num_classes, pp, pp_test, label_key, max_train_examples, max_test_examples, data_dir:
      per-dataset overrides)}, or big_vision's {display name: (tfds name, train_split, test_split)}.
    pp: preprocessing string producing `image` in [-1, 1] and an integer `label_key`.
    shots: examples per class to train on.
    l2_regs: ridge penalties; one (default 2**10 = 1024, big_vision's constant) or several.
    seeds: number of random draws of the shots (seeds 0..seeds-1).
    batch_size: feature extraction batch size.
    representation: the `network.intermediates(images)` key to read (flattened if not a vector).
    max_train_examples: read only the first N train examples (the shots are drawn among them).
    max_test_examples: read only the first N test examples.
    label_key: the integer label feature after `pp`.
    pp_test: preprocessing of the test split (default `pp`).
    per_seed: also report each seed's accuracy.
    download: let tfds prepare a missing dataset.
    data_dir: tfds data_dir.

  Example:
    >>> ev = FewShotEvaluator(
    ...     datasets={"mg_shapes": dict(name="mg_shapes/px32", train_split="train", test_split="test",
    ...                                 num_classes=8)},
    ...     pp="decode|value_range(-1, 1)|keep('image', 'label')", shots=(1, 5, 10, 25),
    ...     max_train_examples=2000)
    >>> ev.run(network)  # {"mg_shapes_1shot": 0.31, "mg_shapes_5shot": 0.55, ...}
  """

  def __init__(self, datasets: Mapping, pp: str = DEFAULT_PP, shots: Iterable[int] = (1, 5, 10, 25),
               l2_regs: Union[float, Sequence[float]] = (2.0 ** 10,), seeds: int = 3, batch_size: int = 256,
               representation: str = "pre_logits", max_train_examples: Optional[int] = None,
               max_test_examples: Optional[int] = None, label_key: str = "label",
               pp_test: Optional[str] = None, per_seed: bool = False, download: bool = True,
               data_dir: Optional[str] = None):
    if not datasets:
      raise ValueError("FewShotEvaluator needs at least one dataset: datasets={'name': dict(name=..., "
                       "train_split=..., test_split=...)}.")
    self.datasets = {str(k): _dataset_spec(k, v) for k, v in dict(datasets).items()}
    self.pp = pp
    self.pp_test = pp_test
    self.shots = tuple(int(s) for s in np.atleast_1d(shots))
    if not self.shots or min(self.shots) < 1:
      raise ValueError(f"shots must be positive integers, got {shots!r}.")
    self.l2_regs = tuple(float(r) for r in _check_l2_regs(l2_regs))
    self.seeds = int(seeds)
    if self.seeds < 1:
      raise ValueError(f"seeds must be >= 1, got {seeds}.")
    self.batch_size = int(batch_size)
    self.representation = representation
    self.max_train_examples = max_train_examples
    self.max_test_examples = max_test_examples
    self.label_key = label_key
    self.per_seed = per_seed
    self.download = download
    self.data_dir = data_dir
    self._repr_fn = None
    self._repr_network = None
    self._repr_name = None

  # -- Features --------------------------------------------------------------------------------------------
  def _representation_fn(self, network):
    # One traced function per network, reused across calls: the variables are captured by reference, so
    # later calls see the updated weights without retracing.
    representation = self.representation
    if self._repr_network is not network or self._repr_name != representation:

      @tf.function(reduce_retracing=True)
      def repr_fn(images):
        out = network.intermediates(images, training=False)
        if representation not in out:
          raise KeyError(f"Network {network.name} has no intermediate {representation!r}; it has "
                         f"{sorted(out)}. Set representation=... to one of them.")
        feats = tf.cast(out[representation], tf.float32)
        return tf.reshape(feats, [tf.shape(feats)[0], -1])

      self._repr_fn, self._repr_network = repr_fn, network
      self._repr_name = representation
    return self._repr_fn

  def _dataset(self, spec: Dict, split_key: str, pp: str):
    from model_garden.data import get_dataset  # pylint: disable=g-import-not-at-top
    return get_dataset(spec["name"], spec[split_key], batch_size=self.batch_size, pp=pp, train=False,
                       data_dir=spec.get("data_dir") or self.data_dir, download=self.download)

  def features(self, network, spec: Dict, split_key: str, pp: str,
               limit: Optional[int]) -> Tuple[np.ndarray, np.ndarray]:
    """(features (N, D) float32, labels (N,) int64) of the first `limit` examples of one split."""
    repr_fn = self._representation_fn(network)
    label_key = spec.get("label_key", self.label_key)
    feats, labels, count = [], [], 0
    for batch in self._dataset(spec, split_key, pp):
      if label_key not in batch:
        raise KeyError(f"Few-shot data {spec['name']}[{spec[split_key]}] has no {label_key!r} after "
                       f"pp={pp!r}; keys: {sorted(batch)}. Keep the integer label, e.g. "
                       f"\"...|keep('image', '{label_key}')\".")
      label = batch[label_key].numpy()
      if label.ndim == 2:  # One-hot labels (pp with onehot): back to class indices.
        label = label.argmax(axis=-1)
      feats.append(repr_fn(batch["image"]).numpy())
      labels.append(label.reshape(-1).astype(np.int64))
      count += len(label)
      if limit is not None and count >= limit:
        break
    if not feats:
      raise ValueError(f"Few-shot split {spec['name']}[{spec[split_key]}] is empty.")
    feats, labels = np.concatenate(feats), np.concatenate(labels)
    if limit is not None:
      feats, labels = feats[:limit], labels[:limit]
    return feats, labels

  def _num_classes(self, spec: Dict, *labels: np.ndarray) -> int:
    if spec.get("num_classes"):
      return int(spec["num_classes"])
    try:
      from model_garden.data import get_builder  # pylint: disable=g-import-not-at-top
      builder = get_builder(spec["name"], data_dir=spec.get("data_dir") or self.data_dir, download=False)
      return int(builder.info.features[spec.get("label_key", self.label_key)].num_classes)
    except Exception:  # pylint: disable=broad-except  (no tfds builder, e.g. image_folder: use the labels)
      return int(max(int(l.max()) for l in labels if l.size)) + 1

  # -- Evaluation ------------------------------------------------------------------------------------------
  def evaluate_features(self, name: str, train: Tuple[np.ndarray, np.ndarray],
                        test: Tuple[np.ndarray, np.ndarray], num_classes: int) -> Dict[str, float]:
    """The result keys of one dataset from precomputed (features, labels) of its train and test splits."""
    (x_train, y_train), (x_test, y_test) = train, test
    # accuracy[seed, shots, lambda]
    accuracy = np.zeros([self.seeds, len(self.shots), len(self.l2_regs)])
    for seed in range(self.seeds):
      for i, shots in enumerate(self.shots):
        idx = select_shots(y_train, shots, num_classes, seed)
        accuracy[seed, i] = fewshot_accuracy(x_train[idx], y_train[idx], x_test, y_test, num_classes,
                                             self.l2_regs)
    mean = accuracy.mean(axis=0)
    results = {}
    for i, shots in enumerate(self.shots):
      key = f"{name}_{shots}shot"
      best = int(np.argmax(mean[i]))  # The first listed lambda wins ties.
      results[key] = float(mean[i, best])
      if len(self.l2_regs) > 1:
        for j, lam in enumerate(self.l2_regs):
          results[f"{key}_l2_{l2_key(lam)}"] = float(mean[i, j])
        results[f"{key}_best_l2"] = float(self.l2_regs[best])
      if self.per_seed:
        for seed in range(self.seeds):
          results[f"{key}_seed{seed}"] = float(accuracy[seed, i, best])
    return results

  def run(self, network) -> Dict[str, float]:
    """Few-shot accuracies of `network`'s representation on every dataset (see the class docstring)."""
    results = {}
    for name, spec in self.datasets.items():
      start = time.time()
      limit = spec.get("max_train_examples", self.max_train_examples)
      # Extracted once per call and shared by every seed, shot count and lambda.
      train = self.features(network, spec, "train_split", spec.get("pp") or self.pp, limit)
      test = self.features(network, spec, "test_split", spec.get("pp_test") or self.pp_test or
                           spec.get("pp") or self.pp, spec.get("max_test_examples", self.max_test_examples))
      num_classes = self._num_classes(spec, train[1], test[1])
      short = [c for c in range(num_classes) if np.sum(train[1] == c) < max(self.shots)]
      if short:
        logging.warning("Few-shot %s: %d of %d classes have fewer than %d train examples among the %d read "
                        "(raise max_train_examples); they use all they have.", name, len(short),
                        num_classes, max(self.shots), len(train[1]))
      results.update(self.evaluate_features(name, train, test, num_classes))
      logging.info("Few-shot %s: %d train / %d test features of dim %d in %.1fs.", name, len(train[1]),
                   len(test[1]), train[0].shape[1], time.time() - start)
    return results


def _dataset_spec(key, value) -> Dict:
  """Normalises one `datasets` entry to a dict with name, train_split and test_split."""
  if isinstance(value, (tuple, list)):
    if len(value) != 3:
      raise ValueError(f"Few-shot dataset {key!r}: a tuple must be (tfds name, train_split, test_split), "
                       f"got {value!r}.")
    return dict(zip(("name", "train_split", "test_split"), value))
  spec = dict(value)
  missing = [k for k in ("name", "train_split", "test_split") if k not in spec]
  if missing:
    raise ValueError(f"Few-shot dataset {key!r} lacks {missing}; give dict(name='mg_shapes/px32', "
                     f"train_split='train', test_split='test'), got {spec!r}.")
  known = {"name", "train_split", "test_split", "num_classes", "pp", "pp_test", "max_train_examples",
           "max_test_examples", "data_dir", "label_key"}
  unknown = sorted(set(spec) - known)
  if unknown:
    raise ValueError(f"Few-shot dataset {key!r} has unknown keys {unknown}; known: {sorted(known)}.")
  return spec


@register("fewshot")
def fewshot(*, datasets, pp: str = DEFAULT_PP, shots: Sequence[int] = (1, 5, 10, 25),
            l2_regs: Union[float, Sequence[float]] = (2.0 ** 10,), seeds: int = 3, batch_size: int = 256,
            representation: str = "pre_logits", max_train_examples: Optional[int] = None,
            max_test_examples: Optional[int] = None, label_key: str = "label", pp_test: Optional[str] = None,
            per_seed: bool = False, download: bool = True,
            data_dir: Optional[str] = None) -> FewShotEvaluator:
  """Spec factory for `FewShotEvaluator`, e.g. `fewshot(datasets={'mg_shapes': ('mg_shapes/px32', 'train',
  'test')}, shots=(1, 10))`."""
  return FewShotEvaluator(datasets=datasets, pp=pp, shots=shots, l2_regs=l2_regs, seeds=seeds,
                          batch_size=batch_size, representation=representation,
                          max_train_examples=max_train_examples, max_test_examples=max_test_examples,
                          label_key=label_key, pp_test=pp_test, per_seed=per_seed, download=download,
                          data_dir=data_dir)
