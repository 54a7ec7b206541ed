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
evaluation every 10,000 steps (`fewshot=True` adds it to `evals` with that period: caltech101, cars196,
cifar100, dtd, oxford_iiit_pet, uc_merced). Each evaluator keeps its own period (`every_steps`).

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

from model_garden.configs import common
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
  # float32 variables, bfloat16 matmuls: what TPUs do with big_vision's float32 default.
  config = common.base_config(precision="mixed_bfloat16", total_steps=arg.steps, log_steps=50,
                              checkpoint_steps=1000, keep_checkpoints=3)
  if arg.runlocal:
    # The same recipe on a ViT-Ti/8 at 32 px and mg_shapes' 8 classes: runs in seconds on a CPU.
    arg.data, arg.num_classes, arg.variant, arg.val_split = "mg_shapes/px32", 8, "Ti/8", "validation"
  res = 32 if arg.runlocal else 224
  pp_common = f"|value_range(-1, 1)|onehot({arg.num_classes})|keep('image', 'labels')"
  config.input = common.input_config(
      arg.data, arg.train_split, batch_size=arg.batch,  # 32 images per TPUv3 core with ViT-g/14.
      shuffle_buffer=250_000,  # big_vision's per-host buffer.
      pp=f"decode|inception_crop({res})|flip_lr" + pp_common)

  config.networks.network = common.network("vit", variant=arg.variant, pool="map", num_classes=arg.num_classes,
                                           head_bias_init=-10.0, image_size=res)
  config.objective = common.objective("classification", loss="sigmoid_xent")
  config.optimizer = common.optimizer(
      "adafactor_bv", momentum=0.9, momentum_dtype="bfloat16", lr=LR,
      schedule=common.schedule("rsqrt", warmup_steps=10_000, cooldown_steps=50_000, timescale=10_000),
      wd=0.03 * LR,  # big_vision's absolute decay: 0.03 relative to the peak lr.
      wd_mults=[(".*head/kernel", 100.0), (".*/kernel", 1.0)], grad_clip_norm=1.0)

  eval_pp = f"decode|resize_small({res * 8 // 7})|central_crop({res})" + pp_common
  config.evals.val = common.classification_eval(arg.data, arg.val_split, pp=eval_pp, every_steps=1000)
  if arg.fewshot:
    config.evals.fewshot = dict(
        type="fewshot", every_steps=10_000, datasets=dict(FEWSHOT_DATASETS), shots=(1, 5, 10, 25),
        l2_regs=(2.0 ** 10,), seeds=3, representation="pre_logits",
        pp="decode|resize(256)|central_crop(224)|value_range(-1, 1)|keep('image', 'label')")
  config.export = dict(class_names=None)

  if arg.runlocal:
    config.precision = "float32"  # CPUs have no fast bfloat16 matmuls.
    config.input.cache = True
    common.runlocal(config, batch_size=16, total_steps=10, log_steps=5)
    config.optimizer.schedule = common.schedule("rsqrt", warmup_steps=2, cooldown_steps=4, timescale=10)
  return config
