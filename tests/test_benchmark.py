"""Tests of tools/benchmark.py: the FLOP counter against closed forms, and tiny end-to-end runs."""

import json
import math
import os
import subprocess
import sys

import pytest

import model_garden  # noqa: F401  Sets the Keras backend and registers the serialisables.
import keras
import tensorflow as tf

from tool_module import load_tool

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESNET = "resnet_small(num_classes=4, image_size=16, widths=(8, 16))"
TINY_VIT = "vit(variant='Ti/16', num_classes=4, image_size=32, depth=2)"
# Small matmuls and few steps: the tests check plumbing and sanity, not speed.
FAST = ["--batch=2", "--steps=2", "--warmup=1", "--matmul_size=256", "--matmul_reps=2"]


bm = load_tool("benchmark.py")
AFFINITY = os.sched_getaffinity(0)


def _has_vit():
  return bm.vit_module is not None and "vit" in model_garden.models.names()


def _json_line(text):
  return json.loads(text.strip().splitlines()[-1])


def test_dense_flops_are_two_in_out_per_example():
  dense = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
  assert bm.count_flops(dense, (64,))["flops"] == 2 * 64 * 10
  assert bm.count_flops(dense, (64,), batch=3)["flops"] == 2 * 64 * 10  # Per example at any batch.


def test_conv_flops_match_the_formula():
  conv = keras.Sequential([keras.Input((9, 9, 4)), keras.layers.Conv2D(5, 3, strides=2, padding="same")])
  # Output 5x5x5; each output element is a 3x3x4 dot product.
  assert bm.count_flops(conv, (9, 9, 4))["flops"] == 2 * (5 * 5 * 5) * (3 * 3 * 4)
  depthwise = keras.Sequential([keras.Input((8, 8, 6)), keras.layers.DepthwiseConv2D(3, padding="same")])
  assert bm.count_flops(depthwise, (8, 8, 6))["flops"] == 2 * (8 * 8 * 6) * (3 * 3)


def test_einsum_and_batch_matmul_flops_and_pruning():
  b, t, s, n, h = 2, 5, 7, 3, 4

  def attention(q, k):
    unused = tf.matmul(tf.reshape(q, (b * t, n * h)), tf.ones((n * h, 100)))  # Pruned: not an output.
    del unused
    logits = tf.einsum("btnh,bsnh->bnts", q, k)
    return tf.matmul(logits, tf.ones((b, n, s, h)))  # BatchMatMulV2 (b, n, t, s) @ (b, n, s, h).

  concrete = tf.function(attention).get_concrete_function(
      tf.TensorSpec((b, t, n, h)), tf.TensorSpec((b, s, n, h)))
  expected = 2 * b * n * t * s * h + 2 * b * n * t * s * h
  counted = bm.graph_flops(concrete.graph, concrete.outputs)
  assert counted["flops"] == expected
  assert set(counted["by_op"]) == {"Einsum", "BatchMatMulV2"}
  assert bm.graph_flops(concrete.graph)["flops"] == expected + 2 * b * t * n * h * 100


@pytest.mark.skipif(not _has_vit(), reason="model_garden/models/vit.py (the ViT) is not there yet")
def test_vit_flops_match_the_analytic_count():
  model = model_garden.models.get(TINY_VIT)
  d, depth, mlp, patch, size, classes = 192, 2, 768, 16, 32, 4
  tokens = (size // patch) ** 2
  expected = (2 * tokens * patch * patch * 3 * d  # Patch embedding.
              + depth * (2 * 4 * tokens * d * d  # q, k, v, out projections.
                         + 2 * 2 * tokens * tokens * d  # q.k and attention.v.
                         + 2 * 2 * tokens * d * mlp)  # MLP.
              + 2 * d * classes)  # Head on the pooled token.
  assert bm.count_flops(model, (size, size, 3))["flops"] == expected


def test_tiny_run_of_every_combination(capsys):
  policy = keras.mixed_precision.global_policy().name
  result = bm.main([f"--model={RESNET}", *FAST, "--mode=train,infer", "--precision=float32,mixed_bfloat16",
                    "--compare=keras_hub", "--optimizer=adafactor_bv(momentum=0.9)", "--json"])
  out = capsys.readouterr().out
  assert keras.mixed_precision.global_policy().name == policy  # Reset after the run.
  rows = result["results"]
  assert {(r["mode"], r["precision"]) for r in rows} == {
      (m, p) for m in ("train", "infer") for p in ("float32", "mixed_bfloat16")}
  for row in rows:
    assert math.isfinite(row["imgs_per_sec"]) and row["imgs_per_sec"] > 0
    assert 0 < row["mfu"] < 1.5
    assert row["peak_rss_mib"] > 0 and row["flops_per_image"] > 0
  assert set(result["matmul_peak_gflops"]) == {"float32", "bfloat16"}
  assert "only defined for ViT specs" in result["keras_hub_note"]
  assert "only defined for ViT specs" in out and "mixed_bfloat16" in out
  train_optimizers = [r["optimizer"] for r in rows if r["mode"] == "train"]
  assert train_optimizers == ["model_garden adafactor_bv(momentum=0.9)"] * 2
  parsed = _json_line(out)
  assert parsed["results"][0]["imgs_per_sec"] == pytest.approx(rows[0]["imgs_per_sec"])
  assert parsed["flops_per_image"]["ours"] == result["flops_per_image"]["ours"]


@pytest.mark.skipif(not _has_vit(), reason="model_garden/models/vit.py (the ViT) is not there yet")
def test_keras_hub_comparison_on_a_tiny_vit(capsys):
  pytest.importorskip("keras_hub", reason="keras-hub (a dev dependency) is not installed")
  result = bm.main([f"--model={TINY_VIT}", *FAST, "--mode=train,infer", "--precision=float32",
                    "--compare=keras_hub", "--optimizer_state", "--json"])
  out = capsys.readouterr().out
  ours = [r for r in result["results"] if r["network"] == "ours"]
  hub = [r for r in result["results"] if r["network"] == "keras_hub"]
  assert len(ours) == len(hub) == 2
  for row in ours:
    assert row["ratio"] > 0 and math.isfinite(row["ratio"])
    assert row["keras_hub_imgs_per_sec"] > 0
  # keras-hub has the same sizes plus a [cls] token: a few more FLOPs, same order.
  assert result["flops_per_image"]["ours"] < result["flops_per_image"]["keras_hub"] < 2 * result[
      "flops_per_image"]["ours"]
  assert result["keras_hub_sizes"] == {"width": 192, "depth": 2, "mlp_dim": 768, "num_heads": 3,
                                       "patch_size": 16}
  state = result["optimizer_state"]
  assert 0 < state["adafactor_over_adam"] < 1
  assert "vs keras-hub" in out and "Adafactor / Adam" in out
  assert _json_line(out)["optimizer_state"]["params"] == state["params"]


def test_bad_flags_name_the_fix():
  with pytest.raises(bm.FlagError, match="train, infer"):
    bm.run(bm.parse_args(["--mode=training"]))
  with pytest.raises(bm.FlagError, match="mixed_bfloat16"):
    bm.run(bm.parse_args(["--precision=bf16"]))


def test_input_mode_times_guarded_and_unguarded_with_one_and_all_threads(tiny_shapes, capsys):
  _, data_dir = tiny_shapes
  result = bm.main(["--mode=input", "--dataset=mg_shapes/tiny32", f"--data_dir={data_dir}",
                    "--pp=decode|random_crop(28)|flip_lr|value_range(-1, 1)", "--input_batch=8",
                    "--input_images=32", "--input_repeats=1", "--json"])
  out = capsys.readouterr().out
  assert "results" not in result  # --mode=input alone builds no network.
  report = result["input"]
  assert report["pp"] == "decode|random_crop(28)|flip_lr|value_range(-1, 1)|keep('image')"
  rows = {(r["guard"], r["threads"]): r for r in report["rows"]}
  assert set(rows) == set(bm.INPUT_CONFIGS)
  for row in rows.values():
    assert math.isfinite(row["imgs_per_sec"]) and row["imgs_per_sec"] > 0
    assert 0 < row["cores"] < os.cpu_count() + 1
    assert row["cpu_us_per_image"] == pytest.approx(1e6 * row["cores"] / row["imgs_per_sec"], rel=1e-6)
  for guard in ("guarded", "unguarded"):  # Pinned to one core: at most one core's worth of CPU time.
    assert rows[(guard, "1")]["cores"] < 1.15
  assert os.sched_getaffinity(0) == AFFINITY  # Restored after the pinned runs.
  assert report["guarded_over_unguarded"]["all"] == pytest.approx(
      rows[("guarded", "all")]["imgs_per_sec"] / rows[("unguarded", "all")]["imgs_per_sec"])
  assert report["all_over_one_thread"]["guarded"] == pytest.approx(
      rows[("guarded", "all")]["imgs_per_sec"] / rows[("guarded", "1")]["imgs_per_sec"])
  assert "guarded / unguarded" in out and "all threads / 1 thread" in out
  assert _json_line(out)["input"]["rows"][0]["imgs_per_sec"] == pytest.approx(report["rows"][0]["imgs_per_sec"])


def test_input_mode_bad_flags_and_pp_name_the_fix(tiny_shapes):
  _, data_dir = tiny_shapes
  with pytest.raises(bm.FlagError, match="--input_batch"):
    bm.run(bm.parse_args(["--mode=input", "--input_batch=0"]))
  with pytest.raises(model_garden.data.PreprocessConfigError, match=r"random_crop\(64\).*32x32"):
    bm.run(bm.parse_args(["--mode=input", "--dataset=mg_shapes/tiny32", f"--data_dir={data_dir}",
                          "--pp=decode|random_crop(64)"]))


# LiT's two towers at toy size: a 16 px ViT (2x2 patches of 8 px) and a one-block text transformer, width 8.
TINY_TWO_TOWERS = ("two_towers(image=\"vit(variant='mu/8', image_size=16, width=8, mlp_dim=16, num_heads=2)\", "
                   "text=\"text_transformer(width=8, depth=1, mlp_dim=16, num_heads=2, vocab_size=50, max_len=4)\", "
                   "out_dim=8)")


def _run_cli(*args):
  return subprocess.run([sys.executable, os.path.join(REPO, "tools", "benchmark.py"), *args], cwd=REPO,
                        capture_output=True, text=True, timeout=300, check=False)


def _encoder_block_flops(tokens, width, mlp_dim):
  return (2 * 4 * tokens * width * width  # q, k, v, out projections.
          + 2 * 2 * tokens * tokens * width  # q.k and attention.v.
          + 2 * 2 * tokens * width * mlp_dim)  # MLP.


def test_two_towers_cli_times_image_text_pairs_and_the_contrastive_train_step():
  proc = _run_cli(f"--model={TINY_TWO_TOWERS}", *FAST, "--mode=train,infer", "--precision=float32", "--remat",
                  "--compare=keras_hub", "--json")
  assert proc.returncode == 0, proc.stderr[-3000:]
  result = _json_line(proc.stdout)
  batch, width, embed = 2, 8, 8
  image_flops = (2 * 4 * (8 * 8 * 3) * width  # Patch embedding: 4 patches of 8x8x3.
                 + _encoder_block_flops(4, width, 16) + 2 * width * embed)  # One block, head.
  text_flops = _encoder_block_flops(4, width, 16) + 2 * width * embed  # The embedding is a gather: no FLOPs.
  assert result["two_towers"]["flops_per_pair_by_tower"] == {"img": image_flops, "txt": text_flops}
  assert result["flops_per_image"]["ours"] == image_flops + text_flops
  # The loss scores each of the batch's images against every text and back: two (batch x D) @ (D x batch).
  loss_flops = 2 * 2 * batch * batch * embed // batch
  assert result["two_towers"]["loss_flops_per_pair"] == loss_flops
  rows = {(r["network"], r["mode"]): r for r in result["results"]}
  assert set(rows) == {("ours", "train"), ("ours", "infer"), ("ours_remat", "train")}  # keras-hub: nothing.
  for row in rows.values():
    assert row["imgs_per_sec"] > 0
    for key in ("imgs_per_sec", "step_time_ms", "achieved_gflops", "mfu", "peak_rss_mib", "matmul_peak_gflops"):
      assert math.isfinite(row[key]), (key, row)
    assert row["max_len"] == 4 and row["flops_per_image"] == image_flops + text_flops
    assert row["achieved_gflops"] == pytest.approx(row["step_flops_per_image"] * row["imgs_per_sec"] / 1e9)
  assert rows[("ours", "infer")]["step_flops_per_image"] == image_flops + text_flops
  for key in (("ours", "train"), ("ours_remat", "train")):
    train = rows[key]
    assert train["step_flops_per_image"] == 3 * (image_flops + text_flops + loss_flops)
    # Bidirectional cross-entropy over 2 pairs at temperature ~10 on unit vectors: in (0, 2t + log 2).
    assert 0 < train["loss"] < 2 * 10.5 + math.log(2)
  assert math.isfinite(rows[("ours_remat", "train")]["remat_time_ratio"])
  assert "keras-hub has no LiT two-tower" in result["keras_hub_note"]
  assert "img/s = image-text pairs/s" in proc.stdout and "NOTE: keras-hub has no LiT two-tower" in proc.stdout


def test_two_towers_refuse_other_backends_and_towers_without_remat_in_one_line():
  pytest.importorskip("jax", reason="jax is not installed")
  proc = _run_cli(f"--model={TINY_TWO_TOWERS}", "--backend=jax")
  assert proc.returncode != 0
  assert proc.stderr.strip().splitlines()[-1] == f"benchmark.py: error: {bm.TWO_TOWERS_TF_ONLY}"
  resnet_image = TINY_TWO_TOWERS.replace("vit(variant='mu/8', image_size=16, width=8, mlp_dim=16, num_heads=2)",
                                         "resnet_small(image_size=16, widths=(8, 16))")
  with pytest.raises(SystemExit, match="image tower of the two towers, ResNetSmall, does not support remat"):
    bm.run(bm.parse_args([f"--model={resnet_image}", *FAST, "--mode=train", "--precision=float32", "--remat"]))
