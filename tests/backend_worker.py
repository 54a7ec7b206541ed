"""The networks on another Keras backend: `python tests/backend_worker.py check DIR` under KERAS_BACKEND=jax/torch.

`save(DIR)` (called in the TensorFlow test process) builds every tiny network of `NETWORKS`, perturbs its
weights, saves them (`.weights.h5`), and records the inputs and outputs in DIR/reference.npz; it also writes
a ViT checkpoint in big_vision's `.npz` layout with its converted logits, and a preset. `check` runs with
TensorFlow blocked (`sys.modules["tensorflow"] = None`), so nothing in it can lean on TensorFlow: it rebuilds
each network from its spec, loads the weights saved on TensorFlow and writes the outputs it computes, and
also runs what has no TensorFlow reference: RevNet's memory-saving gradients against plain autodiff, standing
statistics, Keras `compile`/`fit` of a classifier, and the errors of the TensorFlow-only packages. The test
compares (tests/test_backends.py).
"""

import json
import os
import sys

if __name__ == "__main__":
  sys.modules["tensorflow"] = None  # Any import of TensorFlow now fails: the check runs without it.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import model_garden  # noqa: E402,F401
from model_garden import models  # noqa: E402

# name: (spec, inputs). Inputs: "imageN" (N px images), "tokens", "z" / "z+labels" (generators),
# "image32+labels" (a projection discriminator). GAN networks are also run in training mode (twice, so the
# second call sees the spectral-norm vectors and moving averages the first one updated).
NETWORKS = {
    "vit_gap": ("vit(variant='mu/4', image_size=16, num_classes=5)", "image16"),
    "vit_map": ("vit(variant='mu/4', image_size=16, num_classes=5, pool='map')", "image16"),
    "mixer": ("mixer(variant='Ti/8', num_blocks=2, num_classes=5, image_size=32)", "image32"),
    "bit": ("bit(variant='R14x1', num_classes=5, image_size=32, base_width=8, groups=4)", "image32"),
    "resnet_v1": ("ssl_resnet_v1(layers=(1, 1, 1, 1), width=0.125, image_size=32, num_classes=5)", "image32"),
    "resnet_v2": ("ssl_resnet_v2(layers=(1, 1, 1, 1), width=0.125, image_size=32, num_classes=5)", "image32"),
    "revnet": ("ssl_revnet(layers=(1, 1, 1, 1), width=0.0625, image_size=32, num_classes=4)", "image32"),
    "vgg": ("vgg19_bn(width=0.0625, image_size=32, num_classes=3)", "image32"),
    "patch_average": ("patch_average(network=\"ssl_resnet_v1(layers=(1, 1, 1, 1), width=0.125, image_size=16, "
                      "num_classes=4)\", grid=2, image_size=32)", "image32"),
    "text_transformer": ("text_transformer(width=32, depth=2, mlp_dim=64, num_heads=2, vocab_size=40, max_len=6, "
                         "num_classes=8)", "tokens"),
    "bert": ("bert_encoder(width=32, depth=2, mlp_dim=64, num_heads=2, vocab_size=40, max_len=6, num_classes=8)",
             "tokens"),
    "two_towers": ("two_towers(image=\"vit(variant='mu/4', image_size=16)\", text=\"text_transformer(width=32, "
                   "depth=1, mlp_dim=64, num_heads=2, vocab_size=40, max_len=6)\", out_dim=(8, 8))", "image16+tokens"),
    "sndcgan_g": ("sndcgan_generator(image_size=8, ch=2, z_dim=8)", "z"),
    "biggan_g": ("biggan_generator(image_size=32, z_dim=8, ch=8, label_classes=3, initializer='normal')", "z+labels"),
    "sndcgan_g_smbn": ("sndcgan_generator(image_size=8, ch=4, z_dim=8, norm='self_modulated_batch_norm')", "z"),
    "dcgan_d_bn": ("dcgan_discriminator(image_size=16, ch=4, norm='batch_norm', spectral_norm=True)", "image16"),
    "resnet_cifar_d_ln": ("resnet_cifar_discriminator(ch=8, label_classes=3, norm='layer_norm', spectral_norm=True, "
                          "initializer='normal')", "image32+labels"),
    "sndcgan_d_wn": ("sndcgan_discriminator(image_size=8, ch=4, weight_norm=True)", "image8"),
}
GAN = ("sndcgan_g", "sndcgan_g_smbn", "biggan_g", "dcgan_d_bn", "resnet_cifar_d_ln", "sndcgan_d_wn")
BATCH = 3


def make_inputs(kind: str, seed: int = 0):
  rng = np.random.default_rng(seed)
  out = {}
  for part in kind.split("+"):
    if part.startswith("image"):
      size = int(part[len("image"):])
      out["images"] = rng.uniform(-1, 1, (BATCH, size, size, 3)).astype("float32")
    elif part == "tokens":
      out["tokens"] = rng.integers(1, 40, (BATCH, 6)).astype("int32")
    elif part == "z":
      out["z"] = rng.uniform(-1, 1, (BATCH, 8)).astype("float32")
    elif part == "labels":
      out["labels"] = rng.integers(0, 3, (BATCH,)).astype("int32")
  return out


def run_network(name: str, model, inputs, training: bool = False):
  """The network's output on `inputs` as a NumPy array (a two-tower model: its two embeddings, joined)."""
  if name == "two_towers":
    zimg = model.embed_images(inputs["images"], training=training)
    ztxt = model.embed_texts(inputs["tokens"], training=training)
    return np.concatenate([ops.convert_to_numpy(zimg), ops.convert_to_numpy(ztxt)], axis=-1)
  if "z" in inputs:
    return ops.convert_to_numpy(model(inputs["z"], labels=inputs.get("labels"), training=training))
  if "images" in inputs:
    kwargs = {"labels": inputs["labels"]} if "labels" in inputs else {}
    return ops.convert_to_numpy(model(inputs["images"], training=training, **kwargs))
  return ops.convert_to_numpy(model(inputs["tokens"], training=training))


def build(spec: str):
  model = models.get(spec)
  if not model.built:
    model.build()
  return model


def perturb(model, seed: int = 0) -> None:
  """Moves every weight off its initial value (zero heads, unit BN scales), so outputs test every weight."""
  rng = np.random.default_rng(seed)
  for v in model.weights:
    value = ops.convert_to_numpy(v)
    noise = rng.normal(0, 0.1, value.shape).astype(value.dtype)
    if v.path.endswith("moving_variance"):
      value = np.abs(value + noise) + 0.5
    elif v.path.endswith("/g"):  # Weight norm's scale starts at the (tiny) kernel norm: make it count.
      value = np.abs(value + noise) + 1.0
    elif v.path.endswith("/t"):
      continue
    else:
      value = value + noise
    v.assign(value)


def outputs_of(name: str, model, inputs):
  """{"infer": ..., ["train_1", "train_2"]} for one network."""
  out = {"infer": run_network(name, model, inputs)}
  if name in GAN:
    out["train_1"] = run_network(name, model, inputs, training=True)
    out["train_2"] = run_network(name, model, inputs, training=True)
  return out


# -- The TensorFlow side ----------------------------------------------------------------------------------
def save(directory: str, extra=None) -> None:
  """Writes weights, inputs and outputs of every network (TensorFlow).

  `extra(directory, arrays)` may add more cases: it adds its arrays and returns manifest entries.
  """
  os.makedirs(directory, exist_ok=True)
  arrays = {}
  for index, (name, (spec, kind)) in enumerate(NETWORKS.items()):
    keras.utils.set_random_seed(index)
    model = build(spec)
    perturb(model, seed=index)
    model.save_weights(os.path.join(directory, f"{name}.weights.h5"))
    inputs = make_inputs(kind, seed=index)
    for key, value in inputs.items():
      arrays[f"{name}/input/{key}"] = value
    for key, value in outputs_of(name, model, inputs).items():
      arrays[f"{name}/output/{key}"] = value
  manifest = extra(directory, arrays) if extra is not None else {}
  np.savez(os.path.join(directory, "reference.npz"), **arrays)
  with open(os.path.join(directory, "manifest.json"), "w", encoding="utf-8") as f:
    json.dump(manifest, f)


# -- The other backend ------------------------------------------------------------------------------------
def gradients(model, inputs, seed: int = 0):
  """d/dW of sum(output * fixed random weights) in training mode, by the backend's own autodiff."""
  backend = keras.backend.backend()
  images = ops.convert_to_tensor(inputs)
  if backend == "jax":
    import jax  # pylint: disable=g-import-not-at-top
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    def loss(values):
      logits, updated = model.stateless_call(values, non_trainable, images, training=True)
      weights = np.random.default_rng(seed).normal(size=logits.shape).astype("float32")
      return (logits * weights).sum(), updated

    grads, updated = jax.jit(jax.grad(loss, has_aux=True))(trainable)
    for variable, value in zip(model.non_trainable_variables, updated):  # As model(x, training=True) would.
      variable.assign(value)
    return [np.asarray(g) for g in grads]
  import torch  # pylint: disable=g-import-not-at-top
  for v in model.trainable_variables:
    v.value.grad = None
  logits = model(images, training=True)
  probe = torch.as_tensor(np.random.default_rng(seed).normal(size=tuple(logits.shape)).astype("float32"))
  (logits * probe.to(logits.device)).sum().backward()
  return [v.value.grad.detach().cpu().numpy() for v in model.trainable_variables]


def check_revnet_memory_saving(report):
  spec = "ssl_revnet(layers=(2, 1, 1, 1), width=0.0625, image_size=16, num_classes=3, memory_saving={})"
  saving, plain = build(spec.format(True)), build(spec.format(False))
  perturb(saving, seed=7)
  plain.set_weights(saving.get_weights())
  images = np.random.default_rng(3).uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
  got, want = gradients(saving, images), gradients(plain, images)
  report["revnet_grad_max_abs_diff"] = max(float(np.max(np.abs(g - w))) for g, w in zip(got, want))
  report["revnet_grad_max_abs"] = max(float(np.max(np.abs(w))) for w in want)
  report["revnet_grad_count"] = len(got)
  mean_saving = [ops.convert_to_numpy(v) for v in saving.non_trainable_variables]
  mean_plain = [ops.convert_to_numpy(v) for v in plain.non_trainable_variables]
  report["revnet_moving_stats_max_abs_diff"] = max(float(np.max(np.abs(a - b)))
                                                   for a, b in zip(mean_saving, mean_plain))


def check_standing_statistics(report):
  from model_garden.models.gan import update_standing_statistics  # pylint: disable=g-import-not-at-top
  generator = build("sndcgan_generator(image_size=8, ch=2, z_dim=8)")
  perturb(generator, seed=5)
  updated = update_standing_statistics(generator, num_samples=4, batch_size=4, seed=0)
  # One batch: the standing statistics are that batch's moments, so inference equals batch-statistics mode.
  z = generator.sample_latents(4, ops.convert_to_tensor([0, 0], "int32"))
  inference = ops.convert_to_numpy(generator(z, training=False))
  batch_mode = ops.convert_to_numpy(generator(z, training=True))
  report["standing_layers"] = updated
  report["standing_max_abs_diff"] = float(np.max(np.abs(inference - batch_mode)))


def check_fit(report):
  """A tiny ViT learns "bright or dark" with Keras' own compile/fit on this backend."""
  keras.utils.set_random_seed(0)
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 2, (64,)).astype("int32")
  images = (rng.uniform(-0.5, 0.5, (64, 16, 16, 3)) + (labels[:, None, None, None] - 0.5)).astype("float32")
  model = models.get("vit(variant='mu/4', image_size=16, num_classes=2)")
  model.compile(optimizer=keras.optimizers.Adam(3e-3),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
  history = model.fit(images, labels, batch_size=16, epochs=4, verbose=0)
  report["fit_loss"] = [float(x) for x in history.history["loss"]]
  report["fit_accuracy"] = float(model.evaluate(images, labels, verbose=0)[1])


def check_tensorflow_only_errors(report):
  from model_garden import backends  # pylint: disable=g-import-not-at-top
  errors = {}
  for what in ("data", "text", "evaluation"):
    try:
      __import__(f"model_garden.{what}")
    except backends.TensorFlowRequiredError as e:
      errors[what] = str(e)
  for what in ("objectives", "training"):
    try:
      getattr(model_garden, what)
    except backends.TensorFlowRequiredError as e:
      errors[what] = str(e)
  try:
    model_garden.export.export_classifier  # pylint: disable=pointless-statement
  except backends.TensorFlowRequiredError as e:
    errors["export"] = str(e)
  report["tensorflow_only_errors"] = errors
  report["tensorflow_modules"] = sorted(m for m in sys.modules if m.startswith("tensorflow")
                                        and sys.modules[m] is not None)


def check(directory: str) -> None:
  reference = np.load(os.path.join(directory, "reference.npz"))
  with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as f:
    manifest = json.load(f)
  backend = keras.backend.backend()
  outputs = {}
  for name, (spec, kind) in NETWORKS.items():
    model = build(spec)
    model.load_weights(os.path.join(directory, f"{name}.weights.h5"))
    inputs = {key.split("/")[-1]: reference[key] for key in reference.files if key.startswith(f"{name}/input/")}
    for key, value in outputs_of(name, model, inputs).items():
      outputs[f"{name}/output/{key}"] = value
  report = {"backend": backend}
  if "converted_vit" in manifest:
    from model_garden import convert  # pylint: disable=g-import-not-at-top
    case = manifest["converted_vit"]
    vit = convert.convert(case["npz"], case["spec"])
    outputs["converted_vit/output/infer"] = ops.convert_to_numpy(vit(reference["converted_vit/input/images"]))
  if "preset" in manifest:
    from model_garden import presets  # pylint: disable=g-import-not-at-top
    preset = presets.load_preset(manifest["preset"]["path"])
    pixels = reference["preset/input/pixels"]
    outputs["preset/output/logits"] = ops.convert_to_numpy(preset.model(preset.preprocess(pixels)))
    report["preset_top1"] = [[(n, round(p, 6)) for n, p in row] for row in preset.classify(pixels, top_k=1)]
  check_revnet_memory_saving(report)
  check_standing_statistics(report)
  check_fit(report)
  check_tensorflow_only_errors(report)
  np.savez(os.path.join(directory, f"outputs_{backend}.npz"), **outputs)
  with open(os.path.join(directory, f"report_{backend}.json"), "w", encoding="utf-8") as f:
    json.dump(report, f, indent=1)
  print(json.dumps(report))


if __name__ == "__main__":
  if len(sys.argv) != 3 or sys.argv[1] != "check":
    sys.exit("usage: KERAS_BACKEND=jax|torch python tests/backend_worker.py check DIR")
  check(sys.argv[2])
