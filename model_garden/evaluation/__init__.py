"""Evaluators: read a network's named intermediates or logits on a dataset and return numbers.

`EVALUATORS.get("name(k=v)")` builds one by spec. Evaluators may import models/, data/ and layers/,
never objectives/ or the trainer.
"""

from model_garden.evaluation.classification import ClassificationEvaluator
from model_garden.evaluation.registry import EVALUATORS, register
from model_garden.evaluation.fewshot import FewShotEvaluator
from model_garden.evaluation.fewshot_callback import FewShotCallback
from model_garden.evaluation import mce  # noqa: F401
