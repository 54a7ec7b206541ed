"""LiT configs: contrastive image-text tuning with locked, unlocked or from-scratch towers (`mg_shapes_lit`)."""
