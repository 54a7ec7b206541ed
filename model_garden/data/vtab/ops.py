"""The `vtab_label(task)` preprocessing op and VTAB's preprocessing string.

VTAB-1k preprocessing (task_adaptation `data_loader.py`): `tf.image.resize(image, [224, 224])` (bilinear,
no antialiasing, aspect ratio not kept), scale to the model's input range; no augmentation, no crop. Here
the range is model_garden's [-1, 1]:

  decode(channels=C)|vtab_label('<task>')|resize(224)|value_range(-1, 1)|onehot(N)|keep('image', 'labels')

`decode` comes first so the pipeline reads encoded bytes and names a corrupt image instead of failing
inside tfds.
"""

from __future__ import annotations

from typing import Union

from model_garden.data.preprocess import register
from model_garden.data.vtab.task import Task
from model_garden.data.vtab.tasks import get_task


@register("vtab_label")
def vtab_label(task: str):
  """Applies the label function of VTAB task `task` ("clevr_count"): image to uint8 HxWx3, `label` int64.

  Keys other than `image` and `label` are dropped (VTAB's annotations are ragged and do not batch), except
  the pipeline's private bookkeeping keys.
  """
  label_fn = get_task(task).label_fn

  def op(example):
    out = label_fn(example)
    out.update({k: v for k, v in example.items() if k.startswith("_") or k == "tfds_id"})
    return out
  return op


def task_pp(task: Union[str, Task], image_size: int = 224) -> str:
  """The VTAB preprocessing string of `task` at `image_size` (train and eval: VTAB has no augmentation).

  Example:
    >>> task_pp("dsprites_orientation", 224)  # one string, shown on two lines
    "decode(channels=1)|vtab_label('dsprites_orientation')|resize(224)|value_range(-1, 1)|onehot(16)|
     keep('image', 'labels')"
  """
  task = get_task(task)
  return (f"decode(channels={task.image_channels})|vtab_label('{task.name}')|resize({int(image_size)})|"
          f"value_range(-1, 1)|onehot({task.num_classes})|keep('image', 'labels')")
