"""Robustness evaluation sets and their label spaces (Djolonga et al. 2021; robustness_metrics).

ImageNet-V2 (three variants), ImageNet-A and ImageNet-R (200-class subsets), ImageNet-C (tfds
`imagenet2012_corrupted`), ReaL, ObjectNet (113 overlapping classes) and the video sets ImageNet-Vid-Robust
and YTBB-Robust (pm-k), each with the label space of its authors' code; plus mg_shapes variants that run
offline. The class lists are JSON data in `data/` (see `class_lists.py` for their sources).

Importing the package registers the pp ops `labelset`, `crop_border`, `mg_shapes_real` and the dataset specs
`objectnet(root=...)`, `imagenet_vid_robust(root=...)`, `ytbb_robust(root=...)` for `get_dataset`.
"""

from model_garden.data.robustness import ops  # noqa: F401  (registers pp ops)
from model_garden.data.robustness.catalog import (OOD_DATASETS, canonical_spec, get_ood_dataset,
                                                  split_specs)
from model_garden.data.robustness.class_lists import (imagenet_a_classes, imagenet_r_classes,
                                                      objectnet_classes, objectnet_groups, subset_classes,
                                                      video_class_names, video_groups)
from model_garden.data.robustness.label_space import LabelSpace
from model_garden.data.robustness.objectnet_folder import ObjectNetFolder
from model_garden.data.robustness.ood_dataset import CorruptionsUnavailableError, OodDataset
from model_garden.data.robustness.video_robust_folder import VideoRobustFolder
