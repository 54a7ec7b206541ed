r"""A small ViT trained on the 8 shapes of the embedded `mg_shapes` dataset at 32 px (offline, 2 CPU cores).

A ViT with 4x4 patches (an 8x8 token grid; the shapes are 4 to 8 px wide, so 8x8 patches cut them up),
width 64, 6 blocks, 2 heads, global average pooling; AdamW (lr 2e-3, big_vision's decoupled weight
decay 1e-4 on the kernels), cosine schedule after a short warmup, gradient clipping at 1.0, softmax
cross-entropy. Large batches suit a ViT this small on a CPU: a step costs little more at batch 256 than
at 64. `config.init` fine-tunes a saved network of the same shape instead of training from scratch (with
`config.init_skip="head/.*"` for a new head).

Command:
  python -m model_garden.train --config=model_garden/configs/vit/mg_shapes_finetune.py \
      --workdir=workdirs/vit_mg_shapes

Smoke test (a few steps, seconds):
  python -m model_garden.train --config=model_garden/configs/vit/mg_shapes_finetune.py:runlocal \
      --workdir=/tmp/vit_smoke

Expected: test accuracy 0.82 after 600 steps of batch 256, about 15 epochs (measured: 0.8155, train
accuracy 0.84, so longer runs still gain; 2,020 s of training on 2 CPU cores shared with other jobs,
about 13 minutes of CPU time). From scratch a ViT learns the shapes far slower than a ResNet (compare
mg_shapes_classification.py); at batch 64 the same model reached 0.54 after 2,000 steps.
Arguments: runlocal, steps, batch, lr.
"""

import ml_collections

from model_garden.configs.config_args import parse_arg

NUM_CLASSES = 8
MODEL = ("vit(variant='mu/4', width=64, depth=6, mlp_dim=256, num_heads=2, num_classes={classes}, "
         "image_size=32, pool='gap')")


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal,steps=300"."""
  arg = parse_arg(arg, runlocal=False, steps=600, batch=256, lr=2e-3)
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.deterministic = False
  config.precision = "float32"

  pp_common = f"|value_range(-1, 1)|onehot({NUM_CLASSES})|keep('image', 'labels')"
  config.input = ml_collections.ConfigDict()
  config.input.data = dict(name="mg_shapes/px32", split="train")
  config.input.data_dir = ml_collections.config_dict.placeholder(str)  # None: ~/tensorflow_datasets
  config.input.batch_size = arg.batch
  config.input.shuffle_buffer = 10_000
  config.input.cache = True
  config.input.on_corrupt = "error"
  config.input.pp = "decode|flip_lr" + pp_common

  config.model = MODEL.format(classes=NUM_CLASSES)
  config.objective = "classification(loss='softmax_xent')"

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adam(b1=0.9, b2=0.999)"
  config.optimizer.lr = arg.lr
  config.optimizer.schedule = "cosine(warmup_steps=60)"
  config.optimizer.wd = 1e-4  # absolute per-step decay (big_vision), 0.05 relative to lr 2e-3
  config.optimizer.wd_mults = [(".*/kernel", 1.0)]
  config.optimizer.grad_clip_norm = 1.0

  config.total_steps = arg.steps
  config.log_steps = 50
  config.checkpoint_steps = 200
  config.keep_checkpoints = 2
  config.eval_steps = 0

  eval_pp = "decode" + pp_common
  config.evals = ml_collections.ConfigDict()
  config.evals.val = dict(type="classification", data=dict(name="mg_shapes/px32", split="validation"),
                          pp=eval_pp)
  config.evals.test = dict(type="classification", data=dict(name="mg_shapes/px32", split="test"), pp=eval_pp)
  config.export = dict(image_size=32, activation="softmax", class_names=None)
  config.init = ml_collections.config_dict.placeholder(str)  # a .keras file to start from
  config.init_skip = ml_collections.config_dict.placeholder(str)  # regex of variables not loaded

  if arg.runlocal:
    config.input.batch_size = 16
    config.input.shuffle_buffer = 64
    config.total_steps = 10
    config.log_steps = 5
    config.checkpoint_steps = 10
    config.keep_checkpoints = 1
    config.model = config.model.replace("depth=6", "depth=2")
    config.optimizer.schedule = "cosine(warmup_steps=2)"
    for ev in config.evals.values():
      ev.data["split"] = ev.data["split"] + "[:64]"
  return config
