"""The catalogue of published checkpoints, and tools/fetch_preset.py (offline failure, local sources, mismatches).

Nothing here touches the network: urlopen is replaced by a function that raises, and big models are only
counted from their specs, never built.
"""

import importlib.util
import json
import os
import urllib.error
import urllib.request

import numpy as np
import pytest

import model_garden  # noqa: F401
from model_garden import convert
from model_garden.convert.core import converter_for
from model_garden.models import registry as model_registry
from model_garden.presets import catalogue, load_preset
from model_garden.registry import parse_spec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SPEC = importlib.util.spec_from_file_location("model_garden_tools_fetch_preset",
                                               os.path.join(ROOT, "tools", "fetch_preset.py"))
fetch_tool = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(fetch_tool)

TINY_SPEC = "vit(variant='mu/8', num_classes=1000, pool='tok', image_size=16)"


def test_catalogue_is_well_formed():
  assert catalogue.validate_catalogue() == []
  names = catalogue.names()
  assert len(names) == 36
  families = {}
  for name in names:
    families.setdefault(catalogue.entry(name)["family"], []).append(name)
  assert len(families["vit_augreg"]) == 12 and len(families["bit"]) == 18 and len(families["lit"]) == 4
  for size in ("ti16", "s16", "b16", "l16", "s32", "b32"):
    assert f"vit_augreg_{size}_i21k" in names and f"vit_augreg_{size}_i21k_ft_i1k" in names
  for size in ("r50x1", "r50x3", "r101x1", "r101x3", "r152x2", "r152x4"):
    assert {f"bit_s_{size}", f"bit_m_{size}", f"bit_m_{size}_ft_i1k"} <= set(names)
  assert {"lit_b16b_2", "lit_l16l", "lit_l16s", "lit_l16ti"} <= set(names)
  data = catalogue.load_catalogue()
  # No checksum is published by the original repositories: every sha256 is null and the file says so.
  assert all(f["sha256"] is None for e in data["presets"].values() for f in e["files"])
  assert "publish checksums" in data["checksums"]
  b16 = catalogue.entry("vit_augreg_b16_i21k_ft_i1k")
  assert b16["accuracy"]["value"] == 85.49 and b16["image_size"] == 384
  assert b16["files"][0]["url"].startswith("https://storage.googleapis.com/vit_models/augreg/B_16-i21k-300ep")


def test_every_spec_is_valid_and_counted_without_building():
  for name in catalogue.names():
    item = catalogue.entry(name)
    spec_name, _, kwargs = parse_spec(item["spec"])
    model_registry.MODELS.check_arguments(spec_name, (), kwargs)
    count = catalogue.param_count(item)
    assert count > 1_000_000, name
    if item["params"]:  # Published counts: timm's model index (BiT, rounded to 10k) and the LiT model card (1M).
      tolerance = 1e-4 if item["family"] == "bit" else 5e-3
      assert abs(count / item["params"]["value"] - 1) < tolerance, (name, count, item["params"])
  # Known official counts, from the counting code's docstrings (ViT-B/16 with 1000 classes at 224 px).
  assert catalogue.spec_param_count("vit(variant='B/16', num_classes=1000, pool='tok', image_size=224)") == 86_567_656


@pytest.mark.parametrize("spec", [
    "text_transformer(width=32, depth=2, mlp_dim=64, num_heads=2, vocab_size=50, max_len=8, num_classes=16)",
    "text_transformer(width=32, depth=1, mlp_dim=64, num_heads=2, vocab_size=50, max_len=8, pool='map')",
    "bert_encoder(width=32, depth=2, mlp_dim=64, num_heads=2, vocab_size=50, max_len=8, max_positions=20, "
    "num_classes=16)",
    "two_towers(image=\"vit(variant='mu/8', pool='tok', image_size=16)\", text=\"bert_encoder(width=32, depth=1, "
    "mlp_dim=64, num_heads=2, vocab_size=50, max_len=8, max_positions=20)\", out_dim=(None, 32))",
])
def test_param_counters_match_built_models(spec):
  assert catalogue.spec_param_count(spec) == model_registry.get(spec).count_params()


def _tiny_catalogue(tmp_path):
  """A catalogue with one tiny entry, so fetching runs end to end in a second."""
  item = catalogue.entry("vit_augreg_ti16_i21k_ft_i1k")
  item.update(spec=TINY_SPEC, image_size=16, title="tiny ViT", params=None)
  item["files"][0].update(file_name="tiny.npz", gs="gs://example/tiny.npz",
                          url="https://storage.googleapis.com/example/tiny.npz")
  path = tmp_path / "catalogue.json"
  path.write_text(json.dumps({"format_version": 1, "checksums": "none", "sources": {}, "presets": {"tiny": item}}))
  return str(path)


def _checkpoint(path, spec=TINY_SPEC, seed=0):
  """An .npz holding every key the converter expects for `spec`, with random values."""
  model = model_registry.get(spec)
  plan = converter_for(model)(model, {})
  rng = np.random.default_rng(seed)
  np.savez(path, **{k: rng.normal(0, 0.1, s.shape).astype("float32") for k, s in plan.slots.items()})
  return str(path)


def test_fetch_offline_names_the_file_and_where_to_put_it(tmp_path, monkeypatch):
  def unreachable(*args, **kwargs):
    raise urllib.error.URLError(OSError(101, "Network is unreachable"))

  monkeypatch.setattr(urllib.request, "urlopen", unreachable)
  errors = []
  status = fetch_tool.run(["vit_augreg_ti16_i21k", f"--cache_dir={tmp_path}"], out=lambda m: None,
                          err=errors.append)
  assert status == 1
  message = errors[-1]
  file_name = "Ti_16-i21k-300ep-lr_0.001-aug_none-wd_0.03-do_0.0-sd_0.0.npz"
  assert "Could not download" in message and "Network is unreachable" in message
  assert f"https://storage.googleapis.com/vit_models/augreg/{file_name}" in message
  assert os.path.join(str(tmp_path), "downloads", "vit_models", "augreg", file_name) in message
  assert f"--source=/path/to/{file_name}" in message
  assert not os.path.exists(tmp_path / "vit_augreg_ti16_i21k")
  # A --source that does not exist is named too.
  status = fetch_tool.run(["vit_augreg_ti16_i21k", f"--cache_dir={tmp_path}", "--source=/no/such.npz"],
                          out=lambda m: None, err=errors.append)
  assert status == 1 and "--source=/no/such.npz does not exist" in errors[-1]


def test_fetch_converts_a_local_or_downloaded_file(tmp_path):
  catalogue_path = _tiny_catalogue(tmp_path)
  npz = _checkpoint(tmp_path / "tiny.npz")
  log = []
  status = fetch_tool.run(["tiny", f"--cache_dir={tmp_path / 'cache'}", f"--source={npz}", "--no_saved_model",
                           f"--catalogue={catalogue_path}"], out=log.append)
  assert status == 0, log
  preset = load_preset("tiny", cache_dir=str(tmp_path / "cache"))
  expected = convert.convert(npz, TINY_SPEC)
  for a, b in zip(expected.weights, preset.model.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  assert len(preset.class_names) == 1000 and preset.class_names[0] == "tench"
  original = preset.metadata["original_files"][0]
  assert original["sha256"] is None and len(original["observed_sha256"]) == 64
  assert preset.metadata["accuracy"]["value"] == 78.22 and preset.metadata["licence"]["name"] == "Apache-2.0"
  # The download path: the injected downloader stands in for urllib; the file is kept in <cache>/downloads.
  fetched = []

  def download(url, destination):
    fetched.append(url)
    with open(npz, "rb") as src, open(destination, "wb") as dst:
      dst.write(src.read())

  cache = str(tmp_path / "cache2")
  model_garden.presets.fetch_preset("tiny", cache_dir=cache, download=download, saved_model=False,
                                    catalogue_path=catalogue_path, log=log.append)
  assert fetched == ["https://storage.googleapis.com/example/tiny.npz"]
  assert os.path.isfile(os.path.join(cache, "downloads", "example", "tiny.npz"))
  model_garden.presets.fetch_preset("tiny", cache_dir=cache, download=download, catalogue_path=catalogue_path,
                                    log=log.append)
  assert len(fetched) == 1 and "already in the cache" in log[-1]


def test_fetch_rejects_a_file_that_does_not_fit(tmp_path):
  catalogue_path = _tiny_catalogue(tmp_path)
  wrong = _checkpoint(tmp_path / "wrong.npz", spec="vit(variant='mu/8', num_classes=10, pool='tok', image_size=16)")
  errors = []
  status = fetch_tool.run(["tiny", f"--cache_dir={tmp_path / 'cache'}", f"--source={wrong}", "--no_saved_model",
                           f"--catalogue={catalogue_path}"], out=lambda m: None, err=errors.append)
  assert status == 1 and "head/kernel" in errors[-1] and "(32, 10)" in errors[-1]
  assert not os.path.exists(tmp_path / "cache" / "tiny")


def test_download_paths_are_unique_and_the_docs_list_every_preset():
  paths = {}
  for name in catalogue.names():
    for f in catalogue.entry(name)["files"]:
      paths.setdefault(model_garden.presets.fetch.download_path("d", f), set()).add(name)
  assert all(len(names) == 1 for names in paths.values()), paths  # ViT-L_32.npz exists twice, in two folders.
  with open(os.path.join(ROOT, "docs", "presets.md"), encoding="utf-8") as f:
    docs = f.read()
  assert [n for n in catalogue.names() if f"`{n}`" not in docs] == []


def test_list_prints_the_catalogue():
  lines = []
  assert fetch_tool.run(["--list"], out=lines.append) == 0
  assert len(lines) == 36 and any(line.startswith("lit_l16l") and "75.7%" in line for line in lines)


class _Response:
  """A stand-in for urlopen's response: `read(n)` blocks and a Content-Length header."""

  def __init__(self, data, length=None):
    self._data, self._pos = data, 0
    self.headers = {"Content-Length": str(len(data) if length is None else length)}

  def read(self, n):
    block = self._data[self._pos:self._pos + n]
    self._pos += len(block)
    return block

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    return False


def test_download_file_writes_through_a_partial_file(tmp_path, monkeypatch):
  seen = {}

  def urlopen(url, timeout):
    seen["timeout"] = timeout
    return _Response(b"x" * 1000)

  monkeypatch.setattr(urllib.request, "urlopen", urlopen)
  model_garden.presets.download_file("https://example.invalid/f.npz", str(tmp_path / "d" / "f.npz"), chunk_bytes=300)
  assert (tmp_path / "d" / "f.npz").read_bytes() == b"x" * 1000 and seen["timeout"] > 0
  monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: _Response(b"x" * 10, length=50))
  with pytest.raises(OSError, match="stopped after 10 of 50 bytes"):
    model_garden.presets.download_file("https://example.invalid/g.npz", str(tmp_path / "g.npz"))
  assert not os.path.exists(tmp_path / "g.npz") and not os.path.exists(tmp_path / "g.npz.part")
