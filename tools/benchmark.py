r"""Throughput, peak memory, FLOPs and MFU of a model_garden network, optionally against keras-hub's ViT.

Reproduces the issue's table ("ViT-B/16 batch 8 at 224 px, train and infer img/s in float32 and
mixed_bfloat16, ours vs keras-hub, MFU vs measured matmul peak") in one process:

  .venv/bin/python tools/benchmark.py \
      --model="vit(variant='B/16', num_classes=1000, image_size=224)" --batch=8 \
      --mode=train,infer --precision=float32,mixed_bfloat16 --compare=keras_hub \
      --steps=10 --warmup=2 --optimizer_state --json

(These are also the defaults, except --optimizer_state and --json, so `make benchmark` prints the same table.)
Run it on a quiet machine: every number is a wall-clock measurement.

What is measured, for every combination of --mode and --precision (comma lists):
  * infer: a `tf.function` forward pass, `model(images, training=False)`.
  * train: a `tf.function` step: forward (training=True), softmax cross-entropy on random labels,
    gradients, optimizer update. The default optimizer is plain `keras.optimizers.SGD(momentum=0.9)`, so
    ours and keras-hub's network run the same, cheap update and the ratio compares the networks;
    `--optimizer="adafactor_bv(momentum=0.9)"` (any `model_garden.optimizers.make` name spec, with --lr)
    trains both networks with that optimizer instead.
  * Inputs are random images in [-1, 1] at the model's `image_size`, created once on the device.
  * The step is traced first (reported as trace_s), then --warmup untimed steps, then --steps timed steps;
    each step waits for its result. img/s = batch / median step time (img/s over the total is also kept).
  * Memory: the process's peak RSS (`ru_maxrss`) after each phase, and how much the phase raised it. The
    peak RSS never goes down, so a phase that needs less than an earlier one shows +0. Also TF's allocator
    peak during the phase ("TF peak": `tf.config.experimental.get_memory_info`, reset before each phase)
    on the GPU, or on the CPU where TF tracks it (TF 2.21 does; it omits oneDNN's own buffers, a lower
    bound); "-" where TF raises.
  * FLOPs per image: counted from the traced forward graph at batch 1 (`graph_flops`): 2 x the
    multiply-adds of every MatMul, BatchMatMul, Einsum and convolution that the logits depend on (ops
    whose results are dropped are pruned by TF before running, so they are not counted either).
    Elementwise work (softmax, normalisation, GELU, bias adds) is not counted, as in the usual MFU
    definition (Chowdhery et al. 2022, PaLM); for ViT-B/16 it is well under 1% of the matmul FLOPs. The
    count equals the closed form for ViT-B/16 (34.94 GFLOP at 224 px; keras-hub's, with [cls], 35.13).
    A train step counts 3x the forward FLOPs (forward, and two matmuls per matmul backward).
  * MFU = achieved FLOP/s / peak FLOP/s, where the peak is the best of --matmul_reps timed square matmuls
    of size --matmul_size in the step's compute dtype (float32 for float32, bfloat16 for mixed_bfloat16),
    measured in the same process just before and just after that precision's runs (the better of the
    two is kept; both are reported). The FLOPs are also split by matmul input dtype (flops_by_dtype),
    so a mixed policy that leaves matmuls in float32 shows up.
  * --compare=keras_hub: `keras_hub.models.ViTBackbone` of our ViT's sizes (width, depth, mlp_dim,
    num_heads, patch_size from our variant table after spec overrides) with a Dense head on its [cls]
    token, randomly initialised and timed identically. keras-hub always adds a [cls] token (our default
    pool='gap' has one token fewer); both FLOP counts are printed. Only defined for ViT specs.
  * --remat: the train step again with every block rematerialised (`remat` on the network, or on both
    towers of a two-tower model): time and TF peak memory against the plain step.
  * --optimizer_state: bytes of the state of `adafactor_bv(momentum=0.9)`, our `adam` and `keras Adam`
    for the model's trainable variables, and Adafactor / Adam (Scaling ViT: <= 1/3 for ViT-B/16).

Two towers (LiT): a `two_towers(...)` spec times the image-text model of LiT (`models/two_towers.py`), e.g.
LiT B/16 (ViT-B/16 image tower with its [cls] token, as LiT's pretrained towers; a BERT-Base-sized text
transformer; 16 tokens; 768-d embeddings):

  .venv/bin/python tools/benchmark.py --model="two_towers(image=\"vit(variant='B/16', image_size=224, pool='tok')\", \
      text=\"text_transformer(variant='B', vocab_size=32000, max_len=16)\", out_dim=768)" \
      --batch=8 --mode=train,infer --precision=float32 --steps=5 --warmup=2

  * Inputs: the random images above plus random int32 token ids (batch, max_len) in [1, vocab_size) of
    the text tower, created once on the device. img/s counts image-text pairs.
  * infer: both towers' L2-normalised embeddings, `model({"image": images, "labels": tokens},
    training=False)`.
  * train: both towers' forward (training=True), LiT's bidirectional softmax contrastive loss
    (`model_garden.objectives.contrastive.softmax_contrastive`, the objective's own function, with the
    learned temperature; every other pair of the batch is a negative), gradients, optimizer update;
    timed as above. The row keeps the last timed step's loss.
  * FLOPs per pair: the infer step traced at batch 1 (both towers; per tower in the header). A train
    step counts 3x (forward + the loss's two (batch x D) @ (D x batch) logit matmuls, 4 * batch * D per
    pair, so it grows with --batch).
  * --compare=keras_hub: keras-hub has no LiT two-tower model; a NOTE says so and only ours is timed.
  * --remat sets `remat` on both towers (one line names a tower that has none, e.g. a ResNet image tower).
  * TensorFlow backend only (the loss is a TensorFlow function): --backend=jax or torch is refused.

--mode=input times the input pipeline instead (alone, or with train/infer in one comma list):

  .venv/bin/python tools/benchmark.py --mode=input --dataset=mg_shapes/px64 \
      --pp="decode|inception_crop(224)|flip_lr|value_range(-1, 1)"

  `model_garden.data.get_dataset` of --dataset/--split with --pp (plus keep('image') unless the pp keeps
  keys itself), --input_batch per batch, in four configurations: guarded (on_corrupt='error') and
  unguarded (on_corrupt='off', a plain parallel map), each with 1 thread (threadpool_size=1,
  max_intra_op_parallelism=1, and the process pinned to one core, since tf.data runs some threads outside
  its pool) and with all threads (TensorFlow's defaults, every core). Each run times
  --input_images images after 3 warm-up batches; img/s and cores used (process CPU time / wall time) are
  the median of --input_repeats runs, taken in turn. It prints the ratios the pipeline's goals are about:
  guarded / unguarded (>= 0.95x) and all threads / 1 thread (>= 1.7x on 2 cores), and the load average
  before and after, since other processes on the machine lower every number.

Output: a table, and with --json one JSON line at the end (the dict `run()` returns): `results` holds one
row per (network, mode, precision) with imgs_per_sec, step_time_ms, peak_rss_mib, flops_per_image,
matmul_peak_gflops, mfu and, for our rows, keras_hub_imgs_per_sec and ratio (ours / keras-hub img/s).
Two-tower rows add max_len, loss_flops_per_image (0 for infer) and loss (train); `two_towers` holds the towers'
names, max_len, vocab_size, embed_dim, FLOPs per pair by tower and the loss FLOPs per pair.

Measured (the command above, --steps=5 --warmup=2, 2 idle CPU cores with avx512_bf16, two runs back to back;
img/s ours / keras-hub, ratio):
  train float32        1.60 / 1.55 (1.04x)   1.49 / 1.43 (1.04x)   MFU 80% / 72% of 210 / 218 GFLOP/s
  infer float32        4.75 / 3.88 (1.23x)   4.59 / 4.03 (1.14x)
  train mixed_bfloat16 2.69 / 2.28 (1.18x)   2.41 / 2.24 (1.08x)   MFU 73% / 67% of 387 / 378 GFLOP/s
  infer mixed_bfloat16 7.67 / 7.23 (1.06x)   6.06 / 5.83 (1.04x)
  optimizer state for ViT-B/16: adafactor_bv 170.0 MiB, adam 660.4 MiB (0.257).
What made ours faster than Dense/einsum layers: every projection is a 2-D MatMul + BiasAdd on
(batch * tokens, width), which oneDNN fuses on CPU (layers/mlp_block.py, multi_head_dot_product_attention.py).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import math
import os
import resource
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

BACKENDS = ("tensorflow", "jax", "torch")


def _backend_flag(argv: Sequence[str]) -> Optional[str]:
  """The value of --backend in `argv`: Keras reads KERAS_BACKEND once, at import, so it is set before."""
  for i, arg in enumerate(argv):
    if arg.startswith("--backend="):
      return arg.split("=", 1)[1]
    if arg == "--backend" and i + 1 < len(argv):
      return argv[i + 1]
  return None


if __name__ == "__main__" and _backend_flag(sys.argv[1:]) in BACKENDS:
  os.environ["KERAS_BACKEND"] = _backend_flag(sys.argv[1:])
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The package first: on TensorFlow it imports it with the start-up lines filtered by TF_CPP_MIN_LOG_LEVEL
# (model_garden.cli), which TensorFlow 2.21 prints before it reads that variable.
try:
  import model_garden  # noqa: F401,E402
except ImportError:  # Run from a checkout without `pip install -e .`.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  import model_garden  # noqa: F401,E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from model_garden import models  # noqa: E402
from model_garden.data import DatasetUnavailableError  # noqa: E402
from model_garden.models.two_towers import TwoTowers  # noqa: E402
from model_garden.registry import SpecError, spec_call  # noqa: E402

try:  # The ViT registers itself on import; models/__init__ may not import it yet.
  from model_garden.models import vit as vit_module  # noqa: E402
except ImportError:
  vit_module = None

DEFAULT_MODEL = "vit(variant='B/16', num_classes=1000, image_size=224)"
MODES = ("train", "infer")
INPUT_MODE = "input"  # The input pipeline alone (`run_input`); not part of the default --mode.
DEFAULT_PP = "decode|inception_crop(224)|flip_lr|value_range(-1, 1)"
# Precision policy -> dtype of its matmuls (the dtype the matmul peak is measured in).
PRECISIONS = {"float32": "float32", "mixed_bfloat16": "bfloat16"}
COMPARES = ("none", "keras_hub")
TWO_TOWERS = "two_towers"  # The LiT image-text model's factory: image-text pair steps, contrastive train loss.
KERAS_HUB_NO_LIT = ("keras-hub has no LiT two-tower (image-text) model to compare against; only ours is timed.")
TWO_TOWERS_TF_ONLY = ("two_towers(...) is benchmarked on the TensorFlow backend only (its train step uses "
                      "model_garden.objectives.contrastive.softmax_contrastive, a TensorFlow loss); run it with "
                      "--backend=tensorflow.")
# Ops that call nested functions: graph_flops cannot see inside them and lists them as uncounted.
_CALL_OPS = ("PartitionedCall", "StatefulPartitionedCall", "While", "StatelessWhile", "If", "StatelessIf",
             "Case", "StatelessCase")


@dataclasses.dataclass
class Options:
  """What to benchmark; the fields mirror the command-line flags."""
  model: str = DEFAULT_MODEL
  batch: int = 8
  modes: Tuple[str, ...] = MODES
  precisions: Tuple[str, ...] = tuple(PRECISIONS)
  steps: int = 10
  warmup: int = 2
  compare: str = "keras_hub"
  optimizer: Optional[str] = None
  lr: float = 1e-3
  optimizer_state: bool = False
  matmul_size: int = 4096
  matmul_reps: int = 5
  jit_compile: bool = False
  remat: bool = False
  seed: int = 0
  json: bool = False
  backend: str = "tensorflow"
  # --mode=input:
  dataset: str = "mg_shapes/px64"
  split: str = "train"
  data_dir: Optional[str] = None
  pp: str = DEFAULT_PP
  input_batch: int = 64
  input_images: int = 4096
  input_repeats: int = 2


# -- FLOPs ------------------------------------------------------------------------------------------------
def _dims(tensor) -> Optional[List[int]]:
  """The static shape as ints, or None if any dimension is unknown."""
  shape = tensor.shape
  if shape.rank is None or any(d is None for d in shape):
    return None
  return [int(d) for d in shape]


def _op_flops(op) -> Optional[int]:
  """FLOPs (2 per multiply-add) of one matmul-like op; None when its shapes are not static."""
  if not op.outputs:
    return 0
  out = _dims(op.outputs[0])
  if out is None:
    return None
  out_size = math.prod(out)
  if op.type == "MatMul":
    a = _dims(op.inputs[0])
    if a is None:
      return None
    return 2 * out_size * (a[0] if op.get_attr("transpose_a") else a[1])
  if op.type.startswith("BatchMatMul"):
    a = _dims(op.inputs[0])
    if a is None:
      return None
    return 2 * out_size * (a[-2] if op.get_attr("adj_x") else a[-1])
  if op.type == "Einsum":
    return _einsum_flops(op, out_size)
  if op.type in ("Conv2D", "Conv3D", "Conv1D"):
    kernel = _dims(op.inputs[1])  # (*spatial, in_channels per group, out_channels)
    return None if kernel is None else 2 * out_size * math.prod(kernel[:-1])
  if op.type == "DepthwiseConv2dNative":
    kernel = _dims(op.inputs[1])  # (kh, kw, in_channels, multiplier): each output sums kh*kw products.
    return None if kernel is None else 2 * out_size * math.prod(kernel[:-2])
  if op.type in ("Conv2DBackpropInput", "Conv3DBackpropInputV2"):
    # A transposed convolution in a forward pass: every input (out_backprop) element meets the kernel.
    kernel, grad = _dims(op.inputs[1]), _dims(op.inputs[2])
    if kernel is None or grad is None:
      return None
    return 2 * math.prod(grad) * math.prod(kernel[:-1])
  return 0


def _einsum_flops(op, out_size: int) -> Optional[int]:
  if len(op.inputs) < 2:
    return 0  # One operand: a transpose or reduction, not a matmul.
  equation = op.get_attr("equation")
  equation = equation.decode() if isinstance(equation, bytes) else equation
  lhs, _, output = equation.replace(" ", "").partition("->")
  if "." in lhs:
    return None  # Ellipsis: label sizes are ambiguous; reported as uncounted.
  sizes = {}
  for labels, tensor in zip(lhs.split(","), op.inputs):
    dims = _dims(tensor)
    if dims is None:
      return None
    for label, dim in zip(labels, dims):
      sizes[label] = max(sizes.get(label, 1), dim)  # max: a label of size 1 may broadcast.
  contracted = [sizes[label] for label in sizes if label not in output]
  return 2 * out_size * math.prod(contracted)


def graph_flops(graph, outputs: Optional[Sequence[tf.Tensor]] = None) -> Dict[str, Any]:
  """Counts the matmul and convolution FLOPs of a traced graph (a `ConcreteFunction.graph`).

  Args:
    graph: the graph.
    outputs: count only the ops these tensors depend on. TF's graph optimiser prunes the rest before
      running (e.g. a `logits_2d` that `call` computes and drops), so this counts what actually runs.

  Returns:
    {"flops": int, "by_op": {op type: flops}, "by_dtype": {input dtype: flops}, "uncounted": [op types
    whose FLOPs are unknown]}. by_dtype shows which matmuls a mixed policy left in float32; uncounted
    names nested function calls and ops with dynamic shapes, so a low count is visible.
  """
  ops = graph.get_operations() if outputs is None else _ancestors(outputs)
  total, by_op, by_dtype, uncounted = 0, {}, {}, []
  for op in ops:
    if op.type in _CALL_OPS:
      uncounted.append(op.type)
      continue
    flops = _op_flops(op)
    if flops is None:
      uncounted.append(op.type)
    elif flops:
      total += flops
      by_op[op.type] = by_op.get(op.type, 0) + flops
      dtype = op.inputs[0].dtype.name
      by_dtype[dtype] = by_dtype.get(dtype, 0) + flops
  return {"flops": total, "by_op": by_op, "by_dtype": by_dtype, "uncounted": sorted(set(uncounted))}


def _ancestors(tensors) -> List[Any]:
  """The ops `tensors` depend on (data and control inputs), in no particular order."""
  seen, stack = {}, [t.op for t in tensors]
  while stack:
    op = stack.pop()
    if op.name in seen:
      continue
    seen[op.name] = op
    stack.extend(t.op for t in op.inputs)
    stack.extend(op.control_inputs)
  return list(seen.values())


def count_flops(fn: Callable, input_shape: Sequence[int], batch: int = 1, dtype=tf.float32) -> Dict[str, Any]:
  """FLOPs per example of `fn(x)` (a model or function) for inputs of shape (batch, *input_shape).

  Traces `fn(x, training=False)` when `fn` is a Keras model, else `fn(x)`.

  Returns:
    `graph_flops(...)` of the trace with "flops" divided by `batch`, plus "output_shape" of the trace.

  Example:
    >>> dense = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    >>> count_flops(dense, (64,))["flops"]
    1280
  """
  if keras.backend.backend() != "tensorflow":
    return other_backend_flops(fn, input_shape)
  call = (lambda x: fn(x, training=False)) if isinstance(fn, keras.Model) else fn
  concrete = tf.function(call).get_concrete_function(tf.TensorSpec((batch, *input_shape), dtype))
  counted = graph_flops(concrete.graph, concrete.outputs)
  counted["flops"] //= batch
  for key in ("by_op", "by_dtype"):
    counted[key] = {k: v // batch for k, v in counted[key].items()}
  output = tf.nest.flatten(concrete.structured_outputs)[0]
  counted["output_shape"] = tuple(output.shape)
  return counted


def count_two_towers_flops(model: TwoTowers, image_size: int, batch: int) -> Dict[str, Any]:
  """FLOPs per image-text pair of a `TwoTowers`' embeddings, per tower, and of its contrastive loss.

  The forward count traces the infer step, `model({"image": images, "labels": tokens}, training=False)`,
  at batch 1. The loss, `softmax_contrastive` of `batch` pairs, scores every image against every text in
  both directions: 2 x (2 * batch^2 * D) FLOPs per step, traced at `batch` and divided by it, so it grows
  with the batch (4 * batch * D per pair).

  Returns:
    `count_flops`'s dict for the embeddings ("output_shape" is the embeddings' (1, D)), plus "by_tower"
    ({"img": flops, "txt": flops} of each tower alone, which sum to "flops") and "loss_flops" per pair.
  """
  from model_garden.objectives.contrastive import softmax_contrastive  # pylint: disable=g-import-not-at-top
  image_spec = tf.TensorSpec((1, image_size, image_size, 3), tf.float32)
  token_spec = tf.TensorSpec((1, model.max_len), tf.int32)
  concrete = tf.function(lambda images, tokens: model({"image": images, "labels": tokens}, training=False)
                         ).get_concrete_function(image_spec, token_spec)
  counted = graph_flops(concrete.graph, concrete.outputs)
  counted["output_shape"] = tuple(concrete.structured_outputs["img"].shape)
  counted["by_tower"] = {"img": count_flops(model.img, (image_size, image_size, 3))["flops"],
                         "txt": count_flops(model.txt, (model.max_len,), dtype=tf.int32)["flops"]}
  embedding = tf.TensorSpec((batch, int(counted["output_shape"][-1])), tf.float32)
  loss = tf.function(lambda zimg, ztxt, t: softmax_contrastive(zimg, ztxt, zimg, ztxt, t, 0)[0]
                     ).get_concrete_function(embedding, embedding, tf.TensorSpec((), tf.float32))
  loss_counted = graph_flops(loss.graph, loss.outputs)
  counted["loss_flops"] = loss_counted["flops"] // batch
  counted["uncounted"] = sorted(set(counted["uncounted"]) | set(loss_counted["uncounted"]))
  return counted


# -- Peaks and memory -------------------------------------------------------------------------------------
def measure_matmul_peak(dtype: str, size: int = 4096, reps: int = 5) -> Dict[str, float]:
  """GFLOP/s of a (size x size) @ (size x size) matmul in `dtype`: best and median of `reps` timed calls.

  The best is the peak MFU divides by: it is what this process, on this device and these threads, can
  reach, so MFU is not flattered or penalised by a datasheet number that the library cannot hit.
  """
  if keras.backend.backend() != "tensorflow":
    return other_backend_matmul_peak(dtype, size, reps)
  a = tf.cast(tf.random.stateless_uniform((size, size), seed=[1, 2], minval=-1, maxval=1), dtype)
  b = tf.cast(tf.random.stateless_uniform((size, size), seed=[3, 4], minval=-1, maxval=1), dtype)

  @tf.function
  def matmul(x, y):
    # Reducing the product keeps the whole matmul live and makes .numpy() wait for it (GPU included).
    return tf.reduce_sum(tf.cast(tf.linalg.matmul(x, y), tf.float32))

  matmul(a, b).numpy()  # Trace and warm up (oneDNN/cuBLAS pick their kernels here).
  times = []
  for _ in range(max(1, reps)):
    start = time.perf_counter()
    matmul(a, b).numpy()
    times.append(time.perf_counter() - start)
  flops = 2.0 * size ** 3
  return {"gflops": flops / min(times) / 1e9, "median_gflops": flops / statistics.median(times) / 1e9,
          "size": size, "dtype": dtype, "reps": len(times)}


def peak_rss_mib() -> float:
  """The process's peak resident set size so far, in MiB (ru_maxrss: KiB on Linux, bytes on macOS)."""
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _accelerator() -> Optional[str]:
  if keras.backend.backend() != "tensorflow":
    return None
  gpus = tf.config.list_logical_devices("GPU")
  return gpus[0].name if gpus else None


def reset_device_peak() -> None:
  if keras.backend.backend() != "tensorflow":
    return
  try:
    tf.config.experimental.reset_memory_stats(_accelerator() or "CPU:0")
  except (ValueError, RuntimeError, tf.errors.OpError):
    pass


def device_peak_mib() -> Optional[float]:
  """TF's allocator peak in MiB since the last reset, on the first GPU (else the CPU); None if TF can't tell.

  TF 2.21 tracks its CPU allocator too (older versions raise ValueError there). On CPU it misses memory
  that oneDNN and Python allocate themselves, so it is a lower bound; peak RSS is the total.
  """
  if keras.backend.backend() != "tensorflow":
    return None  # TF's allocator statistics only; peak RSS covers the other backends.
  device = _accelerator() or "CPU:0"
  try:
    return tf.config.experimental.get_memory_info(device)["peak"] / 2.0 ** 20
  except (ValueError, RuntimeError, tf.errors.OpError):  # CPU: "not supported".
    return None


def describe_device() -> str:
  if keras.backend.backend() != "tensorflow":
    return f"{keras.backend.backend()}: {other_backend_device()}"
  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU: {details.get('device_name', gpus[0].name)} (x{len(gpus)})"
  try:
    cores = len(os.sched_getaffinity(0))
  except AttributeError:
    cores = os.cpu_count()
  return f"CPU: {cores} cores available to the process"


# -- Networks ---------------------------------------------------------------------------------------------
def is_vit(model) -> bool:
  return vit_module is not None and isinstance(model, vit_module.VisionTransformer)


def is_two_towers(model) -> bool:
  return isinstance(model, TwoTowers)


def is_two_towers_spec(spec: str) -> bool:
  """Whether `spec` calls the `two_towers` factory (False for a spec that does not parse: building reports it)."""
  try:
    return spec_call(spec)[0] == TWO_TOWERS
  except SpecError:
    return False


def vit_sizes(model) -> Dict[str, int]:
  """Our ViT's sizes: its variant's row of the variant table (`decode_variant`) with the spec's overrides.

  The built model holds exactly these (e.g. "vit(variant='Ti/16', depth=2)" has Ti's width and depth 2).
  """
  return {k: int(getattr(model, k)) for k in ("width", "depth", "mlp_dim", "num_heads", "patch_size")}


def build_keras_hub_vit(sizes: Dict[str, int], image_size: int, num_classes: int) -> keras.Model:
  """keras-hub's ViTBackbone of the given sizes (see `vit_sizes`) with a Dense head on its [cls] token.

  Built under the current global dtype policy with random weights (no preset download).
  """
  import keras_hub  # Imported here: only this comparison needs it (a dev dependency).
  size = int(image_size)
  backbone = keras_hub.models.ViTBackbone(
      image_shape=(size, size, 3), patch_size=sizes["patch_size"], num_layers=sizes["depth"],
      num_heads=sizes["num_heads"], hidden_dim=sizes["width"], mlp_dim=sizes["mlp_dim"])
  outputs = backbone.output[:, 0]
  if num_classes:
    outputs = keras.layers.Dense(num_classes, name="head")(outputs)
  return keras.Model(backbone.input, outputs, name="keras_hub_vit")


def make_optimizer(options: Options, total_steps: int):
  """(optimizer, description): keras SGD with momentum 0.9 by default, else `optimizers.make`."""
  if not options.optimizer:
    return keras.optimizers.SGD(learning_rate=options.lr, momentum=0.9), "keras SGD(momentum=0.9)"
  from model_garden import optimizers
  opt = optimizers.make({"name": options.optimizer, "lr": options.lr}, total_steps=total_steps)
  return opt, f"model_garden {options.optimizer}"


def _trainable(optimizer, variables):
  # ParamGroupOptimizer can freeze variables; those get no gradient and no state.
  if hasattr(optimizer, "filter_trainable"):
    return optimizer.filter_trainable(variables)
  return list(variables)


def make_step(model, mode: str, optimizer=None, jit_compile: bool = False) -> Callable:
  """A `tf.function` of one benchmark step: forward only ("infer") or a full train step ("train").

  On JAX, a jitted stateless step (its state held by the returned function); on PyTorch, an eager step.
  """
  if keras.backend.backend() == "jax":
    return jax_step(model, mode, optimizer)
  if keras.backend.backend() == "torch":
    return torch_step(model, mode, optimizer)
  if is_two_towers(model):
    return two_towers_step(model, mode, optimizer, jit_compile)
  if mode == "infer":
    def infer_step(images, labels):
      del labels
      return model(images, training=False)
    return tf.function(infer_step, jit_compile=jit_compile)

  variables = _trainable(optimizer, model.trainable_variables)
  optimizer.build(variables)  # Outside the trace, so the step never creates variables.

  def train_step(images, labels):
    with tf.GradientTape() as tape:
      logits = model(images, training=True)
      # float32 loss under mixed precision; bfloat16 needs no loss scaling (it has float32's range).
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          labels=labels, logits=tf.cast(logits, tf.float32)))
    grads = tape.gradient(loss, variables)
    optimizer.apply(grads, variables)
    return loss
  return tf.function(train_step, jit_compile=jit_compile)


def two_towers_step(model: TwoTowers, mode: str, optimizer=None, jit_compile: bool = False) -> Callable:
  """A `tf.function` step of a `TwoTowers` on (images, tokens): both towers' embeddings, or a LiT train step.

  infer: `model({"image": images, "labels": tokens}, training=False)` (L2-normalised embeddings and exp(t)).
  train: both towers' forward (training=True), LiT's bidirectional softmax contrastive loss
  (`model_garden.objectives.contrastive.softmax_contrastive`, the training objective's own function, on
  one replica: every pair of the batch is a negative of the others), gradients, optimizer update.
  """
  if mode == "infer":
    def infer_step(images, tokens):
      return model({"image": images, "labels": tokens}, training=False)
    return tf.function(infer_step, jit_compile=jit_compile)

  from model_garden.objectives.contrastive import softmax_contrastive  # pylint: disable=g-import-not-at-top
  variables = _trainable(optimizer, model.trainable_variables)
  optimizer.build(variables)  # Outside the trace, so the step never creates variables.

  def train_step(images, tokens):
    with tf.GradientTape() as tape:
      zimg, ztxt, out = model.forward(images, tokens, training=True)
      temperature = tf.cast(out["t"][0], tf.float32)
      loss = softmax_contrastive(zimg, ztxt, zimg, ztxt, temperature, 0)[0]
    grads = tape.gradient(loss, variables)
    optimizer.apply(grads, variables)
    return loss
  return tf.function(train_step, jit_compile=jit_compile)


def time_step(step: Callable, images, labels, steps: int, warmup: int) -> Dict[str, Any]:
  """Traces `step`, runs `warmup` untimed steps, then times `steps` steps (each waits for its result).

  Returns {"times": seconds per timed step, "trace_s", "warmup_s", "last": the last step's result (numpy)}.
  """
  start = time.perf_counter()
  if keras.backend.backend() == "tensorflow":
    step.get_concrete_function(images, labels)
  else:  # JAX compiles (PyTorch warms up) on the first call.
    _wait(step(images, labels))
  trace_s = time.perf_counter() - start
  start = time.perf_counter()
  for _ in range(warmup):
    _wait(step(images, labels))
  warmup_s = time.perf_counter() - start
  times, last = [], None
  for _ in range(max(1, steps)):
    start = time.perf_counter()
    last = _wait(step(images, labels))
    times.append(time.perf_counter() - start)
  return {"times": times, "trace_s": trace_s, "warmup_s": warmup_s, "last": last}


def _wait(result):
  # Fetching a value forces the (possibly asynchronous, on GPU) computation to finish.
  return keras.tree.map_structure(keras.ops.convert_to_numpy, result)


# -- JAX and PyTorch ----------------------------------------------------------------------------------------
def _gpu_benchmark():
  """tools/gpu_benchmark.py (the jaxpr FLOP counter and the JAX matmul peak live there)."""
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  import gpu_benchmark  # pylint: disable=g-import-not-at-top
  return gpu_benchmark


def other_backend_flops(model, input_shape: Sequence[int]) -> Dict[str, Any]:
  """`count_flops` on JAX (the dot_generals and convolutions of the jaxpr) or PyTorch (FlopCounterMode)."""
  x = keras.ops.zeros((1, *input_shape), "float32")
  if keras.backend.backend() == "jax":
    values = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables])
    by_dtype: Dict[str, int] = {}
    flops = _gpu_benchmark().jaxpr_flops(lambda tv, ntv, images: model.stateless_call(tv, ntv, images)[0],
                                         *values, x, by_dtype=by_dtype)
    by_op = {"dot_general+conv": flops}
  else:
    import torch  # pylint: disable=g-import-not-at-top
    from torch.utils.flop_counter import FlopCounterMode  # pylint: disable=g-import-not-at-top
    counter = FlopCounterMode(display=False, custom_mapping=_torch_attention_flops())
    with torch.no_grad(), counter:
      model(x, training=False)
    flops = int(counter.get_total_flops())
    by_op = {str(k): int(v) for k, v in counter.get_flop_counts().get("Global", {}).items()}
    by_dtype = {}
  output = keras.ops.shape(model(x, training=False))
  return {"flops": flops, "by_op": by_op, "by_dtype": by_dtype, "uncounted": [],
          "output_shape": tuple(int(d) for d in output)}


def _torch_attention_flops() -> Dict[Any, Callable]:
  """FlopCounterMode formulas for the fused attention kernels it has none for (the CPU flash kernel)."""
  import torch  # pylint: disable=g-import-not-at-top

  def attention(query, key, value, *args, out_shape=None, **kwargs):
    del args, out_shape, kwargs
    batch, heads, q_len, depth = query
    return 2 * batch * heads * q_len * key[-2] * depth + 2 * batch * heads * q_len * key[-2] * value[-1]

  kernel = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
  return {kernel: attention} if kernel is not None else {}


def other_backend_matmul_peak(dtype: str, size: int, reps: int) -> Dict[str, float]:
  if keras.backend.backend() == "jax":
    peak = _gpu_benchmark().jax_matmul_peak(dtype, size, reps)
    gflops = 1e3 * peak["tflops"]
    return {"gflops": gflops, "median_gflops": gflops, "size": size, "dtype": dtype, "reps": reps}
  import torch  # pylint: disable=g-import-not-at-top
  device = "cuda" if torch.cuda.is_available() else "cpu"
  generator = torch.Generator().manual_seed(1)
  a = (torch.rand((size, size), generator=generator) * 2 - 1).to(device, getattr(torch, dtype))
  b = (torch.rand((size, size), generator=generator) * 2 - 1).to(device, getattr(torch, dtype))
  (a @ b).sum().item()
  times = []
  for _ in range(max(1, reps)):
    start = time.perf_counter()
    (a @ b).sum().item()
    times.append(time.perf_counter() - start)
  flops = 2.0 * size ** 3
  return {"gflops": flops / min(times) / 1e9, "median_gflops": flops / statistics.median(times) / 1e9,
          "size": size, "dtype": dtype, "reps": len(times)}


def other_backend_device() -> str:
  if keras.backend.backend() == "jax":
    import jax  # pylint: disable=g-import-not-at-top
    device = jax.devices()[0]
    if device.platform != "cpu":
      return f"{device.platform.upper()}: {device.device_kind} (x{len(jax.devices())})"
  else:
    import torch  # pylint: disable=g-import-not-at-top
    if torch.cuda.is_available():
      return f"GPU: {torch.cuda.get_device_name(0)} (x{torch.cuda.device_count()})"
  return f"CPU: {len(os.sched_getaffinity(0))} cores available to the process"


def _loss(logits, labels):
  # float32 loss under mixed precision, as the TensorFlow step.
  return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
      labels, keras.ops.cast(logits, "float32"), from_logits=True))


def jax_step(model, mode: str, optimizer=None) -> Callable:
  """`step(images, labels)`: a jitted stateless Keras step whose state (variables) the closure carries."""
  import jax  # pylint: disable=g-import-not-at-top
  state = {"trainable": [v.value for v in model.trainable_variables],
           "non_trainable": [v.value for v in model.non_trainable_variables]}
  if mode == "infer":
    infer = jax.jit(lambda tv, ntv, images: model.stateless_call(tv, ntv, images, training=False)[0])
    return lambda images, labels: infer(state["trainable"], state["non_trainable"], images)
  optimizer.build(model.trainable_variables)
  state["optimizer"] = [v.value for v in optimizer.variables]
  # The step donates its state: it gets copies, so the model's own variables stay usable for the next mode.
  state["trainable"], state["non_trainable"] = jax.tree_util.tree_map(
      jax.numpy.copy, (state["trainable"], state["non_trainable"]))

  def loss_fn(tv, ntv, images, labels):
    logits, ntv = model.stateless_call(tv, ntv, images, training=True)
    return _loss(logits, labels), ntv

  grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

  def train(tv, ntv, opt, images, labels):
    (loss, ntv), grads = grad_fn(tv, ntv, images, labels)
    tv, opt = optimizer.stateless_apply(opt, grads, tv)
    return loss, tv, ntv, opt

  train = jax.jit(train, donate_argnums=(0, 1, 2))

  def step(images, labels):
    loss, state["trainable"], state["non_trainable"], state["optimizer"] = train(
        state["trainable"], state["non_trainable"], state["optimizer"], images, labels)
    return loss
  return step


def torch_step(model, mode: str, optimizer=None) -> Callable:
  """`step(images, labels)`: an eager PyTorch step, as Keras' own torch trainer runs one."""
  import torch  # pylint: disable=g-import-not-at-top
  if mode == "infer":
    def infer(images, labels):
      del labels
      with torch.no_grad():
        return model(images, training=False)
    return infer
  variables = list(model.trainable_variables)
  optimizer.build(variables)

  def train(images, labels):
    model.zero_grad()
    loss = _loss(model(images, training=True), labels)
    loss.backward()
    with torch.no_grad():
      optimizer.apply([v.value.grad for v in variables], variables)
    return loss
  return train


# -- The benchmark ----------------------------------------------------------------------------------------
def _fresh_session(policy: str) -> None:
  """Frees the previous networks and sets `policy` (clear_session also resets the global policy)."""
  keras.backend.clear_session()
  gc.collect()
  keras.mixed_precision.set_global_policy(policy)


def _build(kind: str, build: Callable[[], keras.Model]) -> Tuple[keras.Model, Dict[str, Any]]:
  """Builds a network, recording its build time and how much it raised the peak RSS."""
  rss = peak_rss_mib()
  reset_device_peak()
  start = time.perf_counter()
  model = build()
  return model, {"network": kind, "build_s": time.perf_counter() - start,
                 "build_rss_delta_mib": peak_rss_mib() - rss, "build_device_peak_mib": device_peak_mib(),
                 "params": int(model.count_params())}


def _bench_network(model: keras.Model, built: Dict[str, Any], options: Options, precision: str,
                   counted: Dict[str, Any], image_size: int) -> List[Dict[str, Any]]:
  """Times every mode of one built network; returns one result row per mode (MFU is added by `run`).

  A `TwoTowers` gets random token ids in [1, vocab_size) of shape (batch, max_len) beside the images (in
  place of the labels), and its rows count image-text pairs as images.
  """
  forward_flops = counted["flops"]
  loss_flops = counted.get("loss_flops", 0)  # The two-tower contrastive loss's matmuls, per pair.
  num_classes = int(counted["output_shape"][-1])
  two_towers = is_two_towers(model)
  if keras.backend.backend() == "tensorflow":
    images = tf.random.stateless_uniform((options.batch, image_size, image_size, 3), seed=[options.seed, 0],
                                         minval=-1.0, maxval=1.0)
    if two_towers:
      vocab_size = int(model.txt.vocab_size)
      labels = tf.random.stateless_uniform((options.batch, model.max_len), seed=[options.seed, 1],
                                           minval=min(1, vocab_size - 1), maxval=vocab_size, dtype=tf.int32)
    else:
      labels = tf.random.stateless_uniform((options.batch,), seed=[options.seed, 1], minval=0,
                                           maxval=num_classes, dtype=tf.int32)
  else:
    rng = np.random.default_rng(options.seed)
    images = keras.ops.convert_to_tensor(
        rng.uniform(-1, 1, (options.batch, image_size, image_size, 3)).astype("float32"))
    labels = keras.ops.convert_to_tensor(rng.integers(0, num_classes, (options.batch,)).astype("int32"))
  rows = []
  for mode in options.modes:
    optimizer, opt_name = None, None
    if mode == "train":
      optimizer, opt_name = make_optimizer(options, total_steps=options.warmup + options.steps)
    rss = peak_rss_mib()
    reset_device_peak()
    step = make_step(model, mode, optimizer, options.jit_compile)
    timing = time_step(step, images, labels, options.steps, options.warmup)
    median = statistics.median(timing["times"])
    imgs_per_sec = options.batch / median
    step_flops = (forward_flops + loss_flops) * 3 if mode == "train" else forward_flops
    achieved = step_flops * imgs_per_sec / 1e9
    rows.append({
        **built, "mode": mode, "precision": precision, "batch": options.batch, "image_size": image_size,
        "optimizer": opt_name,
        "imgs_per_sec": imgs_per_sec,
        "imgs_per_sec_total": options.batch * len(timing["times"]) / sum(timing["times"]),
        "step_time_ms": 1e3 * median,
        "step_times_ms": [round(1e3 * t, 3) for t in timing["times"]],
        "trace_s": timing["trace_s"], "warmup_s": timing["warmup_s"],
        "flops_per_image": forward_flops, "step_flops_per_image": step_flops,
        "flops_by_dtype": counted["by_dtype"], "achieved_gflops": achieved,
        "peak_rss_mib": peak_rss_mib(), "peak_rss_delta_mib": peak_rss_mib() - rss,
        "device_peak_mib": device_peak_mib(),
    })
    if two_towers:
      rows[-1].update(max_len=model.max_len, loss_flops_per_image=loss_flops if mode == "train" else 0)
      if mode == "train":
        rows[-1]["loss"] = float(timing["last"])  # The last timed step's contrastive loss.
    del step, optimizer
  return rows


def _bench_remat(model, built, options: Options, precision: str, counted, image_size: int,
                 plain_rows) -> List[Dict[str, Any]]:
  """The train step again with every block rematerialised (`model.remat`, both towers' for a `TwoTowers`): its
  peak memory and time, and their ratios to the plain step of the same network in the same run."""
  networks = remat_networks(model)
  for network in networks:
    network.remat = True
  try:
    rows = _bench_network(model, {**built, "network": "ours_remat"}, dataclasses.replace(options, modes=("train",)),
                          precision, counted, image_size)
  finally:
    for network in networks:
      network.remat = False
  plain = next(r for r in plain_rows if r["mode"] == "train")
  for row in rows:
    row["remat_time_ratio"] = row["step_time_ms"] / plain["step_time_ms"]
    if row["device_peak_mib"] and plain["device_peak_mib"]:
      row["remat_memory_ratio"] = row["device_peak_mib"] / plain["device_peak_mib"]
  return rows


def remat_networks(model) -> List[keras.Model]:
  """The networks whose `remat` flag --remat sets: `model`, or both towers of a `TwoTowers`.

  Raises:
    SystemExit: (one line naming the network) when one of them cannot rematerialise its blocks.
  """
  if is_two_towers(model):
    for role, tower in (("image", model.img), ("text", model.txt)):
      if not hasattr(tower, "remat"):
        raise SystemExit(f"--remat: the {role} tower of the two towers, {type(tower).__name__}, does not support "
                         "rematerialisation (ViT, Mixer, BiT, TextTransformer and BertEncoder do); drop --remat or "
                         "use such towers.")
    return [model.img, model.txt]
  if not hasattr(model, "remat"):
    raise SystemExit(f"--remat: {type(model).__name__} does not support rematerialisation (ViT, Mixer, BiT and "
                     "the text towers do).")
  return [model]


def optimizer_state_report(spec: str, lr: float = 1e-3) -> Dict[str, Any]:
  """State bytes of Adafactor (big_vision's) and Adam for the trainable variables of `spec`'s network."""
  _fresh_session("float32")
  model = models.get(spec)
  variables = model.trainable_variables
  try:
    from model_garden import optimizers
    state_bytes = optimizers.optimizer_state_bytes
    candidates = [
        ("adafactor_bv", "model_garden adafactor_bv(momentum=0.9)",
         lambda: optimizers.make({"name": "adafactor_bv(momentum=0.9)", "lr": lr}, total_steps=1)),
        ("adam", "model_garden adam", lambda: optimizers.make({"name": "adam", "lr": lr}, total_steps=1)),
    ]
  except ImportError:  # model_garden.optimizers not there yet: keras' own Adafactor stands in.
    state_bytes = variables_bytes_of
    candidates = [("adafactor_bv", "keras Adafactor (model_garden.optimizers missing)",
                   lambda: keras.optimizers.Adafactor(lr))]
  candidates.append(("keras_adam", "keras Adam", lambda: keras.optimizers.Adam(lr)))
  report = {"params": int(sum(math.prod(v.shape) for v in variables)),
            "param_bytes": variables_bytes(variables), "optimizers": {}}
  for key, name, factory in candidates:
    opt = factory()
    opt.build(_trainable(opt, variables))
    report["optimizers"][key] = {"name": name, "state_bytes": int(state_bytes(opt))}
    del opt
  state = {k: v["state_bytes"] for k, v in report["optimizers"].items()}
  adam = state.get("adam", state["keras_adam"])
  report["adafactor_over_adam"] = state["adafactor_bv"] / adam
  report["adafactor_le_third_of_adam"] = bool(state["adafactor_bv"] <= adam / 3)
  del model
  return report


def variables_bytes(variables) -> int:
  """Bytes of a list of variables (bfloat16 counts 2)."""
  total = 0
  for v in variables:
    dtype = keras.backend.standardize_dtype(v.dtype)
    itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
    total += math.prod(int(d) for d in v.shape) * itemsize
  return int(total)


def variables_bytes_of(optimizer) -> int:
  return variables_bytes(optimizer.variables)


# -- The input pipeline -----------------------------------------------------------------------------------
INPUT_CONFIGS = (("guarded", "all"), ("unguarded", "all"), ("guarded", "1"), ("unguarded", "1"))


def input_pp(pp: str) -> str:
  """`pp`, ending in keep('image') unless it keeps keys itself (other features may not batch)."""
  from model_garden.data import split_pp  # pylint: disable=g-import-not-at-top
  return pp if any(op.startswith("keep(") for op in split_pp(pp)) else f"{pp}|keep('image')"


@contextlib.contextmanager
def pinned_to_one_core():
  """Runs the block with every thread of this process (and those it starts) on one CPU core.

  tf.data starts threads of its own beside its thread pool (e.g. parallel interleave workers), so a
  thread-pool size alone does not make a pipeline single-threaded; the CPU affinity does.
  """
  tids = [int(t) for t in os.listdir("/proc/self/task")]
  before = {}
  for tid in tids:
    try:
      before[tid] = os.sched_getaffinity(tid)
      os.sched_setaffinity(tid, {min(before[tid])})
    except OSError:  # The thread ended meanwhile.
      pass
  try:
    yield
  finally:
    for tid, cpus in before.items():
      try:
        os.sched_setaffinity(tid, cpus)
      except OSError:
        pass


def time_input(options: Options, guard: str, threads: str) -> Dict[str, float]:
  """img/s and cores used (process CPU time / wall time) of one `get_dataset` configuration.

  guard: "guarded" (on_corrupt="error") or "unguarded" (on_corrupt="off", a plain parallel map).
  threads: "1" (threadpool_size=1, max_intra_op_parallelism=1, and the process pinned to one core) or
    "all" (TensorFlow's defaults, every core).
  """
  one = threads == "1"
  if one and hasattr(os, "sched_setaffinity"):
    with pinned_to_one_core():
      return _time_input(options, guard, one)
  return _time_input(options, guard, one)


def _time_input(options: Options, guard: str, one: bool) -> Dict[str, float]:
  from model_garden.data import get_dataset  # pylint: disable=g-import-not-at-top
  ds = get_dataset(options.dataset, options.split, batch_size=options.input_batch, pp=input_pp(options.pp),
                   data_dir=options.data_dir, seed=options.seed, on_corrupt="error" if guard == "guarded" else "off",
                   threadpool_size=1 if one else None, max_intra_op_parallelism=1 if one else None)
  batches = iter(ds)
  for _ in range(3):  # Fills the shuffle buffer and the prefetch buffers.
    _wait(next(batches))
  steps = max(1, options.input_images // options.input_batch)
  wall, cpu = time.perf_counter(), time.process_time()
  for _ in range(steps):
    _wait(next(batches))
  wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
  images = steps * options.input_batch
  return {"imgs_per_sec": images / wall, "cores": cpu / wall, "cpu_us_per_image": 1e6 * cpu / images}


def run_input(options: Options) -> Dict[str, Any]:
  """Times the input pipeline guarded and unguarded, with 1 thread and with all threads.

  The four configurations run in turn, --input_repeats times, and each keeps its median run, so a burst
  of load from other processes does not land on one configuration only. Ratios are of the medians.
  """
  runs: Dict[Tuple[str, str], List[Dict[str, float]]] = {config: [] for config in INPUT_CONFIGS}
  load_before = os.getloadavg()[0]
  for _ in range(options.input_repeats):
    for guard, threads in INPUT_CONFIGS:
      runs[(guard, threads)].append(time_input(options, guard, threads))
  rows = []
  for (guard, threads), timings in runs.items():
    median = statistics.median(t["imgs_per_sec"] for t in timings)
    chosen = min(timings, key=lambda t: abs(t["imgs_per_sec"] - median))
    rows.append({"guard": guard, "threads": threads, "imgs_per_sec": median, "cores": chosen["cores"],
                 "cpu_us_per_image": chosen["cpu_us_per_image"],
                 "all_imgs_per_sec": [round(t["imgs_per_sec"], 1) for t in timings]})
  speed = {(r["guard"], r["threads"]): r["imgs_per_sec"] for r in rows}
  return {
      "dataset": options.dataset, "split": options.split, "pp": input_pp(options.pp),
      "batch": options.input_batch, "images": options.input_images, "repeats": options.input_repeats,
      "device": describe_device(), "load_before": load_before, "load_after": os.getloadavg()[0], "rows": rows,
      "guarded_over_unguarded": {t: speed[("guarded", t)] / speed[("unguarded", t)] for t in ("all", "1")},
      "all_over_one_thread": {g: speed[(g, "all")] / speed[(g, "1")] for g in ("guarded", "unguarded")},
  }


def format_input_table(result: Dict[str, Any]) -> str:
  """The human-readable report of `run_input()`'s result."""
  lines = [f"model_garden input pipeline: {result['dataset']} {result['split']}, pp \"{result['pp']}\"",
           f"  batch {result['batch']}, {result['images']} images per run after 3 warm-up batches, median of "
           f"{result['repeats']} runs; {result['device']}; load average {result['load_before']:.2f} before, "
           f"{result['load_after']:.2f} after",
           "  guarded = on_corrupt='error' (a failing example is named); unguarded = on_corrupt='off' "
           "(plain parallel map)",
           "  1 thread = threadpool_size=1, max_intra_op_parallelism=1, process pinned to one core; "
           "all = TensorFlow's defaults, every core", ""]
  table = [["pipeline", "threads", "img/s", "cores used", "CPU us/img", "runs (img/s)"]]
  for r in result["rows"]:
    table.append([r["guard"], r["threads"], f"{r['imgs_per_sec']:.0f}", f"{r['cores']:.2f}",
                  f"{r['cpu_us_per_image']:.0f}", ", ".join(f"{x:.0f}" for x in r["all_imgs_per_sec"])])
  widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
  for n, row in enumerate(table):
    lines.append("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in
                           enumerate(zip(row, widths))).rstrip())
    if n == 0:
      lines.append("  ".join("-" * w for w in widths))
  g, t = result["guarded_over_unguarded"], result["all_over_one_thread"]
  lines.append(f"guarded / unguarded: {g['all']:.2f}x with all threads, {g['1']:.2f}x with 1 thread "
               "(goal >= 0.95x)")
  lines.append(f"all threads / 1 thread: {t['guarded']:.2f}x guarded, {t['unguarded']:.2f}x unguarded "
               "(goal >= 1.7x on 2 cores)")
  return "\n".join(lines)


def run(options: Options) -> Dict[str, Any]:
  """Runs every (mode, precision) combination for our network (and keras-hub's); returns all numbers.

  With "input" among the modes, also the input pipeline benchmark (`run_input`), under result["input"];
  with only "input", nothing else.
  """
  _check(options)
  if INPUT_MODE in options.modes:
    model_modes = tuple(m for m in options.modes if m != INPUT_MODE)
    result = run(dataclasses.replace(options, modes=model_modes)) if model_modes else {"modes": []}
    result["input"] = run_input(options)
    result["modes"] = list(options.modes)
    return result
  previous_policy = keras.mixed_precision.global_policy().name
  result: Dict[str, Any] = {
      "model": options.model, "batch": options.batch, "steps": options.steps, "warmup": options.warmup,
      "modes": list(options.modes), "precisions": list(options.precisions), "device": describe_device(),
      "jit_compile": options.jit_compile, "backend": keras.backend.backend(), "matmul_peak_gflops": {},
      "matmul_peak": {},
      "flops_per_image": {}, "flops_detail": {}, "results": [], "keras_hub_note": None,
  }
  def count(kind, model, image_size):
    # Counted per precision (cheap, batch 1) so by_dtype shows what each policy runs in.
    if is_two_towers(model):
      counted = count_two_towers_flops(model, image_size, options.batch)
      result["two_towers"] = {
          "image_tower": type(model.img).__name__, "text_tower": type(model.txt).__name__,
          "max_len": int(model.max_len), "vocab_size": int(model.txt.vocab_size),
          "embed_dim": int(counted["output_shape"][-1]), "flops_per_pair_by_tower": counted["by_tower"],
          "loss_flops_per_pair": counted["loss_flops"]}
    else:
      counted = count_flops(model, (image_size, image_size, 3))
    result["flops_per_image"].setdefault(kind, counted["flops"])
    result["flops_detail"].setdefault(kind, {key: counted[key] for key in ("by_op", "uncounted")})
    return counted

  try:
    for precision in options.precisions:
      dtype = PRECISIONS[precision]
      _fresh_session(precision)
      before = measure_matmul_peak(dtype, options.matmul_size, options.matmul_reps)
      rows = []

      model, built = _build("ours", lambda: models.get(options.model))
      if is_two_towers(model) and keras.backend.backend() != "tensorflow":
        raise FlagError(TWO_TOWERS_TF_ONLY)  # A spec that builds one under another name.
      if options.remat and "train" in options.modes:
        remat_networks(model)  # Refuses before anything is timed.
      image_size = int(getattr(model, "image_size", None) or 224)
      result["image_size"] = image_size
      compare = options.compare == "keras_hub" and is_vit(model)
      if options.compare == "keras_hub" and not compare:
        result["keras_hub_note"] = KERAS_HUB_NO_LIT if is_two_towers(model) else (
            f"The keras-hub comparison is only defined for ViT specs (vit(...)); "
            f"{options.model!r} builds a {type(model).__name__}.")
      sizes = vit_sizes(model) if compare else None
      classes = int(getattr(model, "num_classes", 0) or 0)  # keras-hub gets a head of the same size.
      counted = count("ours", model, image_size)
      ours = _bench_network(model, built, options, precision, counted, image_size)
      rows.extend(ours)
      if options.remat and "train" in options.modes:
        rows.extend(_bench_remat(model, built, options, precision, counted, image_size, ours))
      del model

      if compare:
        result["keras_hub_sizes"] = sizes
        _fresh_session(precision)
        hub_model, built = _build("keras_hub", lambda: build_keras_hub_vit(sizes, image_size, classes))
        hub = _bench_network(hub_model, built, options, precision, count("keras_hub", hub_model, image_size),
                             image_size)
        del hub_model
        rows.extend(hub)
        for row in ours:
          for other in hub:
            if other["mode"] == row["mode"]:
              row["keras_hub_imgs_per_sec"] = other["imgs_per_sec"]
              row["ratio"] = row["imgs_per_sec"] / other["imgs_per_sec"]

      # The peak is measured before and after this precision's runs and the better one kept, so a burst
      # of load from elsewhere during one measurement does not inflate every MFU.
      after = measure_matmul_peak(dtype, options.matmul_size, options.matmul_reps)
      peak = dict(max(before, after, key=lambda p: p["gflops"]))
      peak.update(before_gflops=before["gflops"], after_gflops=after["gflops"])
      result["matmul_peak"][dtype] = peak
      result["matmul_peak_gflops"][dtype] = peak["gflops"]
      for row in rows:
        row["matmul_peak_gflops"] = peak["gflops"]
        row["mfu"] = row["achieved_gflops"] / peak["gflops"]
      result["results"].extend(rows)
    if options.optimizer_state:
      result["optimizer_state"] = optimizer_state_report(options.model, options.lr)
  finally:
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy(previous_policy)
  return result


class FlagError(ValueError):
  """A flag value the benchmark cannot run with."""


def _check(options: Options) -> None:
  for mode in options.modes:
    if mode not in MODES + (INPUT_MODE,):
      raise FlagError(f"Unknown mode {mode!r}; expected a comma list of {', '.join(MODES + (INPUT_MODE,))}.")
  if INPUT_MODE in options.modes and (options.input_batch < 1 or options.input_images < 1
                                      or options.input_repeats < 1):
    raise FlagError("--input_batch, --input_images and --input_repeats must be >= 1.")
  for precision in options.precisions:
    if precision not in PRECISIONS:
      raise FlagError(f"Unknown precision {precision!r}; expected a comma list of {', '.join(PRECISIONS)}.")
  if options.compare not in COMPARES:
    raise FlagError(f"Unknown --compare {options.compare!r}; expected one of {', '.join(COMPARES)}.")
  if options.backend not in BACKENDS:
    raise FlagError(f"Unknown --backend {options.backend!r}; expected one of {', '.join(BACKENDS)}.")
  if options.backend != keras.backend.backend():
    raise FlagError(f"--backend={options.backend} but Keras runs on {keras.backend.backend()} (it picks its "
                    f"backend once, at import): pass --backend on the command line of tools/benchmark.py.")
  if options.backend != "tensorflow" and is_two_towers_spec(options.model):
    raise FlagError(TWO_TOWERS_TF_ONLY)
  if options.backend != "tensorflow" and (options.optimizer or options.jit_compile or options.optimizer_state):
    raise FlagError("--optimizer, --optimizer_state and --jit_compile are TensorFlow-only here (model_garden's "
                    f"optimizers and tf.function); drop them with --backend={options.backend} (JAX steps are "
                    "always XLA-compiled).")
  if options.batch < 1 or options.steps < 1 or options.warmup < 0:
    raise FlagError("--batch and --steps must be >= 1, --warmup >= 0.")
  if options.matmul_size < 1 or options.matmul_reps < 1:
    raise FlagError("--matmul_size and --matmul_reps must be >= 1.")


# -- Output -----------------------------------------------------------------------------------------------
def _fmt(value, spec: str, missing: str = "-") -> str:
  if value is None or (isinstance(value, float) and not math.isfinite(value)):
    return missing
  return format(value, spec)


def format_table(result: Dict[str, Any]) -> str:
  """The human-readable report of `run()`'s result."""
  lines = [f"model_garden benchmark: {result['model']} (Keras backend: {result.get('backend', 'tensorflow')})",
           f"  batch {result['batch']} at {result.get('image_size', '?')} px; {result['steps']} timed steps "
           f"after {result['warmup']} warm-up (median step); {result['device']}"
           + ("; XLA" if result["jit_compile"] else "")]
  peaks = ", ".join(f"{dtype} {p['gflops']:.1f} GFLOP/s (before {p['before_gflops']:.1f}, after "
                    f"{p['after_gflops']:.1f})" for dtype, p in result["matmul_peak"].items())
  if peaks:
    size = next(iter(result["matmul_peak"].values()))["size"]
    lines.append(f"  measured matmul peak ({size}x{size}, best rep, before/after the runs): {peaks}")
  flops = ", ".join(f"{kind} {f / 1e9:.3f}" for kind, f in result["flops_per_image"].items())
  lines.append(f"  forward GFLOP/image (matmul/conv only; train step = 3x): {flops}")
  for kind, detail in result["flops_detail"].items():
    if detail["uncounted"]:
      lines.append(f"  WARNING: {kind}: FLOPs of {', '.join(detail['uncounted'])} ops not counted.")
  if result.get("keras_hub_sizes"):
    s = result["keras_hub_sizes"]
    lines.append(f"  keras-hub ViTBackbone: hidden_dim {s['width']}, num_layers {s['depth']}, mlp_dim "
                 f"{s['mlp_dim']}, num_heads {s['num_heads']}, patch_size {s['patch_size']}, "
                 "head on the [cls] token")
  towers = result.get("two_towers")
  if towers:
    by_tower = towers["flops_per_pair_by_tower"]
    lines.append(f"  two towers: {towers['image_tower']} image tower + {towers['text_tower']} text tower "
                 f"({towers['max_len']} random tokens in [1, {towers['vocab_size']}) per text), "
                 f"{towers['embed_dim']}-d embeddings; img/s = image-text pairs/s")
    lines.append(f"  GFLOP/pair: image tower {by_tower['img'] / 1e9:.3f} + text tower {by_tower['txt'] / 1e9:.3f}; "
                 f"train step = 3x (forward + softmax contrastive loss, "
                 f"{towers['loss_flops_per_pair'] / 1e6:.3f} MFLOP/pair at batch {result['batch']})")
  if result.get("keras_hub_note"):
    lines.append(f"  NOTE: {result['keras_hub_note']}")
  train_opt = {r["optimizer"] for r in result["results"] if r["optimizer"]}
  if train_opt:
    lines.append(f"  train step optimizer: {', '.join(sorted(train_opt))}")
  lines.append("")
  header = ["network", "mode", "precision", "img/s", "ms/step", "GFLOP/s", "peak GFLOP/s", "MFU",
            "peak RSS MiB", "+phase MiB", "TF peak MiB", "vs keras-hub"]
  table = [header]
  for r in result["results"]:
    table.append([r["network"], r["mode"], r["precision"], _fmt(r["imgs_per_sec"], ".2f"),
                  _fmt(r["step_time_ms"], ".1f"), _fmt(r["achieved_gflops"], ".1f"),
                  _fmt(r["matmul_peak_gflops"], ".1f"), _fmt(100 * r["mfu"], ".1f") + "%",
                  _fmt(r["peak_rss_mib"], ".0f"), "+" + _fmt(r["peak_rss_delta_mib"], ".0f"),
                  _fmt(r["device_peak_mib"], ".0f"),
                  (_fmt(r.get("ratio"), ".2f") + "x") if r.get("ratio") is not None else ""])
  widths = [max(len(row[i]) for row in table) for i in range(len(header))]
  for n, row in enumerate(table):
    lines.append("  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in
                           enumerate(zip(row, widths))).rstrip())
    if n == 0:
      lines.append("  ".join("-" * w for w in widths))
  if any(r.get("ratio") is not None for r in result["results"]):
    lines.append("(vs keras-hub: our img/s / keras-hub's img/s, same mode and precision)")
  for r in result["results"]:
    if r.get("remat_time_ratio") is not None:
      memory = r.get("remat_memory_ratio")
      lines.append(f"remat ({r['precision']}): step time x{r['remat_time_ratio']:.2f}"
                   + (f", TF peak memory x{memory:.2f} ({100 * (1 - memory):.0f}% less)" if memory else "")
                   + " vs the plain train step (goal for ViT-B/16 at batch 8: >= 40% less for <= 35% more time)")
  if any(r["mfu"] > 1 for r in result["results"]):
    lines.append("WARNING: MFU above 100%: the matmul peak was measured while something else loaded the "
                 "machine, or --matmul_size is too small to reach the peak; rerun on a quiet machine.")
  for r in result["results"]:
    low = {k: v for k, v in r["flops_by_dtype"].items() if r["precision"] != "float32" and k == "float32"}
    if low:
      share = 100.0 * low["float32"] / max(1, r["flops_per_image"])
      lines.append(f"NOTE: {r['network']} {r['mode']} {r['precision']}: {share:.1f}% of the matmul FLOPs "
                   "run in float32.")
  state = result.get("optimizer_state")
  if state:
    lines.append("")
    lines.append(f"optimizer state for {state['params']:,} trainable parameters "
                 f"({state['param_bytes'] / 2 ** 20:.1f} MiB):")
    for entry in state["optimizers"].values():
      lines.append(f"  {entry['name']:<42} {entry['state_bytes'] / 2 ** 20:10.1f} MiB "
                   f"({entry['state_bytes']:,} bytes)")
    verdict = "holds" if state["adafactor_le_third_of_adam"] else "does NOT hold"
    lines.append(f"  Adafactor / Adam = {state['adafactor_over_adam']:.3f} "
                 f"(Scaling ViT claim <= 1/3: {verdict})")
  return "\n".join(lines)


def _comma_list(text: str) -> Tuple[str, ...]:
  return tuple(part.strip() for part in text.split(",") if part.strip())


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
  """Keeps the module docstring's layout and shows each flag's default."""


def parse_args(argv: Optional[Sequence[str]] = None) -> Options:
  """Options from command-line arguments (without the program name)."""
  defaults = Options()
  parser = argparse.ArgumentParser(prog="tools/benchmark.py", description=__doc__, formatter_class=_Formatter)
  parser.add_argument("--model", default=defaults.model, help="model spec, as models.get(spec)")
  parser.add_argument("--batch", type=int, default=defaults.batch, help="images per step")
  parser.add_argument("--mode", default=",".join(defaults.modes),
                      help="comma list of train, infer, input (input: the input pipeline, see --pp)")
  parser.add_argument("--precision", default=",".join(defaults.precisions),
                      help="comma list of float32, mixed_bfloat16 (Keras dtype policies)")
  parser.add_argument("--steps", type=int, default=defaults.steps, help="timed steps")
  parser.add_argument("--warmup", type=int, default=defaults.warmup, help="untimed steps after tracing")
  parser.add_argument("--compare", default=defaults.compare, choices=COMPARES,
                      help="also time keras-hub's ViTBackbone of the same size (ViT specs only)")
  parser.add_argument("--optimizer", default=defaults.optimizer,
                      help="optimizers.make name spec for the train step, e.g. "
                           "\"adafactor_bv(momentum=0.9)\"; None: keras SGD with momentum 0.9")
  parser.add_argument("--lr", type=float, default=defaults.lr, help="learning rate of the train step")
  parser.add_argument("--optimizer_state", action="store_true",
                      help="report Adafactor and Adam state bytes for the model")
  parser.add_argument("--matmul_size", type=int, default=defaults.matmul_size,
                      help="side of the square matmul timed for the peak")
  parser.add_argument("--matmul_reps", type=int, default=defaults.matmul_reps, help="timed matmuls")
  parser.add_argument("--jit_compile", action="store_true", help="XLA-compile the steps")
  parser.add_argument("--remat", action="store_true",
                      help="also time the train step with every block rematerialised: peak memory and time vs plain")
  parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the random inputs")
  parser.add_argument("--json", action="store_true", help="print one JSON line with all numbers at the end")
  parser.add_argument("--backend", default=keras.backend.backend(), choices=BACKENDS,
                      help="Keras backend: tensorflow (tf.function steps), jax (jitted stateless steps) or "
                           "torch (eager); set before Keras is imported")
  parser.add_argument("--dataset", default=defaults.dataset, help="--mode=input: tfds name or dataset spec")
  parser.add_argument("--split", default=defaults.split, help="--mode=input: split")
  parser.add_argument("--data_dir", default=defaults.data_dir, help="--mode=input: tfds data_dir")
  parser.add_argument("--pp", default=defaults.pp,
                      help="--mode=input: preprocessing string (keep('image') is appended unless it keeps keys)")
  parser.add_argument("--input_batch", type=int, default=defaults.input_batch, help="--mode=input: batch size")
  parser.add_argument("--input_images", type=int, default=defaults.input_images,
                      help="--mode=input: images timed per run")
  parser.add_argument("--input_repeats", type=int, default=defaults.input_repeats,
                      help="--mode=input: runs of each configuration (the median is kept)")
  args = parser.parse_args(argv)
  return Options(model=args.model, batch=args.batch, modes=_comma_list(args.mode),
                 precisions=_comma_list(args.precision), steps=args.steps, warmup=args.warmup,
                 compare=args.compare, optimizer=args.optimizer, lr=args.lr,
                 optimizer_state=args.optimizer_state, matmul_size=args.matmul_size,
                 matmul_reps=args.matmul_reps, jit_compile=args.jit_compile, remat=args.remat,
                 seed=args.seed, json=args.json, backend=args.backend,
                 dataset=args.dataset, split=args.split, data_dir=args.data_dir, pp=args.pp,
                 input_batch=args.input_batch, input_images=args.input_images, input_repeats=args.input_repeats)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
  """Parses `argv` (default sys.argv[1:]), runs, prints the table (and the JSON line); returns the result."""
  options = parse_args(sys.argv[1:] if argv is None else argv)
  result = run(options)
  if "results" in result:
    print(format_table(result), flush=True)
  if "input" in result:
    print(format_input_table(result["input"]), flush=True)
  if options.json:
    print(json.dumps(result, default=_json_default), flush=True)
  return result


def _json_default(value):
  if isinstance(value, (np.integer,)):
    return int(value)
  if isinstance(value, (np.floating,)):
    return float(value)
  return str(value)


if __name__ == "__main__":
  try:
    main()
  except (FlagError, SpecError, DatasetUnavailableError) as e:  # The message says what to fix.
    sys.exit(f"benchmark.py: error: {e}")
