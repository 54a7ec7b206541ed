"""Tests of model_garden.export: the SavedModel's signatures, its preprocessing contract and the CLI."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest

import model_garden  # noqa: F401  Sets the Keras backend and registers the serialisables.
import keras
import tensorflow as tf

from model_garden import export

SIZE = 32
NAMES = ["circle", "square", "triangle", "star", "ring"]
SPEC = "resnet_small(num_classes=5, image_size=32, widths=(8, 16))"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _net(seed=0):
  net = model_garden.models.get(SPEC)
  net(tf.zeros([1, SIZE, SIZE, 3]))
  # The head is zero-initialised; random weights make the logits differ per class and per image.
  rng = np.random.RandomState(seed)
  net.head.kernel.assign(rng.normal(0, 1, net.head.kernel.shape).astype("float32"))
  net.head.bias.assign(rng.normal(0, 0.1, net.head.bias.shape).astype("float32"))
  return net


def _images(shapes, seed=0):
  rng = np.random.RandomState(seed)
  return [tf.constant(rng.randint(0, 256, size=(h, w, 3)), tf.uint8) for h, w in shapes]


def _reference(net, images):
  """What the Keras model says about uint8 images preprocessed by hand (float32, resize, normalise)."""
  x = tf.stack([tf.image.resize(tf.cast(i, tf.float32), (SIZE, SIZE)) / 127.5 - 1.0 for i in images])
  return net(x).numpy()


def _pil_bytes(frames, fmt):
  """Encodes uint8 [H, W, 3] frames with Pillow (TF has no GIF or BMP encoder)."""
  stream = io.BytesIO()
  pictures = [PIL.Image.fromarray(np.asarray(f)) for f in frames]
  pictures[0].save(stream, format=fmt, save_all=len(pictures) > 1, append_images=pictures[1:])
  return stream.getvalue()


def _env():
  env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  return env


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  net = _net()
  path = export.export_classifier(net, tmp_path_factory.mktemp("export") / "1", image_size=SIZE,
                                  class_names=NAMES)
  return net, path, tf.saved_model.load(path)


def test_signatures_and_their_inputs(exported):
  _, _, loaded = exported
  assert set(loaded.signatures) == set(export.SIGNATURE_NAMES)
  inputs = {name: loaded.signatures[name].structured_input_signature[1] for name in loaded.signatures}
  assert inputs["serving_default"]["image_bytes"].dtype == tf.string
  assert inputs["serving_default"]["image_bytes"].shape.as_list() == [None]
  # Any rank: one image [H, W, C] and gray / RGBA channels are converted in the graph.
  assert inputs["serve_uint8"]["images"].dtype == tf.uint8 and inputs["serve_uint8"]["images"].shape.rank is None
  assert inputs["serve_float"]["images"].dtype == tf.float32 and inputs["serve_float"]["images"].shape.rank is None
  for sig in loaded.signatures.values():
    assert set(sig.structured_outputs) == {"logits", "probabilities", "classes", "class_name"}


def test_png_bytes_of_mixed_sizes_match_keras(exported):
  net, _, loaded = exported
  images = _images([(32, 32), (40, 48), (17, 23), (64, 30)])
  out = loaded.signatures["serving_default"](image_bytes=tf.stack([tf.io.encode_png(i) for i in images]))
  ref = _reference(net, images)
  np.testing.assert_allclose(out["logits"].numpy(), ref, atol=1e-5)
  assert out["logits"].dtype == tf.float32
  np.testing.assert_allclose(out["probabilities"].numpy().sum(-1), 1.0, atol=1e-5)
  np.testing.assert_allclose(out["probabilities"].numpy(), tf.nn.softmax(ref).numpy(), atol=1e-5)
  np.testing.assert_array_equal(out["classes"].numpy(), ref.argmax(-1))
  assert [n.decode() for n in out["class_name"].numpy()] == [NAMES[c] for c in ref.argmax(-1)]
  # The serve_bytes name and the tf.function attribute answer the same.
  np.testing.assert_allclose(loaded.serve_bytes(tf.stack([tf.io.encode_png(images[0])]))["logits"],
                             ref[:1], atol=1e-5)


def test_other_formats_decode(exported):
  net, _, loaded = exported
  image = _images([(24, 24)])[0]
  gray = tf.io.encode_png(tf.image.rgb_to_grayscale(image))
  rgba = tf.io.encode_png(tf.concat([image, tf.fill([24, 24, 1], tf.constant(255, tf.uint8))], -1))
  jpeg = tf.io.encode_jpeg(image)
  bmp = _pil_bytes([image], "BMP")
  # A flat two-frame animation: GIF's 256-colour palette holds flat colours exactly.
  first = tf.fill([24, 24, 3], tf.constant(200, tf.uint8))
  second = tf.fill([24, 24, 3], tf.constant(9, tf.uint8))
  gif = _pil_bytes([first, second], "GIF")
  data = tf.stack([gray, rgba, jpeg, bmp, gif])
  out = loaded.signatures["serving_default"](image_bytes=data)["logits"].numpy()
  expected_gray = tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image))
  np.testing.assert_allclose(out[0], _reference(net, [expected_gray])[0], atol=1e-5)
  np.testing.assert_allclose(out[1], _reference(net, [image])[0], atol=1e-5)  # Alpha is dropped.
  np.testing.assert_allclose(out[2], _reference(net, [tf.io.decode_jpeg(jpeg)])[0], atol=1e-5)
  np.testing.assert_allclose(out[3], _reference(net, [image])[0], atol=1e-5)
  np.testing.assert_allclose(out[4], _reference(net, [first])[0], atol=1e-5)  # The first frame only.


def test_uint8_of_another_size_matches_keras(exported):
  net, _, loaded = exported
  images = tf.stack(_images([(40, 48)] * 3, seed=1))
  out = loaded.signatures["serve_uint8"](images=images)
  ref = net(tf.image.resize(tf.cast(images, tf.float32), (SIZE, SIZE)) / 127.5 - 1).numpy()
  np.testing.assert_allclose(out["logits"].numpy(), ref, atol=1e-5)
  np.testing.assert_allclose(export.preprocess_uint8(images, SIZE),
                             tf.image.resize(tf.cast(images, tf.float32), (SIZE, SIZE)) / 127.5 - 1)


def test_serve_float_is_the_keras_model(exported):
  net, _, loaded = exported
  x = tf.random.stateless_uniform([2, SIZE, SIZE, 3], seed=(1, 2), minval=-1, maxval=1)
  out = loaded.signatures["serve_float"](images=x)
  np.testing.assert_allclose(out["logits"].numpy(), net(x).numpy(), atol=1e-5)


def test_corrupt_bytes_fail_the_batch_naming_each_bad_index(exported):
  _, _, loaded = exported
  good = tf.io.encode_png(_images([(8, 8)])[0])
  truncated = tf.strings.substr(good, 0, 40)  # A PNG header, then nothing.
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"undecodable images .* at index:\] \[1 3\]"):
    loaded.signatures["serving_default"](image_bytes=tf.stack([good, tf.constant(b"not an image"), good, truncated]))
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"at index:\] \[0\]"):
    loaded.signatures["serving_default"](image_bytes=tf.constant([b"GIF89a?"]))


def test_empty_batches_give_empty_outputs(exported):
  _, _, loaded = exported
  for name, inputs in (("serving_default", {"image_bytes": tf.zeros([0], tf.string)}),
                       ("serve_uint8", {"images": tf.zeros([0, 20, 20, 3], tf.uint8)}),
                       ("serve_float", {"images": tf.zeros([0, SIZE, SIZE, 3])})):
    out = loaded.signatures[name](**inputs)
    assert out["logits"].shape == (0, len(NAMES)) and out["probabilities"].shape == (0, len(NAMES)), name
    assert out["classes"].shape == (0,) and out["class_name"].shape == (0,), name


def test_uint8_one_image_gray_and_rgba_are_converted(exported):
  net, _, loaded = exported
  image = _images([(24, 20)], seed=3)[0]
  serve = loaded.signatures["serve_uint8"]
  np.testing.assert_allclose(serve(images=image)["logits"].numpy(), _reference(net, [image]), atol=1e-5)
  gray = tf.image.rgb_to_grayscale(image)
  np.testing.assert_allclose(serve(images=gray[None])["logits"].numpy(),
                             _reference(net, [tf.image.grayscale_to_rgb(gray)]), atol=1e-5)
  rgba = tf.concat([image, tf.fill([24, 20, 1], tf.constant(7, tf.uint8))], -1)
  np.testing.assert_allclose(serve(images=rgba[None])["logits"].numpy(), _reference(net, [image]), atol=1e-5)
  for bad in (tf.zeros([2, 8, 8, 5], tf.uint8), tf.zeros([8, 8], tf.uint8), tf.zeros([1, 2, 8, 8, 3], tf.uint8)):
    shape = " ".join(map(str, bad.shape))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"serve_uint8 takes images \[batch, height, width, channels\].*got shape\] \[" + shape):
      serve(images=bad)


def test_serve_float_resizes_other_sizes(exported):
  net, _, loaded = exported
  x = tf.random.stateless_uniform([2, 48, 40, 3], seed=(3, 4), minval=-1, maxval=1)
  out = loaded.signatures["serve_float"](images=x)["logits"].numpy()
  np.testing.assert_allclose(out, net(tf.image.resize(x, (SIZE, SIZE))).numpy(), atol=1e-5)
  with pytest.raises(tf.errors.InvalidArgumentError, match="serve_float takes images"):
    loaded.signatures["serve_float"](images=tf.zeros([SIZE, SIZE]))


def test_tfsm_layer_inside_a_keras_model(exported):
  net, path, _ = exported
  inputs = keras.Input(shape=(), dtype="string", name="image_bytes")
  outputs = keras.layers.TFSMLayer(path, call_endpoint="serving_default")(inputs)
  wrapper = keras.Model(inputs, outputs["probabilities"])
  images = _images([(32, 32), (50, 40)], seed=2)
  probs = wrapper(tf.stack([tf.io.encode_png(i) for i in images]))
  np.testing.assert_allclose(np.asarray(probs), tf.nn.softmax(_reference(net, images)).numpy(), atol=1e-5)


def test_sigmoid_no_names_and_mixed_precision(tmp_path):
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy("mixed_bfloat16")
  try:
    net = _net(seed=3)
  finally:
    keras.config.set_dtype_policy(previous)
  assert net.compute_dtype == "bfloat16"
  path = export.export_classifier(net, tmp_path / "mp", image_size=SIZE, activation="sigmoid")
  loaded = tf.saved_model.load(path)
  images = tf.stack(_images([(32, 32)] * 2, seed=4))
  out = loaded.signatures["serve_uint8"](images=images)
  assert set(out) == {"logits", "probabilities", "classes"}
  assert out["logits"].dtype == tf.float32 and out["probabilities"].dtype == tf.float32
  ref = np.asarray(net(export.preprocess_uint8(images, SIZE)), np.float32)
  # bfloat16 keeps 8 significant bits: graph and eager runs may round one step (1/64 near 2) apart.
  np.testing.assert_allclose(out["logits"].numpy(), ref, rtol=2e-2, atol=2e-2)
  np.testing.assert_allclose(out["probabilities"].numpy(), tf.sigmoid(out["logits"]).numpy(), atol=1e-6)


def test_bad_arguments(exported):
  net = exported[0]
  with pytest.raises(ValueError, match="one name per class"):
    export.export_classifier(net, "/nonexistent", image_size=SIZE, class_names=["a", "b"])
  with pytest.raises(ValueError, match="activation"):
    export.export_classifier(net, "/nonexistent", image_size=SIZE, activation="relu")
  with pytest.raises(ValueError, match="resize_method"):
    export.export_classifier(net, "/nonexistent", image_size=SIZE, resize_method="bilinearr")


def test_missing_workdir_files_name_path_and_trainer(tmp_path):
  with pytest.raises(FileNotFoundError, match="does not exist"):
    export.export_workdir(tmp_path / "nowhere", tmp_path / "out")
  with pytest.raises(FileNotFoundError, match="model.keras") as e:
    export.export_workdir(tmp_path, tmp_path / "out")
  assert str(tmp_path / "model.keras") in str(e.value) and "model_garden.train" in str(e.value)
  (tmp_path / "model.keras").write_bytes(b"")
  with pytest.raises(FileNotFoundError, match="export.json") as e:
    export.export_workdir(tmp_path, tmp_path / "out")
  assert "model_garden.train" in str(e.value)
  (tmp_path / "export.json").write_text(json.dumps({"image_size": 32}))
  with pytest.raises(ValueError, match="lacks the keys"):
    export.export_workdir(tmp_path, tmp_path / "out")


def test_cli_end_to_end(tmp_path):
  workdir, base = tmp_path / "workdir", tmp_path / "serving"
  net = _net(seed=5)
  os.makedirs(workdir)
  net.save(workdir / "model.keras")
  export.write_export_config(workdir, image_size=SIZE, class_names=NAMES)
  cmd = [sys.executable, "-m", "model_garden.export", f"--workdir={workdir}", f"--output={base}",
         "--version=7"]
  run = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=REPO, timeout=120)
  assert run.returncode == 0, run.stderr[-3000:]
  assert str(base / "7") in run.stdout and "serving_default" in run.stdout and "serve_uint8" in run.stdout

  # The export loads in a process that never imported model_garden, as TF-Serving would.
  images = _images([(32, 32), (45, 33)], seed=6)
  np.save(tmp_path / "ref.npy", _reference(net, images))
  for i, image in enumerate(images):
    tf.io.write_file(str(tmp_path / f"{i}.png"), tf.io.encode_png(image))
  check = f"""
import numpy as np, tensorflow as tf, sys
served = tf.saved_model.load({str(base / '7')!r})
data = tf.stack([tf.io.read_file({str(tmp_path)!r} + f'/{{i}}.png') for i in range(2)])
out = served.signatures['serving_default'](image_bytes=data)
np.testing.assert_allclose(out['logits'].numpy(), np.load({str(tmp_path / 'ref.npy')!r}), atol=1e-5)
assert 'model_garden' not in sys.modules
print('names', [n.decode() for n in out['class_name'].numpy()])
"""
  run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=_env(),
                       timeout=120)
  assert run.returncode == 0, run.stderr[-3000:]
  assert "names" in run.stdout

  # A served version is never overwritten by accident.
  with pytest.raises(ValueError, match="not empty"):
    export.export_workdir(workdir, base, version=7)


def test_cli_reports_missing_file_without_traceback(tmp_path):
  cmd = [sys.executable, "-m", "model_garden.export", f"--workdir={tmp_path}",
         f"--output={tmp_path / 'out'}"]
  run = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=REPO, timeout=120)
  assert run.returncode != 0
  assert str(tmp_path / "model.keras") in run.stderr and "model_garden.train" in run.stderr
  assert "Traceback" not in run.stderr
