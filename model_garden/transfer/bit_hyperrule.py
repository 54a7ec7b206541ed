"""BiT-HyperRule: the fine-tuning hyperparameters of "Big Transfer" from two numbers of the target task."""

from __future__ import annotations

import dataclasses
from typing import Dict, Sequence, Tuple, Union

BASE_LR = 0.003
BASE_BATCH = 512
MOMENTUM = 0.9
MIXUP_ALPHA = 0.1
SMALL_AREA = 96 * 96  # Images with a smaller area are resized to 160 and cropped to 128.
# big_transfer's bit_hyperrule.get_schedule: [warmup end, decay, decay, decay, end of training].
_SCHEDULES = ((20_000, (100, 200, 300, 400, 500)),
              (500_000, (500, 3000, 6000, 9000, 10_000)),
              (None, (500, 6000, 12_000, 18_000, 20_000)))


@dataclasses.dataclass(frozen=True)
class HyperRule:
  """What BiT-HyperRule prescribes for one dataset (see `hyperrule`).

  Attributes:
    num_examples, image_size, batch_size: the inputs ((height, width) for the images).
    resize_size: training images are resized to this square first...
    crop_size: ...then randomly cropped to this; test images are resized straight to it (no centre crop),
      and it is the resolution to build the model for.
    total_steps: optimizer steps of the run.
    warmup_steps: linear warmup from 0 (BiT: `lr * step / warmup_steps`).
    decay_steps: the learning rate is divided by 10 after each of these steps (BiT's `s < step`).
    lr: the peak learning rate, 0.003 * batch_size / 512.
    momentum: SGD momentum, 0.9.
    weight_decay: 0: BiT fine-tunes without weight decay.
    mixup_alpha: MixUp Beta(alpha, alpha) parameter: 0.1 from 20k examples on, else 0 (off).
    crop: random crops in training (off for counting tasks, where a crop changes the label).
    flip: random horizontal flips in training (off for orientation tasks).
    train_pp: the image part of the training preprocessing string ("decode|resize(160)|random_crop(128)|
      flip_lr|value_range(-1, 1)"); append the label ops, e.g. "|onehot(10)|keep('image', 'labels')".
    eval_pp: the image part of the evaluation preprocessing string ("decode|resize(128)|value_range(-1, 1)").
  """
  num_examples: int
  image_size: Tuple[int, int]
  batch_size: int
  resize_size: int
  crop_size: int
  total_steps: int
  warmup_steps: int
  decay_steps: Tuple[int, ...]
  lr: float
  momentum: float
  weight_decay: float
  mixup_alpha: float
  crop: bool
  flip: bool
  train_pp: str
  eval_pp: str

  @property
  def schedule(self) -> Dict[str, object]:
    """The `config.optimizer.schedule` block: model_garden's piecewise schedule with BiT's points.

    Piecewise applies a decay from its boundary step on while BiT decays after step `s`, so the
    boundaries are `(s + 1) / total_steps`: the rates then equal `lr_at(step)` at every step.
    """
    boundaries = tuple(round((s + 1) / self.total_steps, 12) for s in self.decay_steps)
    return {"name": "piecewise", "boundaries": boundaries, "factor": 0.1, "warmup_steps": self.warmup_steps}

  @property
  def objective(self) -> Dict[str, object]:
    """The `config.objective` block: softmax cross-entropy, with MixUp when the rule asks for it."""
    return {"name": "classification", "mixup_alpha": self.mixup_alpha}

  def optimizer_config(self) -> Dict[str, object]:
    """The `config.optimizer` block: SGD with momentum, `lr`, the schedule, no weight decay."""
    return {"name": "sgd", "momentum": self.momentum, "lr": self.lr, "schedule": self.schedule,
            "wd": self.weight_decay}

  def lr_at(self, step: int) -> float:
    """The learning rate of optimizer step `step` (from 0) by BiT's `get_lr`; 0 from `total_steps` on."""
    if step < self.warmup_steps:
      return self.lr * step / self.warmup_steps
    if step >= self.total_steps:
      return 0.0
    return self.lr * 0.1 ** sum(1 for s in self.decay_steps if s < step)

  def as_dict(self) -> Dict[str, object]:
    return {**dataclasses.asdict(self), "schedule": self.schedule, "objective": self.objective}


def _image_hw(image_size: Union[int, Sequence[int]]) -> Tuple[int, int]:
  if isinstance(image_size, int) and not isinstance(image_size, bool):
    hw = (image_size, image_size)
  elif isinstance(image_size, (tuple, list)) and len(image_size) in (2, 3):
    hw = tuple(image_size[:2])
  else:
    raise ValueError(f"image_size is an int or (height, width), got {image_size!r}.")
  if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in hw):
    raise ValueError(f"image_size must hold positive integers (height, width), got {image_size!r}. For "
                     "datasets of varying image sizes pass a typical size, e.g. 224 (BiT's choice for pets, "
                     "flowers and ImageNet).")
  return hw  # type: ignore[return-value]


def hyperrule(num_examples: int, image_size: Union[int, Sequence[int]], batch_size: int = BASE_BATCH, *,
              crop: bool = True, flip: bool = True, scale_steps: bool = False,
              base_lr: float = BASE_LR) -> HyperRule:
  """BiT-HyperRule for a dataset of `num_examples` training images of `image_size`.

  The rule of "Big Transfer (BiT)" (Kolesnikov et al. 2020, Sec. 3.3), as google-research/big_transfer's
  `bit_hyperrule.py` and its TF2 colab implement it:

  * resolution: image area below 96x96 -> resize to 160 and random-crop 128; otherwise resize to 512
    and random-crop 480; then a random horizontal flip (really random, unlike big_transfer's TF2/JAX
    input pipeline, which always flips: issue #62). Test images are resized straight to the crop size.
  * schedule (steps of batch 512): below 20k examples 500 steps (warmup 100, decays after 200, 300, 400);
    below 500k 10k steps (warmup 500, decays after 3k, 6k, 9k); otherwise 20k steps (warmup 500, decays
    after 6k, 12k, 18k); linear warmup from 0, each decay x0.1.
  * MixUp with alpha 0.1 from 20k examples on.
  * SGD with momentum 0.9, lr 0.003 * batch_size / 512, no weight decay, softmax cross-entropy.

  Args:
    num_examples: training examples of the target task.
    image_size: their size, an int or (height, width) (a typical one if they vary).
    batch_size: the global batch; the lr scales linearly with it.
    crop: False for tasks where a crop changes the label (counting): training resizes straight to the
      crop size, as the test does.
    flip: False for tasks where a mirror image changes the label (orientation, left/right).
    scale_steps: also scale the steps (and the table's points) by 512 / batch_size, the colab's advice
      for smaller batches; by default the steps are the table's whatever the batch.
    base_lr: the lr at batch 512 (0.003).

  Returns:
    A `HyperRule` with the numbers, the preprocessing strings, `schedule`, `objective` and
    `optimizer_config()` for a model_garden config.

  Example:
    >>> rule = hyperrule(50_000, 32)              # CIFAR-10
    >>> rule.resize_size, rule.crop_size, rule.total_steps, rule.mixup_alpha
    (160, 128, 10000, 0.1)
    >>> rule.train_pp
    'decode|resize(160)|random_crop(128)|flip_lr|value_range(-1, 1)'
  """
  if not isinstance(num_examples, int) or isinstance(num_examples, bool) or num_examples < 1:
    raise ValueError(f"num_examples must be a positive integer (the training set size), got {num_examples!r}.")
  if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
    raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
  hw = _image_hw(image_size)
  resize_size, crop_size = (160, 128) if hw[0] * hw[1] < SMALL_AREA else (512, 480)
  points = next(p for limit, p in _SCHEDULES if limit is None or num_examples < limit)
  if scale_steps:
    points = tuple(max(1, int(round(p * BASE_BATCH / batch_size))) for p in points)
  warmup, *decays, total = points
  if not crop:
    train_ops = [f"resize({crop_size})"]
  else:
    train_ops = [f"resize({resize_size})", f"random_crop({crop_size})"]
  if flip:
    train_ops.append("flip_lr")
  return HyperRule(
      num_examples=num_examples, image_size=hw, batch_size=batch_size, resize_size=resize_size,
      crop_size=crop_size, total_steps=total, warmup_steps=warmup, decay_steps=tuple(decays),
      lr=base_lr * batch_size / BASE_BATCH, momentum=MOMENTUM, weight_decay=0.0,
      mixup_alpha=0.0 if num_examples < 20_000 else MIXUP_ALPHA, crop=bool(crop), flip=bool(flip),
      train_pp="|".join(["decode"] + train_ops + ["value_range(-1, 1)"]),
      eval_pp=f"decode|resize({crop_size})|value_range(-1, 1)")
