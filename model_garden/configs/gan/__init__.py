"""GAN training configs (the compare_gan line).

  python -m model_garden.train --config=model_garden/configs/gan/<name>.py --workdir=DIR
"""
