r"""LiT on mg_shapes: contrastive tuning of a text tower against an image tower, in the paper's lock settings.

"LiT: Zero-Shot Transfer with Locked-image text Tuning" (Zhai et al. 2022) names a setting by two letters,
image tower first, text tower second: L = locked and pretrained, U = unlocked and pretrained, u = unlocked
from scratch (random init); `l` (locked and random) completes the grid. The paper's settings are
  Lu (LiT: locked pretrained image tower, text tower from scratch), LU, Uu, UU, uu (from scratch) and ul.
A lower-case letter builds the tower from `config.networks.image` / `.text` at random; an upper-case one loads
`img_init` / `txt_init` (a package `.keras` file: a classifier, whose head is dropped, or a saved two-tower
model's tower; its architecture is taken from the file). A locked tower (`config.networks.<tower>.frozen`)
gets no gradients and no optimizer state. The temperature `t` (log, init log 10) is always learned.

Data: mg_shapes images with their five captions; each step draws one caption per image with the example's
seed (`sample_caption`), tokenized in-graph by a SentencePiece vocabulary (`vocab`: a `.model` path, or the
shipped 256-piece "mg_shapes_sp" trained on mg_shapes captions). Evaluation: zero-shot accuracy on the test
split for the 8 shapes and for the 10 colours (prompt ensembles of `model_garden/data/text_assets/`), and
image<->text Recall@{1,5,10} on the test split.

Command (pretrained tower first, e.g. from `python examples/lit_demo.py`, which runs the whole pipeline):
  python -m model_garden.train --config=model_garden/configs/lit/mg_shapes_lit.py:setting=Lu,img_init=WORKDIR/img.keras \
      --workdir=workdirs/lit_Lu
  python -m model_garden.train --config=model_garden/configs/lit/mg_shapes_lit.py:setting=uu --workdir=workdirs/lit_uu

Smoke test (seconds; in runlocal an upper-case tower without an init is a tiny random one, so every setting
runs standalone):
  python -m model_garden.train --config=model_garden/configs/lit/mg_shapes_lit.py:runlocal --workdir=/tmp/lit

Held-out pairs (`held_out=True`, the default): the 16 (shape, colour) pairs of HELD_OUT are dropped from the
image-text training data (`held_out_combinations(..., part='seen')`, model_garden/data/held_out.py) and
get their own zero-shot evaluators on their test images (`zeroshot_shapes_held_out`,
`zeroshot_colours_held_out`); `held_out=False` trains on every pair. `split` is the image-text data's split
(the demo: `train[:1000]`, 787 images once the held-out pairs are dropped).

Expected (measured by `python examples/demo.py`, which runs `examples/lit_demo.py`: ViT pretrained 1,500
steps of 128 on the shape and colour labels of `train[1000:]`, 74.5% shapes / 99.7% colours on test; then
split=train[:1000], 100 steps of 128, lr=3e-3, the demo's budget; the defaults here are 600 of 256 at
1e-3 on the whole train split): zero-shot test accuracy shapes / colours: Lu 0.65 / 0.995, UU 0.54 / 0.985,
Uu 0.19 / 0.98, uu 0.12 / 0.86 (chance 0.125 / 0.1); on the held-out pairs Lu 0.62 / 0.995, UU 0.53 / 0.98,
Uu 0.09 / 0.96, uu 0.08 / 0.85. The demo's docstring has the retrieval numbers.
Arguments: runlocal, setting, img_init, txt_init, vocab, vocab_size, embed_dim, res, patch (of a from-scratch
ViT image tower), steps, batch, lr, dataset (a tfds name; default mg_shapes/px{res}), split, held_out.
`embed_dim` is the shared embedding size: the text head maps to it and it must equal the image tower's
output width (the image tower has no head: its pre-logits are the embedding, as LiT with a ViT).
"""

from model_garden.configs import common
from model_garden.configs.config_args import parse_arg

PAPER_SETTINGS = ("Lu", "LU", "Uu", "UU", "uu", "ul")
MAX_LEN = 16
# (shape, colour) pairs no training stage of the demo sees (`held_out=True`): each shape with two colours,
# each colour with one or two shapes; 16 of the 80 pairs, about 20% of every split.
HELD_OUT = (("circle", "red"), ("circle", "orange"), ("square", "green"), ("square", "white"),
            ("triangle", "blue"), ("triangle", "black"), ("diamond", "yellow"), ("diamond", "pink"),
            ("star", "purple"), ("star", "cyan"), ("cross", "orange"), ("cross", "red"),
            ("heart", "white"), ("heart", "green"), ("ring", "black"), ("ring", "blue"))


def combinations_data(dataset: str, part: str) -> str:
  """The spec of `dataset` without the HELD_OUT (shape, colour) pairs (part="seen") or with only them
  (part="held_out"): a `held_out_combinations` source (model_garden/data/held_out.py)."""
  return f"held_out_combinations(dataset={dataset!r}, combinations={HELD_OUT!r}, part={part!r})"


def lock_setting(setting: str):
  """(image locked?, text locked?, image pretrained?, text pretrained?) of a two-letter LiT setting ("Lu")."""
  if len(setting) != 2 or any(c not in "LlUu" for c in setting):
    raise ValueError(f"A LiT setting is two letters from L, U, u, l (image tower first), e.g. 'Lu'; got "
                     f"{setting!r}.")
  return setting[0] in "Ll", setting[1] in "Ll", setting[0].isupper(), setting[1].isupper()


def get_config(arg=None):
  """The config; `arg` like "setting=Lu,img_init=/path/img.keras,runlocal"."""
  arg = parse_arg(arg, runlocal=False, setting="Lu", img_init="", txt_init="", vocab="mg_shapes_sp",
                  vocab_size=256, embed_dim=64, res=32, patch=4, steps=600, batch=256, lr=1e-3, dataset="",
                  split="train", held_out=True)
  img_locked, txt_locked, img_pretrained, txt_pretrained = lock_setting(arg.setting)
  for pretrained, init, what in ((img_pretrained, arg.img_init, "img"), (txt_pretrained, arg.txt_init, "txt")):
    if pretrained and not init and not arg.runlocal:
      raise ValueError(f"Setting {arg.setting!r} starts the {what} tower from pretrained weights: pass "
                       f"{what}_init=PATH.keras (e.g. from `python examples/lit_demo.py`), or use a lower-case "
                       "letter for a random init.")
    if not pretrained and init:
      raise ValueError(f"Setting {arg.setting!r} trains the {what} tower from scratch but {what}_init is set; "
                       "use an upper-case letter to start from it.")

  config = common.base_config(total_steps=arg.steps, log_steps=50, checkpoint_steps=200, keep_checkpoints=1)
  data = arg.dataset or f"mg_shapes/px{arg.res}"
  tokenize = f"tokenize({MAX_LEN}, model={arg.vocab!r})"
  # No flips: captions say "on the left".
  config.input = common.input_config(
      combinations_data(data, "seen") if arg.held_out else data, arg.split, batch_size=arg.batch, cache=True,
      pp=f"decode|value_range(-1, 1)|sample_caption|{tokenize}|keep('image', 'labels')")

  # The image tower has no head: its pre-logits (embed_dim wide) are the embedding, as LiT with a ViT; the text
  # tower's head maps to embed_dim. A pretrained tower takes its architecture from its file (name="") without
  # the file's head.
  image = common.network("vit", variant=f"mu/{arg.patch}", width=arg.embed_dim, depth=3, mlp_dim=2 * arg.embed_dim,
                         num_heads=4, image_size=arg.res, pool="gap", num_classes=0, frozen=img_locked)
  text = common.network("text_transformer", width=64, depth=2, mlp_dim=128, num_heads=4, vocab_size=arg.vocab_size,
                        max_len=MAX_LEN, num_classes=arg.embed_dim, frozen=txt_locked)
  for tower, init, head in ((image, arg.img_init, 0), (text, arg.txt_init, arg.embed_dim)):
    if init:
      tower.update(dict(name="", init=init, init_skip="head/.*"))
      for key in list(tower.keys()):
        if key not in ("name", "init", "init_skip", "frozen"):
          del tower[key]
      tower.num_classes = head
  config.networks.image = image
  config.networks.text = text
  config.objective = common.objective("contrastive", loss="softmax", temperature_init=10.0)
  config.optimizer = common.optimizer(
      "adam", lr=arg.lr, schedule=common.schedule("cosine", warmup_steps=min(50, max(1, arg.steps // 10))),
      wd=0.1 * arg.lr,  # AdamW-style decay, 0.1 relative to lr (absolute per step, big_vision)
      wd_mults=[(".*/kernel", 1.0)], grad_clip_norm=1.0)

  pp_txt = tokenize  # The evaluators tokenize prompts and captions given under `texts`, as in training.
  test = dict(name=data, split="test")
  config.evals.zeroshot_shapes = dict(type="zero_shot", every_steps=0, data=dict(test), pp_txt=pp_txt,
                                      label_key="label", pp_img="decode|value_range(-1, 1)|keep('image', 'label')",
                                      class_names="mg_shapes_shape", templates="mg_shapes_shape")
  config.evals.zeroshot_colours = dict(type="zero_shot", every_steps=0, data=dict(test), pp_txt=pp_txt,
                                       label_key="colour",
                                       pp_img="decode|value_range(-1, 1)|keep('image', 'colour')",
                                       class_names="mg_shapes_colour", templates="mg_shapes_colour")
  if arg.held_out:  # The same zero-shot tasks on the test images of pairs no training stage saw.
    for name in ("shapes", "colours"):
      held = dict(config.evals[f"zeroshot_{name}"])
      held["data"] = dict(name=combinations_data(data, "held_out"), split="test")
      config.evals[f"zeroshot_{name}_held_out"] = held
  config.evals.retrieval = dict(type="retrieval", every_steps=0, data=dict(test), pp_txt=pp_txt,
                                pp_img="decode|value_range(-1, 1)|keep('image', 'captions')")
  # What `python -m model_garden.export --workdir=...` needs for the LiT SavedModel.
  config.export = dict(tokenizer=arg.vocab, templates="mg_shapes_shape")

  if arg.runlocal:
    common.runlocal(config, batch_size=16, total_steps=10, log_steps=5, eval_examples=32)
  return config
