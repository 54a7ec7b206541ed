r"""ViT-B/16 training and inference on an accelerator: model_garden on JAX against keras-hub and timm.

Needs a Python with jax (and torch + timm for the timm rows) plus the wheels of keras, keras-hub and
model_garden; no TensorFlow. One command prints the table and writes every number as JSON:

  python tools/gpu_benchmark.py --json=/tmp/gpu_benchmark.json

What runs, each section in its own subprocess (so one framework's memory pool never starves another's):
  * peak: the best of --matmul_reps timed (--matmul_size)^3 matmuls in JAX, bfloat16 and float32 (JAX's
    default precision, i.e. TF32 on NVIDIA GPUs), after a warm-up; MFU divides by the bfloat16 peak for the
    bfloat16 rows and by the float32 one for the float32 rows.
  * ours_jax: `vit(variant='B/16', num_classes=1000, image_size=224)` on Keras' JAX backend;
  * keras_hub_jax: `keras_hub.models.ViTBackbone` of the same sizes with a Dense head on its [cls] token;
  * timm_torch: timm's `vit_base_patch16_224` (random init) on PyTorch, eager; `--torch_compile` adds
    `torch.compile`d rows.
  For each network, --precision (float32, bfloat16: Keras' `mixed_bfloat16` policy, or torch.autocast to
  bfloat16 with float32 weights) and --mode: `infer` (a jitted `stateless_call`, training=False; timm: eval
  mode under `torch.inference_mode`) and `train` (forward, softmax cross-entropy on random labels, gradients
  and an SGD(momentum=0.9) update: a jitted stateless Keras step with `optimizer.stateless_apply`, donated
  buffers; timm: `loss.backward()` and `torch.optim.SGD`). Inputs are random, created once on the device.
  Each step is compiled/warmed --warmup times, then --steps steps are timed back to back and the clock stops
  when the last result is ready: img/s = steps * batch / time.
  * FLOPs: 2 per multiply-add of the matmuls and convolutions (ViT closed form; a train step is 3x the
    forward); `--tiny` also checks the closed form against the dot_generals of our network's jaxpr.

Output: a table and, with --json=PATH, {"device", "peaks", "results": [{network, framework, precision,
mode, batch, imgs_per_sec, step_ms, flops_per_image, tflops, mfu, compile_s}], "ratios": {...}}.
`--tiny` runs every section at toy sizes on whatever device there is (the CPU test of this script).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import types
from typing import Any, Dict, List, Optional, Sequence

SECTIONS = ("peak", "ours_jax", "keras_hub_jax", "timm_torch")
PRECISIONS = ("float32", "bfloat16")
MODES = ("train", "infer")
# ViT-B/16 (Dosovitskiy et al. 2021): width, depth, mlp_dim, heads, patch, image size, classes.
VIT_B16 = {"width": 768, "depth": 12, "mlp_dim": 3072, "num_heads": 12, "patch_size": 16, "image_size": 224,
           "num_classes": 1000}
TINY_VIT = {"width": 32, "depth": 2, "mlp_dim": 64, "num_heads": 2, "patch_size": 8, "image_size": 32,
            "num_classes": 10}


# -- FLOPs ------------------------------------------------------------------------------------------------
def vit_forward_flops(sizes: Dict[str, int], cls_token: bool) -> int:
  """Matmul FLOPs (2 per multiply-add) of one image through a ViT: patch embedding, blocks, head.

  `cls_token`: keras-hub and timm prepend a [cls] token (one more token); ours pools by averaging (gap).
  """
  d, mlp = sizes["width"], sizes["mlp_dim"]
  patches = (sizes["image_size"] // sizes["patch_size"]) ** 2
  tokens = patches + (1 if cls_token else 0)
  embed = 2 * patches * sizes["patch_size"] ** 2 * 3 * d
  block = 2 * 4 * tokens * d * d + 2 * 2 * tokens * tokens * d + 2 * 2 * tokens * d * mlp
  return embed + sizes["depth"] * block + 2 * d * sizes["num_classes"]


def jaxpr_flops(fn, *args, by_dtype: Optional[Dict[str, int]] = None) -> int:
  """Matmul and convolution FLOPs of `fn(*args)` read off its jaxpr (nested jaxprs included).

  `by_dtype`, when given, is filled with the FLOPs per input dtype (a mixed policy's float32 matmuls show).
  """
  import jax  # pylint: disable=g-import-not-at-top
  jaxpr = jax.make_jaxpr(fn)(*args).jaxpr
  try:  # Drop what the outputs do not use (XLA does too), e.g. per-token logits a pooled model discards.
    from jax._src.interpreters import partial_eval  # pylint: disable=g-import-not-at-top
    jaxpr, _ = partial_eval.dce_jaxpr(jaxpr, [True] * len(jaxpr.outvars))
  except (ImportError, AttributeError, TypeError):  # Internal API: count without pruning if it moved.
    pass
  return _count_jaxpr(jaxpr, {} if by_dtype is None else by_dtype)


def _count_jaxpr(jaxpr, by_dtype: Dict[str, int]) -> int:
  total = 0
  for eqn in jaxpr.eqns:
    name, flops = eqn.primitive.name, 0
    if name == "dot_general":
      (contracting, _), _ = eqn.params["dimension_numbers"]
      lhs = eqn.invars[0].aval.shape
      flops = 2 * math.prod(eqn.outvars[0].aval.shape) * math.prod(lhs[i] for i in contracting)
    elif name == "conv_general_dilated":
      rhs = eqn.invars[1].aval.shape  # The kernel: spatial dims, input features per group, output features.
      out_features = rhs[eqn.params["dimension_numbers"].rhs_spec[0]]
      flops = 2 * math.prod(eqn.outvars[0].aval.shape) * math.prod(rhs) // out_features
    if flops:
      total += flops
      dtype = str(eqn.invars[0].aval.dtype)
      by_dtype[dtype] = by_dtype.get(dtype, 0) + flops
    for value in eqn.params.values():
      for sub in value if isinstance(value, (list, tuple)) else (value,):
        inner = getattr(sub, "jaxpr", sub)  # ClosedJaxpr -> Jaxpr.
        if hasattr(inner, "eqns"):
          total += _count_jaxpr(inner, by_dtype)
  return total


# -- JAX ---------------------------------------------------------------------------------------------------
def jax_matmul_peak(dtype: str, size: int, reps: int) -> Dict[str, Any]:
  """TFLOP/s of the best of `reps` timed (size x size) @ (size x size) products in `dtype` (JAX)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  keys = jax.random.split(jax.random.key(0))
  a = jax.random.uniform(keys[0], (size, size), jnp.float32, -1, 1).astype(dtype)
  b = jax.random.uniform(keys[1], (size, size), jnp.float32, -1, 1).astype(dtype)
  matmul = jax.jit(jnp.matmul)
  matmul(a, b).block_until_ready()
  times = []
  for _ in range(max(1, reps)):
    start = time.perf_counter()
    matmul(a, b).block_until_ready()
    times.append(time.perf_counter() - start)
  return {"dtype": dtype, "size": size, "reps": len(times), "tflops": 2.0 * size ** 3 / min(times) / 1e12,
          "device": str(jax.devices()[0].device_kind)}


def jax_steps(model, mode: str, learning_rate: float = 1e-3):
  """(step, state): a jitted stateless Keras/JAX step and its initial state.

  infer: `step(state, images, labels) -> (state, logits)`; train: one SGD(momentum=0.9) step on softmax
  cross-entropy, `-> (new state, loss)`, with the state buffers donated.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  from keras import ops  # pylint: disable=g-import-not-at-top

  trainable = [v.value for v in model.trainable_variables]
  non_trainable = [v.value for v in model.non_trainable_variables]
  if mode == "infer":
    @jax.jit
    def infer(state, images, labels):
      del labels
      logits, _ = model.stateless_call(state[0], state[1], images, training=False)
      return state, logits
    return infer, (trainable, non_trainable)

  optimizer = keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
  optimizer.build(model.trainable_variables)
  optimizer_state = [v.value for v in optimizer.variables]
  # The step donates its state: give it copies, so the model's own variables stay usable afterwards.
  trainable, non_trainable = jax.tree_util.tree_map(jax.numpy.copy, (trainable, non_trainable))

  def loss_fn(train_values, non_train_values, images, labels):
    logits, non_train_values = model.stateless_call(train_values, non_train_values, images, training=True)
    loss = ops.mean(keras.losses.sparse_categorical_crossentropy(labels, ops.cast(logits, "float32"),
                                                                   from_logits=True))
    return loss, non_train_values

  grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

  def train(state, images, labels):
    train_values, non_train_values, opt_values = state
    (loss, non_train_values), grads = grad_fn(train_values, non_train_values, images, labels)
    train_values, opt_values = optimizer.stateless_apply(opt_values, grads, train_values)
    return (train_values, non_train_values, opt_values), loss

  return jax.jit(train, donate_argnums=(0,)), (trainable, non_trainable, optimizer_state)


def time_jax(step, state, images, labels, steps: int, warmup: int) -> Dict[str, float]:
  import jax  # pylint: disable=g-import-not-at-top
  start = time.perf_counter()
  state, out = step(state, images, labels)
  jax.block_until_ready(out)
  compile_s = time.perf_counter() - start
  for _ in range(max(0, warmup - 1)):
    state, out = step(state, images, labels)
  jax.block_until_ready((state, out))
  start = time.perf_counter()
  for _ in range(steps):
    state, out = step(state, images, labels)
  jax.block_until_ready((state, out))
  return {"seconds": time.perf_counter() - start, "compile_s": compile_s}


def build_ours(sizes: Dict[str, int]):
  from model_garden import models  # pylint: disable=g-import-not-at-top
  spec = (f"vit(variant='B/16', width={sizes['width']}, depth={sizes['depth']}, mlp_dim={sizes['mlp_dim']}, "
          f"num_heads={sizes['num_heads']}, patch_size={sizes['patch_size']}, num_classes={sizes['num_classes']}, "
          f"image_size={sizes['image_size']})")
  return models.get(spec), spec


def import_keras_hub():
  """`keras_hub`, also where TensorFlow is not installed.

  keras-hub 0.31 imports tensorflow at module level in a few LLM preprocessors and image converters (gemma4,
  qwen3_5, ...) that `import keras_hub` loads and its ViT never runs. Without TensorFlow, an empty stand-in
  module (every attribute access raises) lets the import through; anything that did use it would fail loudly.
  """
  try:
    import keras_hub  # pylint: disable=g-import-not-at-top
    return keras_hub
  except ImportError as e:  # ModuleNotFoundError, or "import of tensorflow halted" where it is blocked.
    if e.name != "tensorflow":
      raise
  for name in [m for m in sys.modules if m == "keras_hub" or m.startswith("keras_hub.")]:
    del sys.modules[name]
  sys.modules["tensorflow"] = _AbsentTensorFlow("tensorflow")
  import keras_hub  # pylint: disable=g-import-not-at-top
  return keras_hub


class _AbsentTensorFlow(types.ModuleType):
  """The stand-in of `import_keras_hub`: importable, but every attribute access says TensorFlow is absent."""

  def __getattr__(self, name):
    raise AttributeError(f"tensorflow.{name}: TensorFlow is not installed (a stand-in module let keras_hub "
                         "import; its ViT does not need TensorFlow).")


def build_keras_hub(sizes: Dict[str, int]):
  import keras  # pylint: disable=g-import-not-at-top
  keras_hub = import_keras_hub()
  size = sizes["image_size"]
  backbone = keras_hub.models.ViTBackbone(
      image_shape=(size, size, 3), patch_size=sizes["patch_size"], num_layers=sizes["depth"],
      num_heads=sizes["num_heads"], hidden_dim=sizes["width"], mlp_dim=sizes["mlp_dim"])
  logits = keras.layers.Dense(sizes["num_classes"], name="head")(backbone.output[:, 0])
  return keras.Model(backbone.input, logits, name="keras_hub_vit"), "keras_hub.models.ViTBackbone + Dense head"


def run_keras_section(section: str, options: Dict[str, Any]) -> Dict[str, Any]:
  """Times our ViT or keras-hub's on Keras' JAX backend (KERAS_BACKEND=jax is set by the parent)."""
  import jax  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  if keras.backend.backend() != "jax":
    raise RuntimeError(f"{section} needs KERAS_BACKEND=jax, got {keras.backend.backend()}.")
  sizes, batch = options["sizes"], options["batch"]
  rng = np.random.default_rng(0)
  images = jax.device_put(rng.uniform(-1, 1, (batch, sizes["image_size"], sizes["image_size"], 3))
                          .astype("float32"))
  labels = jax.device_put(rng.integers(0, sizes["num_classes"], (batch,)).astype("int32"))
  rows, extra = [], {}
  for precision in options["precisions"]:
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    model, description = (build_ours if section == "ours_jax" else build_keras_hub)(sizes)
    extra["description"] = description
    cls_token = section != "ours_jax"
    flops = vit_forward_flops(sizes, cls_token=cls_token)
    if options["count_flops"] and "jaxpr_flops" not in extra:
      values = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables])
      one = images[:1]
      extra["jaxpr_flops"] = jaxpr_flops(lambda tv, ntv, x: model.stateless_call(tv, ntv, x)[0], *values, one)
      extra["closed_form_flops"] = flops
    for mode in options["modes"]:
      step, state = jax_steps(model, mode)
      timing = time_jax(step, state, images, labels, options["steps"], options["warmup"])
      rows.append(_row(section, "jax", precision, mode, batch, timing, flops, options["steps"]))
      del step, state
    del model
  keras.mixed_precision.set_global_policy("float32")
  return {"rows": rows, "extra": extra, "device": str(jax.devices()[0].device_kind)}


def run_peak_section(options: Dict[str, Any]) -> Dict[str, Any]:
  import jax  # pylint: disable=g-import-not-at-top
  peaks = {dtype: jax_matmul_peak(dtype, options["matmul_size"], options["matmul_reps"])
           for dtype in ("bfloat16", "float32")}
  return {"peaks": peaks, "device": str(jax.devices()[0].device_kind), "jax_version": jax.__version__}


# -- PyTorch -----------------------------------------------------------------------------------------------
def build_timm(sizes: Dict[str, int]):
  import timm  # pylint: disable=g-import-not-at-top
  if sizes == VIT_B16:
    return timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=sizes["num_classes"])
  from timm.models.vision_transformer import VisionTransformer  # pylint: disable=g-import-not-at-top
  return VisionTransformer(img_size=sizes["image_size"], patch_size=sizes["patch_size"], embed_dim=sizes["width"],
                           depth=sizes["depth"], num_heads=sizes["num_heads"],
                           mlp_ratio=sizes["mlp_dim"] / sizes["width"], num_classes=sizes["num_classes"])


def time_torch(step, steps: int, warmup: int, device) -> Dict[str, float]:
  import torch  # pylint: disable=g-import-not-at-top

  def sync():
    if device.type == "cuda":
      torch.cuda.synchronize()

  start = time.perf_counter()
  step()
  sync()
  compile_s = time.perf_counter() - start
  for _ in range(max(0, warmup - 1)):
    step()
  sync()
  start = time.perf_counter()
  for _ in range(steps):
    step()
  sync()
  return {"seconds": time.perf_counter() - start, "compile_s": compile_s}


def run_timm_section(options: Dict[str, Any], build=None) -> Dict[str, Any]:
  """timm's ViT on PyTorch (eager, and compiled with --torch_compile); `build(sizes)` replaces timm in tests."""
  import torch  # pylint: disable=g-import-not-at-top
  versions = {"torch_version": torch.__version__}
  if build is None:
    try:
      import timm  # pylint: disable=g-import-not-at-top
    except Exception as e:  # pylint: disable=broad-except  (a torchvision of another torch build raises RuntimeError)
      raise RuntimeError(f"timm cannot be imported here ({type(e).__name__}: {e}); install timm and the "
                         "torchvision built for this torch, or leave timm_torch out of --sections.") from None
    build, versions["timm_version"] = build_timm, timm.__version__
  device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
  torch.backends.cuda.matmul.allow_tf32 = True  # As JAX's default float32 matmul precision on GPUs.
  torch.backends.cudnn.allow_tf32 = True
  sizes, batch = options["sizes"], options["batch"]
  generator = torch.Generator().manual_seed(0)
  images = (torch.rand((batch, 3, sizes["image_size"], sizes["image_size"]), generator=generator) * 2 - 1).to(device)
  labels = torch.randint(0, sizes["num_classes"], (batch,), generator=generator).to(device)
  flops = vit_forward_flops(sizes, cls_token=True)
  variants = [("timm_torch", False)] + ([("timm_torch_compile", True)] if options["torch_compile"] else [])
  rows = []
  for precision in options["precisions"]:
    autocast = precision == "bfloat16"
    for network, compiled in variants:
      for mode in options["modes"]:
        torch.manual_seed(0)
        model = build(sizes).to(device)
        runner = torch.compile(model) if compiled else model
        if mode == "infer":
          model.eval()

          def step(runner=runner):
            with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16, enabled=autocast):
              return runner(images)
        else:
          model.train()
          optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
          loss_fn = torch.nn.CrossEntropyLoss()

          def step(runner=runner, optimizer=optimizer, loss_fn=loss_fn):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, torch.bfloat16, enabled=autocast):
              logits = runner(images)
            loss = loss_fn(logits.float(), labels)
            loss.backward()
            optimizer.step()
            return loss
        timing = time_torch(step, options["steps"], options["warmup"], device)
        rows.append(_row(network, "torch", precision, mode, batch, timing, flops, options["steps"]))
        del model, runner
        if device.type == "cuda":
          torch.cuda.empty_cache()
  return {"rows": rows, "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu", **versions}


# -- Driver ------------------------------------------------------------------------------------------------
def _row(network, framework, precision, mode, batch, timing, forward_flops, steps) -> Dict[str, Any]:
  imgs_per_sec = steps * batch / timing["seconds"]
  step_flops = forward_flops * (3 if mode == "train" else 1)
  return {"network": network, "framework": framework, "precision": precision, "mode": mode, "batch": batch,
          "imgs_per_sec": imgs_per_sec, "step_ms": 1e3 * timing["seconds"] / steps,
          "compile_s": timing["compile_s"], "flops_per_image": step_flops,
          "tflops": step_flops * imgs_per_sec / 1e12}


def run_section(section: str, options: Dict[str, Any]) -> Dict[str, Any]:
  if section == "peak":
    return run_peak_section(options)
  if section in ("ours_jax", "keras_hub_jax"):
    return run_keras_section(section, options)
  if section == "timm_torch":
    return run_timm_section(options)
  raise ValueError(f"Unknown section {section!r}; expected one of {SECTIONS}.")


def _spawn(section: str, options: Dict[str, Any], timeout: float) -> Dict[str, Any]:
  """Runs one section in a fresh interpreter (its own memory pool and Keras backend); returns its JSON."""
  env = dict(os.environ)
  if section != "timm_torch":
    env["KERAS_BACKEND"] = "jax"
  command = [sys.executable, os.path.abspath(__file__), f"--section={section}", f"--options={json.dumps(options)}"]
  if options.get("without_tensorflow"):
    command.append("--without_tensorflow")
  start = time.perf_counter()
  proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
  if proc.returncode != 0:
    return {"error": (proc.stdout + proc.stderr)[-3000:], "wall_s": time.perf_counter() - start}
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  result["wall_s"] = time.perf_counter() - start
  return result


def run(options: Dict[str, Any], sections: Sequence[str], timeout: float,
        json_path: Optional[str] = None) -> Dict[str, Any]:
  """Every section in its subprocess; the rows get MFU against the measured peak of their precision.

  With `json_path`, the result so far is written after each section (a run cut short keeps what it measured).
  """
  result: Dict[str, Any] = {"options": options, "sections": {}, "results": [], "errors": {}}
  for section in sections:
    out = _spawn(section, options, timeout)
    result["sections"][section] = {k: v for k, v in out.items() if k != "rows"}
    if "error" in out:
      result["errors"][section] = out["error"]
      print(f"[{section}] FAILED:\n{out['error']}", file=sys.stderr, flush=True)
      continue
    result["results"].extend(out.get("rows", []))
    if section == "peak":
      result["peaks"] = out["peaks"]
    print(f"[{section}] done in {out['wall_s']:.0f} s", file=sys.stderr, flush=True)
    for row in out.get("rows", []):
      print(f"[{section}] {row['precision']} {row['mode']}: {row['imgs_per_sec']:.1f} img/s", file=sys.stderr,
            flush=True)
    if json_path:
      _write_json(json_path, _finish(result))
  return _finish(result)


def _write_json(path: str, result: Dict[str, Any]) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    json.dump(result, f, indent=1)


def _finish(result: Dict[str, Any]) -> Dict[str, Any]:
  peaks = result.get("peaks", {})
  for row in result["results"]:
    peak = peaks.get(row["precision"], {}).get("tflops")
    row["peak_tflops"] = peak
    row["mfu"] = row["tflops"] / peak if peak else None
  result["ratios"] = ratios(result["results"])
  result["device"] = next((s.get("device") for s in result["sections"].values() if s.get("device")), None)
  return result


def ratios(rows: List[Dict[str, Any]]) -> Dict[str, float]:
  """ours / keras-hub (JAX) and ours / timm eager img/s for each (precision, mode)."""
  by_key = {(r["network"], r["precision"], r["mode"]): r["imgs_per_sec"] for r in rows}
  out = {}
  for (network, precision, mode), value in by_key.items():
    if network != "ours_jax":
      continue
    for other in ("keras_hub_jax", "timm_torch", "timm_torch_compile"):
      if (other, precision, mode) in by_key:
        out[f"ours_vs_{other}/{precision}/{mode}"] = value / by_key[(other, precision, mode)]
  return out


def format_table(result: Dict[str, Any]) -> str:
  options = result["options"]
  lines = [f"ViT-B/16-style network {options['sizes']}, batch {options['batch']}, {options['steps']} timed steps "
           f"after {options['warmup']} warm-up; device: {result.get('device')}"]
  for dtype, peak in result.get("peaks", {}).items():
    lines.append(f"  measured {dtype} matmul peak ({peak['size']}^3, JAX): {peak['tflops']:.1f} TFLOP/s")
  header = ["network", "precision", "mode", "img/s", "ms/step", "TFLOP/s", "MFU", "compile s"]
  table = [header]
  for r in result["results"]:
    mfu = f"{100 * r['mfu']:.1f}%" if r.get("mfu") is not None else "-"
    table.append([r["network"], r["precision"], r["mode"], f"{r['imgs_per_sec']:.1f}", f"{r['step_ms']:.1f}",
                  f"{r['tflops']:.2f}", mfu, f"{r['compile_s']:.1f}"])
  widths = [max(len(row[i]) for row in table) for i in range(len(header))]
  lines.append("")
  for n, row in enumerate(table):
    lines.append("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    if n == 0:
      lines.append("  ".join("-" * w for w in widths))
  if result["ratios"]:
    lines.append("")
    lines += [f"  {name}: {value:.3f}x" for name, value in sorted(result["ratios"].items())]
  for section, error in result["errors"].items():
    lines.append(f"  {section} FAILED (see stderr): {error.strip().splitlines()[-1] if error.strip() else ''}")
  return "\n".join(lines)


def parse_args(argv: Optional[Sequence[str]] = None):
  parser = argparse.ArgumentParser(prog="tools/gpu_benchmark.py", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
  parser.add_argument("--precision", default=",".join(PRECISIONS), help="comma list of float32, bfloat16")
  parser.add_argument("--mode", default=",".join(MODES), help="comma list of train, infer")
  parser.add_argument("--batch", type=int, default=128)
  parser.add_argument("--steps", type=int, default=20, help="timed steps")
  parser.add_argument("--warmup", type=int, default=3, help="untimed steps, the first compiles")
  parser.add_argument("--matmul_size", type=int, default=8192)
  parser.add_argument("--matmul_reps", type=int, default=10)
  parser.add_argument("--torch_compile", action="store_true", help="also time torch.compile(timm model)")
  parser.add_argument("--tiny", action="store_true",
                      help="toy sizes (width 32, 2 blocks, 32 px, batch 2, 2 steps): the CPU test")
  parser.add_argument("--section_timeout", type=float, default=1200, help="seconds per section subprocess")
  parser.add_argument("--json", default=None, help="write the results here")
  parser.add_argument("--without_tensorflow", action="store_true",
                      help="block `import tensorflow` in every section, as on an accelerator host without it")
  parser.add_argument("--section", default=None, help=argparse.SUPPRESS)  # Internal: run one section.
  parser.add_argument("--options", default=None, help=argparse.SUPPRESS)
  return parser.parse_args(argv)


def _split(text: str, allowed: Sequence[str], flag: str) -> List[str]:
  items = [t.strip() for t in text.split(",") if t.strip()]
  bad = [t for t in items if t not in allowed]
  if bad or not items:
    raise SystemExit(f"gpu_benchmark.py: error: {flag} takes a comma list of {', '.join(allowed)}; got {text!r}.")
  return items


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
  args = parse_args(argv)
  if args.without_tensorflow:
    sys.modules["tensorflow"] = None  # `import tensorflow` now raises ModuleNotFoundError.
  if args.section:  # A child: one section, one JSON line.
    print(json.dumps(run_section(args.section, json.loads(args.options))), flush=True)
    return {}
  options = {"sizes": TINY_VIT if args.tiny else VIT_B16, "batch": 2 if args.tiny else args.batch,
             "steps": 2 if args.tiny else args.steps, "warmup": 1 if args.tiny else args.warmup,
             "matmul_size": 256 if args.tiny else args.matmul_size,
             "matmul_reps": 2 if args.tiny else args.matmul_reps,
             "precisions": _split(args.precision, PRECISIONS, "--precision"),
             "modes": _split(args.mode, MODES, "--mode"), "torch_compile": args.torch_compile,
             "count_flops": args.tiny, "without_tensorflow": args.without_tensorflow}
  result = run(options, _split(args.sections, SECTIONS, "--sections"), args.section_timeout, args.json)
  print(format_table(result), flush=True)
  if args.json:
    _write_json(args.json, result)
  return result


if __name__ == "__main__":
  main()
