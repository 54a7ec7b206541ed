"""The LiT SavedModel: embed_images, embed_texts and zero_shot, loaded in a fresh process, match Keras."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import tensorflow as tf

from model_garden.evaluation.zero_shot import build_prompts, class_embeddings
from model_garden.export.lit_serving import export_lit
from model_garden.export.serving import preprocess_uint8
from model_garden.models import registry as model_registry
from model_garden.models import two_towers  # noqa: F401  (registers two_towers)
from model_garden.text import get_tokenizer, templates

SPEC = ("two_towers(image=\"vit(variant='mu/8', image_size=16)\", text=\"text_transformer(width=32, depth=1, "
        "mlp_dim=64, num_heads=2, vocab_size=256, max_len=16)\", out_dim=(None, 32))")

LOADER = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  Registers the SentencePiece ops the SavedModel uses.
    expected = np.load(sys.argv[2], allow_pickle=False)
    served = tf.saved_model.load(sys.argv[1])
    print("signatures", sorted(served.signatures))
    texts = tf.constant([str(t) for t in expected["texts"]])
    out = served.signatures["embed_texts"](texts=texts)["embeddings"].numpy()
    np.testing.assert_allclose(out, expected["ztxt"], atol=1e-5)
    out = served.signatures["embed_images_uint8"](images=tf.constant(expected["images"]))["embeddings"]
    np.testing.assert_allclose(out.numpy(), expected["zimg"], atol=1e-5)
    pngs = tf.stack([tf.io.encode_png(image) for image in expected["images"]])
    out = served.signatures["serving_default"](image_bytes=pngs)["embeddings"]
    np.testing.assert_allclose(out.numpy(), expected["zimg"], atol=1e-5)
    names = tf.constant([str(n) for n in expected["class_names"]])
    zs = served.signatures["zero_shot"](image_bytes=pngs, class_names=names)
    np.testing.assert_allclose(zs["probabilities"].numpy(), expected["probabilities"], atol=1e-4)
    assert [n.decode() for n in zs["class_name"].numpy()] == [str(n) for n in expected["predicted_names"]]
    print("served outputs match")
""")


def test_lit_savedmodel_matches_keras_in_a_fresh_process(tmp_path):
  lit = model_registry.get(SPEC)
  rng = np.random.default_rng(0)
  for v in lit.weights:
    if not v.path.endswith("/t"):
      v.assign(v.numpy() + rng.normal(0, 0.05, v.shape).astype("float32"))
  tokenizer = get_tokenizer("mg_shapes_sp", 16)
  export_dir = export_lit(lit, tmp_path / "lit" / "1", tokenizer=tokenizer, templates="mg_shapes_shape")
  images = rng.integers(0, 256, (3, 20, 24, 3)).astype(np.uint8)
  texts = ["Two small red triangles on the left", "a blue star"]
  zimg = lit.embed_images(preprocess_uint8(images, 16)).numpy()
  ztxt = lit.embed_texts(tokenizer(texts)).numpy()
  names = ["Circle", "hollow_ring", "star!"]  # Canonicalised in the graph: "circle", "hollow ring", "star".
  prompts = build_prompts(["circle", "hollow ring", "star"], templates("mg_shapes_shape"))
  classes = class_embeddings(lit.embed_texts(tokenizer(prompts)).numpy(), 3)
  logits = 10.0 * zimg @ classes.T
  probabilities = tf.nn.softmax(logits).numpy()
  np.savez(tmp_path / "expected.npz", images=images, texts=np.array(texts), zimg=zimg, ztxt=ztxt,
           class_names=np.array(names), probabilities=probabilities,
           predicted_names=np.array(names)[probabilities.argmax(-1)])
  script = tmp_path / "load.py"
  script.write_text(LOADER)
  proc = subprocess.run([sys.executable, str(script), str(export_dir), str(tmp_path / "expected.npz")],
                        capture_output=True, text=True, timeout=300, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
  assert "served outputs match" in proc.stdout
  for name in ("embed_images", "embed_images_uint8", "embed_texts", "serving_default", "zero_shot"):
    assert name in proc.stdout
