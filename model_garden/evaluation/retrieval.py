"""Image-text retrieval Recall@K in both directions, as big_vision's image_text_retrieval evaluator.

Every image of the split is a query against all captions of the split (image -> text: a hit when any of
the image's own captions is in the top K), and every caption a query against all images (text -> image:
a hit when its image is in the top K). Ranks come from a stable descending sort of the similarities, as
`np.argsort` top-K in big_vision, so tied scores (e.g. identical captions of different images) are broken
by index order, deterministically.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from model_garden.evaluation.registry import register
from model_garden.evaluation.zero_shot import DEFAULT_PP_TXT, embed_images, embed_text_list

DEFAULT_KS = (1, 5, 10)
_CHUNK = 1024


def _topk(queries: np.ndarray, keys: np.ndarray, k: int) -> np.ndarray:
  """Indices of each query's k most similar keys (stable: ties keep index order), [Q, k]."""
  out = []
  for start in range(0, len(queries), _CHUNK):
    scores = np.asarray(queries[start:start + _CHUNK], np.float64) @ np.asarray(keys, np.float64).T
    out.append(np.argsort(-scores, axis=1, kind="stable")[:, :k])
  return np.concatenate(out) if out else np.zeros([0, k], np.int64)


def recall_at_k(image_embeddings: np.ndarray, text_embeddings: np.ndarray, text_to_image: Sequence[int],
                ks: Sequence[int] = DEFAULT_KS) -> Dict[str, float]:
  """Recall@K for image->text (`i2t_recall@K`) and text->image (`t2i_recall@K`).

  Args:
    image_embeddings: [N, D] (normalised) image embeddings.
    text_embeddings: [M, D] (normalised) caption embeddings.
    text_to_image: [M] index of each caption's image.
    ks: the K values.
  """
  text_to_image = np.asarray(text_to_image, np.int64).reshape(-1)
  n, m = len(image_embeddings), len(text_embeddings)
  if len(text_to_image) != m or (m and (text_to_image.min() < 0 or text_to_image.max() >= n)):
    raise ValueError(f"text_to_image must give an image index in [0, {n}) for each of the {m} captions.")
  k_max = max(ks)
  i2t = text_to_image[_topk(image_embeddings, text_embeddings, min(k_max, m))]  # images of retrieved texts
  t2i = _topk(text_embeddings, image_embeddings, min(k_max, n))
  own = np.arange(n)[:, None]
  results = {}
  for k in ks:
    results[f"i2t_recall@{k}"] = float(np.mean(np.any(i2t[:, :k] == own, axis=1)))
    results[f"t2i_recall@{k}"] = float(np.mean(np.any(t2i[:, :k] == text_to_image[:, None], axis=1)))
  return results


class RetrievalEvaluator:
  """Image-text Recall@{1, 5, 10} both ways on a split with several captions per image.

  The retrieval protocol of LiT's COCO numbers (Zhai et al. 2022; big_vision `image_text_retrieval.py`,
  5 captions per image on COCO's 5k test images).

  Args:
    data: dict with the dataset `name` (tfds name, e.g. "mg_shapes/px32", or an image-text source spec such
      as "coco_captions") and `split`.
    pp_img: pp string producing `image` and keeping the string captions under `captions_key`.
    pp_txt: pp string tokenizing a `texts` string into `labels`.
    captions_key: the feature with each image's captions (a string vector).
    ks: the K of Recall@K.

  Example:
    >>> ev = RetrievalEvaluator(data={"name": "mg_shapes/px32", "split": "test"},
    ...                         pp_img="decode|value_range(-1, 1)|keep('image', 'captions')",
    ...                         pp_txt="tokenize(16, model='mg_shapes_sp')")
    >>> ev.run(lit)   # {"i2t_recall@1": ..., "t2i_recall@1": ..., ...}
  """

  def __init__(self, data: Dict, pp_img: str, pp_txt: str = DEFAULT_PP_TXT, captions_key: str = "captions",
               ks: Sequence[int] = DEFAULT_KS, batch_size: int = 256, data_dir: Optional[str] = None,
               download: bool = True):
    self.data = dict(data)
    self.pp_img, self.pp_txt = pp_img, pp_txt
    self.captions_key = captions_key
    self.ks = tuple(int(k) for k in ks)
    self.batch_size = int(batch_size)
    self.data_dir = data_dir or self.data.get("data_dir")
    self.download = download

  def dataset(self):
    from model_garden.data import get_dataset  # pylint: disable=g-import-not-at-top
    return get_dataset(self.data["name"], self.data["split"], batch_size=self.batch_size, pp=self.pp_img,
                       data_dir=self.data_dir, train=False, download=self.download)

  def run(self, network) -> Dict[str, float]:
    images = embed_images(network, self.dataset(), keys=(self.captions_key,))
    texts, owners = [], []
    for index, captions in enumerate(images[self.captions_key]):
      for caption in np.asarray(captions, dtype=object).reshape(-1):
        caption = caption.decode("utf-8") if isinstance(caption, bytes) else str(caption)
        if caption:
          texts.append(caption)
          owners.append(index)
    if not texts:
      raise ValueError(f"Retrieval split {self.data} has no captions under {self.captions_key!r}.")
    ztxt = embed_text_list(network, texts, self.pp_txt, self.batch_size)
    results = recall_at_k(images["zimg"], ztxt, owners, self.ks)
    results.update({"num_images": int(len(images["zimg"])), "num_texts": len(texts)})
    return results


@register("retrieval")
def retrieval(*, data, pp_img: str, pp_txt: str = DEFAULT_PP_TXT, captions_key: str = "captions",
              ks: Sequence[int] = DEFAULT_KS, batch_size: int = 256, data_dir: Optional[str] = None,
              download: bool = True) -> RetrievalEvaluator:
  """Spec factory for `RetrievalEvaluator`."""
  return RetrievalEvaluator(data=data, pp_img=pp_img, pp_txt=pp_txt, captions_key=captions_key, ks=ks,
                            batch_size=batch_size, data_dir=data_dir, download=download)
