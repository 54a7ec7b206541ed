"""BiT configs: fine-tuning with BiT-HyperRule (`hyperrule`) and BiT-S/M upstream pre-training (`upstream`)."""
