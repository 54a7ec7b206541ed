r"""LiT on mg_shapes: contrastive tuning of a text tower against an image tower, in the paper's lock settings.

"LiT: Zero-Shot Transfer with Locked-image text Tuning" (Zhai et al. 2022) names a setting by two letters,
image tower first, text tower second: L = locked and pretrained, U = unlocked and pretrained, u = unlocked
from scratch (random init); `l` (locked and random) completes the grid. The paper's settings are
  Lu (LiT: locked pretrained image tower, text tower from scratch), LU, Uu, UU, uu (from scratch) and ul.
A lower-case letter builds the tower from the spec below at random; an upper-case one loads `img_init` /
`txt_init` (a package `.keras` file: a classifier, whose head is dropped, or a saved two-tower model; its
architecture is taken from the file). A locked tower gets no gradients and no optimizer state
(`config.optimizer.frozen = ["img/.*"]`). The temperature `t` (log, init log 10) is always learned.

Data: mg_shapes images with their five captions; each step draws one caption per image with the example's
seed (`sample_caption`), tokenized in-graph by a SentencePiece vocabulary (`vocab`: a `.model` path, or the
shipped 256-piece "mg_shapes_sp" trained on mg_shapes captions). Evaluation: zero-shot accuracy on the test
split for the 8 shapes and for the 10 colours (prompt ensembles of `model_garden/data/text_assets/`), and
image<->text Recall@{1,5,10} on the test split.

Command (pretrained tower first, e.g. from `python -m model_garden.lit_demo`, which runs the whole pipeline):
  python -m model_garden.train --config=model_garden/configs/lit/mg_shapes_lit.py:setting=Lu,img_init=WORKDIR/img.keras \
      --workdir=workdirs/lit_Lu
  python -m model_garden.train --config=model_garden/configs/lit/mg_shapes_lit.py:setting=uu --workdir=workdirs/lit_uu

Smoke test (seconds): add `runlocal` (needs the inits its setting names, e.g. `setting=uu,runlocal`).

Expected (measured by `python -m model_garden.lit_demo`: ViT pretrained 800 steps on shapes, 77.7% test;
then 400 steps of batch 128, the demo's budget; the defaults here are 600 of 256): zero-shot test accuracy
shapes / colours: Lu 0.75 / 0.47, UU 0.74 / 0.95, uu 0.14 / 0.98 (chance 0.125 / 0.1). The demo's docstring has the retrieval numbers.
Arguments: runlocal, setting, img_init, txt_init, vocab, vocab_size, embed_dim, res, patch (of a from-scratch
ViT image tower), steps, batch, lr.
`embed_dim` is the shared embedding size: the text head maps to it and it must equal the image tower's
output width (the image tower has no head: its pre-logits are the embedding, as LiT with a ViT).
"""

import ml_collections

from model_garden.configs.config_args import parse_arg

PAPER_SETTINGS = ("Lu", "LU", "Uu", "UU", "uu", "ul")
# From-scratch towers (lower-case letters); the image tower is the demo's pretrained ViT shape.
IMAGE_SPEC = ("vit(variant='mu/{patch}', width={width}, depth=3, mlp_dim={mlp}, num_heads=4, image_size={res}, "
              "pool='gap')")
TEXT_SPEC = "text_transformer(width=64, depth=2, mlp_dim=128, num_heads=4, vocab_size={vocab_size}, max_len=16)"
MAX_LEN = 16


def lock_setting(setting: str):
  """(frozen regexes, image pretrained?, text pretrained?) of a two-letter LiT setting such as "Lu"."""
  if len(setting) != 2 or any(c not in "LlUu" for c in setting):
    raise ValueError(f"A LiT setting is two letters from L, U, u, l (image tower first), e.g. 'Lu'; got "
                     f"{setting!r}.")
  frozen = [regex for letter, regex in zip(setting, ("img/.*", "txt/.*")) if letter in "Ll"]
  return frozen, setting[0].isupper(), setting[1].isupper()


def get_config(arg=None):
  """The config; `arg` like "setting=Lu,img_init=/path/img.keras,runlocal"."""
  arg = parse_arg(arg, runlocal=False, setting="Lu", img_init="", txt_init="", vocab="mg_shapes_sp",
                  vocab_size=256, embed_dim=64, res=32, patch=4, steps=600, batch=256, lr=1e-3)
  frozen, img_pretrained, txt_pretrained = lock_setting(arg.setting)
  for pretrained, init, what in ((img_pretrained, arg.img_init, "img"), (txt_pretrained, arg.txt_init, "txt")):
    if pretrained and not init:
      raise ValueError(f"Setting {arg.setting!r} starts the {what} tower from pretrained weights: pass "
                       f"{what}_init=PATH.keras (e.g. from `python -m model_garden.lit_demo`), or use a "
                       f"lower-case letter for a random init.")
    if not pretrained and init:
      raise ValueError(f"Setting {arg.setting!r} trains the {what} tower from scratch but {what}_init is set; "
                       "use an upper-case letter to start from it.")

  config = ml_collections.ConfigDict()
  config.seed = 0
  config.deterministic = False
  config.precision = "float32"

  data = f"mg_shapes/px{arg.res}"
  tokenize = f"tokenize({MAX_LEN}, model={arg.vocab!r})"
  config.input = ml_collections.ConfigDict()
  config.input.data = dict(name=data, split="train")
  config.input.data_dir = ml_collections.config_dict.placeholder(str)  # None: ~/tensorflow_datasets
  config.input.batch_size = arg.batch
  config.input.shuffle_buffer = 10_000
  config.input.cache = True
  config.input.on_corrupt = "error"
  # No flips: captions say "on the left".
  config.input.pp = f"decode|value_range(-1, 1)|sample_caption|{tokenize}|keep('image', 'labels')"

  image = None if img_pretrained else IMAGE_SPEC.format(width=arg.embed_dim, mlp=2 * arg.embed_dim, res=arg.res,
                                                       patch=arg.patch)
  text = None if txt_pretrained else TEXT_SPEC.format(vocab_size=arg.vocab_size)
  config.model = (f"two_towers(image={image!r}, text={text!r}, image_init={arg.img_init or None!r}, "
                  f"text_init={arg.txt_init or None!r}, out_dim=(None, {arg.embed_dim}), temperature_init=10.0)")
  config.objective = "contrastive(loss='softmax')"

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adam"
  config.optimizer.lr = arg.lr
  config.optimizer.schedule = f"cosine(warmup_steps={min(50, max(1, arg.steps // 10))})"
  config.optimizer.wd = 0.1 * arg.lr  # AdamW-style decay, 0.1 relative to lr (absolute per step, big_vision)
  config.optimizer.wd_mults = [(".*/kernel", 1.0)]
  config.optimizer.grad_clip_norm = 1.0
  config.optimizer.frozen = frozen or None

  config.total_steps = arg.steps
  config.log_steps = 50
  config.checkpoint_steps = 200
  config.keep_checkpoints = 1
  config.eval_steps = 0

  pp_txt = tokenize  # The evaluators tokenize prompts and captions given under `texts`, as in training.
  evals = ml_collections.ConfigDict()
  test = dict(name=data, split="test")
  evals.zeroshot_shapes = dict(type="zero_shot", data=dict(test), pp_txt=pp_txt, label_key="label",
                               pp_img="decode|value_range(-1, 1)|keep('image', 'label')",
                               class_names="mg_shapes_shape", templates="mg_shapes_shape")
  evals.zeroshot_colours = dict(type="zero_shot", data=dict(test), pp_txt=pp_txt, label_key="colour",
                                pp_img="decode|value_range(-1, 1)|keep('image', 'colour')",
                                class_names="mg_shapes_colour", templates="mg_shapes_colour")
  evals.retrieval = dict(type="retrieval", data=dict(test), pp_txt=pp_txt,
                         pp_img="decode|value_range(-1, 1)|keep('image', 'captions')")
  config.evals = evals
  config.export = dict(image_size=arg.res, activation="softmax", class_names=None)
  config.init = ml_collections.config_dict.placeholder(str)
  config.init_skip = ml_collections.config_dict.placeholder(str)

  if arg.runlocal:
    config.input.batch_size = 16
    config.input.shuffle_buffer = 64
    config.total_steps = 10
    config.log_steps = 5
    config.checkpoint_steps = 10
    config.optimizer.schedule = "cosine(warmup_steps=2)"
    for ev in config.evals.values():
      ev.data["split"] = "test[:32]"
  return config
