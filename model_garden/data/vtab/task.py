"""`Task`: one VTAB task - a tfds builder, its VTAB splits, its class count and its label function."""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, Mapping, Optional

from model_garden.registry import SpecError

GROUPS = ("natural", "specialized", "structured")
EXTRA_GROUP = "extra"  # tasks outside the benchmark (mg_shapes); never counted in the VTAB means

Example = Dict[str, object]


@dataclasses.dataclass(frozen=True)
class Task:
  """A task of the Visual Task Adaptation Benchmark (Zhai et al. 2019, "A Large-scale Study of
  Representation Learning with the Visual Task Adaptation Benchmark", arXiv:1910.04867).

  Everything the VTAB-1k protocol needs to build a training or evaluation pipeline for the task:
  the tfds builder, the seven VTAB splits as tfds slicing strings, the number of classes and the
  function turning a decoded tfds example into `{"image": uint8 HxWx3, "label": int64}`.

  Attributes:
    name: the task name used by `get_task`, configs, workdirs and reports ("clevr_count").
    display_name: the column name of VTAB's leaderboard (`docs/data/results.csv`: "Clevr-Count").
    group: "natural", "specialized", "structured", or "extra" (outside the benchmark).
    builder: the tfds name, config and version pattern loaded here ("clevr:3.*.*").
    num_classes: the head size.
    label_fn: tfds example dict (image decoded, uint8) -> {"image": uint8 HxWx3, "label": int64}; pure TF,
      usable inside `tf.data` (see `model_garden.data.vtab.labels`).
    splits: split name ("train", "val", "trainval", "test", "train800", "val200", "train800val200") ->
      tfds slicing string.
    split_sizes: the tfds split sizes of `builder` that the slicing strings were computed from (tfds
      catalog numbers, checked against the builder's info by `prepare_task` when the data is prepared).
    image_channels: channels of the stored tfds image (1 for dSprites and smallNORB, tiled to 3 by
      `label_fn`).
    vtab_spec: the task's spec in google-research/task_adaptation's registry ("clevr(task='count_all')").
    vtab_builder: the builder string task_adaptation loads (differs from `builder` where the installed
      tfds no longer has that version).
    manual_download: for datasets tfds cannot download, what to put in `<data_dir>/downloads/manual`.
    note: deviations from task_adaptation, if any.

  Example:
    >>> task = model_garden.data.vtab.get_task("clevr_count")
    >>> task.splits["train800val200"]
    'train[:800]+train[63000:63200]'
    >>> ds = model_garden.data.get_dataset(task.builder, task.splits["test"], batch_size=256,
    ...                                    pp=model_garden.data.vtab.task_pp(task), train=False)
  """

  name: str
  display_name: str
  group: str
  builder: str
  num_classes: int
  label_fn: Callable[[Example], Example] = dataclasses.field(repr=False, compare=False)
  splits: Mapping[str, str] = dataclasses.field(repr=False)
  split_sizes: Mapping[str, int] = dataclasses.field(repr=False)
  image_channels: int = 3
  vtab_spec: str = ""
  vtab_builder: str = ""
  manual_download: str = ""
  note: str = ""

  def __post_init__(self):
    if self.group not in GROUPS + (EXTRA_GROUP,):
      raise ValueError(f"Task {self.name!r}: group must be one of {GROUPS + (EXTRA_GROUP,)}, "
                       f"got {self.group!r}.")
    if self.num_classes < 2:
      raise ValueError(f"Task {self.name!r}: num_classes must be >= 2, got {self.num_classes}.")

  @property
  def official(self) -> bool:
    """Whether the task is one of VTAB's 19 (counted in the benchmark means)."""
    return self.group in GROUPS

  def split(self, name: str) -> str:
    """The tfds slicing string of VTAB split `name` ("train800val200")."""
    if name not in self.splits:
      raise SpecError(f"Task {self.name!r} has no split {name!r}; splits: {', '.join(self.splits)}.")
    return self.splits[name]

  def with_builder(self, builder: str, split_sizes: Optional[Mapping[str, int]] = None) -> "Task":
    """The same task read from another builder (e.g. a small custom `mg_shapes` config); the split strings
    stay, so the builder must have the same split names and at least as many examples as they slice."""
    return dataclasses.replace(self, builder=builder,
                               split_sizes=dict(split_sizes) if split_sizes is not None else {})
