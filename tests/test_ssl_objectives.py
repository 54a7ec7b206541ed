"""Pretext and semi-supervised objectives: batch construction, losses against NumPy, VAT, one step each."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import model_garden.models.ssl  # noqa: F401
import model_garden.objectives.ssl  # noqa: F401
from model_garden import models, objectives
from model_garden.models.ssl.patches import grid_patches, random_offsets
from model_garden.objectives.ssl import pretext
from model_garden.objectives.ssl import PatchTask, jigsaw_permutations
from model_garden.objectives.ssl.triplet import batch_hard_soft_margin, triplet_semihard_loss
from model_garden.objectives.ssl.vat import kl_divergence_from_logits, moving_statistics, vat_loss

TRUNK = "ssl_resnet_v2(layers=(1, 1, 1, 1), width=0.0625, image_size=16, num_classes={})"
PATCH_TRUNK = ("ssl_resnet_v1(layers=(1, 1, 1, 1), width=0.0625, root_stride=1, strides=(2, 2, 1), image_size=8, "
               "num_classes={})")


def _images(size=16, batch=4, seed=0):
  return tf.random.stateless_uniform((batch, size, size, 3), (seed, 1), -1, 1)


def _semi_batch(size=16):
  return {"image": _images(size), "labels": tf.one_hot([1, 2, -1, -1], 5),
          "labelled": tf.constant([1, 1, 0, 0], tf.int64)}


# -- Batch construction -------------------------------------------------------------------------------

def test_rotations_and_labels_match_numpy_rot90():
  x = np.random.default_rng(0).random((2, 5, 5, 3)).astype(np.float32)
  rotated, labels = pretext.rotate_images(tf.constant(x))
  rotated = rotated.numpy().reshape(2, 4, 5, 5, 3)
  for b, k in itertools.product(range(2), range(4)):
    np.testing.assert_array_equal(rotated[b, k], np.rot90(x[b], k))
  np.testing.assert_array_equal(labels, [0, 1, 2, 3, 0, 1, 2, 3])
  with pytest.raises(ValueError, match="square"):
    pretext.rotate_images(tf.zeros([1, 4, 6, 3]))


def test_jigsaw_permutations_are_deterministic_and_far_apart():
  perms = jigsaw_permutations(100, 9)
  assert perms.shape == (100, 9)
  np.testing.assert_array_equal(np.sort(perms, axis=1), np.tile(np.arange(9), (100, 1)))
  assert len({tuple(p) for p in perms}) == 100
  np.testing.assert_array_equal(perms[0], np.arange(9))
  np.testing.assert_array_equal(perms, jigsaw_permutations(100, 9))
  distances = (perms[:, None, :] != perms[None, :, :]).sum(-1) + 10 * np.eye(100, dtype=int)
  assert distances.min() >= 6


def test_grid_patches_geometry():
  images = _images(27, batch=2)
  offsets = random_offsets(2, 3, 1, tf.constant([3, 4], tf.int64))
  assert set(np.unique(offsets)) <= {0, 1}
  patches = grid_patches(images, grid=3, patch_size=8, offsets=offsets).numpy()
  assert patches.shape == (2, 9, 8, 8, 3)
  for b, k in itertools.product(range(2), range(9)):
    top = (k // 3) * 9 + int(offsets[b, k, 0])
    left = (k % 3) * 9 + int(offsets[b, k, 1])
    np.testing.assert_array_equal(patches[b, k], images.numpy()[b, top:top + 8, left:left + 8])
  centred = grid_patches(images, grid=3).numpy()  # no jitter: the cells themselves
  np.testing.assert_array_equal(centred[1, 5], images.numpy()[1, 9:18, 18:27])


def test_jigsaw_tuples_labels_and_concatenation_order():
  net = models.get(PATCH_TRUNK.format(6))
  objective = objectives.get("jigsaw(num_permutations=10, permutation_subset=4, patch_size=8, hidden=8)",
                             network=net)
  perms, labels = objective.tuples(training=True)
  assert perms.shape == (4, 9) and len(set(labels.numpy())) == 4
  np.testing.assert_array_equal(perms, jigsaw_permutations(10, 9)[labels.numpy()])
  all_perms, all_labels = objective.tuples(training=False)
  np.testing.assert_array_equal(all_labels, np.arange(10))
  embeddings = tf.random.stateless_normal([2, 9, 6], (0, 0))
  concat = objective.concat_tuples(embeddings, perms).numpy().reshape(2, 4, 9, 6)
  for b, j, t in itertools.product(range(2), range(4), range(9)):
    np.testing.assert_array_equal(concat[b, j, t], embeddings[b, int(perms[j, t])])


def test_relative_patch_location_pairs_and_patch_jitter():
  net = models.get(PATCH_TRUNK.format(6))
  objective = objectives.get("relative_patch_location(patch_size=8, hidden=8)", network=net)
  pairs, labels = objective.tuples(training=True)
  np.testing.assert_array_equal(pairs, [[i, 4] for i in (0, 1, 2, 3, 5, 6, 7, 8)])
  np.testing.assert_array_equal(labels, np.arange(8))
  images = _images(30, batch=2)
  eval_patches = objective.make_patches(images, training=False)
  assert eval_patches.shape == (2, 9, 8, 8, 3)
  # Standardised patches: zero mean, unit variance each.
  np.testing.assert_allclose(tf.reduce_mean(eval_patches, axis=[2, 3, 4]), 0.0, atol=1e-5)


def test_exemplar_views_and_grayscale():
  net = models.get(TRUNK.format(0))
  objective = objectives.get("exemplar(num_views=3, grayscale_probability=1.0, embedding_dim=8)", network=net)
  views, ids = objective.make_views(_images(16, batch=2))
  assert views.shape == (6, 16, 16, 3)
  np.testing.assert_array_equal(ids, [0, 0, 0, 1, 1, 1])
  # Grayscale (all channels equal) survives the per-view standardisation.
  np.testing.assert_allclose(views[..., 0], views[..., 2], atol=1e-5)
  raw = pretext.inception_views(_images(16, batch=2), 4, 12, tf.constant([1, 2], tf.int64))
  assert raw.shape == (8, 12, 12, 3) and float(tf.reduce_max(tf.abs(raw))) <= 1.0
  with pytest.raises(ValueError, match="view side as a positive int"):
    pretext.inception_views(_images(16, batch=2), 4, None, tf.constant([1, 2], tf.int64))


def test_views_take_the_network_size_when_the_batch_has_no_static_size():
  """A tf.data batch of decoded images has an unknown height: the views are the network's image_size."""
  objective = objectives.get("exemplar(num_views=2, embedding_dim=8)", network=models.get(TRUNK.format(0)))
  assert objective.view_size == 16
  make_views = tf.function(objective.make_views, input_signature=[tf.TensorSpec([None, None, None, 3])])
  views, _ = make_views(_images(24, batch=3))
  assert views.shape == (6, 16, 16, 3)
  assert objectives.get("exemplar(view_size=12)", network=models.get(TRUNK.format(0))).view_size == 12
  s4l = objectives.get("s4l_exemplar(num_views=2, embedding_dim=8)", network=models.get(TRUNK.format(5)))
  inputs, *_ = tf.function(s4l._inputs)({"image": tf.zeros([2, 20, 20, 3]), "labels": tf.constant([1, 2])})
  assert inputs.shape == (4, 16, 16, 3)
  sizeless = models.get(TRUNK.format(0))
  sizeless.image_size = None
  with pytest.raises(ValueError, match="pass view_size=S"):
    objectives.get("exemplar", network=sizeless)


# -- Losses against NumPy -----------------------------------------------------------------------------

def _np_semihard(labels, emb, margin):
  d = ((emb[:, None] - emb[None]) ** 2).sum(-1)
  losses = []
  for a, p in itertools.product(range(len(labels)), repeat=2):
    if a == p or labels[a] != labels[p]:
      continue
    negatives = [d[a, n] for n in range(len(labels)) if labels[n] != labels[a]]
    farther = [x for x in negatives if x > d[a, p]]
    chosen = min(farther) if farther else max(negatives)
    losses.append(max(margin + d[a, p] - chosen, 0.0))
  return np.mean(losses)


def test_triplet_semihard_loss_matches_numpy():
  rng = np.random.default_rng(0)
  for trial in range(3):
    labels = np.repeat(np.arange(4), 3)
    emb = rng.normal(size=(12, 5)).astype(np.float32) * (0.3 if trial else 1.0)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    got = triplet_semihard_loss(tf.constant(labels), tf.constant(emb), margin=0.5)
    np.testing.assert_allclose(got, _np_semihard(labels, emb, 0.5), rtol=1e-4, atol=1e-5)


def test_batch_hard_soft_margin_matches_numpy():
  rng = np.random.default_rng(1)
  labels = np.repeat(np.arange(3), 2)
  groups = np.array([1, 1, 1, 1, 0, 0])
  emb = rng.normal(size=(6, 4)).astype(np.float32)
  d = np.sqrt(((emb[:, None] - emb[None]) ** 2).sum(-1))
  want = []
  for a in range(6):
    pos = max(d[a, p] for p in range(6) if p != a and labels[p] == labels[a])
    negatives = [d[a, n] for n in range(6) if labels[n] != labels[a] and groups[n] == groups[a]]
    want.append(np.log1p(np.exp(pos - min(negatives))) if negatives else 0.0)  # group 0 has no negatives
  got = batch_hard_soft_margin(tf.constant(emb), tf.constant(labels), groups=tf.constant(groups))
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


# -- VAT ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("graph", [False, True])
def test_vat_perturbation_norm_and_frozen_batch_norm(graph):
  net = models.get(TRUNK.format(5))
  images = _images(16)
  stats = moving_statistics(net)
  assert len(stats) == 2 * 13  # 3 BatchNorms in each of the 4 units and the final one

  def compute():
    logits = net(images, training=True)  # the clean pass updates the averages (once)
    before = [tf.identity(v.value) for v in stats]
    loss, r = vat_loss(net, images, logits, tf.ones([4]), tf.constant([0, 1], tf.int64), epsilon=3.0)
    return loss, r, before

  loss, r, before = tf.function(compute)() if graph else compute()
  np.testing.assert_allclose(tf.norm(tf.reshape(r, [4, -1]), axis=1), 3.0, rtol=1e-4)
  for variable, value in zip(stats, before):
    np.testing.assert_array_equal(variable.numpy(), value.numpy())
  assert float(loss) >= 0.0


def test_vat_direction_is_adversarial():
  net = models.get(TRUNK.format(5))
  images = _images(16, batch=8, seed=3)
  logits = net(images)
  # xi = 1e-6 (the default) is below float32 resolution for an untrained toy network; 1e-2 is not.
  _, r = vat_loss(net, images, logits, tf.ones([8]), tf.constant([0, 5], tf.int64), epsilon=2.0, xi=1e-2,
                  training=False)
  noise = tf.random.stateless_normal(images.shape, (9, 9))
  noise = 2.0 * tf.math.l2_normalize(noise, axis=[1, 2, 3])
  kl_adv = tf.reduce_mean(kl_divergence_from_logits(net(images + r), logits))
  kl_rand = tf.reduce_mean(kl_divergence_from_logits(net(images + noise), logits))
  assert float(kl_adv) > float(kl_rand)


# -- One training step of every objective --------------------------------------------------------------

STEP_CASES = [
    ("rotation", TRUNK.format(4), lambda: {"image": _images()}),
    ("rotation", TRUNK.format(0), lambda: {"image": _images()}),
    ("exemplar(num_views=3, embedding_dim=8)", TRUNK.format(0), lambda: {"image": _images()}),
    ("jigsaw(num_permutations=10, permutation_subset=4, patch_size=8, hidden=16)", PATCH_TRUNK.format(8),
     lambda: {"image": _images(27)}),
    ("relative_patch_location(patch_size=8, hidden=16)", PATCH_TRUNK.format(0), lambda: {"image": _images(27)}),
    ("s4l_rotation", TRUNK.format(5), _semi_batch),
    ("s4l_exemplar(num_views=3, embedding_dim=8)", TRUNK.format(5), _semi_batch),
    ("rotation_vat(vat_epsilon=2.0)", TRUNK.format(5), _semi_batch),
    ("vat(epsilon=2.0, entmin_weight=1.0)", TRUNK.format(5), _semi_batch),
    ("entmin", TRUNK.format(5), _semi_batch),
]


@pytest.mark.parametrize("spec, network, batch", STEP_CASES, ids=[c[0].split("(")[0] + c[1][-3:-1]
                                                                   for c in STEP_CASES])
def test_one_training_step(spec, network, batch):
  """One step as the trainer runs it: built without an image shape, traced on images of unknown height
  (the patch tasks need a static size, which their pipelines' crops give)."""
  net = models.get(network)
  objective = objectives.get(spec, network=net)
  objective.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
  objective.build_for_training()
  before = [v.numpy().copy() for v in net.trainable_variables]
  data = batch()
  size = data["image"].shape[1] if isinstance(objective, PatchTask) else None
  signature = {k: tf.TensorSpec([None, size, size, 3] if k == "image" else v.shape, v.dtype) for k, v in data.items()}
  logs = tf.function(objective.train_step, input_signature=[signature])(data)
  assert set(objective.loss_names) <= set(logs)
  assert all(np.isfinite(float(v)) for v in logs.values()), logs
  assert any(not np.allclose(a, b.numpy()) for a, b in zip(before, net.trainable_variables))


def test_pseudo_label_step_uses_teacher_labels_for_unlabelled():
  teacher = models.get(TRUNK.format(5))
  student = models.get(TRUNK.format(5))
  objective = objectives.get("pseudo_label(threshold=0.0)", network=student, teacher=teacher)
  assert objective.networks == {"network": student, "teacher": teacher} and not teacher.trainable
  objective.compile(optimizer=keras.optimizers.SGD(0.05))
  objective.build_for_training()
  batch = _semi_batch()
  _, outputs = objective.compute_losses(batch, training=False)
  np.testing.assert_array_equal(outputs["pseudo"], tf.argmax(teacher(batch["image"]), -1))
  trained = {id(v) for v in objective.trainable_variables}
  assert not any(id(v) in trained for v in teacher.variables)
  teacher_before = [v.numpy().copy() for v in teacher.variables]
  logs = objective.train_step(batch)
  assert np.isfinite(float(logs["loss"]))
  for before, after in zip(teacher_before, teacher.variables):
    np.testing.assert_array_equal(before, after.numpy())
  rebuilt = type(objective).from_config(objective.get_config())
  assert rebuilt.teacher.num_classes == 5 and not rebuilt.teacher.trainable


def test_objective_argument_errors():
  with pytest.raises(ValueError, match="num_classes=4"):
    objectives.get("rotation", network=models.get(TRUNK.format(7)))
  with pytest.raises(ValueError, match="num_classes > 0"):
    objectives.get("s4l_rotation", network=models.get(TRUNK.format(0)))
  with pytest.raises(ValueError, match="weighted average"):
    objectives.get("rotation_vat(sup_weight=0.8, vat_weight=0.5)", network=models.get(TRUNK.format(5)))
  rpl = objectives.get("relative_patch_location(patch_size=8, hidden=8)", network=models.get(PATCH_TRUNK.format(0)))
  with pytest.raises(ValueError, match="static size"):
    tf.function(lambda x: rpl.make_patches(x, True)).get_concrete_function(tf.TensorSpec([None, None, None, 3]))
  with pytest.raises(TypeError, match="teacher is a network"):
    objectives.get("pseudo_label", network=models.get(TRUNK.format(5)), teacher="teacher.keras")
  with pytest.raises(ValueError, match="classes"):
    objectives.get("pseudo_label", network=models.get(TRUNK.format(5)), teacher=models.get(TRUNK.format(3)))


@pytest.mark.parametrize("spec, network", [
    ("s4l_exemplar(num_views=2, embedding_dim=8)", TRUNK.format(5)),
    ("jigsaw(num_permutations=10, patch_size=8, hidden=8)", PATCH_TRUNK.format(0)),
    ("relative_patch_location(patch_size=8, hidden=8)", PATCH_TRUNK.format(4)),
    ("exemplar(num_views=2, normalize_axis=0)", TRUNK.format(4)),
    ("vat(epsilon=3.0, vat_on_labelled=False)", TRUNK.format(5)),
])
def test_objective_config_round_trip(spec, network):
  objective = objectives.get(spec, network=models.get(network))
  config = objective.get_config()
  assert type(objective).from_config(config).get_config() == config
