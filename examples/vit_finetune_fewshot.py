"""Fine-tune a ViT on mg_shapes, then evaluate it few-shot: the script twin of vit_finetune_fewshot.ipynb.

  python examples/vit_finetune_fewshot.py                      # full: 600 steps, about 13 CPU-minutes
  MG_NOTEBOOK_TINY=1 python examples/vit_finetune_fewshot.py   # a tiny smoke run

The cells below (`# %%`, the "percent" format editors and jupytext read) are the notebook's, in order.
"""

# %% [markdown]
# # Fine-tune a ViT on mg_shapes, then evaluate it few-shot
#
# This notebook trains a small Vision Transformer on **mg_shapes**, model_garden's embedded procedural
# dataset (8 shapes, 10 colours, rendered locally: no download), with the `Classification` objective and
# plain `model.fit`; measures its test accuracy; and runs the **few-shot linear evaluator** of "Scaling
# Vision Transformers" (Zhai et al. 2021; big_vision's `fewshot_lsr`): a closed-form ridge regression on
# frozen `pre_logits` features from 1, 5, 10 and 25 examples per class.
#
# Few-shot is run on two tasks: the **shape** the network was trained on, and the objects' **colour**, a
# task it never saw, once for the trained network and once for the same network at initialisation.
#
# Set `TINY = True` below for a run of a minute (a tiny 32 px mg_shapes, a few training steps); the test
# suite sets the environment variable `MG_NOTEBOOK_TINY=1` to the same effect. The full run trains 600
# steps of batch 256 (about 13 minutes of CPU time; `configs/vit/mg_shapes_finetune.py` measured 0.82 test
# accuracy) and then extracts few-shot features for a few minutes.

# %%
import os

TINY = False  # True: a tiny dataset and a few steps (a smoke test of the notebook).
TINY = TINY or os.environ.get("MG_NOTEBOOK_TINY") == "1"
DATA_DIR = os.environ.get("MG_NOTEBOOK_DATA_DIR")  # tfds data_dir; None: ~/tensorflow_datasets
print("TINY =", TINY)

# %%
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json
import tempfile
import time

import keras
import numpy as np
import tensorflow_datasets as tfds

import model_garden
from model_garden.configs.vit import mg_shapes_finetune
from model_garden.data.mg_shapes import SHAPES, COLOUR_NAMES, MgShapesConfig
from model_garden.evaluation.fewshot import FewShotEvaluator

# %% [markdown]
# ## 1. Prepare mg_shapes
#
# `mg_shapes/px32` has 10,000 train, 1,000 validation and 2,000 test images of 32x32 pixels; tfds renders
# them once (about a minute) and caches them in the data_dir. The tiny run renders its own small
# `MgShapesConfig` (the test suite's `tiny32`) into a temporary directory.

# %%
if TINY:
  DATA_DIR = DATA_DIR or tempfile.mkdtemp(prefix="mg_shapes_tfds_")
  # The test suite's tiny config (tests/conftest.py): one name, one content, in any data_dir.
  tiny_config = MgShapesConfig(name="tiny32", image_size=32, num_train=256, num_validation=64, num_test=64)
  builder = tfds.builder("mg_shapes", config=tiny_config, data_dir=DATA_DIR)
  DATA = "mg_shapes/tiny32"
else:
  builder = tfds.builder("mg_shapes/px32", data_dir=DATA_DIR)
  DATA = "mg_shapes/px32"
builder.download_and_prepare()
print(DATA, {name: split.num_examples for name, split in builder.info.splits.items()})
print("shapes:", ", ".join(SHAPES))

# %% [markdown]
# ## 2. The model, objective and optimizer of `configs/vit/mg_shapes_finetune.py`
#
# The config names the network, objective and optimizer; the same lines build them outside the trainer
# (`python -m model_garden.train --config=model_garden/configs/vit/mg_shapes_finetune.py` runs the same
# recipe with checkpoints and TensorBoard).

# %%
config = mg_shapes_finetune.get_config("runlocal" if TINY else None)
keras.utils.set_random_seed(config.seed)

network = model_garden.training.build_network(config.networks.network)
objective = model_garden.objectives.get(config.objective, network=network)
optimizer = model_garden.optimizers.make(config.optimizer, total_steps=config.total_steps)
objective.compile(optimizer=optimizer)

print("model:    ", model_garden.training.network_spec(config.networks.network), f"({network.count_params():,} parameters)")
print("objective:", config.objective.to_dict())
print("optimizer:", config.optimizer.name, "lr", config.optimizer.lr, config.optimizer.schedule.to_dict())
print("steps:    ", config.total_steps, "of batch", config.input.batch_size)

# %% [markdown]
# ## 3. Train with `model.fit`
#
# The objective is a `keras.Model` owning the training step, so `fit` trains the network inside it. One
# Keras epoch is `log_steps` optimizer steps of the endless, shuffled training stream.

# %%
train_ds = model_garden.data.get_dataset(
    DATA, config.input.data.split, batch_size=config.input.batch_size, pp=config.input.pp,
    data_dir=DATA_DIR, train=True, seed=config.seed, shuffle_buffer=config.input.shuffle_buffer,
    cache=True)
started = time.time()
history = objective.fit(train_ds, epochs=config.total_steps // config.log_steps,
                        steps_per_epoch=config.log_steps, verbose=2)
train_seconds = time.time() - started
final_loss = history.history["loss"][-1]
assert np.isfinite(final_loss), final_loss
print(f"{config.total_steps} steps in {train_seconds:.0f} s; final training loss {final_loss:.3f}")

# %% [markdown]
# ## 4. Test accuracy

# %%
test_pp = config.evals.test.pp
test_eval = model_garden.evaluation.EVALUATORS.get(
    "classification", data=dict(name=DATA, split="test"), pp=test_pp, data_dir=DATA_DIR)
test = test_eval.run(network)
print(f"test accuracy {test['accuracy']:.4f} on {test['num_examples']} images")

# %% [markdown]
# ## 5. Few-shot linear evaluation
#
# `FewShotEvaluator` reads the `pre_logits` features of a train and a test split, draws `shots` train
# images per class (3 seeds), whitens the features, appends big_vision's constant bias feature and solves a
# ridge regression (lambda = 2^10) in closed form. `mg_shapes` is the shape task the network was trained
# on; `mg_colours` asks for the colour, which the training labels never named.

# %%
fewshot = FewShotEvaluator(
    datasets={
        "mg_shapes": dict(name=DATA, train_split="train", test_split="test", num_classes=len(SHAPES)),
        "mg_colours": dict(name=DATA, train_split="train", test_split="test", num_classes=len(COLOUR_NAMES),
                           label_key="colour", pp="decode|value_range(-1, 1)|keep('image', 'colour')"),
    },
    pp="decode|value_range(-1, 1)|keep('image', 'label')",
    shots=(1, 5, 10, 25), l2_regs=(2.0 ** 10,), seeds=3, batch_size=256, representation="pre_logits",
    max_train_examples=None if TINY else 2000, data_dir=DATA_DIR)

started = time.time()
trained = fewshot.run(network)
keras.utils.set_random_seed(config.seed)
untrained = fewshot.run(model_garden.training.build_network(config.networks.network))  # The same at init.
print(f"few-shot evaluation of both networks in {time.time() - started:.0f} s\n")
print(f"{'':12s}{'shots':>6s}{'trained':>10s}{'at init':>10s}")
for task in ("mg_shapes", "mg_colours"):
  for shots in fewshot.shots:
    key = f"{task}_{shots}shot"
    print(f"{task:12s}{shots:6d}{trained[key]:10.3f}{untrained[key]:10.3f}")

# %%
results = {
    "tiny": TINY,
    "model": model_garden.training.network_spec(config.networks.network),
    "steps": config.total_steps,
    "train_seconds": round(train_seconds, 1),
    "final_train_loss": round(float(final_loss), 4),
    "test_accuracy": round(test["accuracy"], 4),
    **{f"fewshot/{k}": round(v, 4) for k, v in trained.items()},
    **{f"fewshot_at_init/{k}": round(v, 4) for k, v in untrained.items()},
}
print(json.dumps(results))
