"""Zero-shot classification and image-text retrieval: math on constructed embeddings, evaluators, callback."""

import numpy as np
import pytest
import tensorflow as tf

from model_garden.evaluation.registry import EVALUATORS
from model_garden.evaluation.retrieval import RetrievalEvaluator, recall_at_k
from model_garden.evaluation.zero_shot import (ZeroShotEvaluator, build_prompts, class_embeddings,
                                               zero_shot_predict)
from model_garden.evaluation.common import EvaluatorCallback
from model_garden.models import two_towers  # noqa: F401  (registers two_towers)
from model_garden.text import canonicalize, class_names, get_tokenizer, templates

PP_TXT = "tokenize(16, model='mg_shapes_sp')"


def test_prompts_are_canonical_class_major_and_averaged_per_class():
  assert canonicalize("A_Photo of the  cat's toy.") == "a photo of the cats toy"
  assert canonicalize("kite (bird of prey), Kite", keep=",") == "kite bird of prey, kite"
  assert templates("clip_paper")[-1] == "{}" and len(templates("clip_paper")) == 81
  assert len(class_names("imagenet")) == 1000 and class_names("imagenet")[0] == "tench"
  assert build_prompts(["cat", "dog"], ["a {}", "{} photo"]) == ["a cat", "cat photo", "a dog", "dog photo"]
  # Class c's prompts lean towards axis c from both sides; their mean, re-normalised, is exactly e_c.
  eye = np.eye(3)
  prompts = np.stack([eye[c] + s * 0.5 * eye[(c + 1) % 3] for c in range(3) for s in (1, -1)])
  prompts /= np.linalg.norm(prompts, axis=1, keepdims=True)
  np.testing.assert_allclose(class_embeddings(prompts, 3), eye, atol=1e-7)
  images = np.array([[0.1, 0.9, 0.2], [0.8, 0.1, 0.5], [0.2, 0.3, 0.9], [0.5, 0.4, 0.1]])
  np.testing.assert_array_equal(zero_shot_predict(images, eye), [1, 0, 2, 0])
  with pytest.raises(ValueError, match="exactly one"):
    templates(["a {} and {}"])


def test_recall_at_k_known_answers_both_directions():
  images = np.eye(4)[:3]  # Image i is axis i.
  texts = np.array([[1, 0, 0, 0], [0.1, 0, 0, 1], [0, 1, 0, 0], [0.6, 0, 0.8, 0], [0, 0, 0, 1.0]])
  owners = [0, 0, 1, 2, 2]
  out = recall_at_k(images, texts, owners, ks=(1, 2, 5))
  # i2t: image 0's best text is its own (t0); image 1's is t2 (own); image 2's is t3 (own).
  assert out["i2t_recall@1"] == 1.0
  # t2i: t0 -> img0 (hit), t1 -> img0 (0.1, hit), t2 -> img1 (hit), t3 -> img2 (0.8 > 0.6, hit),
  # t4 scores 0 with every image: the stable tie-break ranks img0 first, img2 last (miss until K=3).
  assert out["t2i_recall@1"] == pytest.approx(4 / 5) and out["t2i_recall@2"] == pytest.approx(4 / 5)
  assert out["t2i_recall@5"] == 1.0
  with pytest.raises(ValueError, match="text_to_image"):
    recall_at_k(images, texts, [0, 0, 1, 2, 3])


class _StubTowers:
  """Every image embeds to e0; a prompt embeds to e0 if it mentions `word`, else e1."""

  def __init__(self, word):
    self.word_id = int(get_tokenizer("mg_shapes_sp", 16)(word).numpy()[0])

  def embed_images(self, images, training=False):
    return tf.one_hot(tf.zeros([tf.shape(images)[0]], tf.int32), 2)

  def embed_texts(self, tokens, training=False):
    hit = tf.reduce_any(tf.equal(tokens, self.word_id), axis=1)
    return tf.one_hot(tf.where(hit, 0, 1), 2)


def test_zero_shot_evaluator_known_answer_on_mg_shapes(tiny_shapes):
  builder, data_dir = tiny_shapes
  labels = np.array([ex["label"] for ex in builder.as_dataset(split="test").as_numpy_iterator()])
  colours = np.array([ex["colour"] for ex in builder.as_dataset(split="test").as_numpy_iterator()])
  data = {"name": "mg_shapes/tiny32", "split": "test"}
  shapes = EVALUATORS.get("zero_shot", data=data, data_dir=data_dir, pp_txt=PP_TXT,
                          pp_img="decode|value_range(-1, 1)|keep('image', 'label')",
                          class_names="dataset_info:label", templates="mg_shapes_shape")
  result = shapes.run(_StubTowers("circle"))  # Every image is called "circle", class 0.
  assert result["num_examples"] == 64 and result["num_classes"] == 8
  assert result["accuracy"] == pytest.approx(np.mean(labels == 0))
  colour = ZeroShotEvaluator(data=data, data_dir=data_dir, pp_txt=PP_TXT, label_key="colour",
                             pp_img="decode|value_range(-1, 1)|keep('image', 'colour')",
                             class_names="mg_shapes_colour", templates="mg_shapes_colour")
  assert colour.run(_StubTowers("green"))["accuracy"] == pytest.approx(np.mean(colours == 1))


def test_retrieval_evaluator_and_callback_with_a_two_tower_model(tiny_shapes):
  import keras  # pylint: disable=g-import-not-at-top
  from model_garden.models import registry as model_registry  # pylint: disable=g-import-not-at-top
  from model_garden.objectives.contrastive import Contrastive  # pylint: disable=g-import-not-at-top
  _, data_dir = tiny_shapes
  lit = model_registry.get("two_towers(image=\"vit(variant='mu/8', image_size=32)\", text=\"text_transformer("
                           "width=32, depth=1, mlp_dim=64, num_heads=2, vocab_size=256, max_len=16)\", "
                           "out_dim=(None, 32))")
  retrieval = RetrievalEvaluator(data={"name": "mg_shapes/tiny32", "split": "test[:16]"}, data_dir=data_dir,
                                 pp_img="decode|value_range(-1, 1)|keep('image', 'captions')", pp_txt=PP_TXT)
  out = retrieval.run(lit)
  assert out["num_images"] == 16 and out["num_texts"] == 80
  assert all(0.0 <= out[f"{d}_recall@{k}"] <= 1.0 for d in ("i2t", "t2i") for k in (1, 5, 10))
  assert out["i2t_recall@10"] >= out["i2t_recall@1"]

  class Counting:
    calls = 0

    def run(self, network):
      assert network is lit
      Counting.calls += 1
      return {"accuracy": 0.5}

  objective = Contrastive(lit)
  objective.compile(optimizer=keras.optimizers.SGD(0.01))
  objective.build_for_training()
  batch = {"image": tf.zeros([4, 32, 32, 3]), "labels": tf.ones([4, 16], tf.int32)}
  callback = EvaluatorCallback({"zs": Counting()}, lit, every_steps=2)
  history = objective.fit(tf.data.Dataset.from_tensors(batch).repeat(), epochs=4, steps_per_epoch=1,
                          verbose=0, callbacks=[callback]).history
  assert Counting.calls == 2 and [s for s, _, _ in callback.history] == [2, 4]
  assert "zs/accuracy" in history
