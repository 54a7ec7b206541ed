"""Robustness datasets: class lists, label-space mappings, dataset specs and the folder readers."""

import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from model_garden.data import get_dataset
from model_garden.data import robustness
from model_garden.data.robustness import class_lists
from model_garden.registry import SpecError


@pytest.mark.parametrize("name", ["imagenet_a", "imagenet_r"])
def test_subset_class_lists(name):
  classes = robustness.subset_classes(name)
  assert classes.shape == (200,) and len(set(classes.tolist())) == 200
  assert np.all(np.diff(classes) > 0) and classes.min() >= 0 and classes.max() < 1000
  # Spot checks against the authors' lists: ImageNet-A starts at 6 (stingray), ImageNet-R at 1 (goldfish).
  expected_head = {"imagenet_a": [6, 11, 13, 15, 17], "imagenet_r": [1, 2, 4, 6, 8]}[name]
  assert classes[:5].tolist() == expected_head and classes[-1] == 988
  if name == "imagenet_r":
    wnids = class_lists.load_json("imagenet_r_classes.json")["wnids"]
    assert len(wnids) == 200 and wnids[0] == "n01443537"


@pytest.mark.parametrize("name", ["imagenet_a", "imagenet_r"])
def test_subset_label_space_restricts_and_maps_back(name):
  space = robustness.LabelSpace.for_dataset(name)
  classes = robustness.subset_classes(name)
  outside = next(c for c in range(1000) if c not in set(classes.tolist()))
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(4, 1000)).astype(np.float32)
  # The overall argmax is a class outside the subset; the best subset class must be predicted instead.
  logits[:, outside] = 100.0
  targets = classes[[0, 17, 100, 199]]
  logits[np.arange(4), targets] = 50.0
  np.testing.assert_array_equal(space.predict(logits).numpy()[:, 0], targets)
  restricted = space.dataset_logits(logits).numpy()
  assert restricted.shape == (4, 200)
  np.testing.assert_array_equal(restricted, logits[:, classes])
  np.testing.assert_array_equal(space.column_labels[restricted.argmax(-1)], targets)
  # Softmax of the restricted logits = the renormalised subset probabilities (robustness_metrics).
  mild = rng.normal(size=(3, 1000)).astype(np.float32)
  probs = tf.nn.softmax(mild).numpy()[:, classes]
  np.testing.assert_allclose(tf.nn.softmax(space.dataset_logits(mild)).numpy(), probs / probs.sum(-1, keepdims=True),
                             rtol=1e-4)
  # Labels -> column positions, -1 outside the subset; top-k stays inside the subset.
  np.testing.assert_array_equal(space.to_columns([classes[5], outside, -3]).numpy(), [5, -1, -1])
  top5 = space.predict(logits, k=5).numpy()
  assert np.isin(top5, classes).all()
  with pytest.raises(ValueError, match="1000-way"):
    space.predict(np.zeros([2, 10], np.float32))


def test_objectnet_mapping_shape():
  classes = robustness.objectnet_classes()
  assert len(classes) == 113
  ids = [c["objectnet_id"] for c in classes]
  assert len(set(ids)) == 113 and min(ids) >= 0 and max(ids) < 313
  members = [i for c in classes for i in c["imagenet_indices"]]
  assert len(members) == 125 and len(set(members)) == 125 and max(members) < 1000
  assert len({c["folder"] for c in classes}) == 113
  groups = robustness.objectnet_groups()
  assert groups[1] == [409, 530]  # Alarm clock: analog clock and digital clock.
  space = robustness.LabelSpace.for_dataset("objectnet")
  assert space.num_classes == 313
  logits = np.zeros([2, 1000], np.float32)
  logits[:, 0] = 9.0  # tench: no ObjectNet class.
  logits[0, 530], logits[1, 409] = 5.0, 4.0
  np.testing.assert_array_equal(space.predict(logits).numpy()[:, 0], [1, 1])  # max-merged, restricted
  grouped = space.dataset_logits(logits).numpy()
  assert grouped[0, 1] == 5.0 and np.isneginf(grouped[0, 0])  # ObjectNet id 0 has no ImageNet class.
  unrestricted = robustness.LabelSpace.for_dataset("objectnet", restrict=False)
  np.testing.assert_array_equal(unrestricted.predict(logits).numpy()[:, 0], [-1, -1])  # official template


def test_video_class_maps():
  vid = robustness.video_groups("imagenet_vid_robust")
  assert len(robustness.video_class_names("imagenet_vid_robust")) == 30 and sorted(vid) == list(range(30))
  assert sum(len(v) for v in vid.values()) == 288 and vid[0] == [404]  # airplane -> airliner
  ytbb = robustness.video_groups("ytbb_robust")
  names = robustness.video_class_names("ytbb_robust")
  assert len(names) == 24 and len(ytbb) == 19 and names[22] == "none"
  space = robustness.LabelSpace.for_dataset("ytbb_robust")
  logits = np.full([1, 1000], -5.0, np.float32)
  assert space.predict(logits).numpy()[0, 0] in ytbb  # An unmapped class (e.g. 'none') is never predicted.


def test_dataset_specs_and_aliases():
  for variant in ("matched-frequency", "threshold-0.7", "topimages"):
    ood = robustness.get_ood_dataset(f"imagenet_v2/{variant}")
    assert ood.source == f"imagenet_v2/{variant}" and ood.split == "test"
  assert robustness.get_ood_dataset("imagenet_v2(variant='TOP_IMAGES')").source == "imagenet_v2/topimages"
  with pytest.raises(SpecError, match="variant"):
    robustness.get_ood_dataset("imagenet_v2(variant='bogus')")
  c = robustness.get_ood_dataset("imagenet2012_corrupted/fog_3")
  assert c.source == "imagenet2012_corrupted/fog_3" and c.split == "validation"
  assert c.pp(64).startswith("decode|resize(64)")
  assert "resize_small(256)|central_crop(224)" in robustness.get_ood_dataset("imagenet_a").pp(224)
  synthetic = robustness.get_ood_dataset("imagenet_c(corruption='fog', severity=2, synthetic=True)")
  assert "central_crop(224)|corrupt('fog', 2)|resize(128)" in synthetic.pp(128)
  assert "labelset(1000" in robustness.get_ood_dataset("imagenet2012_real").pp(224)
  assert robustness.get_ood_dataset("mg_shapes/px64").source == "mg_shapes/px64"
  with pytest.raises(SpecError, match="severity"):
    robustness.get_ood_dataset("imagenet_c(corruption='fog', severity=6)")
  with pytest.raises(SpecError, match="Unknown robustness dataset"):
    robustness.get_ood_dataset("imagenet_z")
  assert robustness.split_specs("a,b(x=1, y='p,q'),c") == ["a", "b(x=1, y='p,q')", "c"]


def _png(path, colour, size=12):
  image = np.full([size, size, 3], colour, np.uint8)
  image[0, :], image[-1, :], image[:, 0], image[:, -1] = (255, 0, 0), (255, 0, 0), (255, 0, 0), (255, 0, 0)
  Image.fromarray(image).save(path)


def test_objectnet_folder_reader(tmp_path):
  images = tmp_path / "objectnet-1.0" / "images"
  for folder, colour in (("alarm_clock", 40), ("banana", 200), ("air_freshener", 90)):  # last: not overlapping
    (images / folder).mkdir(parents=True)
    for i in range(2):
      _png(images / folder / f"{i}.png", colour)
  ds = get_dataset(f"objectnet(root='{tmp_path}')", "test", batch_size=8, train=False,
                   pp="decode|crop_border(2)|keep('image', 'label')")
  batch = next(iter(ds))
  assert batch["image"].shape == (4, 8, 8, 3)  # 12 px minus 2 per side; the non-overlapping class left out
  assert sorted(batch["label"].numpy().tolist()) == [1, 1, 4, 4]  # Alarm clock = 1, Banana = 4
  assert not np.any(batch["image"].numpy()[..., 1] == 0)  # The red border is gone.
  with pytest.raises(FileNotFoundError, match="objectnet.dev"):
    robustness.ObjectNetFolder(str(tmp_path / "nowhere"))


def test_video_robust_folder_reader(tmp_path):
  video = tmp_path / "val" / "ILSVRC2015_val_00000000"
  video.mkdir(parents=True)
  keys = [f"val/ILSVRC2015_val_00000000/{i:06d}.JPEG" for i in (440, 442, 444)]
  for k in keys:
    Image.fromarray(np.zeros([8, 8, 3], np.uint8)).save(tmp_path / k, format="JPEG")
  (tmp_path / "metadata").mkdir()
  (tmp_path / "metadata" / "labels.json").write_text(json.dumps({k: [26] for k in keys}))
  (tmp_path / "metadata" / "pmsets.json").write_text(json.dumps({keys[1]: [keys[0], keys[2]]}))
  ood = robustness.get_ood_dataset(f"imagenet_vid_robust(root='{tmp_path}')")
  assert ood.metric == "pmk" and ood.reader.anchors == [keys[1]] and ood.reader.frame_keys() == keys
  batch = next(ood.batches(8, 16))
  assert batch["image"].shape == (3, 16, 16, 3) and batch["label"].tolist() == [26, 26, 26]
  assert [k.decode() for k in batch["frame_key"]] == keys
  (tmp_path / "metadata" / "labels.json").write_text(json.dumps({k: [40] for k in keys}))
  with pytest.raises(ValueError, match="outside"):
    robustness.VideoRobustFolder(str(tmp_path), "imagenet_vid_robust")
  with pytest.raises(FileNotFoundError, match="robust-vid"):
    robustness.VideoRobustFolder(str(tmp_path / "nowhere"), "ytbb_robust")
