"""The named networks of a training config: each built from its spec, then initialised from a file.

    config.networks.image = dict(name="vit", variant="Ti/16", num_classes=0, image_size=32,
                                 init="workdirs/img/model.keras", init_skip="head/.*", frozen=True)

Every key but the three below is an argument of the registered model `name`; those three are the trainer's:

  init       where the weights come from ("" = random): a package `.keras` file, a `.weights.h5` file of
             the same architecture, an official `.npz` checkpoint (ViT, Mixer, BiT, LiT; converted on the
             fly), or a preset (a name of `tools/fetch_preset.py --list` or a preset directory). A file
             holding several networks takes `:prefix`: "lit.npz:img", "lit_run/model.keras:txt".
  init_skip  regex (re.fullmatch on the variable path below the network, e.g. "head/.*") of variables to
             leave as initialised, and of the file's variables to ignore (a classifier's head).
  frozen     True: the network gets no gradients and no optimizer state (LiT's locked image tower).

`name=""` takes the architecture from `init` (a `.keras` file or a preset): the other keys then override
its saved arguments (e.g. `num_classes=0` drops the head).

Model factories never read files: the trainer builds the networks, hands them to the objective, and then
loads each network's `init` into the network the objective trains (`objective.networks[name]`).
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, Mapping, Optional, Tuple

import keras

from model_garden import models, saving
from model_garden.models.weights import load_weights
from model_garden.registry import Spec, SpecError, format_spec, spec_to_dict

NETWORK_KEYS = ("init", "init_skip", "frozen")


class InitError(ValueError):
  """A network's `init` names nothing loadable, or weights that do not fit the network."""


def split_entry(entry: Spec) -> Tuple[Dict[str, Any], Dict[str, Any]]:
  """(model spec as {"name": ..., **kwargs}, {"init", "init_skip", "frozen"}) of a config.networks entry."""
  if isinstance(entry, str):
    return spec_to_dict(entry), {"init": "", "init_skip": "", "frozen": False}
  items = dict(entry.to_dict() if hasattr(entry, "to_dict") else entry)
  trainer = {"init": items.pop("init", "") or "", "init_skip": items.pop("init_skip", "") or "",
             "frozen": bool(items.pop("frozen", False))}
  if not str(items.get("name") or "").strip():
    return {"name": "", **{k: v for k, v in items.items() if k != "name"}}, trainer
  return spec_to_dict(items), trainer


def network_spec(entry: Spec) -> str:
  """The model spec string of a config.networks entry (its trainer keys left out), for logs and reports."""
  spec, _ = split_entry(entry)
  return format_spec(spec["name"], (), {k: v for k, v in spec.items() if k != "name"})


def build_network(entry: Spec, what: str = "network") -> keras.Model:
  """The (built, randomly initialised) network of a config.networks entry; `init` is not loaded here."""
  spec, trainer = split_entry(entry)
  if spec["name"]:
    return models.get(spec)
  if not trainer["init"]:
    raise SpecError(f"config.networks.{what} has no `name`: give the registered model (e.g. name='vit') or an "
                    "`init` (.keras file or preset) whose architecture it then takes.")
  overrides = {k: v for k, v in spec.items() if k != "name"}
  saved = source_model(trainer["init"], what=what)
  config = {**saved.get_config(), **overrides}
  config.pop("name", None)
  if overrides.get("num_classes") and config.get("head_zeroinit"):
    config["head_zeroinit"] = False  # A new head that starts at zero would give constant outputs.
  network = type(saved).from_config(config)
  network.build(models.input_shape(network))
  return network


def build_networks(networks: Mapping[str, Spec]) -> Dict[str, keras.Model]:
  """{name: built network} of `config.networks` (call inside the strategy scope)."""
  if not networks:
    raise SpecError("config.networks is empty: name at least one network, e.g. "
                    "config.networks.network = dict(name='resnet_small', num_classes=8).")
  return {name: build_network(entry, what=name) for name, entry in networks.items()}


def _split_source(source: str) -> Tuple[str, Optional[str]]:
  """("file.npz", "img") of "file.npz:img"; the prefix only after a known suffix (paths may hold ':')."""
  for suffix in (".npz", ".keras", ".weights.h5", ".h5"):
    marker = suffix + ":"
    if marker in source:
      path, _, prefix = source.rpartition(marker)
      return path + suffix, prefix or None
  return source, None


def source_model(source: str, what: str = "network", tower: Optional[str] = None) -> keras.Model:
  """The model stored at `source`: a `.keras` file (":img" picks a two-tower file's tower) or a preset."""
  path, prefix = _split_source(source)
  if path.endswith(".keras"):
    if not os.path.exists(path):
      raise InitError(f"config.networks.{what}.init: no file {path!r}. Train it first, or fix the path.")
    try:
      model = saving.load_model(path, compile=False)
    except (ValueError, OSError) as e:
      raise InitError(f"config.networks.{what}.init: {e}") from None
    part = prefix or tower
    if part and hasattr(model, "img") and hasattr(model, "txt"):
      if part not in ("img", "txt"):
        raise InitError(f"config.networks.{what}.init: a two-tower file holds the towers 'img' and 'txt', not "
                        f"{part!r}.")
      model = getattr(model, part)
    elif prefix:
      raise InitError(f"config.networks.{what}.init: {path!r} holds one network; drop ':{prefix}'.")
    return model
  if path.endswith((".npz", ".h5")):
    raise InitError(f"config.networks.{what}.init: {path!r} holds weights only; give the network's `name` and "
                    "arguments so its architecture is known.")
  from model_garden import presets  # pylint: disable=g-import-not-at-top  (presets import export, text)
  try:
    return presets.from_preset(path)
  except presets.PresetNotFoundError as e:
    raise InitError(f"config.networks.{what}.init: {source!r} is not a .keras/.weights.h5/.npz file or a "
                    f"known preset ({e}).") from None


def initialise(network: keras.Model, source: str, skip: str = "", what: str = "network") -> Dict[str, Any]:
  """Loads the weights at `source` into `network` in place, leaving variables that `skip` matches.

  Returns:
    {"source": source, "loaded": [relative paths], "skipped": [...]} (for .npz: {"layout": ...}).

  Raises:
    InitError: the source is missing or not loadable; WeightsMismatchError / CheckpointMismatchError: the
      weights do not fit (both list every missing, unexpected and mis-shaped variable).
  """
  path, prefix = _split_source(source)
  if skip:
    try:
      re.compile(skip)
    except re.error as e:
      raise InitError(f"config.networks.{what}.init_skip {skip!r} is not a regular expression ({e}).") from None
  if path.endswith(".npz"):
    if not os.path.exists(path):
      raise InitError(f"config.networks.{what}.init: no file {path!r}. Download the checkpoint (README: "
                      "'Paper reproductions and tools') or fix the path.")
    from model_garden import convert  # pylint: disable=g-import-not-at-top
    layout = convert.load_npz_into(network, path, dont_load=[skip] if skip else (), subtree=prefix)
    return {"source": source, "layout": layout}
  if path.endswith(".h5"):
    if not os.path.exists(path):
      raise InitError(f"config.networks.{what}.init: no file {path!r}.")
    twin = type(network).from_config(network.get_config())
    twin.build(models.input_shape(twin))
    twin.load_weights(path)
    report = load_weights(network, twin, skip=skip or None)
  else:
    tower = network.name if network.name in ("img", "txt") else None
    report = load_weights(network, source_model(source, what=what, tower=tower), skip=skip or None)
  report["source"] = source
  return report
