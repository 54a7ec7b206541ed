"""The two-tower image-text model of LiT and CLIP-style training: `img` and `txt` towers, learned temperature."""

from __future__ import annotations

import inspect
import math
from typing import Optional, Sequence, Tuple, Union

import keras
import numpy as np
from keras import ops

from model_garden.layers.symbolic import output_spec
from model_garden.models import bert_encoder as _bert_encoder  # noqa: F401  (registers the text towers)
from model_garden.models import text_transformer as _text_transformer  # noqa: F401
from model_garden.models.forward_dispatch import ForwardDispatch
from model_garden.models.registry import MODELS, register
from model_garden.models.registry import input_shape as network_input_shape
from model_garden.registry import Spec, spec_call

IMAGE_TOWER, TEXT_TOWER = "img", "txt"
NORM_EPSILON = 1e-8  # big_vision: z / (||z|| + 1e-8).
DEFAULT_TEXT = "text_transformer(variant='B', vocab_size=32000, max_len=16)"

def l2_normalize(z):
  """big_vision's normalisation: z / (||z|| + 1e-8), in float32."""
  z = ops.cast(z, "float32")
  return z / (ops.sqrt(ops.sum(ops.square(z), axis=-1, keepdims=True)) + NORM_EPSILON)


def as_tower(model: keras.Model, name: str) -> keras.Model:
  """`model` named `name` (so its variable paths start with `name/`): renamed via its config if needed.

  Variable paths are fixed when a model is built, and the optimizer's regexes (`frozen="img/.*"`) match
  them, so a tower not already called `name` is re-created from its config under that name (its weights
  copied when it was built).
  """
  if model.name == name:
    return model
  clone = type(model).from_config({**model.get_config(), "name": name})
  if model.built:
    clone.build(network_input_shape(model))
    clone.set_weights(model.get_weights())
  return clone


@keras.saving.register_keras_serializable("model_garden")
class TwoTowers(ForwardDispatch, keras.Model):
  """An image tower `img` and a text tower `txt` mapping into one space, with a learned temperature `t`.

  The model of "LiT: Zero-Shot Transfer with Locked-image text Tuning" (Zhai et al. 2022), written after
  big_vision's `models/proj/image_text/two_towers.py`: each tower's output (its `head`, a linear map to the
  shared size, or its pre-logits without one) is L2-normalised (`z / (||z|| + 1e-8)`); the temperature is
  a parameter `t` holding log(temperature), initialised to log(`temperature_init`) (LiT: 10), so
  `exp(t)` scales the cosine similarities; SigLIP adds a learned bias `b` (`bias_init`, e.g. -10).

  The towers are named `img` and `txt`, so every variable path starts with `img/` or `txt/` (possibly
  after the model's own name, e.g. `lit/img/...`, which `model_garden.optimizers` patterns accept): LiT
  locks the image tower with the optimizer's `frozen="img/.*"` (no gradients, no optimizer state). The
  image tower is any package image model (ViT, Mixer, ResNet, ...; with `num_classes=0` its logits are its
  `pre_logits`); the text tower is a `TextTransformer` or `BertEncoder` taking int32 token ids.

  Inputs and outputs: `model({"image": images, "labels": tokens})` returns `{"img": zimg, "txt": ztxt,
  "t": exp(t)}` (either input may be left out); `embed_images(images)` and `embed_texts(tokens)` return the
  normalised embeddings; `forward(images, tokens)` returns `(zimg, ztxt, out)` as big_vision, with the
  towers' intermediates under `img/...` and `txt/...` in `out`.

  Args:
    image_model: the image tower (renamed `img` if needed).
    text_model: the text tower (renamed `txt` if needed).
    temperature_init: initial temperature (the parameter is its log).
    bias_init: initial logit bias for the sigmoid (SigLIP) loss; None for no bias.

  Example:
    >>> lit = model_garden.models.get(
    ...     "two_towers(image='vit(variant=\\'B/16\\', image_size=224)', "
    ...     "text='text_transformer(variant=\\'B\\', vocab_size=32000, max_len=16)', out_dim=(None, 768))")
    >>> model_garden.models.load_weights(lit.img, "vit_b16.keras", skip="head/.*")  # a pretrained image tower
    >>> zimg = lit.embed_images(images)          # (batch, 768), unit norm
    >>> ztxt = lit.embed_texts(tokens)           # (batch, 768), unit norm
    >>> logits = lit.temperature * zimg @ ztxt.T
  """

  def __init__(self, image_model: keras.Model, text_model: keras.Model, temperature_init: float = 10.0,
               bias_init: Optional[float] = None, **kwargs):
    kwargs.setdefault("name", "lit")
    super().__init__(**kwargs)
    if temperature_init <= 0:
      raise ValueError(f"temperature_init must be positive (its log is learned), got {temperature_init}.")
    self.img = as_tower(image_model, IMAGE_TOWER)
    self.txt = as_tower(text_model, TEXT_TOWER)
    self.temperature_init = float(temperature_init)
    self.bias_init = None if bias_init is None else float(bias_init)
    self.image_size = getattr(self.img, "image_size", None)
    self.max_len = getattr(self.txt, "max_len", None)
    if self.max_len is None:
      raise ValueError(f"The text tower {type(text_model).__name__} has no max_len; use a TextTransformer or "
                       "BertEncoder.")

  def build(self, input_shape=None):
    if self.built:
      return
    image_shape = network_input_shape(self.img)
    if input_shape is not None and not isinstance(input_shape, dict) and len(input_shape) == 4:
      image_shape = (None,) + tuple(input_shape[1:])
    if not self.img.built:
      self.img.build(image_shape)
    if not self.txt.built:
      self.txt.build(network_input_shape(self.txt))
    self.t = self.add_weight(name="t", shape=(1,), dtype="float32", trainable=True,
                             initializer=keras.initializers.Constant(math.log(self.temperature_init)))
    self.b = None
    if self.bias_init is not None:
      self.b = self.add_weight(name="b", shape=(1,), dtype="float32", trainable=True,
                               initializer=keras.initializers.Constant(self.bias_init))
    self.built = True
    self._check_dims(image_shape)

  def _check_dims(self, image_shape):
    img = output_spec(lambda x: self.img(x), keras.KerasTensor((1,) + image_shape[1:]))
    txt = output_spec(lambda x: self.txt(x),
                                            keras.KerasTensor((1, self.max_len), dtype="int32"))
    if img.shape[-1] != txt.shape[-1]:
      raise ValueError(f"The image tower gives {img.shape[-1]}-d embeddings and the text tower "
                       f"{txt.shape[-1]}-d: give the towers heads to one size (two_towers(out_dim=D), or "
                       f"out_dim=(None, {img.shape[-1]}) to map text into the image features).")
    self.embed_dim = int(img.shape[-1])

  # -- Embeddings -----------------------------------------------------------------------------------------
  @property
  def temperature(self):
    """exp(t): the scale of the cosine similarities."""
    return ops.exp(self.t[0])

  def embed_images(self, images, training: bool = False):
    """L2-normalised image embeddings (batch, D), float32; images float32 in [-1, 1]."""
    return l2_normalize(self.img(images, training=training))

  def embed_texts(self, tokens, training: bool = False):
    """L2-normalised text embeddings (batch, D), float32; tokens int32 (batch, max_len)."""
    return l2_normalize(self.txt(tokens, training=training))

  def forward(self, images=None, tokens=None, training: bool = False):
    """(zimg, ztxt, out) as big_vision's two-tower model; either input may be None."""
    out = {}
    zimg = ztxt = None
    if tokens is not None:
      raw = self.txt(tokens, training=training)
      out["txt/norm"] = ops.norm(ops.cast(raw, "float32"), axis=-1, keepdims=True)
      ztxt = out["txt/normalized"] = l2_normalize(raw)
    if images is not None:
      raw = self.img(images, training=training)
      out["img/norm"] = ops.norm(ops.cast(raw, "float32"), axis=-1, keepdims=True)
      zimg = out["img/normalized"] = l2_normalize(raw)
    out["t"] = ops.exp(self.t)
    out["t/parameter"] = self.t
    if self.b is not None:
      out["b"] = self.b
    return zimg, ztxt, out

  def call(self, inputs, training=False):
    if isinstance(inputs, dict):
      images = inputs.get("image")
      tokens = inputs.get("labels", inputs.get("text"))
    else:
      images, tokens = inputs, None
    zimg, ztxt, out = self.forward(images, tokens, training=training)
    result = {"t": out["t"]}
    if zimg is not None:
      result["img"] = zimg
    if ztxt is not None:
      result["txt"] = ztxt
    return result

  def get_config(self):
    config = super().get_config()
    config.update({
        "image_model": keras.saving.serialize_keras_object(self.img),
        "text_model": keras.saving.serialize_keras_object(self.txt),
        "temperature_init": self.temperature_init,
        "bias_init": self.bias_init,
    })
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["image_model"] = keras.saving.deserialize_keras_object(config["image_model"])
    config["text_model"] = keras.saving.deserialize_keras_object(config["text_model"])
    return cls(**config)


def _pair(out_dim) -> Tuple[Optional[int], Optional[int]]:
  if out_dim is None or isinstance(out_dim, int):
    return out_dim, out_dim
  out_dim = tuple(out_dim)
  if len(out_dim) != 2:
    raise ValueError(f"out_dim is an int or an (image, text) pair, got {out_dim!r}.")
  return out_dim[0], out_dim[1]


def _tower_from_spec(spec, num_classes: Optional[int], name: str) -> keras.Model:
  """Builds a tower from a spec (string or mapping) with a head of `num_classes` (0: none)."""
  head = int(num_classes or 0)
  spec_name, _, kwargs = spec_call(spec)
  overrides = {"num_classes": head}
  factory = MODELS.lookup(spec_name)
  if head and "head_zeroinit" in inspect.signature(factory).parameters and "head_zeroinit" not in kwargs:
    overrides["head_zeroinit"] = False  # LiT's configs: a zero head would give zero embeddings.
  made = MODELS.get(spec, **overrides)
  return type(made).from_config({**made.get_config(), "name": name})


def make_two_towers(image_model: keras.Model, text_model: keras.Model, temperature_init: float = 10.0,
                    bias_init: Optional[float] = None) -> "TwoTowers":
  """A `TwoTowers` of two networks, built, with any all-zero head redrawn (see `_redraw_zero_head`)."""
  towers = []
  for model in (image_model, text_model):
    if not model.built:
      model.build(network_input_shape(model))
    _redraw_zero_head(model)
    towers.append(model)
  lit = TwoTowers(towers[0], towers[1], temperature_init=temperature_init, bias_init=bias_init)
  lit.build()
  return lit


def _redraw_zero_head(tower) -> None:
  # A zero-initialised head (e.g. ResNetSmall's) maps every input to 0, which has no direction to
  # normalise; draw it lecun_normal as Flax's Dense would (the weights of an init file replace it).
  head = getattr(tower, "head", None)
  kernel = getattr(head, "kernel", None)
  if kernel is not None and not np.any(kernel.numpy()):
    fan_in = kernel.shape[0]
    rng = np.random.default_rng(0)
    kernel.assign(np.clip(rng.normal(0, 1, kernel.shape), -2, 2).astype("float32") / math.sqrt(fan_in)
                  / 0.87962566103423978)


@register("two_towers")
def two_towers(*, image: Spec, text: Spec = DEFAULT_TEXT, out_dim: Union[int, Sequence[Optional[int]], None] = 128,
               temperature_init: float = 10.0, bias_init: Optional[float] = None) -> TwoTowers:
  """Spec factory: `two_towers(image="vit(...)", text="text_transformer(...)", out_dim=(None, 64), ...)`.

  Weights come from elsewhere: the trainer's `config.networks.<tower>.init`, or `model_garden.convert` /
  `models.load_weights` on the returned model's `img` and `txt` towers.

  Args:
    image: the image tower's model spec (a string, or a mapping with "name").
    text: the text tower's model spec.
    out_dim: head sizes (big_vision's `out_dim`): an int for both towers, or an (image, text) pair where
      None means no head (the tower's pre-logits are the embedding). It sets each tower's `num_classes`.
    temperature_init: initial temperature (LiT: 10).
    bias_init: SigLIP's initial logit bias (e.g. -10); None without.
  """
  image_dim, text_dim = _pair(out_dim)
  img = _tower_from_spec(image, image_dim, IMAGE_TOWER)
  txt = _tower_from_spec(text, text_dim, TEXT_TOWER)
  return make_two_towers(img, txt, temperature_init=temperature_init, bias_init=bias_init)
