"""Transfer: protocols and rules for fine-tuning a pre-trained network on downstream tasks.

  bit_hyperrule   BiT-HyperRule (Kolesnikov et al. 2020): hyperparameters from the dataset's size and
                  resolution (`hyperrule(...)`).
  vtab            the VTAB-1k protocol (Zhai et al. 2019): per task a sweep on train800, selection on
                  val200, retraining on train800val200 and the test accuracy; `vtab_report` its report.

The protocols build trainer configs and run `training.train` per run, so this package sits above
`training/` (which `evaluation/` may not import).
"""

from model_garden.transfer.bit_hyperrule import HyperRule, hyperrule
from model_garden.transfer import vtab_report
from model_garden.transfer.vtab import VtabProtocol, run_vtab, select_best, task_model_spec, zero_head
from model_garden.transfer import gan_labels  # noqa: F401  (CLUSTERING / S2GAN labels from self-supervised features)
