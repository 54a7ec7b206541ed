"""Checkpoint conversion: official .npz layouts -> Keras, checked against a hand-written NumPy forward pass.

The NumPy reference below implements ViT and MLP-Mixer from the papers' equations (LayerNorm eps 1e-6,
tanh-GELU, softmax attention) in float64, independently of model_garden's Keras code; the checkpoints
are written by hand in each official key layout from known random arrays.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from model_garden import convert  # noqa: E402
from model_garden.convert import CheckpointMismatchError  # noqa: E402
from model_garden.layers.position_embedding import resample_posemb  # noqa: E402
from model_garden.models import mixer as mixer_lib  # noqa: E402,F401  (registers "mixer")
from model_garden.models import vit as vit_lib  # noqa: E402,F401  (registers "vit")

# On Ampere+ GPUs TensorFlow multiplies float32 in TF32 (10-bit mantissa), too coarse for 1e-4 parity.
tf.config.experimental.enable_tensor_float_32_execution(False)

WIDTH, DEPTH, HEADS, MLP, PATCH, IMAGE, CLASSES = 32, 2, 2, 64, 8, 32, 5
GRID = IMAGE // PATCH
TOL = 1e-4


def vit_spec(pool="tok", rep_size=None, num_classes=CLASSES, depth=DEPTH, image_size=IMAGE,
             posemb_cls_row=None):
  return (f"vit(variant='mu/{PATCH}', width={WIDTH}, depth={depth}, mlp_dim={MLP}, num_heads={HEADS}, "
          f"num_classes={num_classes}, pool='{pool}', rep_size={rep_size}, image_size={image_size}, "
          f"posemb_cls_row={posemb_cls_row})")


def vit_kwargs(**kw):
  base = dict(variant=f"mu/{PATCH}", width=WIDTH, depth=DEPTH, mlp_dim=MLP, num_heads=HEADS,
              num_classes=CLASSES, image_size=IMAGE)
  base.update(kw)
  return base


# ---------------------------------------------------------------------------------------------------
# Random parameters (nested, named by role) and the NumPy reference forward pass.

def _dense(rng, n_in, n_out):
  return {"kernel": rng.normal(0, 1 / np.sqrt(n_in), (n_in, n_out)), "bias": rng.normal(0, 0.1, (n_out,))}


def _norm(rng, width):
  return {"scale": 1 + rng.normal(0, 0.1, (width,)), "bias": rng.normal(0, 0.1, (width,))}


def _attention(rng, width, heads):
  head_dim = width // heads
  params = {}
  for part in ("query", "key", "value"):
    params[part] = {"kernel": rng.normal(0, 1 / np.sqrt(width), (width, heads, head_dim)),
                    "bias": rng.normal(0, 0.1, (heads, head_dim))}
  params["out"] = {"kernel": rng.normal(0, 1 / np.sqrt(width), (heads, head_dim, width)),
                   "bias": rng.normal(0, 0.1, (width,))}
  return params


def random_vit(seed=0, pool="tok", rep_size=None, cls_row=False, grid=GRID, num_classes=CLASSES):
  """Random ViT parameters; `cls_row` gives the posemb a [cls] row (vision_transformer semantics)."""
  rng = np.random.default_rng(seed)
  p = {"embedding": {"kernel": rng.normal(0, 1 / np.sqrt(PATCH * PATCH * 3), (PATCH, PATCH, 3, WIDTH)),
                     "bias": rng.normal(0, 0.1, (WIDTH,))},
       "posemb": rng.normal(0, 0.5, (1, grid * grid + (1 if cls_row else 0), WIDTH)),
       "cls": rng.normal(0, 0.5, (1, 1, WIDTH)) if pool == "tok" else None,
       "blocks": [{"ln0": _norm(rng, WIDTH), "attn": _attention(rng, WIDTH, HEADS), "ln1": _norm(rng, WIDTH),
                   "mlp": {"Dense_0": _dense(rng, WIDTH, MLP), "Dense_1": _dense(rng, MLP, WIDTH)}}
                  for _ in range(DEPTH)],
       "encoder_norm": _norm(rng, WIDTH), "map": None, "pre_logits": None}
  if pool == "map":
    p["map"] = {"probe": rng.normal(0, 0.5, (1, 1, WIDTH)), "attn": _attention(rng, WIDTH, HEADS),
                "ln": _norm(rng, WIDTH),
                "mlp": {"Dense_0": _dense(rng, WIDTH, MLP), "Dense_1": _dense(rng, MLP, WIDTH)}}
  features = WIDTH
  if rep_size:
    p["pre_logits"] = _dense(rng, WIDTH, rep_size)
    features = rep_size
  p["head"] = _dense(rng, features, num_classes)
  return p


def np_layer_norm(x, p):
  mean = x.mean(-1, keepdims=True)
  var = ((x - mean) ** 2).mean(-1, keepdims=True)
  return (x - mean) / np.sqrt(var + 1e-6) * p["scale"] + p["bias"]


def np_gelu(x):
  return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def np_dense(x, p):
  return x @ p["kernel"] + p["bias"]


def np_mlp(x, p):
  return np_dense(np_gelu(np_dense(x, p["Dense_0"])), p["Dense_1"])


def np_attention(x_q, x_kv, p):
  q = np.einsum("bld,dhk->blhk", x_q, p["query"]["kernel"]) + p["query"]["bias"]
  k = np.einsum("bld,dhk->blhk", x_kv, p["key"]["kernel"]) + p["key"]["bias"]
  v = np.einsum("bld,dhk->blhk", x_kv, p["value"]["kernel"]) + p["value"]["bias"]
  scores = np.einsum("bqhk,bshk->bhqs", q, k) / np.sqrt(q.shape[-1])
  scores = np.exp(scores - scores.max(-1, keepdims=True))
  probs = scores / scores.sum(-1, keepdims=True)
  y = np.einsum("bhqs,bshk->bqhk", probs, v)
  return np.einsum("bqhk,hkd->bqd", y, p["out"]["kernel"]) + p["out"]["bias"]


def np_patchify(images, p):
  n, height, width, channels = images.shape
  k = p["kernel"].shape[0]
  x = images.reshape(n, height // k, k, width // k, k, channels).transpose(0, 1, 3, 2, 4, 5)
  return np.einsum("nhwijc,ijcd->nhwd", x, p["kernel"]) + p["bias"]


def np_vit(p, images, pool):
  x = np_patchify(images.astype(np.float64), p["embedding"])
  n, h, w, d = x.shape
  x = x.reshape(n, h * w, d)
  if p["cls"] is not None:
    cls = np.broadcast_to(p["cls"], (n, 1, d))
    if p["posemb"].shape[1] == h * w + 1:  # vision_transformer: prepend [cls], then add posemb.
      x = np.concatenate([cls, x], axis=1) + p["posemb"]
    else:  # big_vision: add posemb, then prepend [cls].
      x = np.concatenate([cls, x + p["posemb"]], axis=1)
  else:
    x = x + p["posemb"]
  for b in p["blocks"]:
    y = np_layer_norm(x, b["ln0"])
    x = x + np_attention(y, y, b["attn"])
    x = x + np_mlp(np_layer_norm(x, b["ln1"]), b["mlp"])
  x = np_layer_norm(x, p["encoder_norm"])
  if pool in ("tok", "0"):
    x = x[:, 0]
  elif pool == "gap":
    x = x.mean(1)
  elif pool == "map":
    probe = np.broadcast_to(p["map"]["probe"], (n, 1, d))
    y = np_attention(probe, x, p["map"]["attn"])
    x = (y + np_mlp(np_layer_norm(y, p["map"]["ln"]), p["map"]["mlp"]))[:, 0]
  if p["pre_logits"] is not None:
    x = np.tanh(np_dense(x, p["pre_logits"]))
  return np_dense(x, p["head"])


# ---------------------------------------------------------------------------------------------------
# Writing the parameters in the official key layouts.

def _flatten(tree, prefix=""):
  flat = {}
  for key, value in tree.items():
    path = f"{prefix}/{key}" if prefix else key
    if isinstance(value, dict):
      flat.update(_flatten(value, path))
    else:
      flat[path] = np.asarray(value, np.float32)
  return flat


def _block_tree(b, names):
  ln0, attn, ln1, mlp = names
  return {ln0: b["ln0"], attn: b["attn"], ln1: b["ln1"], mlp: b["mlp"]}


def vision_transformer_npz(p):
  """The vit_jax layout: MultiHeadDotProductAttention_1, LayerNorm_2, MlpBlock_3, posembed_input."""
  transformer = {"encoder_norm": p["encoder_norm"], "posembed_input": {"pos_embedding": p["posemb"]}}
  tree = {"embedding": p["embedding"], "head": p["head"], "Transformer": transformer}
  for i, b in enumerate(p["blocks"]):
    tree["Transformer"][f"encoderblock_{i}"] = _block_tree(
        b, ("LayerNorm_0", "MultiHeadDotProductAttention_1", "LayerNorm_2", "MlpBlock_3"))
  if p["cls"] is not None:
    tree["cls"] = p["cls"]
  if p["pre_logits"] is not None:
    tree["pre_logits"] = p["pre_logits"]
  return _flatten(tree)


def big_vision_npz(p, scan=False):
  """The big_vision layout: params/ prefix, top-level pos_embedding, *_0 names, optional scan stacking."""
  names = ("LayerNorm_0", "MultiHeadDotProductAttention_0", "LayerNorm_1", "MlpBlock_0")
  tree = {"embedding": p["embedding"], "head": p["head"], "pos_embedding": p["posemb"],
          "Transformer": {"encoder_norm": p["encoder_norm"]}}
  blocks = [_flatten(_block_tree(b, names)) for b in p["blocks"]]
  if scan:
    tree["Transformer"]["encoderblock"] = {k: np.stack([blk[k] for blk in blocks]) for k in blocks[0]}
  else:
    for i, blk in enumerate(blocks):
      tree["Transformer"][f"encoderblock_{i}"] = blk
  if p["cls"] is not None:
    tree["cls"] = p["cls"]
  if p["map"] is not None:
    m = p["map"]
    tree["MAPHead_0"] = {"probe": m["probe"], "MultiHeadDotProductAttention_0": m["attn"],
                         "LayerNorm_0": m["ln"], "MlpBlock_0": m["mlp"]}
  if p["pre_logits"] is not None:
    tree["pre_logits"] = p["pre_logits"]
  return _flatten(tree, "params")


def images(seed=1, size=IMAGE):
  return np.random.default_rng(seed).uniform(-1, 1, (2, size, size, 3)).astype(np.float32)


def save(tmp_path, flat, name="ckpt.npz"):
  path = str(tmp_path / name)
  np.savez(path, **flat)
  return path


def logits_of(model, x):
  return np.asarray(model(x), np.float64)


# ---------------------------------------------------------------------------------------------------
# ViT layouts.

@pytest.mark.parametrize("posemb_cls_row", [None, False])
def test_vision_transformer_layout_with_cls_row_and_pre_logits(tmp_path, posemb_cls_row):
  # None: the model has the [cls] row (pool "tok" default) and loads the file as it is; False: big_vision's
  # layout, the row is folded into the class token. Both compute the reference's function.
  p = random_vit(pool="tok", rep_size=24, cls_row=True)
  flat = vision_transformer_npz(p)
  assert flat["Transformer/posembed_input/pos_embedding"].shape == (1, GRID * GRID + 1, WIDTH)
  path = save(tmp_path, flat)
  model = vit_lib.vit(**vit_kwargs(pool="tok", rep_size=24, posemb_cls_row=posemb_cls_row))
  assert convert.load_npz_into(model, path) == "vision_transformer"
  posemb, cls = model.posemb.pos_embedding.numpy(), model.cls_token.cls.numpy()
  if posemb_cls_row is None:
    np.testing.assert_array_equal(posemb, flat["Transformer/posembed_input/pos_embedding"])
    np.testing.assert_array_equal(cls, flat["cls"])
  else:
    np.testing.assert_array_equal(posemb, flat["Transformer/posembed_input/pos_embedding"][:, 1:])
    np.testing.assert_allclose(cls, p["cls"] + p["posemb"][:, :1], atol=1e-6)
  x = images()
  np.testing.assert_allclose(logits_of(model, x), np_vit(p, x, "tok"), atol=TOL)


def map_leaves(fn, tree):
  if isinstance(tree, dict):
    return {k: map_leaves(fn, v) for k, v in tree.items()}
  if isinstance(tree, list):
    return [map_leaves(fn, v) for v in tree]
  return None if tree is None else fn(tree)


def round_to_bfloat16(array):
  """Keeps the upper 16 bits of each float32 (truncation), so the value is exactly a bfloat16."""
  bits = np.asarray(array, np.float32).view(np.uint32) & np.uint32(0xFFFF0000)
  return bits.view(np.float32).astype(np.float64)


def as_void_bfloat16(array):
  """How np.save writes a JAX bfloat16 array: its 2 bytes as void."""
  return (np.asarray(array, np.float32).view(np.uint32) >> 16).astype(np.uint16).view("V2")


def test_big_vision_layout_gap_with_bfloat16_void_arrays(tmp_path):
  p = map_leaves(round_to_bfloat16, random_vit(pool="gap", seed=3))
  path = save(tmp_path, {k: as_void_bfloat16(v) for k, v in big_vision_npz(p).items()})
  with np.load(path) as npz:
    assert npz["params/head/kernel"].dtype.str == "|V2"
  model = convert.convert(path, vit_spec(pool="gap"))
  x = images()
  np.testing.assert_allclose(logits_of(model, x), np_vit(p, x, "gap"), atol=TOL)


@pytest.mark.parametrize("posemb_cls_row", [False, None])
def test_big_vision_scan_stacked_layout(tmp_path, posemb_cls_row):
  # big_vision "tok" has no [cls] row; a model with the row (the default) gets a zero row: the same function.
  p = random_vit(pool="tok", seed=4)
  flat = big_vision_npz(p, scan=True)
  assert flat["params/Transformer/encoderblock/MlpBlock_0/Dense_0/kernel"].shape == (DEPTH, WIDTH, MLP)
  model = vit_lib.vit(**vit_kwargs(pool="tok", posemb_cls_row=posemb_cls_row))
  assert convert.load_npz_into(model, save(tmp_path, flat)) == "big_vision (scan)"
  posemb = model.posemb.pos_embedding.numpy()
  if posemb_cls_row is None:
    assert posemb.shape == (1, GRID * GRID + 1, WIDTH)
    np.testing.assert_array_equal(posemb[:, 0], 0)
    np.testing.assert_array_equal(posemb[:, 1:], flat["params/pos_embedding"])
  x = images()
  np.testing.assert_allclose(logits_of(model, x), np_vit(p, x, "tok"), atol=TOL)


def test_big_vision_map_head(tmp_path):
  p = random_vit(pool="map", seed=5)
  flat = big_vision_npz(p)
  assert flat["params/MAPHead_0/probe"].shape == (1, 1, WIDTH)
  assert "params/MAPHead_0/MultiHeadDotProductAttention_0/out/kernel" in flat
  model = convert.convert(save(tmp_path, flat), vit_spec(pool="map"))
  x = images()
  np.testing.assert_allclose(logits_of(model, x), np_vit(p, x, "map"), atol=TOL)


def _bilinear_align_corners(grid, new):
  """Textbook bilinear resize with corners aligned (what scipy.ndimage.zoom(order=1) computes)."""
  old = grid.shape[0]
  out = np.zeros((new, new, grid.shape[-1]))
  for i in range(new):
    for j in range(new):
      y, x = i * (old - 1) / (new - 1), j * (old - 1) / (new - 1)
      y0, x0 = min(int(y), old - 2), min(int(x), old - 2)
      dy, dx = y - y0, x - x0
      out[i, j] = ((1 - dy) * (1 - dx) * grid[y0, x0] + (1 - dy) * dx * grid[y0, x0 + 1]
                   + dy * (1 - dx) * grid[y0 + 1, x0] + dy * dx * grid[y0 + 1, x0 + 1])
  return out


@pytest.mark.parametrize("posemb_cls_row", [False, None])
def test_posemb_of_another_grid_is_resampled_keeping_the_cls_row(tmp_path, posemb_cls_row):
  # A vision_transformer checkpoint trained at 24 px (3x3 patches + [cls] row), loaded at 32 px (4x4):
  # the grid is resampled, the [cls] row kept (model with the row) or folded into the token (without).
  p = random_vit(pool="tok", cls_row=True, grid=3, seed=6)
  model = convert.convert(save(tmp_path, vision_transformer_npz(p)),
                          vit_spec(pool="tok", posemb_cls_row=posemb_cls_row))
  posemb = p["posemb"]
  expected = dict(p)
  grid = _bilinear_align_corners(posemb[0, 1:].reshape(3, 3, WIDTH), GRID).reshape(1, GRID * GRID, WIDTH)
  if posemb_cls_row is None:
    expected["posemb"] = np.concatenate([posemb[:, :1], grid], axis=1)
  else:
    expected["cls"] = p["cls"] + posemb[:, :1]
    expected["posemb"] = grid
  np.testing.assert_allclose(model.posemb.pos_embedding.numpy(), expected["posemb"], atol=1e-5)
  x = images()
  np.testing.assert_allclose(logits_of(model, x), np_vit(expected, x, "tok"), atol=TOL)
  np.testing.assert_allclose(logits_of(model, x), np_vit(_resampled_reference(p), x, "tok"), atol=TOL)


def _resampled_reference(p):
  """The reference in vision_transformer's own terms: the grid rows resampled, the [cls] row kept."""
  grid = _bilinear_align_corners(p["posemb"][0, 1:].reshape(3, 3, WIDTH), GRID)
  return dict(p, posemb=np.concatenate([p["posemb"][:, :1], grid.reshape(1, GRID * GRID, WIDTH)], axis=1))


def test_resample_posemb_keeps_corners_and_interpolates_linearly():
  grid = np.arange(4, dtype=np.float32).reshape(1, 4, 1)  # 2x2: [[0, 1], [2, 3]]
  out = resample_posemb(grid, 3).reshape(3, 3)
  np.testing.assert_allclose(out, [[0, 0.5, 1], [1, 1.5, 2], [2, 2.5, 3]])
  assert resample_posemb(grid, 2) is not None and np.array_equal(resample_posemb(grid, 2), grid)
  ramp = np.arange(16, dtype=np.float64).reshape(1, 16, 1)  # 4x4 ramp; shrinking to 2x2 keeps corners.
  np.testing.assert_allclose(resample_posemb(ramp, 2).ravel(), [0, 3, 12, 15])
  np.testing.assert_allclose(resample_posemb(ramp, (4, 7)).reshape(4, 7)[1], np.linspace(4, 7, 7))
  with pytest.raises(ValueError, match="square"):
    resample_posemb(np.zeros((1, 7, 2)), 2)


def test_resample_posemb_keeps_a_cls_row():
  grid = np.arange(4, dtype=np.float32).reshape(1, 4, 1)
  with_row = np.concatenate([np.full((1, 1, 1), 42.0, np.float32), grid], axis=1)  # [cls] + 2x2
  out = resample_posemb(with_row, 3)  # 5 rows: detected as [cls] + 2x2.
  assert out.shape == (1, 10, 1) and out.dtype == np.float32
  assert out[0, 0, 0] == 42.0
  np.testing.assert_allclose(out[0, 1:].reshape(3, 3), [[0, 0.5, 1], [1, 1.5, 2], [2, 2.5, 3]])
  np.testing.assert_allclose(resample_posemb(with_row, 3, cls_row=True), out)
  np.testing.assert_allclose(resample_posemb(with_row, (1, 5), old_grid=(1, 5), cls_row=False), with_row)
  np.testing.assert_allclose(resample_posemb(with_row, 3, old_grid=2), out)  # 2x2 + 1: a row.
  with pytest.raises(ValueError, match="old_grid"):
    resample_posemb(with_row, 3, old_grid=3)


def test_mismatch_error_lists_missing_unexpected_and_misshaped_keys(tmp_path):
  p = random_vit(pool="tok", seed=7)
  path = save(tmp_path, big_vision_npz(p))
  model = vit_lib.vit(**vit_kwargs(pool="gap", depth=3, num_classes=7))
  before = [w.numpy().copy() for w in model.weights]
  with pytest.raises(CheckpointMismatchError) as info:
    convert.load_npz_into(model, path)
  error = info.value
  assert "Transformer/encoderblock_2/MultiHeadDotProductAttention_0/query/kernel" in error.missing
  assert error.unexpected == ["cls"]
  assert error.mismatched == {"head/bias": ((CLASSES,), (7,)), "head/kernel": ((WIDTH, CLASSES), (WIDTH, 7))}
  message = str(error)
  for text in ("missing", "unexpected", "mis-shaped", "encoderblock_2", "cls", "head/kernel", "pool='tok'",
               f"num_classes={CLASSES}", "big_vision"):
    assert text in message, text
  for old, new in zip(before, model.weights):  # Nothing was written.
    np.testing.assert_array_equal(old, new.numpy())


def test_mismatch_error_for_wrong_layout_details(tmp_path):
  p = random_vit(pool="tok", rep_size=24, cls_row=True, seed=8)
  path = save(tmp_path, vision_transformer_npz(p))
  with pytest.raises(CheckpointMismatchError) as info:
    convert.convert(path, vit_spec(pool="tok"))  # No rep_size.
  assert info.value.unexpected == ["pre_logits/bias", "pre_logits/kernel"]
  assert "rep_size=24" in str(info.value)


def test_dont_load_keeps_a_fresh_head(tmp_path):
  p = random_vit(pool="gap", seed=9)
  model = convert.convert(save(tmp_path, big_vision_npz(p)), vit_spec(pool="gap", num_classes=7),
                          dont_load=("head/.*",))
  assert np.all(model.head.kernel.numpy() == 0)
  x = images()
  features = model.intermediates(x)["pre_logits"]
  p_no_head = dict(p, head={"kernel": np.eye(WIDTH), "bias": np.zeros(WIDTH)})
  np.testing.assert_allclose(np.asarray(features), np_vit(p_no_head, x, "gap"), atol=TOL)
  with pytest.raises(ValueError, match="matches no"):
    convert.convert(save(tmp_path, big_vision_npz(p)), vit_spec(pool="gap"), dont_load=("heads/.*",))


def test_sub_tree_of_a_two_tower_file(tmp_path):
  p = random_vit(pool="map", seed=10)
  flat = {k.replace("params/", "params/img/", 1): v for k, v in big_vision_npz(p).items()}
  flat["params/txt/Embed_0/embedding"] = np.zeros((3, 4), np.float32)
  flat["params/t"] = np.ones((1,), np.float32)
  path = save(tmp_path, flat)
  model = convert.convert(path + ":img", vit_spec(pool="map"))
  x = images()
  np.testing.assert_allclose(logits_of(model, x), np_vit(p, x, "map"), atol=TOL)


def test_bfloat16_void_decoding():
  bits = np.array([0x3F80, 0xC020, 0x4049, 0x0000, 0x7F80], np.uint16)  # 1, -2.5, 3.140625, 0, inf
  decoded = convert.decode_array(bits.view("V2"))
  assert decoded.dtype == np.float32
  np.testing.assert_array_equal(decoded, [1.0, -2.5, 3.140625, 0.0, np.inf])
  with pytest.raises(ValueError, match="raw dtype"):
    convert.decode_array(np.zeros(2, "V4"))


def test_pickles_are_never_loaded(tmp_path):
  path = str(tmp_path / "evil.npz")
  np.savez(path, weights=np.array([{"a": 1}], dtype=object))
  with pytest.raises(ValueError, match="pickled"):
    convert.read_npz(path)
  not_npz = tmp_path / "weights.pkl"
  not_npz.write_bytes(b"\x80\x04K\x01.")
  with pytest.raises(ValueError, match="not an .npz"):
    convert.read_npz(str(not_npz))


# ---------------------------------------------------------------------------------------------------
# MLP-Mixer.

M_HIDDEN, M_BLOCKS, M_TOKENS_MLP, M_CHANNELS_MLP = 32, 2, 16, 64
M_TOKENS = GRID * GRID


def random_mixer(seed=0):
  rng = np.random.default_rng(seed)
  return {"stem": {"kernel": rng.normal(0, 1 / np.sqrt(PATCH * PATCH * 3), (PATCH, PATCH, 3, M_HIDDEN)),
                   "bias": rng.normal(0, 0.1, (M_HIDDEN,))},
          **{f"MixerBlock_{i}": {
              "LayerNorm_0": _norm(rng, M_HIDDEN),
              "token_mixing": {"Dense_0": _dense(rng, M_TOKENS, M_TOKENS_MLP),
                               "Dense_1": _dense(rng, M_TOKENS_MLP, M_TOKENS)},
              "LayerNorm_1": _norm(rng, M_HIDDEN),
              "channel_mixing": {"Dense_0": _dense(rng, M_HIDDEN, M_CHANNELS_MLP),
                                 "Dense_1": _dense(rng, M_CHANNELS_MLP, M_HIDDEN)}} for i in range(M_BLOCKS)},
          "pre_head_layer_norm": _norm(rng, M_HIDDEN),
          "head": _dense(rng, M_HIDDEN, CLASSES)}


def np_mixer(p, x):
  x = np_patchify(x.astype(np.float64), p["stem"])
  x = x.reshape(x.shape[0], -1, x.shape[-1])
  for i in range(M_BLOCKS):
    b = p[f"MixerBlock_{i}"]
    y = np_layer_norm(x, b["LayerNorm_0"]).transpose(0, 2, 1)
    x = x + np_mlp(y, b["token_mixing"]).transpose(0, 2, 1)
    x = x + np_mlp(np_layer_norm(x, b["LayerNorm_1"]), b["channel_mixing"])
  x = np_layer_norm(x, p["pre_head_layer_norm"]).mean(1)
  return np_dense(x, p["head"])


MIXER_SPEC = (f"mixer(variant='Ti/{PATCH}', hidden_dim={M_HIDDEN}, num_blocks={M_BLOCKS}, "
              f"tokens_mlp_dim={M_TOKENS_MLP}, channels_mlp_dim={M_CHANNELS_MLP}, num_classes={CLASSES}, "
              f"image_size={IMAGE})")


def test_mixer_layout(tmp_path):
  p = random_mixer(seed=11)
  flat = _flatten(p)
  assert "MixerBlock_1/token_mixing/Dense_0/kernel" in flat and "pre_head_layer_norm/scale" in flat
  model = convert.convert(save(tmp_path, flat), MIXER_SPEC)
  x = images()
  np.testing.assert_allclose(logits_of(model, x), np_mixer(p, x), atol=TOL)


def test_mixer_at_another_image_size_is_a_clear_mismatch(tmp_path):
  path = save(tmp_path, _flatten(random_mixer(seed=12)))
  with pytest.raises(CheckpointMismatchError) as info:
    convert.convert(path, MIXER_SPEC.replace(f"image_size={IMAGE}", "image_size=48"))
  assert "MixerBlock_0/token_mixing/Dense_0/kernel" in info.value.mismatched
  assert "image_size" in str(info.value)


# ---------------------------------------------------------------------------------------------------
# The command-line tool.

def _load_tool():
  import importlib.util
  path = os.path.join(os.path.dirname(__file__), "..", "tools", "convert_checkpoint.py")
  spec = importlib.util.spec_from_file_location("convert_checkpoint_tool", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_cli_writes_a_keras_file_that_loads(tmp_path):
  import model_garden  # noqa: F401  (registers the serialisables, as a user would)

  p = random_vit(pool="tok", cls_row=True, seed=13)
  source = save(tmp_path, vision_transformer_npz(p))
  output = str(tmp_path / "out" / "vit.keras")
  summary = _load_tool().run(source, vit_spec(pool="tok"), output)
  assert "parameters" in summary and os.path.exists(output)
  restored = keras.saving.load_model(output)
  x = images()
  np.testing.assert_allclose(logits_of(restored, x), np_vit(p, x, "tok"), atol=TOL)
