"""Vision Transformer configs: the Scaling-ViT pre-training recipe (`train_vit_g`) and mg_shapes training."""
