"""Evaluators: read a network's named intermediates or logits on a dataset and return numbers.

`EVALUATORS.get("name(k=v)")` builds one by spec. Evaluators may import models/, data/ and layers/,
never objectives/ or the trainer.
"""

from model_garden import backends as _backends

_backends.tensorflow("model_garden.evaluation (tf.data evaluators)")

from model_garden.evaluation.classification import ClassificationEvaluator
from model_garden.evaluation.registry import EVALUATORS, register
from model_garden.evaluation.fewshot import FewShotEvaluator
from model_garden.evaluation import mce  # noqa: F401
from model_garden.evaluation.linear_probe import LinearProbe
from model_garden.evaluation.real import evaluate_real, real_accuracy
from model_garden.evaluation.real_metric import RealAccuracy
from model_garden.evaluation.video_pmk import pm_k_accuracy
from model_garden.evaluation.retrieval import RetrievalEvaluator
from model_garden.evaluation.zero_shot import ZeroShotEvaluator
from model_garden.evaluation.gan_evaluator import GanEvaluator
from model_garden.evaluation.gan_metrics import frechet_distance, inception_score, kernel_inception_distance
from model_garden.evaluation.gan_samples import GanSamples
from model_garden.evaluation.common import EvaluatorCallback, ScheduledEvaluator, build_evaluators, run_evaluator
