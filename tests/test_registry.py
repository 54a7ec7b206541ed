"""Spec parsing and registries: literals only, helpful errors."""

import pytest

import model_garden
from model_garden.registry import Registry, SpecError, parse_spec


def test_parse_spec_literals():
  assert parse_spec("vit(variant='B/16', num_classes=1000)") == ("vit", (), {"variant": "B/16",
                                                                          "num_classes": 1000})
  assert parse_spec("keep('image', 'labels')") == ("keep", ("image", "labels"), {})
  assert parse_spec("  mg_shapes ") == ("mg_shapes", (), {})
  assert parse_spec("f(x=(1, 2), y=[3], z={'a': None}, w=-1.5e-3)")[2] == {
      "x": (1, 2), "y": [3], "z": {"a": None}, "w": -1.5e-3}


@pytest.mark.parametrize("spec", ["f(x=__import__('os').system('true'))", "f(x=open('/etc/passwd'))",
                                  "f(x=1+foo)", "f(**{'a': 1})"])
def test_parse_spec_never_evaluates_code(spec):
  with pytest.raises(SpecError):
    parse_spec(spec)


@pytest.mark.parametrize("spec", ["f(", "", "1 + 2", "f(x=)"])
def test_parse_spec_rejects_malformed(spec):
  with pytest.raises(SpecError):
    parse_spec(spec)


def test_registry_calls_factory_with_overrides():
  reg = Registry("thing")

  @reg.register("scale")
  def scale(*, factor=2.0, offset=0.0):
    return lambda x: x * factor + offset

  assert reg.get("scale(factor=3.0)")(2.0) == 6.0
  assert reg.get("scale", offset=1.0)(2.0) == 5.0
  assert reg.names() == ["scale"]


def test_unknown_name_lists_close_matches():
  with pytest.raises(SpecError, match=r"Unknown model 'resnet_smal'.*resnet_small"):
    model_garden.models.get("resnet_smal")


def test_unknown_argument_lists_close_matches():
  with pytest.raises(SpecError, match=r"no argument 'num_clases'.*num_classes"):
    model_garden.models.get("resnet_small(num_clases=3)")


def test_keyword_only_model_args_reject_positional():
  with pytest.raises(SpecError, match="resnet_small"):
    model_garden.models.get("resnet_small(3)")


def test_unknown_preprocessing_op():
  with pytest.raises(SpecError, match=r"Unknown preprocessing op 'flip_rl'.*flip_lr"):
    model_garden.data.get_preprocess_fn("decode|flip_rl")


def test_duplicate_registration_is_refused():
  reg = Registry("thing")
  reg.register("a")(lambda: 1)
  with pytest.raises(ValueError, match="already registered"):
    reg.register("a")(lambda: 2)


def test_registries_share_one_syntax():
  assert "classification" in model_garden.objectives.names()
  assert "classification" in model_garden.evaluation.EVALUATORS.names()
  assert "inception_crop" in model_garden.data.PP_OPS.names()
