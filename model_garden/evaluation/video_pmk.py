"""pm-k accuracy: robustness of per-frame classification to the small changes between nearby video frames.

"Do Image Classifiers Generalize Across Time?" (Shankar, Dave, Roelofs, Ramanan, Recht, Schmidt; ICCV 2021)
built ImageNet-Vid-Robust and YTBB-Robust: anchor frames, each with the frames within k = 10 frames (about
0.3 s) that human reviewers judged perceptually similar (its "pm-set"). Under pm-k an anchor counts as
correct only if the anchor *and every* frame of its neighbourhood are classified correctly; the benign
accuracy (pm-0) scores the anchor alone. Djolonga et al. 2021 report these sets as ImageNet-Vid-W and
YouTube-BB-W (the worst case over the neighbourhood).

Reference (modestyachts/imagenet-testbed, `imagenet_vid_robust.py::score_predictions` and
`ytbb_robust.py::create_pmk_score`): a frame is correct when argmax(prediction) is in its label set (frames
may carry several labels); pm-k = #anchors with all of {anchor} + pm-set correct / #anchors. Anchors with an
empty pm-set reduce to the anchor alone.

Frame ids are hashable: strings in either release's key format (parsed by `parse_frame_key`) or
(video, frame index) tuples.
"""

from __future__ import annotations

import os
import re
from typing import Dict, Hashable, Iterable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

PAPER_K = 10
_YTBB_NAME = re.compile(r"frame-(\d+)\.\w+$")
_VID_NAME = re.compile(r"(\d+)\.\w+$")


def parse_frame_key(key) -> Tuple[str, int]:
  """(video, frame index) of a frame id.

  Accepts (video, index) tuples, ImageNet-Vid-Robust keys "val/ILSVRC2015_val_00000000/000442.JPEG" ->
  ("val/ILSVRC2015_val_00000000", 442) and YTBB-Robust keys "<ytid>_<ms>/frame-12.jpg" -> ("<ytid>_<ms>", 12).
  """
  if isinstance(key, (tuple, list)) and len(key) == 2:
    return str(key[0]), int(key[1])
  text = key.decode() if isinstance(key, bytes) else str(key)
  video, name = os.path.split(text)
  match = _YTBB_NAME.search(name) or _VID_NAME.fullmatch(name)
  if not match or not video:
    raise ValueError(f"Cannot read a (video, frame index) from frame id {key!r}. Use (video, index) tuples, "
                     "'<video>/000442.JPEG' or '<video>/frame-12.jpg' keys, or pass neighbours=... explicitly.")
  return video, int(match.group(1))


def _label_set(labels) -> frozenset:
  if isinstance(labels, (int, np.integer)):
    return frozenset([int(labels)])
  return frozenset(int(l) for l in np.asarray(list(labels)).reshape(-1))


def _predicted(prediction) -> int:
  prediction = np.asarray(prediction)
  return int(prediction) if prediction.ndim == 0 else int(np.argmax(prediction))


def neighbourhoods(anchor_ids: Iterable[Hashable], frame_ids: Iterable[Hashable],
                   k: int) -> Dict[Hashable, list]:
  """{anchor: the other frames of its video within k frames}, from frame ids alone (see `parse_frame_key`)."""
  by_video: Dict[str, list] = {}
  for frame in frame_ids:
    video, index = parse_frame_key(frame)
    by_video.setdefault(video, []).append((index, frame))
  out = {}
  for anchor in anchor_ids:
    video, index = parse_frame_key(anchor)
    out[anchor] = [f for i, f in sorted(by_video.get(video, []), key=lambda t: t[0])
                   if f != anchor and abs(i - index) <= k]
  return out


def pm_k_accuracy(anchor_ids: Sequence[Hashable], frame_predictions: Mapping[Hashable, object],
                  frame_labels: Mapping[Hashable, object], k: Optional[int] = PAPER_K, *,
                  neighbours: Optional[Mapping[Hashable, Iterable[Hashable]]] = None,
                  return_details: bool = False) -> Union[float, Tuple[float, Dict]]:
  """pm-k accuracy: an anchor counts only if it and every frame in its k-neighbourhood are correct.

  Args:
    anchor_ids: the anchor frames (the denominator).
    frame_predictions: {frame id: predicted class id, or a score vector whose argmax is the prediction}
      for every anchor and neighbour.
    frame_labels: {frame id: class id or iterable of acceptable class ids}. A neighbour without an entry is
      judged against its anchor's labels (YTBB-Robust labels only anchors).
    k: the neighbourhood radius in frames; 0 gives the benign (anchor-only) accuracy; None keeps every
      listed neighbour (with `neighbours`).
    neighbours: {anchor: frame ids of its reviewed pm-set} (ImageNet-Vid-Robust's `pmsets.json`). Without
      it, every predicted frame of the anchor's video within k frames is a neighbour (ids must then be
      parseable, see `parse_frame_key`). With it and an integer k, neighbours further than k frames are
      dropped.
    return_details: also return a dict of diagnostics.

  Returns:
    The pm-k accuracy, or (accuracy, {"anchor_accuracy", "num_anchors", "mean_neighbourhood",
    "flipped": {anchor: [neighbours misclassified although the anchor is right]}}).

  Example:
    >>> preds = {("v", 5): 1, ("v", 6): 1, ("v", 9): 0}
    >>> labels = {("v", 5): 1, ("v", 6): 1, ("v", 9): 1}
    >>> pm_k_accuracy([("v", 5)], preds, labels, k=1), pm_k_accuracy([("v", 5)], preds, labels, k=4)
    (1.0, 0.0)
  """
  anchor_ids = list(anchor_ids)
  if not anchor_ids:
    raise ValueError("pm_k_accuracy needs at least one anchor frame.")
  if k is not None and k < 0:
    raise ValueError(f"k must be >= 0 (or None with neighbours=...), got {k}.")
  if neighbours is None:
    if k is None:
      raise ValueError("k=None keeps every listed neighbour; it needs neighbours={anchor: [frames]}.")
    sets = neighbourhoods(anchor_ids, frame_predictions.keys(), k)
  else:
    sets = {}
    for anchor in anchor_ids:
      listed = [f for f in neighbours.get(anchor, ()) if f != anchor]
      if k is not None:
        _, index = parse_frame_key(anchor)
        listed = [f for f in listed if abs(parse_frame_key(f)[1] - index) <= k]
      sets[anchor] = listed

  def correct(frame, anchor) -> bool:
    if frame not in frame_predictions:
      raise KeyError(f"No prediction for frame {frame!r} (in the neighbourhood of anchor {anchor!r}); predict "
                     "every frame of every pm-set.")
    labels = frame_labels.get(frame, frame_labels.get(anchor))
    if labels is None:
      raise KeyError(f"No labels for anchor {anchor!r}.")
    return _predicted(frame_predictions[frame]) in _label_set(labels)

  anchor_ok = pm_ok = 0
  flipped = {}
  sizes = []
  for anchor in anchor_ids:
    sizes.append(len(sets[anchor]))
    if not correct(anchor, anchor):
      continue
    anchor_ok += 1
    wrong = [f for f in sets[anchor] if not correct(f, anchor)]
    if wrong:
      flipped[anchor] = wrong
    else:
      pm_ok += 1
  accuracy = pm_ok / len(anchor_ids)
  if not return_details:
    return accuracy
  return accuracy, {"anchor_accuracy": anchor_ok / len(anchor_ids), "num_anchors": len(anchor_ids),
                    "mean_neighbourhood": float(np.mean(sizes)), "flipped": flipped}
