"""Zero-shot classification with a two-tower image-text model, as big_vision's discriminative classifier.

Each class name is put into every prompt template ("a photo of a {}."), the prompts are canonicalised
(lower-case, punctuation removed, `_` -> space), embedded by the text tower, averaged per class and
re-normalised; an image is assigned the class whose embedding has the largest dot product with its own
(big_vision `evaluators/proj/image_text/discriminative_classifier.py`, CLIP's prompt ensembling).

The math is in NumPy functions (`build_prompts`, `class_embeddings`, `zero_shot_predict`) testable without a
network; `ZeroShotEvaluator` adds the data and the towers.
"""

from __future__ import annotations

import weakref

from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from model_garden.evaluation.registry import register
from model_garden.text import prompts as prompt_data

DEFAULT_PP_TXT = "tokenize(16, model='mg_shapes_sp', inkey='texts', outkey='labels')"


def build_prompts(class_names: Sequence[str], templates: Sequence[str]) -> List[str]:
  """Class-major prompts: [t.format(c) for c in class_names for t in templates]."""
  return [t.replace("{}", c) for c in class_names for t in templates]


def normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
  x = np.asarray(x, np.float64)
  return x / (np.linalg.norm(x, axis=axis, keepdims=True) + 1e-8)


def class_embeddings(prompt_embeddings: np.ndarray, num_classes: int) -> np.ndarray:
  """Per-class mean of the (normalised) prompt embeddings, re-normalised: [C * T, D] -> [C, D]."""
  prompt_embeddings = np.asarray(prompt_embeddings, np.float64)
  if prompt_embeddings.shape[0] % num_classes:
    raise ValueError(f"{prompt_embeddings.shape[0]} prompt embeddings are not a multiple of {num_classes} "
                     "classes.")
  per_class = prompt_embeddings.reshape(num_classes, -1, prompt_embeddings.shape[-1])
  return normalize(normalize(per_class).mean(axis=1))


def zero_shot_predict(image_embeddings: np.ndarray, class_emb: np.ndarray) -> np.ndarray:
  """argmax over classes of zimg . zclass (the temperature does not change an argmax)."""
  return np.argmax(np.asarray(image_embeddings, np.float64) @ np.asarray(class_emb, np.float64).T, axis=-1)


def unwrap_network(network):
  """The two-tower network inside an objective (or the network itself)."""
  inner = getattr(network, "network", None)
  network = inner if inner is not None and hasattr(inner, "embed_texts") else network
  if not hasattr(network, "embed_texts") or not hasattr(network, "embed_images"):
    raise TypeError(f"Image-text evaluators need a two-tower network (models.get('two_towers(...)')), got "
                    f"{type(network).__name__}.")
  return network


# One traced function per (network, method), shared by every evaluator run: a fresh tf.function per call would
# retrace the network each time (seconds per evaluator for a small network).
_COMPILED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _compiled(network, method: str):
  functions = _COMPILED.setdefault(network, {})
  if method not in functions:
    embed = getattr(network, method)
    functions[method] = tf.function(lambda x: embed(x, training=False))
  return functions[method]


def embed_text_list(network, texts: Sequence[str], pp_txt: str, batch_size: int = 256) -> np.ndarray:
  """Normalised text embeddings [len(texts), D] of strings tokenised by `pp_txt` (input key `texts`)."""
  from model_garden.data.preprocess import get_preprocess_fn  # pylint: disable=g-import-not-at-top
  network = unwrap_network(network)
  preprocess = get_preprocess_fn(pp_txt)
  probe = preprocess({"texts": tf.constant("probe")})
  if "labels" not in probe:
    raise ValueError(f"pp_txt {pp_txt!r} must write token ids under 'labels' from the input key 'texts', e.g. "
                     "\"tokenize(16, model='sp.model', inkey='texts', outkey='labels')\".")
  ds = tf.data.Dataset.from_tensor_slices({"texts": tf.constant(list(texts), tf.string)})
  ds = ds.map(lambda e: preprocess(e)["labels"]).batch(batch_size)
  embed = _compiled(network, "embed_texts")
  out = [embed(tokens).numpy() for tokens in ds]
  return np.concatenate(out) if out else np.zeros([0, 0], np.float32)


def embed_images(network, ds, keys=()) -> Dict[str, np.ndarray]:
  """Normalised image embeddings of a batched dataset (`image` key), plus the other `keys` as arrays."""
  network = unwrap_network(network)
  embed = _compiled(network, "embed_images")
  out: Dict[str, list] = {"zimg": [], **{k: [] for k in keys}}
  for batch in ds:
    for key in ("image",) + tuple(keys):
      if key not in batch:
        raise KeyError(f"The evaluation pp must keep {key!r}; the batch has {sorted(batch)}.")
    out["zimg"].append(embed(batch["image"]).numpy())
    for key in keys:
      value = batch[key]
      out[key].append(value.numpy() if not isinstance(value, tf.RaggedTensor) else value.to_list())
  result = {}
  for key, parts in out.items():
    if parts and isinstance(parts[0], list):
      result[key] = [row for part in parts for row in part]
    else:
      result[key] = np.concatenate(parts) if parts else np.zeros([0])
  return result


class ZeroShotEvaluator:
  """Zero-shot accuracy of a two-tower model on a labelled image dataset.

  From "LiT: Zero-Shot Transfer with Locked-image text Tuning" (Zhai et al. 2022; CLIP's protocol):
  class names x prompt templates, canonicalised, embedded, averaged per class and re-normalised; top-1
  accuracy of argmax(zimg . zclass).

  Args:
    data: dict with the dataset `name` (tfds name or spec) and `split`.
    pp_img: pp string producing `image` (float in [-1, 1]) and keeping the integer label `label_key`.
    pp_txt: pp string turning a `texts` string into token ids `labels` (the training tokenizer).
    class_names: a named set ("imagenet", "mg_shapes_shape", "mg_shapes_colour"), a list, or
      "dataset_info:<feature>" (the tfds ClassLabel names, big_vision's default source).
    templates: a named set ("clip_paper", "clip_best", "class_name_only", "mg_shapes_shape",
      "mg_shapes_colour") or a list of strings with one "{}".
    label_key: the integer label feature.
    canonicalize: canonicalise class names and templates as big_vision does.
    batch_size: evaluation batch size.

  Example:
    >>> ev = ZeroShotEvaluator(data={"name": "mg_shapes/px32", "split": "test"},
    ...                        pp_img="decode|value_range(-1, 1)|keep('image', 'colour')",
    ...                        pp_txt="tokenize(16, model='mg_shapes_sp')",
    ...                        class_names="mg_shapes_colour", templates="mg_shapes_colour",
    ...                        label_key="colour")
    >>> ev.run(lit)   # {"accuracy": 0.8, "num_examples": 2000, "num_classes": 10}
  """

  def __init__(self, data: Dict, pp_img: str, pp_txt: str = DEFAULT_PP_TXT,
               class_names: Union[str, Sequence[str]] = "dataset_info:label",
               templates: Union[str, Sequence[str]] = "clip_paper", label_key: str = "label",
               canonicalize: bool = True, batch_size: int = 256, data_dir: Optional[str] = None,
               download: bool = True):
    self.data = dict(data)
    self.pp_img, self.pp_txt = pp_img, pp_txt
    self.label_key = label_key
    self.batch_size = int(batch_size)
    self.download = download
    self.data_dir = data_dir or self.data.get("data_dir")
    self.class_names = prompt_data.class_names(class_names, dataset=self.data["name"], data_dir=self.data_dir,
                                               canonical=canonicalize)
    self.templates = prompt_data.templates(templates, canonical=canonicalize)
    self.prompts = build_prompts(self.class_names, self.templates)

  def dataset(self):
    from model_garden.data import get_dataset  # pylint: disable=g-import-not-at-top
    return get_dataset(self.data["name"], self.data["split"], batch_size=self.batch_size, pp=self.pp_img,
                       data_dir=self.data_dir, train=False, download=self.download)

  def class_embeddings(self, network) -> np.ndarray:
    """[C, D] class embeddings from the prompts."""
    return class_embeddings(embed_text_list(network, self.prompts, self.pp_txt, self.batch_size),
                            len(self.class_names))

  def predict(self, network) -> Dict[str, np.ndarray]:
    """Predicted and true labels of the whole split."""
    classes = self.class_embeddings(network)
    images = embed_images(network, self.dataset(), keys=(self.label_key,))
    if not len(images["zimg"]):
      raise ValueError(f"Zero-shot evaluation split {self.data} is empty.")
    labels = np.asarray(images[self.label_key]).reshape(-1)
    if labels.max() >= len(self.class_names):
      raise ValueError(f"Label {labels.max()} of {self.label_key!r} has no class name: {len(self.class_names)} "
                       "names were given.")
    return {"predicted": zero_shot_predict(images["zimg"], classes), "labels": labels}

  def run(self, network) -> Dict[str, float]:
    result = self.predict(network)
    accuracy = float(np.mean(result["predicted"] == result["labels"]))
    return {"accuracy": accuracy, "num_examples": int(result["labels"].size),
            "num_classes": len(self.class_names)}


@register("zero_shot")
def zero_shot(*, data, pp_img: str, pp_txt: str = DEFAULT_PP_TXT,
              class_names: Union[str, Sequence[str]] = "dataset_info:label",
              templates: Union[str, Sequence[str]] = "clip_paper", label_key: str = "label",
              canonicalize: bool = True, batch_size: int = 256, data_dir: Optional[str] = None,
              download: bool = True) -> ZeroShotEvaluator:
  """Spec factory for `ZeroShotEvaluator` (config: `evals.x = dict(type="zero_shot", data=..., ...)`)."""
  return ZeroShotEvaluator(data=data, pp_img=pp_img, pp_txt=pp_txt, class_names=class_names,
                           templates=templates, label_key=label_key, canonicalize=canonicalize,
                           batch_size=batch_size, data_dir=data_dir, download=download)
