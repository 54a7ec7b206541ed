"""VTAB: the 19 tasks of the Visual Task Adaptation Benchmark as data (Zhai et al. 2019, arXiv:1910.04867).

  TASKS                  name -> `Task` for the 19 official tasks (7 natural, 4 specialized, 8 structured)
  EXTRA_TASKS            VTAB-style tasks on the embedded mg_shapes dataset (not part of the benchmark)
  get_task(name)         a task by name; select_tasks("natural,clevr_count") a list
  task_pp(task, size)    VTAB's preprocessing string (`vtab_label(task)` pp op: label function + RGB)
  prepare_task(task)     the prepared tfds builder, or an error naming the files a manual download needs
  labels                 the structured label functions (pure TF, example dict -> image + label)
  splits                 the split-string rules and `num_examples(spec, sizes)`
  mock_vtab_data()       fake data for every VTAB builder (offline tests)

The protocol that trains on these (sweep, select on val200, retrain on train800val200, test) is
`model_garden.transfer.vtab`.
"""

from model_garden.data.vtab import labels, splits
from model_garden.data.vtab.availability import (SplitSizeMismatchError, check_split_sizes, manual_dir,
                                                 prepare_task)
from model_garden.data.vtab.mock import mock_vtab_data
from model_garden.data.vtab.ops import task_pp, vtab_label
from model_garden.data.vtab.splits import SPLIT_NAMES
from model_garden.data.vtab.task import EXTRA_GROUP, GROUPS, Task
from model_garden.data.vtab.tasks import EXTRA_TASKS, TASKS, get_task, select_tasks, task_names
