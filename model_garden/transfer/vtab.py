"""The VTAB-1k protocol: per task, sweep lr x steps on train800, select on val200, retrain on
train800val200, evaluate on test.

Every run is one `model_garden.training.train(config, workdir)` job, built from a model spec, the
`classification` objective and an SGD optimizer config, so each gets the trainer's checkpoints, resume
and `results.json`. Layout under `workdir`:

  <task>/sweep/lr=0.1_steps=2500/        one run per (lr, steps): trained on train800, scored on val200
  <task>/final_lr=0.01_steps=2500/       the best setting retrained on train800val200, scored on test
  <task>/result.json                     the sweep, the choice and the test accuracy
  report.{md,csv,png,json}               per-task accuracy, group means, VTAB mean (see `vtab_report`)

A run whose `results.json` exists is read, not retrained; an interrupted run resumes from its newest
checkpoint (the trainer's resume); each run directory records its settings (`vtab_run.json`) and a rerun
with other settings in the same directory is refused.

Protocol facts (google-research/task_adaptation and the VTAB paper, Zhai et al. 2019):
  * hyperparameter sweep lr in {0.1, 0.01} x steps in {2500, 10000}, batch 512 (the leaderboard's
    `hyper_sweep_size=4`); selection on val200 (issue #8: "we select the hyperparameters using the 200
    validation examples"), then retraining on train800val200 and testing on the full test split;
  * SGD momentum 0.9, no weight decay, softmax cross-entropy, the whole network fine-tuned;
  * piecewise-constant lr, x0.1 at 30/60/90% of the steps (README: 750/1500/2250 of 2500), after a linear
    warmup from 0 (`warmup_fraction` of the steps; task_adaptation's flag defaults to 0,
    `run_all_tasks.sh` uses 80 of 1000 steps). Our decay applies from the boundary step itself, TF's
    `piecewise_constant` one step later;
  * a zero-initialised head (`Dense(num_classes)`) on `pre_logits`, re-created for each task's classes;
  * `resize(224)` bilinear without keeping the aspect ratio, no augmentation; inputs in [-1, 1] (the
    original used [0, 1] by default; model_garden networks take [-1, 1]);
  * evaluation of the last step on every test example (task_adaptation's `drop_remainder=True` silently
    dropped the last partial batch; the evaluator here keeps it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from typing import Any, Dict, List, Optional, Sequence, Union

import keras
import ml_collections
from absl import logging

from model_garden import models
from model_garden.data import DatasetUnavailableError
from model_garden.data.vtab import Task, get_task, prepare_task, select_tasks, splits, task_pp
from model_garden.models.weights import variables_by_path
from model_garden.configs import common
from model_garden.registry import SpecError, format_spec, parse_spec, spec_to_dict
from model_garden.training.networks import network_spec
from model_garden.transfer import vtab_report

RESULT_FILE = "result.json"
RUN_SETTINGS_FILE = "vtab_run.json"


@dataclasses.dataclass
class VtabProtocol:
  """The settings of a VTAB-1k run (VTAB: Zhai et al. 2019, "A Large-scale Study of Representation
  Learning with the Visual Task Adaptation Benchmark", arXiv:1910.04867).

  Attributes:
    lrs, steps: the sweep grid (every lr with every step count).
    batch_size: training batch size.
    image_size: the side images are resized to (bilinear, aspect ratio not kept).
    momentum: SGD momentum.
    warmup_fraction: linear warmup from 0 over this fraction of each run's steps.
    decay_fractions, decay_factor: the piecewise-constant decays.
    eval_batch_size: evaluation batch size (no example is dropped whatever it is).
    head: regex (re.fullmatch on variable paths without the model name) of the head variables: not
      loaded from `init` and set to zero before training.
    seed: seed of the data order and initialisation of every run.
    precision: "float32", "mixed_bfloat16" or "mixed_float16".
    train_split, val_split, final_split, test_split: the VTAB split names of each phase.
    shuffle_buffer: examples in the shuffle buffer (train800val200 has 1000).
    keep_checkpoints: keep the checkpoints of finished runs (deleted by default to save disk).
    keep_sweep_models: keep `model.keras` of finished sweep runs (the final run's is always kept).
    strategy: the trainer's tf.distribute strategy ("default", "mirrored", ...; see training.strategy).

  Example:
    >>> protocol = VtabProtocol(lrs=(0.01,), steps=(500,), batch_size=64)
    >>> report = protocol.run("resnet_small(image_size=224)", "natural", "/tmp/vtab", init="up.keras")
    >>> report["summary"]["natural"]
  """

  lrs: Sequence[float] = (0.1, 0.01)
  steps: Sequence[int] = (2500, 10000)
  batch_size: int = 512
  image_size: int = 224
  momentum: float = 0.9
  warmup_fraction: float = 0.05
  decay_fractions: Sequence[float] = (0.3, 0.6, 0.9)
  decay_factor: float = 0.1
  eval_batch_size: int = 256
  head: str = "head/.*"
  seed: int = 0
  precision: str = "float32"
  train_split: str = "train800"
  val_split: str = "val200"
  final_split: str = "train800val200"
  test_split: str = "test"
  shuffle_buffer: int = 1000
  keep_checkpoints: bool = False
  keep_sweep_models: bool = False
  strategy: str = "default"

  def __post_init__(self):
    self.lrs = tuple(float(lr) for lr in self.lrs)
    self.steps = tuple(int(s) for s in self.steps)
    self.decay_fractions = tuple(float(f) for f in self.decay_fractions)
    if not self.lrs or not self.steps:
      raise ValueError("VtabProtocol needs at least one lr and one step count.")
    if min(self.steps) < 1 or min(self.lrs) <= 0:
      raise ValueError(f"VtabProtocol: steps must be >= 1 and lrs > 0, got {self.steps} and {self.lrs}.")
    if not 0.0 <= self.warmup_fraction < 1.0:
      raise ValueError(f"VtabProtocol.warmup_fraction must be in [0, 1), got {self.warmup_fraction}.")
    for name in ("train_split", "val_split", "final_split", "test_split"):
      if getattr(self, name) not in splits.SPLIT_NAMES:
        raise ValueError(f"VtabProtocol.{name}={getattr(self, name)!r} is no VTAB split; splits: "
                         f"{', '.join(splits.SPLIT_NAMES)}.")

  # -- Configs -------------------------------------------------------------------------------------------
  def warmup_steps(self, steps: int) -> int:
    return int(self.warmup_fraction * steps)

  def run_config(self, model: str, task: Union[str, Task], *, lr: float, steps: int, split: str,
                 evals: Dict[str, str], init: Optional[str] = None,
                 data_dir: Optional[str] = None) -> ml_collections.ConfigDict:
    """The `training.train` config of one run: `model` fine-tuned on `task`'s VTAB split `split` for
    `steps` steps at `lr`, with a classification evaluator per `evals` entry (name -> VTAB split)."""
    task = get_task(task)
    pp = task_pp(task, self.image_size)
    config = common.base_config(seed=self.seed, precision=self.precision, total_steps=int(steps),
                                log_steps=_log_steps(steps), keep_checkpoints=1)
    config.checkpoint_steps = config.log_steps * max(1, 500 // config.log_steps)
    config.input = common.input_config(task.builder, task.split(split), pp=pp, batch_size=self.batch_size,
                                       shuffle_buffer=self.shuffle_buffer, data_dir=data_dir,
                                       cache=True)  # 1000 encoded examples
    config.networks.network = common.network(init=init or "", init_skip=self.head,
                                             **spec_to_dict(task_model_spec(model, task.num_classes,
                                                                            self.image_size)))
    config.objective = common.objective("classification")
    config.optimizer = common.optimizer(
        "sgd", momentum=self.momentum, lr=float(lr), wd_mults=[],
        schedule=common.schedule("piecewise", warmup_steps=self.warmup_steps(steps),
                                 boundaries=tuple(self.decay_fractions), factor=self.decay_factor))
    for name, eval_split in evals.items():
      config.evals[name] = common.classification_eval(task.builder, task.split(eval_split), pp=pp,
                                                      batch_size=self.eval_batch_size)
    config.export = dict(class_names=None)
    return config

  # -- Running -------------------------------------------------------------------------------------------
  def run_task(self, model: str, task: Union[str, Task], workdir: str, *, init: Optional[str] = None,
               data_dir: Optional[str] = None, verbose: Union[int, str] = 0) -> Dict[str, Any]:
    """Sweep, selection, retraining and test of one task in `workdir/<task name>`; returns its result
    (also written to `result.json` there)."""
    task = get_task(task)
    task_dir = os.path.join(workdir, task.name)
    prepared = []

    def run(run_dir, config, is_sweep):
      if not prepared and not _finished(run_dir):
        prepare_task(task, data_dir=data_dir)  # a clear error (manual download, sizes) before training
        prepared.append(True)
      return self._run(run_dir, config, verbose, keep_model=self.keep_sweep_models or not is_sweep)

    sweep = []
    for lr in self.lrs:
      for steps in self.steps:
        name = _run_name(lr, steps)
        config = self.run_config(model, task, lr=lr, steps=steps, split=self.train_split,
                                 evals={"val": self.val_split}, init=init, data_dir=data_dir)
        results = run(os.path.join(task_dir, "sweep", name), config, is_sweep=True)
        sweep.append({"lr": lr, "steps": steps, "val_accuracy": results["val/accuracy"],
                      "val_examples": results["val/num_examples"], "train_loss": results.get("train/loss"),
                      "run": os.path.join("sweep", name)})
    best = select_best(sweep)
    name = "final_" + _run_name(best["lr"], best["steps"])
    config = self.run_config(model, task, lr=best["lr"], steps=best["steps"], split=self.final_split,
                             evals={"test": self.test_split}, init=init, data_dir=data_dir)
    results = run(os.path.join(task_dir, name), config, is_sweep=False)
    expected = _expected_examples(task, self.test_split)
    result = {
        "task": task.name, "display_name": task.display_name, "group": task.group,
        "builder": task.builder, "num_classes": task.num_classes, "model": model, "init": init,
        "sweep": sweep,
        "best": {"lr": best["lr"], "steps": best["steps"], "val_accuracy": best["val_accuracy"]},
        "accuracy": results["test/accuracy"], "test_examples": results["test/num_examples"],
        "expected_test_examples": expected, "train_split": task.split(self.final_split),
        "test_split": task.split(self.test_split), "run": name,
    }
    _write_json(os.path.join(task_dir, RESULT_FILE), result)
    return result

  def run(self, model: str, tasks: Union[str, Sequence[Union[str, Task]]], workdir: str, *,
          init: Optional[str] = None, data_dir: Optional[str] = None, verbose: Union[int, str] = 0,
          report: bool = True) -> Dict[str, Any]:
    """Runs every task of `tasks` ("all", a group, a comma list or Task objects) and writes the report.

    A task whose dataset is unavailable (DatasetUnavailableError, e.g. a missing manual download) is
    recorded under "unavailable" with the reason, and the other tasks still run.

    Returns:
      {"results": [task results], "unavailable": {task: reason}, "summary": group and VTAB means,
       "files": report paths}.
    """
    selected = select_tasks(tasks)
    results, unavailable = [], {}
    for task in selected:
      logging.info("VTAB task %s (%s).", task.name, task.builder)
      try:
        results.append(self.run_task(model, task, workdir, init=init, data_dir=data_dir, verbose=verbose))
      except DatasetUnavailableError as e:
        logging.error("VTAB task %s skipped: %s", task.name, e)
        unavailable[task.name] = str(e)
    out = {"results": results, "unavailable": unavailable, "summary": vtab_report.summarize(results),
           "settings": {"model": model, "init": init, **_jsonable(dataclasses.asdict(self))}}
    if report:
      out["files"] = vtab_report.write_report(out, workdir)
    return out

  def _run(self, run_dir: str, config: ml_collections.ConfigDict, verbose,
           keep_model: bool) -> Dict[str, Any]:
    from model_garden.training import train  # pylint: disable=g-import-not-at-top  (trainer imports all)
    settings = _run_settings(config)
    settings_path = os.path.join(run_dir, RUN_SETTINGS_FILE)
    if os.path.exists(settings_path):
      with open(settings_path) as f:
        recorded = json.load(f)
      if recorded != settings:
        changed = sorted(k for k in set(recorded) | set(settings) if recorded.get(k) != settings.get(k))
        raise ValueError(f"{run_dir} holds a VTAB run with other settings (changed: {', '.join(changed)}). "
                         "Use another --workdir, or delete that directory to rerun it.")
    if _finished(run_dir):
      with open(os.path.join(run_dir, "results.json")) as f:
        return json.load(f)
    _write_json(settings_path, settings)
    results = train(config, run_dir, strategy_name=self.strategy, verbose=verbose,
                    extra_callbacks=[ZeroHeadCallback(self.head)])
    if not self.keep_checkpoints:
      shutil.rmtree(os.path.join(run_dir, "checkpoints"), ignore_errors=True)
    if not keep_model:
      model_file = os.path.join(run_dir, "model.keras")
      if os.path.exists(model_file):
        os.remove(model_file)
    return results


def run_vtab(model: str, tasks: Union[str, Sequence[Union[str, Task]]], workdir: str, *,
             init: Optional[str] = None, data_dir: Optional[str] = None, verbose: Union[int, str] = 0,
             **protocol) -> Dict[str, Any]:
  """`VtabProtocol(**protocol).run(model, tasks, workdir, ...)`.

  Example:
    >>> report = run_vtab("vit(variant='B/16', image_size=224)", "all", "/tmp/vtab", init="vit_b16.keras")
    >>> report["summary"]["vtab"]
  """
  return VtabProtocol(**protocol).run(model, tasks, workdir, init=init, data_dir=data_dir, verbose=verbose)


def select_best(sweep: List[Dict[str, Any]]) -> Dict[str, Any]:
  """The sweep entry with the highest `val_accuracy`; ties go to the earliest entry (sweep order)."""
  if not sweep:
    raise ValueError("select_best needs at least one sweep result.")
  best = sweep[0]
  for entry in sweep[1:]:
    if entry["val_accuracy"] > best["val_accuracy"]:
      best = entry
  return best


def task_model_spec(model: str, num_classes: int, image_size: Optional[int] = None) -> str:
  """`model` with `num_classes` set (and `image_size`, where the factory takes one and the spec has none).

  Example:
    >>> task_model_spec("resnet_small(widths=(8,))", 16, 224)
    'resnet_small(widths=(8,), num_classes=16, image_size=224)'
  """
  name, args, kwargs = parse_spec(model)
  if args:
    raise SpecError(f"Model spec {model!r}: pass arguments by keyword.")
  accepted = models.MODELS.keyword_names(name)
  if accepted is not None and "num_classes" not in accepted:
    raise SpecError(f"Model {name!r} takes no num_classes, so VTAB cannot give it a task head.")
  kwargs["num_classes"] = int(num_classes)
  if image_size is not None and (accepted is None or "image_size" in accepted):
    if kwargs.get("image_size") not in (None, image_size):
      raise SpecError(f"Model spec {model!r} sets image_size={kwargs['image_size']} but the protocol resizes "
                      f"images to {image_size}; make them equal (--image_size={kwargs['image_size']}).")
    kwargs["image_size"] = int(image_size)
  models.MODELS.check_arguments(name, (), kwargs)
  return format_spec(name, (), kwargs)


def zero_head(network: keras.Model, head: str = "head/.*") -> List[str]:
  """Sets the variables matching `head` (re.fullmatch on paths without the model name) to zero; returns
  their paths. Raises ValueError when nothing matches (the network has no such head)."""
  matched = [(path, v) for path, v in variables_by_path(network).items() if re.fullmatch(head, path)]
  if not matched:
    paths = sorted(variables_by_path(network))
    raise ValueError(f"No variable of {network.name} matches the head regex {head!r} (variables: "
                     f"{', '.join(paths[-6:])}, ...). Pass the head's regex (--head=...).")
  for _, variable in matched:
    variable.assign(keras.ops.zeros(variable.shape, variable.dtype))
  return [path for path, _ in matched]


class ZeroHeadCallback(keras.callbacks.Callback):
  """Zeroes the network's head when training starts from step 0 (VTAB's zero-initialised head), after
  the trainer has loaded `init`; a resumed run keeps its trained head."""

  def __init__(self, head: str = "head/.*"):
    super().__init__()
    self.head = head

  def on_train_begin(self, logs=None):
    if int(self.model.optimizer.iterations.numpy()) == 0:
      zero_head(self.model.networks["network"], self.head)


# -- Helpers -------------------------------------------------------------------------------------------------

def _log_steps(steps: int) -> int:
  """The largest divisor of `steps` up to 100 (a Keras epoch; the trainer needs total % log == 0)."""
  return max(d for d in range(1, min(steps, 100) + 1) if steps % d == 0)


def _run_name(lr: float, steps: int) -> str:
  return f"lr={lr:g}_steps={steps}"


def _finished(run_dir: str) -> bool:
  return os.path.exists(os.path.join(run_dir, "results.json"))


def _run_settings(config) -> Dict[str, Any]:
  """What makes a run's results: a finished run is reused only when these are unchanged."""
  network = config.networks.network.to_dict()
  optimizer = config.optimizer.to_dict()
  return _jsonable({
      "model": network_spec(network),
      "init": network["init"] or None, "data": config.input.data.to_dict(),
      "pp": config.input.pp, "batch_size": config.input.batch_size,
      "optimizer": format_spec(optimizer["name"], (), {"momentum": optimizer.get("momentum")}),
      "lr": optimizer["lr"], "schedule": optimizer["schedule"], "total_steps": config.total_steps,
      "seed": config.seed, "precision": config.precision, "init_skip": network["init_skip"] or None,
      "evals": {k: v.data.to_dict() for k, v in config.evals.items()}})


def _expected_examples(task: Task, split: str) -> Optional[int]:
  try:
    return splits.num_examples(task.split(split), task.split_sizes)
  except (KeyError, ValueError):
    return None


def _jsonable(value):
  return json.loads(json.dumps(value, default=list))


def _write_json(path: str, value) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(value, f, indent=2)
    f.write("\n")
  os.replace(tmp, path)
