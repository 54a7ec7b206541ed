"""Rematerialisation (`network.remat`, the trainer's `config.remat`): the same gradients, refused with dropout."""

import numpy as np
import pytest
import tensorflow as tf

from model_garden import models

NETWORKS = {
    "vit": ("vit(variant='mu/4', width=16, depth=2, mlp_dim=32, num_heads=2, image_size=8, num_classes=3)", "image"),
    "mixer": ("mixer(patch_size=4, hidden_dim=16, num_blocks=2, tokens_mlp_dim=8, channels_mlp_dim=16, "
              "image_size=8, num_classes=3)", "image"),
    "bit": ("bit(variant='R14x1', base_width=8, groups=4, image_size=16, num_classes=3)", "image16"),
    "text_transformer": ("text_transformer(width=16, depth=2, mlp_dim=32, num_heads=2, vocab_size=50, max_len=6, "
                         "num_classes=3)", "tokens"),
    "bert_encoder": ("bert_encoder(width=16, depth=2, mlp_dim=32, num_heads=2, vocab_size=50, max_len=6, "
                     "num_classes=3)", "tokens"),
}


def _inputs(kind):
  rng = np.random.default_rng(0)
  if kind == "tokens":
    return tf.constant(rng.integers(1, 50, (3, 6)), tf.int32)
  size = 16 if kind == "image16" else 8
  return tf.constant(rng.uniform(-1, 1, (3, size, size, 3)), tf.float32)


def _gradients(net, x, graph):
  def step():
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(tf.square(net(x, training=True)))
    return loss, tape.gradient(loss, net.trainable_variables)
  return tf.function(step)() if graph else step()


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_remat_gives_the_same_gradients(name):
  spec, kind = NETWORKS[name]
  net = models.get(spec)
  rng = np.random.default_rng(1)
  for v in net.weights:  # Non-zero heads, so every variable has a gradient.
    if not np.any(v.numpy()):
      v.assign(rng.normal(0, 0.2, v.shape).astype(v.dtype))
  x = _inputs(kind)
  assert net.remat is False
  plain_loss, plain = _gradients(net, x, graph=True)
  net.remat = True
  for graph in (False, True):
    loss, grads = _gradients(net, x, graph)
    np.testing.assert_allclose(loss, plain_loss, rtol=1e-6)
    assert len(grads) == len(plain) > 4
    dense = lambda gs: [tf.convert_to_tensor(g).numpy() for g in gs]  # noqa: E731  (embeddings: IndexedSlices)
    grads, expected = dense(grads), dense(plain)
    # The recomputed forward pass sums in another order: float32 round-off, relative to the gradients' scale
    # (some gradients are zero in exact arithmetic, e.g. the attention keys' bias).
    scale = max(float(np.max(np.abs(p))) for p in expected)
    for g, p, v in zip(grads, expected, net.trainable_variables):
      np.testing.assert_allclose(g, p, rtol=1e-4, atol=1e-6 * scale, err_msg=v.path)


def test_remat_with_dropout_is_refused():
  net = models.get("vit(variant='mu/4', width=16, depth=1, mlp_dim=32, num_heads=2, image_size=8, dropout=0.1)")
  net.remat = True
  with pytest.raises(ValueError, match="redraw its dropout masks"):
    net(_inputs("image"), training=True)


def test_config_remat_sets_the_networks_and_refuses_networks_without_it():
  from model_garden.configs.vit import mg_shapes_finetune  # pylint: disable=g-import-not-at-top
  from model_garden.training import ConfigError, build_objective  # pylint: disable=g-import-not-at-top
  config = mg_shapes_finetune.get_config("runlocal")
  config.remat = True
  objective, _ = build_objective(config)
  assert objective.networks["network"].remat is True
  from model_garden.configs import mg_shapes_classification  # pylint: disable=g-import-not-at-top
  config = mg_shapes_classification.get_config("runlocal")  # ResNetSmall has no blocks to rematerialise.
  config.remat = True
  with pytest.raises(ConfigError, match="supports rematerialisation"):
    build_objective(config)
