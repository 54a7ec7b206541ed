r"""Pre-training ViT-g/14 (1B parameters) as in "Scaling Vision Transformers" (Zhai et al. 2021).

The recipe of big_vision's `configs/proj/scaling_laws/train_vit_g.py`, which its authors released for
reference: ViT-g/14 with a MAP head and a head bias of -10, sigmoid cross-entropy, big_vision's modified
Adafactor (factored second moment, beta2 capped at 0.999, no update clipping, momentum 0.9 kept in
bfloat16), lr 8e-4, global gradient clipping at 1.0, decoupled weight decay 0.03 * lr on every kernel and
100x that on the head kernel (strong decay of the head improves few-shot transfer), the "infinite" rsqrt
schedule (10k warmup, timescale 10k, 50k linear cooldown) over 1M steps of batch 16,384. Its data are
JFT-3B's 29,593 classes; JFT-3B is Google-internal and not public, so this config reads a tfds dataset
instead (`data`, `num_classes`; default ImageNet-1k, `imagenet2012`, which tfds prepares from a manual
download). `variant=G/14` gives ViT-G (1.8B parameters) as the original notes.

Validation accuracy is logged every 1,000 steps as in big_vision; big_vision also runs its few-shot linear
evaluation every 10,000 steps (`fewshot=True` adds it to `evals`: caltech101, cars196, cifar100, dtd,
oxford_iiit_pet, uc_merced; the trainer runs every evaluator at one period, `eval_steps`, so with it the
validation accuracy is logged every 10,000 steps too).

Command (a TPU pod or a large GPU cluster; 1M steps of batch 16,384 is about 16B examples seen):
  python -m model_garden.train --config=model_garden/configs/vit/train_vit_g.py \
      --workdir=gs://BUCKET/vit_g --strategy=tpu

Smoke test (a ViT-Ti/8 at 32 px on mg_shapes, 10 steps of batch 16, seconds on a CPU):
  python -m model_garden.train --config=model_garden/configs/vit/train_vit_g.py:runlocal \
      --workdir=/tmp/vit_g_smoke

Expected (paper, with JFT-3B): ViT-g/14 reaches 84.86% ImageNet 10-shot (ViT-G/14) and, fine-tuned,
90.45% ImageNet top-1 (ViT-G/14). Not reproduced here: the data are not public and the compute is a TPU
pod's. The smoke test only checks that the recipe trains (finite sigmoid loss).
Arguments: runlocal, data, num_classes, train_split, val_split, variant, batch, steps, fewshot.
"""

import ml_collections

from model_garden.configs.config_args import parse_arg

LR = 8e-4
# big_vision's few-shot datasets (configs/common_fewshot.py): (tfds name, train split, test split).
FEWSHOT_DATASETS = {
    "caltech": ("caltech101", "train", "test"),
    "cars": ("cars196:2.1.0", "train", "test"),
    "cifar100": ("cifar100", "train", "test"),
    "dtd": ("dtd", "train", "test"),
    "pets": ("oxford_iiit_pet", "train", "test"),
    "uc_merced": ("uc_merced", "train[:1000]", "train[1000:]"),
}


def get_config(arg=None):
  """The config; `arg` is a comma list like "runlocal" or "data=imagenet2012,num_classes=1000"."""
  arg = parse_arg(arg, runlocal=False, data="imagenet2012", num_classes=1000, train_split="train",
                  val_split="validation", variant="g/14", batch=4096 * 4, steps=1_000_000, fewshot=False)
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.deterministic = False
  # float32 variables, bfloat16 matmuls: what TPUs do with big_vision's float32 default.
  config.precision = "mixed_bfloat16"

  num_classes = arg.num_classes
  pp_common = f"|value_range(-1, 1)|onehot({num_classes})|keep('image', 'labels')"
  config.input = ml_collections.ConfigDict()
  config.input.data = dict(name=arg.data, split=arg.train_split)
  config.input.data_dir = ml_collections.config_dict.placeholder(str)  # None: ~/tensorflow_datasets
  config.input.batch_size = arg.batch  # 32 images per TPUv3 core with ViT-g/14.
  config.input.shuffle_buffer = 250_000  # big_vision's per-host buffer.
  config.input.cache = False
  config.input.on_corrupt = "error"
  config.input.pp = "decode|inception_crop(224)|flip_lr" + pp_common

  config.model = (f"vit(variant='{arg.variant}', pool='map', num_classes={num_classes}, head_bias_init=-10, "
                  "image_size=224)")
  config.objective = "classification(loss='sigmoid_xent')"

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adafactor_bv(momentum=0.9, momentum_dtype='bfloat16')"
  config.optimizer.lr = LR
  config.optimizer.schedule = "rsqrt(warmup_steps=10_000, cooldown_steps=50_000, timescale=10_000)"
  config.optimizer.wd = 0.03 * LR  # big_vision's absolute decay: 0.03 relative to the peak lr.
  config.optimizer.wd_mults = [(".*head/kernel", 100.0), (".*/kernel", 1.0)]
  config.optimizer.grad_clip_norm = 1.0

  config.total_steps = arg.steps
  config.log_steps = 50
  config.checkpoint_steps = 1000
  config.keep_checkpoints = 3
  config.eval_steps = 10_000 if arg.fewshot else 1000

  eval_pp = "decode|resize_small(256)|central_crop(224)" + pp_common
  config.evals = ml_collections.ConfigDict()
  config.evals.val = dict(type="classification", data=dict(name=arg.data, split=arg.val_split), pp=eval_pp)
  if arg.fewshot:
    config.evals.fewshot = dict(
        type="fewshot", datasets=dict(FEWSHOT_DATASETS), shots=(1, 5, 10, 25), l2_regs=(2.0 ** 10,),
        seeds=3, representation="pre_logits",
        pp="decode|resize(256)|central_crop(224)|value_range(-1, 1)|keep('image', 'label')")
  config.export = dict(image_size=224, activation="sigmoid", class_names=None)
  config.init = ml_collections.config_dict.placeholder(str)  # a .keras file to start from
  config.init_skip = ml_collections.config_dict.placeholder(str)  # regex of variables not loaded

  if arg.runlocal:
    # The same recipe on a ViT-Ti/8 at 32 px and mg_shapes' 8 classes: runs in seconds on a CPU.
    num_classes = 8
    pp_common = f"|value_range(-1, 1)|onehot({num_classes})|keep('image', 'labels')"
    config.precision = "float32"  # CPUs have no fast bfloat16 matmuls.
    config.input.data = dict(name="mg_shapes/px32", split="train")
    config.input.batch_size = 16
    config.input.shuffle_buffer = 64
    config.input.cache = True
    config.input.pp = "decode|inception_crop(32)|flip_lr" + pp_common
    config.model = (f"vit(variant='Ti/8', pool='map', num_classes={num_classes}, head_bias_init=-10, "
                    "image_size=32)")
    config.optimizer.schedule = "rsqrt(warmup_steps=2, cooldown_steps=4, timescale=10)"
    config.total_steps = 10
    config.log_steps = 5
    config.checkpoint_steps = 10
    config.keep_checkpoints = 1
    config.eval_steps = 0  # The evaluators still run once at the end.
    config.evals = ml_collections.ConfigDict()
    config.evals.val = dict(type="classification", data=dict(name="mg_shapes/px32", split="validation[:64]"),
                            pp="decode|resize_small(36)|central_crop(32)" + pp_common)
    config.export = dict(image_size=32, activation="sigmoid", class_names=None)
  return config
