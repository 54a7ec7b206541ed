"""LiT two-tower `.npz` checkpoints (`img/...`, `txt/...`, `t`) against an independent NumPy forward."""

import math

import numpy as np
import pytest
import tensorflow as tf

from model_garden.convert import load_npz_into
from model_garden.convert import lit as lit_convert  # noqa: F401  (registers the two-tower converters)
from model_garden.convert.errors import CheckpointMismatchError
from model_garden.models import registry as model_registry
from model_garden.training.networks import initialise

W, HEADS, MLP, OUT, VOCAB, LEN = 32, 2, 64, 16, 30, 6
SPEC = ("two_towers(image=\"vit(variant='mu/4', mlp_dim=64, image_size=8, pool='gap')\", text=\"text_transformer(width=32, "
        "depth={depth}, mlp_dim=64, num_heads=2, vocab_size={vocab}, max_len=6)\", out_dim=16)")


def _block_params(rng, prefix):
  p = {}
  for ln in ("LayerNorm_0", "LayerNorm_1"):
    p[f"{prefix}/{ln}/scale"] = 1 + rng.normal(0, 0.1, W)
    p[f"{prefix}/{ln}/bias"] = rng.normal(0, 0.1, W)
  att = f"{prefix}/MultiHeadDotProductAttention_0"
  for part in ("query", "key", "value"):
    p[f"{att}/{part}/kernel"] = rng.normal(0, 0.2, (W, HEADS, W // HEADS))
    p[f"{att}/{part}/bias"] = rng.normal(0, 0.1, (HEADS, W // HEADS))
  p[f"{att}/out/kernel"] = rng.normal(0, 0.2, (HEADS, W // HEADS, W))
  p[f"{att}/out/bias"] = rng.normal(0, 0.1, W)
  p[f"{prefix}/MlpBlock_0/Dense_0/kernel"] = rng.normal(0, 0.2, (W, MLP))
  p[f"{prefix}/MlpBlock_0/Dense_0/bias"] = rng.normal(0, 0.1, MLP)
  p[f"{prefix}/MlpBlock_0/Dense_1/kernel"] = rng.normal(0, 0.2, (MLP, W))
  p[f"{prefix}/MlpBlock_0/Dense_1/bias"] = rng.normal(0, 0.1, W)
  return p


def _lit_params(seed=0, text_depth=1):
  rng = np.random.default_rng(seed)
  p = {"img/embedding/kernel": rng.normal(0, 0.2, (4, 4, 3, W)), "img/embedding/bias": rng.normal(0, 0.1, W),
       "img/pos_embedding": rng.normal(0, 0.2, (1, 4, W)),
       **_block_params(rng, "img/Transformer/encoderblock_0"),
       "img/Transformer/encoder_norm/scale": 1 + rng.normal(0, 0.1, W),
       "img/Transformer/encoder_norm/bias": rng.normal(0, 0.1, W),
       "img/head/kernel": rng.normal(0, 0.2, (W, OUT)), "img/head/bias": rng.normal(0, 0.1, OUT),
       "txt/Embed_0/embedding": rng.normal(0, 0.5, (VOCAB, W)), "txt/pos_embedding": rng.normal(0, 0.2, (1, LEN, W)),
       "txt/Encoder_0/encoder_norm/scale": 1 + rng.normal(0, 0.1, W),
       "txt/Encoder_0/encoder_norm/bias": rng.normal(0, 0.1, W),
       "txt/head/kernel": rng.normal(0, 0.2, (W, OUT)), "txt/head/bias": rng.normal(0, 0.1, OUT),
       "t": np.array([math.log(7.0)])}
  for i in range(text_depth):
    p.update(_block_params(rng, f"txt/Encoder_0/encoderblock_{i}"))
  return {k: np.asarray(v, np.float32) for k, v in p.items()}


# -- An independent NumPy forward (Flax semantics: LayerNorm eps 1e-6, tanh GELU, pre-LN blocks) ------------

def _ln(x, p, prefix, eps=1e-6):
  mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
  return (x - mean) / np.sqrt(var + eps) * p[f"{prefix}/scale"] + p[f"{prefix}/bias"]


def _gelu(x):
  return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _block(x, p, prefix):
  att = f"{prefix}/MultiHeadDotProductAttention_0"
  y = _ln(x, p, f"{prefix}/LayerNorm_0")
  q, k, v = (np.einsum("bnd,dhc->bnhc", y, p[f"{att}/{n}/kernel"]) + p[f"{att}/{n}/bias"]
             for n in ("query", "key", "value"))
  weights = _softmax(np.einsum("bqhc,bkhc->bhqk", q / np.sqrt(q.shape[-1]), k))
  y = np.einsum("bhqk,bkhc->bqhc", weights, v)
  x = x + np.einsum("bqhc,hcd->bqd", y, p[f"{att}/out/kernel"]) + p[f"{att}/out/bias"]
  y = _ln(x, p, f"{prefix}/LayerNorm_1")
  mlp = f"{prefix}/MlpBlock_0"
  y = _gelu(y @ p[f"{mlp}/Dense_0/kernel"] + p[f"{mlp}/Dense_0/bias"])
  return x + y @ p[f"{mlp}/Dense_1/kernel"] + p[f"{mlp}/Dense_1/bias"]


def _normalize(z):
  return z / (np.linalg.norm(z, axis=-1, keepdims=True) + 1e-8)


def _numpy_image_tower(p, images):
  b = images.shape[0]
  patches = images.reshape(b, 2, 4, 2, 4, 3).transpose(0, 1, 3, 2, 4, 5).reshape(b, 4, 48)
  x = patches @ p["img/embedding/kernel"].reshape(48, W) + p["img/embedding/bias"] + p["img/pos_embedding"]
  x = _ln(_block(x, p, "img/Transformer/encoderblock_0"), p, "img/Transformer/encoder_norm")
  return _normalize(x.mean(1) @ p["img/head/kernel"] + p["img/head/bias"])


def _numpy_text_tower(p, tokens, depth=1):
  x = p["txt/Embed_0/embedding"][tokens] + p["txt/pos_embedding"]
  for i in range(depth):
    x = _block(x, p, f"txt/Encoder_0/encoderblock_{i}")
  x = _ln(x, p, "txt/Encoder_0/encoder_norm")[:, -1]  # pool "last" (sticky EOS)
  return _normalize(x @ p["txt/head/kernel"] + p["txt/head/bias"])


def _inputs(seed=1):
  rng = np.random.default_rng(seed)
  return rng.uniform(-1, 1, (3, 8, 8, 3)).astype(np.float32), rng.integers(0, VOCAB, (3, LEN)).astype(np.int32)


def test_lit_npz_matches_numpy_forward(tmp_path):
  params = _lit_params()
  path = tmp_path / "lit.npz"
  np.savez(path, **{f"params/{k}": v for k, v in params.items()})  # big_vision stores under params/.
  lit = model_registry.get(SPEC.format(depth=1, vocab=VOCAB))
  layout = load_npz_into(lit, str(path))
  assert layout.startswith("two_towers(img=big_vision") and "txt=big_vision_text_transformer" in layout
  images, tokens = _inputs()
  zimg, ztxt = _numpy_image_tower(params, images), _numpy_text_tower(params, tokens)
  np.testing.assert_allclose(lit.embed_images(tf.constant(images)), zimg, atol=2e-5)
  np.testing.assert_allclose(lit.embed_texts(tf.constant(tokens)), ztxt, atol=2e-5)
  assert float(lit.temperature) == pytest.approx(7.0, rel=1e-6)
  # One tower of the file, as a network init of the trainer: "file.npz:img".
  only_img = model_registry.get(SPEC.format(depth=1, vocab=VOCAB))
  initialise(only_img.img, f"{path}:img", what="image")
  np.testing.assert_allclose(only_img.embed_images(tf.constant(images)), zimg, atol=2e-5)
  assert float(only_img.temperature) == pytest.approx(10.0, rel=1e-6)  # t not loaded: initial value.


def test_scan_stacked_text_tower_and_mismatch_hints(tmp_path):
  params = _lit_params(text_depth=2)
  scan = {k: v for k, v in params.items() if "encoderblock_" not in k or not k.startswith("txt/")}
  first = [k for k in params if k.startswith("txt/Encoder_0/encoderblock_0/")]
  for key in first:
    sub = key[len("txt/Encoder_0/encoderblock_0/"):]
    scan[f"txt/Encoder_0/encoderblock/{sub}"] = np.stack([params[key],
                                                          params[key.replace("encoderblock_0", "encoderblock_1")]])
  np.savez(tmp_path / "scan.npz", **scan)
  lit = model_registry.get(SPEC.format(depth=2, vocab=VOCAB))
  assert "scan" in load_npz_into(lit, str(tmp_path / "scan.npz"))
  _, tokens = _inputs()
  np.testing.assert_allclose(lit.embed_texts(tf.constant(tokens)), _numpy_text_tower(params, tokens, depth=2),
                             atol=2e-5)
  wrong = model_registry.get(SPEC.format(depth=2, vocab=50))
  with pytest.raises(CheckpointMismatchError, match="vocab_size=30"):
    load_npz_into(wrong, str(tmp_path / "scan.npz"))


def _bert_params(rng, depth=2):
  p = {"BertEncoder_0/embedder/embedders_token_ids/embedding": rng.normal(0, 0.5, (VOCAB, W)),
       "BertEncoder_0/embedder/embedders_position_ids/embedding": rng.normal(0, 0.2, (512, W)),
       "BertEncoder_0/embedder/embedders_segment_ids/embedding": rng.normal(0, 0.2, (2, W)),
       "BertEncoder_0/layer_norm/scale": 1 + rng.normal(0, 0.1, W),
       "BertEncoder_0/layer_norm/bias": rng.normal(0, 0.1, W),
       "head/kernel": rng.normal(0, 0.2, (W, OUT)), "head/bias": rng.normal(0, 0.1, OUT)}
  for i in range(depth):
    prefix = f"BertEncoder_0/encoder_block/layer_sequence/layers_{i}"
    for part in ("query", "key", "value"):
      p[f"{prefix}/attention_block/attention_layer/{part}/kernel"] = rng.normal(0, 0.2, (W, W))
      p[f"{prefix}/attention_block/attention_layer/{part}/bias"] = rng.normal(0, 0.1, W)
    p[f"{prefix}/attention_block/dense_layer/kernel"] = rng.normal(0, 0.2, (W, W))
    p[f"{prefix}/attention_block/dense_layer/bias"] = rng.normal(0, 0.1, W)
    p[f"{prefix}/mlp_block/mlp/dense_layer/kernel"] = rng.normal(0, 0.2, (W, MLP))
    p[f"{prefix}/mlp_block/mlp/dense_layer/bias"] = rng.normal(0, 0.1, MLP)
    p[f"{prefix}/mlp_block/dense_layer/kernel"] = rng.normal(0, 0.2, (MLP, W))
    p[f"{prefix}/mlp_block/dense_layer/bias"] = rng.normal(0, 0.1, W)
    for block in ("attention_block", "mlp_block"):
      p[f"{prefix}/{block}/layer_norm/scale"] = 1 + rng.normal(0, 0.1, W)
      p[f"{prefix}/{block}/layer_norm/bias"] = rng.normal(0, 0.1, W)
  return {k: np.asarray(v, np.float32) for k, v in p.items()}


def _numpy_bert(p, tokens, depth=2):
  ln = lambda x, prefix: _ln(x, p, prefix, eps=1e-12)
  e = "BertEncoder_0/embedder"
  x = (p[f"{e}/embedders_token_ids/embedding"][tokens] + p[f"{e}/embedders_position_ids/embedding"][:LEN]
       + p[f"{e}/embedders_segment_ids/embedding"][0])
  x = ln(x, "BertEncoder_0/layer_norm")
  valid = tokens != 0
  mask = valid[:, None, :, None] & valid[:, None, None, :]
  for i in range(depth):
    pre = f"BertEncoder_0/encoder_block/layer_sequence/layers_{i}"
    att = f"{pre}/attention_block"
    q, k, v = ((x @ p[f"{att}/attention_layer/{n}/kernel"] + p[f"{att}/attention_layer/{n}/bias"]).reshape(
        *x.shape[:2], HEADS, W // HEADS) for n in ("query", "key", "value"))
    logits = np.where(mask, np.einsum("bqhc,bkhc->bhqk", q / np.sqrt(W // HEADS), k), -1e9)
    y = np.einsum("bhqk,bkhc->bqhc", _softmax(logits), v).reshape(x.shape)
    x = ln(x + y @ p[f"{att}/dense_layer/kernel"] + p[f"{att}/dense_layer/bias"], f"{att}/layer_norm")
    mlp = f"{pre}/mlp_block"
    y = _gelu(x @ p[f"{mlp}/mlp/dense_layer/kernel"] + p[f"{mlp}/mlp/dense_layer/bias"])
    x = ln(x + y @ p[f"{mlp}/dense_layer/kernel"] + p[f"{mlp}/dense_layer/bias"], f"{mlp}/layer_norm")
  return _normalize(x[:, 0] @ p["head/kernel"] + p["head/bias"])


def test_bert_text_tower_from_lit_npz(tmp_path):
  params = {**{k: v for k, v in _lit_params().items() if k.startswith("img/") or k == "t"},
            **{f"txt/{k}": v for k, v in _bert_params(np.random.default_rng(3)).items()}}
  np.savez(tmp_path / "lit_bert.npz", **params)
  spec = SPEC.format(depth=1, vocab=VOCAB).replace(
      "text_transformer(width=32, depth=1, mlp_dim=64, num_heads=2, vocab_size=30, max_len=6)",
      "bert_encoder(width=32, depth=2, mlp_dim=64, num_heads=2, vocab_size=30, max_len=6)")
  lit = model_registry.get(spec)
  assert "txt=flaxformer_bert" in load_npz_into(lit, str(tmp_path / "lit_bert.npz"))
  tokens = np.array([[2, 5, 9, 0, 0, 0], [2, 7, 8, 9, 10, 11]], np.int32)
  bert = {k[4:]: v for k, v in params.items() if k.startswith("txt/")}
  np.testing.assert_allclose(lit.embed_texts(tf.constant(tokens)), _numpy_bert(bert, tokens), atol=2e-5)
  with pytest.raises(CheckpointMismatchError, match="bert_encoder|text_transformer"):
    load_npz_into(model_registry.get(SPEC.format(depth=1, vocab=VOCAB)), str(tmp_path / "lit_bert.npz"))
