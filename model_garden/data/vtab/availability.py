"""`prepare_task`: the prepared tfds builder of a VTAB task, or an error saying which files to put where."""

from __future__ import annotations

import os
from typing import Optional, Union

from model_garden.data.pipeline import DatasetUnavailableError, default_data_dir, get_builder
from model_garden.data.vtab.task import Task
from model_garden.data.vtab.tasks import get_task


class SplitSizeMismatchError(RuntimeError):
  """The prepared tfds dataset's split sizes differ from the ones VTAB's split strings were computed for."""


def manual_dir(data_dir: Optional[str] = None) -> str:
  """Where tfds (and `get_builder`) look for manually downloaded files: `<data_dir>/downloads/manual`."""
  return os.path.join(data_dir or default_data_dir(), "downloads", "manual")


def prepare_task(task: Union[str, Task], data_dir: Optional[str] = None, download: bool = True,
                 check_sizes: bool = True):
  """The prepared tfds builder of `task`, preparing it if allowed (see `data.get_builder`).

  Raises:
    DatasetUnavailableError: the dataset is not prepared and cannot be prepared here; for the datasets
      that need a manual download (resisc45, diabetic_retinopathy_detection) the message lists the files
      and the manual_dir to put them in.
    SplitSizeMismatchError: the prepared split sizes differ from `task.split_sizes`, so VTAB's slices
      (e.g. `val200 = train[45000:45200]`) would select other examples.
  """
  task = get_task(task)
  try:
    builder = get_builder(task.builder, data_dir=data_dir, download=download)
  except DatasetUnavailableError as e:
    if task.manual_download:
      raise DatasetUnavailableError(
          f"VTAB task {task.name!r} needs tfds {task.builder}, which tfds cannot download: put "
          f"{task.manual_download} into manual_dir={manual_dir(data_dir)} (<manual_dir> above), then rerun "
          f"(it is prepared on first use). Details: {e}") from None
    raise DatasetUnavailableError(f"VTAB task {task.name!r}: {e}") from None
  if check_sizes:
    check_split_sizes(task, builder)
  return builder


def check_split_sizes(task: Task, builder) -> None:
  """Raises SplitSizeMismatchError if the builder's known split sizes differ from `task.split_sizes`.

  Splits the builder does not know (e.g. under `tfds.testing.mock_data`) are not checked.
  """
  known = {name: info.num_examples for name, info in builder.info.splits.items()}
  wrong = {name: (size, known[name]) for name, size in task.split_sizes.items()
           if name in known and known[name] and known[name] != size}
  if wrong:
    details = ", ".join(f"{name}: expected {want}, prepared {got}" for name, (want, got) in wrong.items())
    raise SplitSizeMismatchError(
        f"VTAB task {task.name!r}: the prepared {builder.info.full_name} has other split sizes than VTAB's "
        f"split strings assume ({details}). Prepare the version VTAB used ({task.builder}; task_adaptation: "
        f"{task.vtab_builder}) or pass check_sizes=False knowing that train/val slices will differ.")
