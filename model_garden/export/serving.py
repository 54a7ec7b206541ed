"""Exports a trained classifier as a TF-Serving SavedModel that takes encoded image bytes.

The SavedModel does its own preprocessing, so a client sends JPEG/PNG bytes (or raw uint8 pixels) and
never has to know the network's resolution or value range. Three signatures are written:

  serving_default / serve_bytes:
    inputs:  image_bytes  tf.string  [None]          encoded JPEG, PNG, GIF (first frame), BMP, or
                                                      anything else tf.io.decode_image reads
  serve_uint8:
    inputs:  images       tf.uint8   [N, H, W, C] or one image [H, W, C], any height and width; C = 3 (RGB),
                                      1 (gray, replicated), 4 (RGBA, alpha dropped) or 2 (gray + alpha)
  serve_float:
    inputs:  images       tf.float32 like serve_uint8's, already preprocessed (values in [-1, 1]); images
                                      of another size than S x S are resized (bilinear, as serve_uint8)
  outputs (all three):
    logits        float32 [None, C]
    probabilities float32 [None, C]   softmax, or sigmoid for multi-label heads
    classes       int64   [None]      top-1 index
    class_name    string  [None]      top-1 name (only when class names were given)

An empty batch gives empty outputs. A batch of bytes with an undecodable image fails as a whole (TF-Serving
answers HTTP 400) with an error naming the index of every bad image; an input of another rank or channel
count fails with an error naming the expected shapes.

In-graph preprocessing (the contract the training/eval `resize` op must match exactly, or the served
model sees slightly different pixels than the one that was evaluated):

  1. decode with `tf.io.decode_image(bytes, channels=3, expand_animations=False)` -> uint8 [H, W, 3]
     (grayscale is replicated to RGB, an alpha channel is dropped, a GIF gives its first frame);
  2. `tf.cast(image, tf.float32)`, values in [0, 255];
  3. `tf.image.resize(image, (S, S), method=resize_method, antialias=False)`;
  4. `image / 127.5 - 1`, values in [-1, 1] (the networks' input range).

`preprocess_uint8` is that function, for tests that compare a preprocessing op against it.
"""

from __future__ import annotations

import os
from typing import Callable, Dict, Optional, Sequence

import keras
import tensorflow as tf

from model_garden.export.preprocessing import RESIZE_METHODS, preprocess_images  # noqa: F401  (RESIZE_METHODS re-exported)

SERVE_BYTES = "serve_bytes"
SERVE_UINT8 = "serve_uint8"
SERVE_FLOAT = "serve_float"
SERVING_DEFAULT = "serving_default"
#: The signatures `export_classifier` writes; `serving_default` is an alias of `serve_bytes`.
SIGNATURE_NAMES = (SERVING_DEFAULT, SERVE_BYTES, SERVE_UINT8, SERVE_FLOAT)

ACTIVATIONS = ("softmax", "sigmoid")


def preprocess_uint8(images, image_size: int, resize_method: str = "bilinear") -> tf.Tensor:
  """Resizes uint8 images to `image_size` and maps them to [-1, 1] exactly as the exported model does.

  This is the serving preprocessing contract: cast to float32 (values in [0, 255]), then
  `tf.image.resize(images, (S, S), method=resize_method, antialias=False)`, then `x / 127.5 - 1`.
  Resizing happens before normalising (the order changes float rounding), and without antialiasing (the
  TF default, and what `tf.image.resize` does in the training pipeline).

  Args:
    images: uint8 (or any real dtype with values in [0, 255]) images, [H, W, 3] or [N, H, W, 3].
    image_size: the side S of the square output.
    resize_method: a `tf.image.ResizeMethod` name, "bilinear" by default.

  Returns:
    float32 images of shape [..., S, S, 3] with values in [-1, 1].

  Example:
    >>> x = preprocess_uint8(tf.zeros([2, 40, 48, 3], tf.uint8), 32)
    >>> x.shape, float(x[0, 0, 0, 0])
    (TensorShape([2, 32, 32, 3]), -1.0)
  """
  return preprocess_images(images, image_size, resize_method)


def decode_and_preprocess(image_bytes, image_size: int, resize_method: str = "bilinear") -> tf.Tensor:
  """Decodes a batch of encoded images of any sizes into a float32 [N, S, S, 3] batch in [-1, 1].

  Each image is decoded and resized on its own, because a batch of bytes may hold images of different sizes;
  the per-image ops are those of `preprocess_uint8`. The decoding runs as a tf.data map that skips the
  images it cannot decode, so that the error names them.

  Args:
    image_bytes: a tf.string tensor of shape [N]: JPEG, PNG, GIF (first frame), BMP or WebP bytes.
    image_size: the side S of the square output.
    resize_method: a `tf.image.ResizeMethod` name.

  Returns:
    float32 [N, S, S, 3] images in [-1, 1] (N may be 0).

  Raises:
    tf.errors.InvalidArgumentError: when a string is not a decodable image (another format, or a truncated
      or corrupt file), naming the 0-based index of every such string ("assertion failed: [image_bytes
      holds undecodable images ... at index:] [1 3]"). The whole batch fails on purpose: TF-Serving answers
      the request with an error (HTTP 400) instead of a made-up prediction.

  Example:
    >>> png = tf.io.encode_png(tf.zeros([20, 30, 3], tf.uint8))
    >>> decode_and_preprocess(tf.stack([png, png]), 32).shape
    TensorShape([2, 32, 32, 3])
  """
  image_bytes = tf.convert_to_tensor(image_bytes, tf.string)
  count = tf.shape(image_bytes, out_type=tf.int64)[0]

  def one(index, data):
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    # decode_image leaves the rank unknown to the graph; resize needs to know it is [H, W, C].
    image = tf.ensure_shape(image, [None, None, 3])
    return index, preprocess_uint8(image, image_size, resize_method)

  decoded = tf.data.Dataset.from_tensor_slices(image_bytes).enumerate().map(one).ignore_errors()
  # A last element that is always there, so that the one batch below exists even when nothing decoded.
  sentinel = tf.data.Dataset.from_tensors((tf.constant(-1, tf.int64), tf.zeros([image_size, image_size, 3])))
  indices, images = decoded.concatenate(sentinel).batch(count + 1).get_single_element()
  indices, images = indices[:-1], images[:-1]
  undecodable = tf.sparse.to_dense(tf.sets.difference(tf.range(count)[None], indices[None]))[0]
  check = tf.debugging.Assert(
      tf.equal(tf.size(indices, out_type=tf.int64), count),
      ["image_bytes holds undecodable images (not JPEG, PNG, GIF, BMP or WebP, or truncated) at index:",
       undecodable], summarize=64)
  with tf.control_dependencies([check]):
    return tf.identity(images)


def as_rgb_batch(images, signature: str = SERVE_UINT8) -> tf.Tensor:
  """`images` as a [N, H, W, 3] batch: one image [H, W, C] gets a batch axis; gray (C = 1, or 2 with alpha)
  is replicated to RGB, RGBA drops its alpha. Any other rank or channel count fails naming the shape."""
  images = tf.convert_to_tensor(images)
  shape = tf.shape(images)
  rank = tf.size(shape)
  expected = (f"{signature} takes images [batch, height, width, channels] or one image [height, width, "
              "channels], with 3 (RGB), 1 (gray), 4 (RGBA) or 2 (gray + alpha) channels; got shape")
  rank_ok = tf.debugging.Assert(tf.logical_or(tf.equal(rank, 3), tf.equal(rank, 4)), [expected, shape], summarize=8)
  with tf.control_dependencies([rank_ok]):
    images = tf.reshape(images, tf.concat([[-1], shape[-3:]], axis=0))
  images.set_shape([None, None, None, None])
  channels = tf.shape(images)[3]
  channels_ok = tf.debugging.Assert(tf.logical_and(channels >= 1, channels <= 4), [expected, shape], summarize=8)
  with tf.control_dependencies([channels_ok]):
    rgb = tf.where(channels >= 3, tf.constant([0, 1, 2]), tf.constant([0, 0, 0]))
    return tf.gather(images, rgb, axis=3)


def check_arguments(image_size, class_names, activation, resize_method) -> None:
  """Raises ValueError, with the accepted values, on an argument `export_classifier` cannot use."""
  if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size <= 0:
    raise ValueError(f"image_size must be a positive int (the side the network was trained at), got "
                     f"{image_size!r}.")
  if activation not in ACTIVATIONS:
    raise ValueError(f"activation must be one of {ACTIVATIONS} (softmax for single-label, sigmoid for "
                     f"multi-label heads), got {activation!r}.")
  if resize_method not in RESIZE_METHODS:
    raise ValueError(f"resize_method must be one of {RESIZE_METHODS}, got {resize_method!r}.")
  if class_names is not None:
    if isinstance(class_names, (str, bytes)) or not all(isinstance(n, str) for n in class_names):
      raise ValueError(f"class_names must be a list of strings, got {class_names!r}.")
    if not class_names:
      raise ValueError("class_names is empty; pass None to export without names.")


def _make_head(model: keras.Model, class_names: Optional[Sequence[str]], activation: str,
               num_classes: int) -> Callable[[tf.Tensor], Dict[str, tf.Tensor]]:
  """The network plus the output dict shared by every signature (empty outputs for an empty batch)."""
  names = tf.constant(list(class_names), tf.string) if class_names is not None else None
  squash = (lambda z: tf.nn.softmax(z, axis=-1)) if activation == "softmax" else tf.nn.sigmoid

  def head(images):
    # Networks need not support a batch of 0 (some fail on it deep inside): answer it without them.
    return tf.cond(tf.shape(images)[0] > 0, lambda: outputs_of(images),
                   lambda: outputs_of_logits(tf.zeros([0, num_classes], tf.float32)))

  def outputs_of(images):
    logits = model(images, training=False)
    # Mixed-precision (e.g. mixed_bfloat16) networks return low-precision logits; clients and the
    # softmax get float32 so exported numbers do not depend on the training policy.
    return outputs_of_logits(tf.cast(logits, tf.float32))

  def outputs_of_logits(logits):
    classes = tf.argmax(logits, axis=-1)
    outputs = {"logits": logits, "probabilities": squash(logits), "classes": classes}
    if names is not None:
      # A gather on a constant, not a lookup table: there is no resource to track or initialise.
      outputs["class_name"] = tf.gather(names, classes)
    return outputs

  return head


def export_classifier(model: keras.Model, output_dir, *, image_size: int,
                      class_names: Optional[Sequence[str]] = None, activation: str = "softmax",
                      resize_method: str = "bilinear", verbose: bool = False) -> str:
  """Writes `model` as a SavedModel that classifies encoded image bytes, for TF-Serving or TFSMLayer.

  The SavedModel holds the signatures `serving_default` (= `serve_bytes`, input `image_bytes`: tf.string
  [None]), `serve_uint8` (input `images`: uint8 [N, H, W, C] of any size, or one image [H, W, C]; gray and
  RGBA are converted to RGB) and `serve_float` (input `images`: float32 [N, S, S, 3] in [-1, 1], what the
  Keras model takes; other sizes are resized). Each returns `logits`, `probabilities`, `classes` and, with
  class names, `class_name` (empty for an empty batch). Preprocessing happens in the graph and is documented
  in the module docstring (decode, float32 in [0, 255], `tf.image.resize(..., method=resize_method,
  antialias=False)`, then `x / 127.5 - 1`). A string that is not an image fails the request with
  `InvalidArgumentError` naming its index in the batch.

  Args:
    model: a keras.Model mapping float images in [-1, 1], NHWC, to logits [N, C]. Mixed-precision
      models are fine: every output is float32.
    output_dir: where to write the SavedModel (for TF-Serving, `<model_base_path>/<version>`).
    image_size: the side S the network expects.
    class_names: optional names of the C classes; adds the `class_name` output.
    activation: "softmax" (single-label) or "sigmoid" (multi-label) for `probabilities`.
    resize_method: the `tf.image.resize` method; must match the eval preprocessing's.
    verbose: print Keras's listing of the endpoints.

  Returns:
    `output_dir` as a string.

  Raises:
    ValueError: on a bad argument, or when `class_names` does not have one name per logit.

  Example:
    >>> import model_garden
    >>> net = model_garden.models.get("resnet_small(num_classes=3, image_size=32)")
    >>> export_classifier(net, "/tmp/serving/shapes/1", image_size=32,
    ...                   class_names=["circle", "square", "triangle"])
    >>> served = tf.saved_model.load("/tmp/serving/shapes/1")
    >>> png = tf.io.read_file("cat.png")
    >>> served.signatures["serving_default"](image_bytes=tf.stack([png]))["class_name"]

    Served with `tensorflow_model_server --rest_api_port=8501 --model_name=shapes
    --model_base_path=/tmp/serving/shapes`, one REST request classifies base64-encoded files. With a
    single named input, each row of `instances` is the value itself, and binary strings are sent as
    `{"b64": ...}` objects (the named form `{"image_bytes": {"b64": "..."}}` works too)::

      curl -X POST http://localhost:8501/v1/models/shapes:predict -d '{
        "signature_name": "serving_default",
        "instances": [{"b64": "'"$(base64 -w0 cat.png)"'"}]}'
      # {"predictions": [{"logits": [...], "probabilities": [...], "classes": 0,
      #                   "class_name": "circle"}]}

    or from Python::

      body = {"signature_name": "serving_default",
              "instances": [{"b64": base64.b64encode(open("cat.png", "rb").read()).decode()}]}
      requests.post("http://localhost:8501/v1/models/shapes:predict", json=body).json()
  """
  check_arguments(image_size, class_names, activation, resize_method)
  probe = tf.zeros([1, image_size, image_size, 3], tf.float32)
  # A Keras model has no variables until it is called once; ExportArchive refuses unbuilt models.
  logits = model(probe, training=False)
  if len(logits.shape) != 2:
    raise ValueError(f"export_classifier needs a model returning logits [batch, classes]; "
                     f"{model.name} returned shape {tuple(logits.shape)}.")
  if class_names is not None and len(class_names) != logits.shape[-1]:
    raise ValueError(f"{len(class_names)} class_names given but {model.name} has {logits.shape[-1]} "
                     "logits; pass one name per class, in label order.")

  head = _make_head(model, class_names, activation, int(logits.shape[-1]))

  def serve_bytes(image_bytes):
    return head(decode_and_preprocess(image_bytes, image_size, resize_method))

  def serve_uint8(images):
    return head(preprocess_uint8(as_rgb_batch(images, SERVE_UINT8), image_size, resize_method))

  def serve_float(images):
    images = as_rgb_batch(images, SERVE_FLOAT)
    shape = tf.shape(images)
    images = tf.cond(tf.logical_and(tf.equal(shape[1], image_size), tf.equal(shape[2], image_size)),
                     lambda: images,
                     lambda: tf.image.resize(images, (image_size, image_size), method=resize_method, antialias=False))
    return head(tf.ensure_shape(images, [None, image_size, image_size, 3]))

  archive = keras.export.ExportArchive()
  archive.track(model)
  # serve_bytes goes first: ExportArchive aliases the first endpoint as `serving_default`.
  archive.add_endpoint(SERVE_BYTES, serve_bytes,
                       input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
  # Unknown ranks: one image [H, W, C] and other channel counts are converted in the graph (`as_rgb_batch`).
  archive.add_endpoint(SERVE_UINT8, serve_uint8, input_signature=[tf.TensorSpec(None, tf.uint8, name="images")])
  archive.add_endpoint(SERVE_FLOAT, serve_float, input_signature=[tf.TensorSpec(None, tf.float32, name="images")])
  output_dir = os.fspath(output_dir)
  archive.write_out(output_dir, verbose=verbose)
  return output_dir
