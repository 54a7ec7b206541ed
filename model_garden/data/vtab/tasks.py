"""The 19 VTAB tasks (`TASKS`) and extra VTAB-style tasks on `mg_shapes` (`EXTRA_TASKS`).

Facts from google-research/task_adaptation (`task_adaptation/data/*.py`, `scripts/run_all_tasks.sh`,
`docs/data/results.csv`). The split strings are computed from the tfds split sizes recorded in
`split_sizes` (the tfds catalog numbers of the listed versions), not read from a prepared builder, so the
table is the same on every machine, with or without the data; `prepare_task` checks the recorded sizes
against the prepared builder's info and refuses to run if tfds changed them (the slices would move).

Builder versions: task_adaptation's patterns, except `oxford_iiit_pet`, whose 3.x is gone from tfds 4.9
(only 4.0.0, "Add head bounding boxes. Fix corrupt images": same 37 classes and split sizes); the original
pattern is kept in `vtab_builder`.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Union

from model_garden.data.vtab import labels
from model_garden.data.vtab import splits as S
from model_garden.data.vtab.task import EXTRA_GROUP, GROUPS, Task
from model_garden.registry import SpecError, suggestion

_RESISC45_FILES = ("the extracted NWPU-RESISC45.rar: <manual_dir>/NWPU-RESISC45/<class name>/*.jpg "
                   "(45 folders, 31,500 images; https://1drv.ms/u/s!AmgKYzARBl5ca3HNaHIlzp_IXjs)")
_RETINOPATHY_FILES = ("the Kaggle diabetic-retinopathy-detection files "
                      "(https://www.kaggle.com/c/diabetic-retinopathy-detection/data), unpacked: "
                      "<manual_dir>/train/*.jpeg (train.zip.*), <manual_dir>/test/*.jpeg (test.zip.*), "
                      "<manual_dir>/sample/*.jpeg (sample.zip) and <manual_dir>/trainLabels.csv; tfds also "
                      "downloads the test labels (retinopathy_solution.csv), so prepare it where the "
                      "network allows")


def _official_sizes(train, validation, test):
  return {"train": train, "validation": validation, "test": test}


def _build() -> List[Task]:
  image_label = labels.image_label
  return [
      # -- Natural ------------------------------------------------------------------------------------
      Task("caltech101", "Caltech101", "natural", "caltech101:3.*.*", 102, image_label,
           S.percent_of_train(3060, 90), {"train": 3060, "test": 6084},
           vtab_spec="caltech101", vtab_builder="caltech101:3.*.*"),
      Task("cifar100", "CIFAR-100", "natural", "cifar100:3.*.*", 100, image_label,
           S.percent_of_train(50000, 90), {"train": 50000, "test": 10000},
           vtab_spec="cifar(num_classes=100)", vtab_builder="cifar100:3.*.*"),
      Task("dtd", "DTD", "natural", "dtd:3.*.*", 47, image_label,
           S.official(), _official_sizes(1880, 1880, 1880),
           vtab_spec="dtd", vtab_builder="dtd:3.*.*"),
      Task("oxford_flowers102", "Flowers102", "natural", "oxford_flowers102:2.*.*", 102, image_label,
           S.official(), _official_sizes(1020, 1020, 6149),
           vtab_spec="oxford_flowers102", vtab_builder="oxford_flowers102:2.*.*"),
      Task("oxford_iiit_pet", "Pets", "natural", "oxford_iiit_pet:4.*.*", 37, image_label,
           S.percent_of_train(3680, 80), {"train": 3680, "test": 3669},
           vtab_spec="oxford_iiit_pet", vtab_builder="oxford_iiit_pet:3.*.*",
           note="tfds 4.9 only has oxford_iiit_pet 4.0.0 (VTAB used 3.x): same classes and split sizes."),
      Task("svhn", "SVHN", "natural", "svhn_cropped:3.*.*", 10, image_label,
           S.percent_of_train(73257, 90), {"train": 73257, "test": 26032, "extra": 531131},
           vtab_spec="svhn", vtab_builder="svhn_cropped:3.*.*"),
      Task("sun397", "Sun397", "natural", "sun397/tfds:4.*.*", 397, image_label,
           S.official(), _official_sizes(76128, 10875, 21750),
           vtab_spec="sun397", vtab_builder="sun397/tfds:4.*.*"),
      # -- Specialized --------------------------------------------------------------------------------
      Task("patch_camelyon", "Camelyon", "specialized", "patch_camelyon:2.*.*", 2, image_label,
           S.official(), _official_sizes(262144, 32768, 32768),
           vtab_spec="patch_camelyon", vtab_builder="patch_camelyon:2.*.*"),
      Task("eurosat", "EuroSAT", "specialized", "eurosat/rgb:2.*.*", 10, image_label,
           S.three_way(27000, 60, 20), {"train": 27000},
           vtab_spec="eurosat", vtab_builder="eurosat/rgb:2.*.*"),
      Task("resisc45", "Resisc45", "specialized", "resisc45:3.*.*", 45, image_label,
           S.three_way(31500, 60, 20), {"train": 31500},
           vtab_spec="resisc45", vtab_builder="resisc45:3.*.*", manual_download=_RESISC45_FILES),
      Task("diabetic_retinopathy", "Retinopathy", "specialized",
           "diabetic_retinopathy_detection/btgraham-300:3.*.*", 5, image_label,
           S.official(), _official_sizes(35126, 10906, 42670),
           vtab_spec="diabetic_retinopathy(config='btgraham-300')",
           vtab_builder="diabetic_retinopathy_detection/btgraham-300:3.*.*",
           manual_download=_RETINOPATHY_FILES),
      # -- Structured ---------------------------------------------------------------------------------
      Task("clevr_count", "Clevr-Count", "structured", "clevr:3.*.*", 8, labels.clevr_count,
           S.percent_of_train(70000, 90, test="validation"),
           {"train": 70000, "validation": 15000, "test": 15000},
           vtab_spec="clevr(task='count_all')", vtab_builder="clevr:3.*.*",
           note="VTAB's test split is tfds `validation` (tfds `test` has no scene annotations)."),
      Task("clevr_distance", "Clevr-Dist", "structured", "clevr:3.*.*", 6,
           labels.clevr_closest_object_distance,
           S.percent_of_train(70000, 90, test="validation"),
           {"train": 70000, "validation": 15000, "test": 15000},
           vtab_spec="clevr(task='closest_object_distance')", vtab_builder="clevr:3.*.*",
           note="VTAB's test split is tfds `validation` (tfds `test` has no scene annotations)."),
      Task("dmlab", "DMLab", "structured", "dmlab:2.0.1", 6, image_label,
           S.official(), _official_sizes(65550, 22628, 22735),
           vtab_spec="dmlab", vtab_builder="dmlab:2.0.1"),
      Task("kitti_distance", "KITTI-Dist", "structured", "kitti:3.1.0", 4,
           labels.kitti_closest_vehicle_distance,
           S.official(), _official_sizes(6347, 423, 711),
           vtab_spec="kitti(task='closest_vehicle_distance')", vtab_builder="kitti:3.1.0"),
      Task("dsprites_location", "dSpr-Loc", "structured", "dsprites:2.*.*", 16,
           labels.dsprites("label_x_position", 32, 16),
           S.three_way(737280, 80, 10), {"train": 737280}, image_channels=1,
           vtab_spec="dsprites(predicted_attribute='label_x_position', num_classes=16)",
           vtab_builder="dsprites:2.*.*"),
      Task("dsprites_orientation", "dSpr-Orient", "structured", "dsprites:2.*.*", 16,
           labels.dsprites("label_orientation", 40, 16),
           S.three_way(737280, 80, 10), {"train": 737280}, image_channels=1,
           vtab_spec="dsprites(predicted_attribute='label_orientation', num_classes=16)",
           vtab_builder="dsprites:2.*.*"),
      Task("smallnorb_azimuth", "sNORB-Azim", "structured", "smallnorb:2.*.*", 18,
           labels.smallnorb("label_azimuth"),
           S.test_as_val(50), {"train": 24300, "test": 24300}, image_channels=1,
           vtab_spec="smallnorb(predicted_attribute='label_azimuth')", vtab_builder="smallnorb:2.*.*"),
      Task("smallnorb_elevation", "sNORB-Elev", "structured", "smallnorb:2.*.*", 9,
           labels.smallnorb("label_elevation"),
           S.test_as_val(50), {"train": 24300, "test": 24300}, image_channels=1,
           vtab_spec="smallnorb(predicted_attribute='label_elevation')", vtab_builder="smallnorb:2.*.*"),
  ]


def _build_extra() -> List[Task]:
  sizes = _official_sizes(10000, 1000, 2000)  # mg_shapes/px32
  return [
      Task("mg_shapes_count", "Shapes-Count", EXTRA_GROUP, "mg_shapes/px32", 4, labels.mg_shapes_count,
           S.official(), sizes, note="Not VTAB: the embedded mg_shapes dataset, count 1..4 -> 0..3."),
      Task("mg_shapes_position", "Shapes-Pos", EXTRA_GROUP, "mg_shapes/px32", 5, labels.mg_shapes_position,
           S.official(), sizes, note="Not VTAB: the embedded mg_shapes dataset, 5 regions."),
  ]


TASKS: Dict[str, Task] = {task.name: task for task in _build()}
EXTRA_TASKS: Dict[str, Task] = {task.name: task for task in _build_extra()}


def get_task(name: Union[str, Task]) -> Task:
  """The VTAB task (or extra task) called `name`; a `Task` is returned as is."""
  if isinstance(name, Task):
    return name
  if name in TASKS:
    return TASKS[name]
  if name in EXTRA_TASKS:
    return EXTRA_TASKS[name]
  known = list(TASKS) + list(EXTRA_TASKS)
  raise SpecError(f"Unknown VTAB task {name!r}. {suggestion(name, known)} Groups: all, "
                  f"{', '.join(GROUPS)}.")


def task_names(group: str = "all") -> List[str]:
  """The official task names of `group` ("all", "natural", "specialized" or "structured"), in order."""
  if group == "all":
    return list(TASKS)
  if group not in GROUPS:
    raise SpecError(f"Unknown VTAB group {group!r}; groups: all, {', '.join(GROUPS)}.")
  return [name for name, task in TASKS.items() if task.group == group]


def select_tasks(selection: Union[str, Sequence[Union[str, Task]]]) -> List[Task]:
  """Tasks named by a comma list of task and group names ("natural,clevr_count"), without duplicates.

  Example:
    >>> [t.name for t in select_tasks("specialized")]
    ['patch_camelyon', 'eurosat', 'resisc45', 'diabetic_retinopathy']
  """
  items = [s.strip() for s in selection.split(",")] if isinstance(selection, str) else list(selection)
  tasks, seen = [], set()
  for item in items:
    if isinstance(item, str) and not item:
      continue
    if isinstance(item, str) and (item == "all" or item in GROUPS):
      found = [TASKS[name] for name in task_names(item)]
    else:
      found = [get_task(item)]
    for task in found:
      if task.name not in seen:
        seen.add(task.name)
        tasks.append(task)
  if not tasks:
    raise SpecError(f"No VTAB task selected by {selection!r}; name tasks or groups "
                    f"(all, {', '.join(GROUPS)}).")
  return tasks
