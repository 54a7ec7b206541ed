"""Linear probes: logistic-regression heads on frozen features of several endpoints at once.

The protocol of the self-supervision papers ("Revisiting Self-Supervised Visual Representation Learning",
Kolesnikov, Zhai, Beyer 2019; S4L): the network is frozen, a linear classifier is trained on the
representation at each named endpoint (`network.intermediates(images)`: `stem`, `block1`..`blockN`,
`pre_logits`, ...), regularisation is chosen on a validation split, and test accuracy is reported per
endpoint, together with the best layer.

Here, as the efficient form of that protocol:
  1. features are extracted once per split in one pass over the data (spatial maps are global-average
     pooled; token sequences are averaged over tokens), and cached in memory;
  2. every head (each endpoint x each L2 value) is trained at the same time in one `tf.function` loop:
     multinomial logistic regression, loss = mean cross-entropy + l2 / 2 * ||W||^2 (bias unpenalised),
     minibatch (or full-batch) Adam on the cached, standardised features (train mean and std);
     the heads share nothing, so training them together equals training each alone;
  3. for each endpoint the L2 value with the best validation accuracy is kept; the best endpoint is the one
     with the best validation accuracy; test accuracies are reported for all.

Differences from revisiting-self-supervised's `linear_eval.py` (SGD with momentum, 70 epochs, no weight
decay, heads on raw features; spatial maps of more than 9000 values adaptively max-pooled): global average
pooling, standardisation and an L2 sweep selected on validation, as the paper's text describes for its
logistic regression (their code has no L-BFGS either).
"""

from __future__ import annotations

import time
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from model_garden.evaluation.registry import register

DEFAULT_L2 = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
DEFAULT_PP = "decode|value_range(-1, 1)|keep('image', 'label')"
_STD_EPSILON = 1e-6


# -- Features -----------------------------------------------------------------------------------------------

def pool_features(x):
  """(N, D) features: (N, H, W, C) maps are averaged over H, W; (N, T, D) tokens over T; (N, D) kept."""
  rank = x.shape.rank if isinstance(x, tf.Tensor) else np.ndim(x)
  if rank == 4:
    return tf.reduce_mean(x, axis=[1, 2])
  if rank == 3:
    return tf.reduce_mean(x, axis=1)
  if rank == 2:
    return x
  raise ValueError(f"Cannot make a feature vector of an endpoint of rank {rank} (shape {x.shape}).")


def feature_fn(network, endpoints: Sequence[str]):
  """A tf.function images -> {endpoint: (batch, D) float32 pooled features}."""
  endpoints = tuple(endpoints)

  @tf.function(reduce_retracing=True)
  def features(images):
    out = network.intermediates(images, training=False)
    missing = [e for e in endpoints if e not in out]
    if missing:
      raise KeyError(f"Network {network.name} has no endpoints {missing}; it has {sorted(out)}.")
    return {e: tf.cast(pool_features(out[e]), tf.float32) for e in endpoints}

  return features


def extract_features(fn, batches: Iterable[Mapping], label_key: str = "label",
                     max_examples: Optional[int] = None) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
  """Runs `fn` (images -> {endpoint: features}) over batches; returns ({endpoint: (N, D)}, labels (N,))."""
  chunks: Dict[str, list] = {}
  labels, count = [], 0
  for batch in batches:
    if label_key not in batch:
      raise KeyError(f"Linear-probe batches need {label_key!r}; they have {sorted(batch)}. Keep the integer "
                     f"label in the pp, e.g. \"...|keep('image', '{label_key}')\".")
    label = np.asarray(batch[label_key])
    if label.ndim == 2:  # one-hot
      label = label.argmax(axis=-1)
    for name, value in fn(batch["image"]).items():
      chunks.setdefault(name, []).append(np.asarray(value))
    labels.append(label.reshape(-1).astype(np.int64))
    count += len(labels[-1])
    if max_examples is not None and count >= max_examples:
      break
  if not labels:
    raise ValueError("Linear probe: a split is empty.")
  feats = {k: np.concatenate(v)[:max_examples] for k, v in chunks.items()}
  return feats, np.concatenate(labels)[:max_examples]


# -- Training all heads at once -----------------------------------------------------------------------------

def standardization(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  x = np.asarray(x, np.float64)
  return x.mean(axis=0).astype(np.float32), (x.std(axis=0) + _STD_EPSILON).astype(np.float32)


def train_heads(features: Mapping[str, np.ndarray], labels: np.ndarray, num_classes: int,
                l2_regs: Sequence[float] = DEFAULT_L2, steps: int = 500, batch_size: int = 1024,
                learning_rate: float = 0.01, seed: int = 0) -> Dict[str, Dict[str, np.ndarray]]:
  """Trains a logistic-regression head for every endpoint x every L2 value, all in one tf.function loop.

  Args:
    features: {endpoint: (N, D_e) train features}.
    labels: (N,) integer labels in [0, num_classes).
    num_classes: classes of the heads.
    l2_regs: L2 penalties; loss = mean CE + l2 / 2 * ||W||^2.
    steps: Adam steps.
    batch_size: minibatch size; N or more gives full-batch Adam.
    learning_rate: Adam learning rate, cosine-decayed to 0 over `steps` (so the last iterates settle).
    seed: minibatch sampling seed.

  Returns:
    {endpoint: {"kernel": (L, D_e, C), "bias": (L, C), "mean": (D_e,), "std": (D_e,)}} (numpy); apply with
    `head_logits`.
  """
  labels = np.asarray(labels).reshape(-1).astype(np.int64)
  if labels.size == 0:
    raise ValueError("train_heads needs at least one example.")
  if labels.min() < 0 or labels.max() >= num_classes:
    raise ValueError(f"Labels must lie in [0, {num_classes}); got [{labels.min()}, {labels.max()}].")
  regs = np.asarray(l2_regs, np.float32).reshape(-1)
  if not regs.size or np.any(regs < 0):
    raise ValueError(f"l2_regs must be a non-empty list of values >= 0, got {l2_regs!r}.")
  names = sorted(features)
  num = len(labels)
  stats = {n: standardization(features[n]) for n in names}
  xs = {n: tf.constant((np.asarray(features[n], np.float32) - stats[n][0]) / stats[n][1]) for n in names}
  for n in names:
    if xs[n].shape[0] != num:
      raise ValueError(f"Endpoint {n!r} has {xs[n].shape[0]} feature rows but there are {num} labels.")
  y = tf.constant(labels)
  num_regs = len(regs)
  kernels = {n: tf.Variable(tf.zeros([num_regs, xs[n].shape[1], num_classes])) for n in names}
  biases = {n: tf.Variable(tf.zeros([num_regs, num_classes])) for n in names}
  params = [v for n in names for v in (kernels[n], biases[n])]
  moments = [(tf.Variable(tf.zeros_like(p)), tf.Variable(tf.zeros_like(p))) for p in params]
  regs_t = tf.constant(regs)[:, None, None]
  batch = min(int(batch_size), num)
  beta1, beta2, eps = 0.9, 0.999, 1e-8

  @tf.function
  def loop():
    for step in tf.range(steps):
      if batch < num:
        idx = tf.random.stateless_uniform([batch], seed=[seed, step], maxval=num, dtype=tf.int32)
      else:
        idx = tf.range(num)
      y_b = tf.gather(y, idx)
      with tf.GradientTape() as tape:
        loss = 0.0
        for n in names:
          x_b = tf.gather(xs[n], idx)
          logits = tf.einsum("bd,ldc->lbc", x_b, kernels[n]) + biases[n][:, None, :]
          xent = tf.nn.sparse_softmax_cross_entropy_with_logits(
              labels=tf.broadcast_to(y_b[None], [num_regs, batch]), logits=logits)
          loss += tf.reduce_sum(tf.reduce_mean(xent, axis=1))
          loss += 0.5 * tf.reduce_sum(regs_t * tf.square(kernels[n]))
      grads = tape.gradient(loss, params)
      t = tf.cast(step + 1, tf.float32)
      lr = learning_rate * 0.5 * (1.0 + tf.cos(np.pi * (t - 1.0) / float(steps)))
      for p, g, (m, v) in zip(params, grads, moments):
        m.assign(beta1 * m + (1 - beta1) * g)
        v.assign(beta2 * v + (1 - beta2) * tf.square(g))
        m_hat = m / (1 - tf.pow(beta1, t))
        v_hat = v / (1 - tf.pow(beta2, t))
        p.assign_sub(lr * m_hat / (tf.sqrt(v_hat) + eps))

  if steps > 0:
    loop()
  return {n: {"kernel": kernels[n].numpy(), "bias": biases[n].numpy(), "mean": stats[n][0], "std": stats[n][1]}
          for n in names}


def head_logits(head: Mapping[str, np.ndarray], features: np.ndarray) -> np.ndarray:
  """(L, N, C) logits of one endpoint's heads (one per L2 value) on raw features (N, D)."""
  x = (np.asarray(features, np.float32) - head["mean"]) / head["std"]
  return np.einsum("nd,ldc->lnc", x, head["kernel"]) + head["bias"][:, None, :]


def head_accuracies(head: Mapping[str, np.ndarray], features: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """(L,) accuracy of each L2 value's head."""
  labels = np.asarray(labels).reshape(-1)
  return (head_logits(head, features).argmax(axis=-1) == labels[None]).mean(axis=1)


def probe_features(train: Tuple[Mapping[str, np.ndarray], np.ndarray],
                   val: Tuple[Mapping[str, np.ndarray], np.ndarray],
                   test: Optional[Tuple[Mapping[str, np.ndarray], np.ndarray]], num_classes: int,
                   l2_regs: Sequence[float] = DEFAULT_L2, **train_kwargs) -> Dict:
  """Trains all heads on `train`, picks each endpoint's L2 and the best endpoint on `val`, scores `test`.

  Returns:
    {"endpoints": {name: {"best_l2", "val_accuracy", "test_accuracy", "train_accuracy",
     "val_accuracy_per_l2": [...]}}, "best_endpoint": name, "best_val_accuracy", "best_test_accuracy"}.
    Ties go to the first L2 value in `l2_regs` and to the endpoint first in sorted order.
  """
  heads = train_heads(train[0], train[1], num_classes, l2_regs, **train_kwargs)
  endpoints = {}
  for name in sorted(heads):
    val_acc = head_accuracies(heads[name], val[0][name], val[1])
    best = int(np.argmax(val_acc))
    entry = {"best_l2": float(l2_regs[best]), "val_accuracy": float(val_acc[best]),
             "val_accuracy_per_l2": [float(a) for a in val_acc],
             "train_accuracy": float(head_accuracies(heads[name], train[0][name], train[1])[best])}
    if test is not None:
      entry["test_accuracy"] = float(head_accuracies(heads[name], test[0][name], test[1])[best])
    endpoints[name] = entry
  best_name = max(sorted(endpoints), key=lambda n: endpoints[n]["val_accuracy"])
  result = {"endpoints": endpoints, "best_endpoint": best_name,
            "best_val_accuracy": endpoints[best_name]["val_accuracy"]}
  if test is not None:
    result["best_test_accuracy"] = endpoints[best_name]["test_accuracy"]
  return result


# -- The evaluator ------------------------------------------------------------------------------------------

class LinearProbe:
  """Linear evaluation of frozen features at several endpoints (logistic regression, L2 chosen on val).

  The linear-evaluation protocol of "Revisiting Self-Supervised Visual Representation Learning" (Kolesnikov,
  Zhai, Beyer 2019) and S4L: see the module docstring for the procedure. `run(network)` returns numbers
  (for callbacks and TensorBoard): `{endpoint}/test_accuracy`, `{endpoint}/val_accuracy`,
  `{endpoint}/best_l2` per endpoint and `best_test_accuracy`, `best_val_accuracy`; `probe(network)` returns
  the full report with the best endpoint's name.

  Args:
    data: dict(name=tfds name or dataset spec, train_split=..., val_split=... or None, test_split=...,
      data_dir=... optional). Without val_split, the last `val_fraction` of the train features validate.
    endpoints: `network.intermediates` keys to probe; None probes every endpoint except `logits`.
    num_classes: classes (default: the tfds label feature's, else max label + 1).
    pp: preprocessing producing `image` in [-1, 1] and an integer `label_key`.
    l2_regs: the L2 sweep.
    steps, batch_size, learning_rate, seed: the Adam loop (see `train_heads`).
    max_train_examples, max_eval_examples: read at most this many examples per split.
    feature_batch_size: batch size of the feature extraction.
    val_fraction: validation share of the train features when there is no val_split.
    label_key: the label after `pp`.
    download: let tfds prepare missing data.

  Example:
    >>> probe = LinearProbe(dict(name="mg_shapes/px32", train_split="train", val_split="validation",
    ...                          test_split="test"), endpoints=("block1", "block2", "pre_logits"))
    >>> probe.probe(network)["best_endpoint"]
    'pre_logits'
  """

  def __init__(self, data: Mapping, endpoints: Optional[Sequence[str]] = None, num_classes: Optional[int] = None,
               pp: str = DEFAULT_PP, l2_regs: Sequence[float] = DEFAULT_L2, steps: int = 500,
               batch_size: int = 1024, learning_rate: float = 0.01, seed: int = 0,
               max_train_examples: Optional[int] = None, max_eval_examples: Optional[int] = None,
               feature_batch_size: int = 256, val_fraction: float = 0.2, label_key: str = "label",
               download: bool = True):
    data = dict(data)
    missing = [k for k in ("name", "train_split", "test_split") if k not in data]
    if missing:
      raise ValueError(f"LinearProbe data lacks {missing}; give dict(name='mg_shapes/px32', train_split='train', "
                       "val_split='validation', test_split='test').")
    self.data = data
    self.endpoints = tuple(endpoints) if endpoints else None
    self.num_classes = num_classes
    self.pp = pp
    self.l2_regs = tuple(float(r) for r in l2_regs)
    self.train_kwargs = dict(steps=int(steps), batch_size=int(batch_size), learning_rate=float(learning_rate),
                             seed=int(seed))
    self.max_train_examples = max_train_examples
    self.max_eval_examples = max_eval_examples
    self.feature_batch_size = int(feature_batch_size)
    if not 0.0 < val_fraction < 1.0:
      raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}.")
    self.val_fraction = float(val_fraction)
    self.label_key = label_key
    self.download = download
    self._fn = None
    self._fn_key = None

  def _endpoints(self, network) -> Tuple[str, ...]:
    if self.endpoints:
      return self.endpoints
    return tuple(e for e in network.endpoint_names() if e != "logits")

  def _split(self, split: str, limit: Optional[int], fn):
    from model_garden.data import get_dataset  # pylint: disable=g-import-not-at-top
    ds = get_dataset(self.data["name"], split, batch_size=self.feature_batch_size, pp=self.pp, train=False,
                     data_dir=self.data.get("data_dir"), download=self.download)
    return extract_features(fn, ds, self.label_key, limit)

  def _num_classes(self, *labels) -> int:
    if self.num_classes:
      return int(self.num_classes)
    try:
      from model_garden.data import get_builder  # pylint: disable=g-import-not-at-top
      builder = get_builder(self.data["name"], data_dir=self.data.get("data_dir"), download=False)
      return int(builder.info.features[self.label_key].num_classes)
    except Exception:  # pylint: disable=broad-except  (not a tfds name: count the labels)
      return int(max(int(l.max()) for l in labels)) + 1

  def features(self, network):
    """(train, val, test) as ({endpoint: features}, labels) pairs, extracted once each."""
    endpoints = self._endpoints(network)
    if self._fn is None or self._fn_key != (id(network), endpoints):
      self._fn, self._fn_key = feature_fn(network, endpoints), (id(network), endpoints)
    train = self._split(self.data["train_split"], self.max_train_examples, self._fn)
    test = self._split(self.data["test_split"], self.max_eval_examples, self._fn)
    if self.data.get("val_split"):
      val = self._split(self.data["val_split"], self.max_eval_examples, self._fn)
    else:
      num = len(train[1])
      cut = num - max(1, int(round(num * self.val_fraction)))
      if cut < 1:
        raise ValueError(f"Too few train examples ({num}) to hold out a validation share; give val_split.")
      val = ({k: v[cut:] for k, v in train[0].items()}, train[1][cut:])
      train = ({k: v[:cut] for k, v in train[0].items()}, train[1][:cut])
    return train, val, test

  def probe(self, network) -> Dict:
    """The full report (see `probe_features`), plus "num_train", "num_val", "num_test", "seconds"."""
    start = time.time()
    train, val, test = self.features(network)
    num_classes = self._num_classes(train[1], val[1], test[1])
    result = probe_features(train, val, test, num_classes, self.l2_regs, **self.train_kwargs)
    result.update({"num_train": len(train[1]), "num_val": len(val[1]), "num_test": len(test[1]),
                   "num_classes": num_classes, "seconds": time.time() - start})
    logging.info("Linear probe on %s: best endpoint %s, test accuracy %.4f (%.1fs).", self.data["name"],
                 result["best_endpoint"], result["best_test_accuracy"], result["seconds"])
    return result

  def run(self, network) -> Dict[str, float]:
    result = self.probe(network)
    out = {"best_test_accuracy": result["best_test_accuracy"], "best_val_accuracy": result["best_val_accuracy"]}
    for name, entry in result["endpoints"].items():
      out[f"{name}/test_accuracy"] = entry["test_accuracy"]
      out[f"{name}/val_accuracy"] = entry["val_accuracy"]
      out[f"{name}/best_l2"] = entry["best_l2"]
    return out


@register("linear_probe")
def linear_probe(*, data, endpoints: Optional[Sequence[str]] = None, num_classes: Optional[int] = None,
                 pp: str = DEFAULT_PP, l2_regs: Sequence[float] = DEFAULT_L2, steps: int = 500,
                 batch_size: int = 1024, learning_rate: float = 0.01, seed: int = 0,
                 max_train_examples: Optional[int] = None, max_eval_examples: Optional[int] = None,
                 feature_batch_size: int = 256, val_fraction: float = 0.2, label_key: str = "label",
                 download: bool = True) -> LinearProbe:
  """Spec factory for `LinearProbe`, e.g. `linear_probe(data={...}, endpoints=('block2', 'pre_logits'))`."""
  return LinearProbe(data=data, endpoints=endpoints, num_classes=num_classes, pp=pp, l2_regs=l2_regs, steps=steps,
                     batch_size=batch_size, learning_rate=learning_rate, seed=seed,
                     max_train_examples=max_train_examples, max_eval_examples=max_eval_examples,
                     feature_batch_size=feature_batch_size, val_fraction=val_fraction, label_key=label_key,
                     download=download)
