"""pm-k accuracy on constructed video sets, against a plain-Python computation."""

import numpy as np
import pytest

from model_garden.evaluation import video_pmk


def test_pm_k_on_a_constructed_video():
  # Video "a": anchor at frame 10, frames 5..15 exist. Frame 13 is misclassified.
  preds = {("a", i): 2 for i in range(5, 16)}
  preds[("a", 13)] = 0
  labels = {("a", i): 2 for i in range(5, 16)}
  anchors = [("a", 10)]
  assert video_pmk.pm_k_accuracy(anchors, preds, labels, k=0) == 1.0  # benign: anchor only
  assert video_pmk.pm_k_accuracy(anchors, preds, labels, k=2) == 1.0  # 8..12: all right
  assert video_pmk.pm_k_accuracy(anchors, preds, labels, k=3) == 0.0  # 13 enters the neighbourhood
  acc, details = video_pmk.pm_k_accuracy(anchors, preds, labels, k=10, return_details=True)
  assert acc == 0.0 and details["anchor_accuracy"] == 1.0 and details["flipped"] == {("a", 10): [("a", 13)]}
  assert details["mean_neighbourhood"] == 10  # frames 5..15 but the anchor
  # A wrong anchor fails at every k.
  preds[("a", 10)] = 1
  assert video_pmk.pm_k_accuracy(anchors, preds, labels, k=0) == 0.0


def test_multi_label_frames_score_vectors_and_explicit_neighbours():
  vid = "val/ILSVRC2015_val_00000000"
  key = lambda i: f"{vid}/{i:06d}.JPEG"
  anchor = key(442)
  # Score vectors: the argmax is the prediction. Frame 445 predicts class 3, which is in its label set.
  scores = {key(i): np.eye(5)[1] for i in range(432, 453)}
  scores[key(445)] = np.eye(5)[3]
  labels = {key(i): [1] for i in range(432, 453)}
  labels[key(445)] = [1, 3]
  pmsets = {anchor: [key(i) for i in (432, 440, 445, 452)]}
  assert video_pmk.pm_k_accuracy([anchor], scores, labels, k=10, neighbours=pmsets) == 1.0
  labels[key(445)] = [1]
  assert video_pmk.pm_k_accuracy([anchor], scores, labels, k=10, neighbours=pmsets) == 0.0
  # Neighbours beyond k are dropped from a listed pm-set; k=None keeps all listed.
  assert video_pmk.pm_k_accuracy([anchor], scores, labels, k=2, neighbours=pmsets) == 1.0
  assert video_pmk.pm_k_accuracy([anchor], scores, labels, k=None, neighbours=pmsets) == 0.0


def test_neighbours_without_labels_use_the_anchor_labels():
  # YTBB-Robust labels anchors only.
  preds = {"yt_1000/frame-5.jpg": 4, "yt_1000/frame-6.jpg": 4, "yt_1000/frame-7.jpg": 0}
  labels = {"yt_1000/frame-5.jpg": [4]}
  assert video_pmk.pm_k_accuracy(["yt_1000/frame-5.jpg"], preds, labels, k=1) == 1.0
  assert video_pmk.pm_k_accuracy(["yt_1000/frame-5.jpg"], preds, labels, k=2) == 0.0


def _python_pmk(anchors, preds, labels, k):
  ok = 0
  for video, index in anchors:
    frames = [(video, i) for (v, i) in preds if v == video and abs(i - index) <= k]
    ok += all(preds[f] in labels[f] for f in frames)
  return ok / len(anchors)


@pytest.mark.parametrize("seed", [0, 1])
def test_pm_k_matches_python_on_random_sets(seed):
  rng = np.random.default_rng(seed)
  preds, labels, anchors = {}, {}, []
  for v in range(30):
    video = f"v{v}"
    frames = sorted(rng.choice(40, size=12, replace=False).tolist())
    for i in frames:
      labels[(video, i)] = set(rng.choice(4, size=rng.integers(1, 3), replace=False).tolist())
      preds[(video, i)] = int(rng.integers(0, 4)) if rng.random() < 0.3 else min(labels[(video, i)])
    anchors.append((video, frames[len(frames) // 2]))
  for k in (0, 1, 3, 10):
    assert video_pmk.pm_k_accuracy(anchors, preds, labels, k=k) == pytest.approx(_python_pmk(anchors, preds, labels, k))
  # pm-k never exceeds the benign accuracy and never grows with k.
  values = [video_pmk.pm_k_accuracy(anchors, preds, labels, k=k) for k in (0, 2, 5, 10, 40)]
  assert values == sorted(values, reverse=True)


def test_parse_frame_key_and_errors():
  assert video_pmk.parse_frame_key("val/ILSVRC2015_val_00000000/000442.JPEG") == ("val/ILSVRC2015_val_00000000", 442)
  assert video_pmk.parse_frame_key("AAB6lO-XiKE_148000/frame-12.jpg") == ("AAB6lO-XiKE_148000", 12)
  assert video_pmk.parse_frame_key(("v", 3)) == ("v", 3)
  with pytest.raises(ValueError, match="frame index"):
    video_pmk.parse_frame_key("no_index_here.png")
  with pytest.raises(KeyError, match="No prediction"):
    video_pmk.pm_k_accuracy([("v", 1)], {("v", 1): 0}, {("v", 1): 0}, k=1, neighbours={("v", 1): [("v", 2)]})
  with pytest.raises(ValueError, match="at least one anchor"):
    video_pmk.pm_k_accuracy([], {}, {}, k=1)
