"""Grids of generated images: a PNG per evaluation and a TensorBoard image summary (`gan_samples`)."""

from __future__ import annotations

import math
import os
from typing import Dict, Optional

import numpy as np
import tensorflow as tf
from PIL import Image

from model_garden.evaluation.registry import register


def image_grid(images, columns: Optional[int] = None) -> np.ndarray:
  """(n, h, w, c) images in [-1, 1] -> one uint8 (rows*h, columns*w, c) grid, row-major, empty cells black."""
  images = np.asarray(images, dtype=np.float32)
  if images.ndim != 4:
    raise ValueError(f"image_grid takes a batch (n, h, w, c), got shape {images.shape}.")
  n, h, w, c = images.shape
  columns = columns or int(math.ceil(math.sqrt(n)))
  rows = int(math.ceil(n / columns))
  pixels = np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)
  grid = np.zeros((rows * h, columns * w, c), np.uint8)
  for i in range(n):
    r, col = divmod(i, columns)
    grid[r * h:(r + 1) * h, col * w:(col + 1) * w] = pixels[i]
  return grid


class GanSamples:
  """Writes a grid of samples from fixed latents (the `gan_samples` evaluator): a PNG and a TensorBoard image.

  `samples/step_{step:08d}.png` under the training workdir (PIL) and an image summary `samples` in
  `workdir/tensorboard/samples`. The same latents (and labels: class i % label_classes) are used every time,
  so the grids show how one set of samples evolves. The trainer runs it on the GAN's sampling generator (the
  EMA generator if the GAN keeps one), every `every_steps` of its `config.evals` entry and at the end.

  Args:
    num_samples: images per grid (a square number gives a square grid).
    seed: seed of the fixed latents.
    directory: where `samples/*.png` go when the trainer gives no workdir (None: no PNG).

  Example:
    >>> config.evals.samples = dict(type="gan_samples", every_steps=2000, num_samples=64)
    >>> GanSamples(num_samples=16).run(generator, step=0, workdir="/tmp/run")   # writes samples/step_00000000.png
  """

  def __init__(self, num_samples: int = 64, seed: int = 0, directory: Optional[str] = None):
    self.num_samples, self.seed, self.directory = int(num_samples), int(seed), directory
    self._writers = {}
    self.last_path = None

  def samples(self, generator) -> np.ndarray:
    """The fixed latents' samples, float32 (n, h, w, c) in [-1, 1]."""
    z = generator.sample_latents(self.num_samples, self.seed)
    labels = None
    if getattr(generator, "label_classes", 0):
      labels = tf.range(self.num_samples) % generator.label_classes
    return tf.cast(generator(z, labels=labels, training=False), tf.float32).numpy()

  def run(self, generator, step: Optional[int] = None, workdir: Optional[str] = None) -> Dict[str, float]:
    step = int(step or 0)
    grid = image_grid(self.samples(generator))
    directory = workdir or self.directory
    if directory:
      folder = os.path.join(directory, "samples")
      os.makedirs(folder, exist_ok=True)
      self.last_path = os.path.join(folder, f"step_{step:08d}.png")
      Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(self.last_path)
    if workdir:
      logdir = os.path.join(workdir, "tensorboard", "samples")
      if logdir not in self._writers:
        self._writers[logdir] = tf.summary.create_file_writer(logdir)
      with self._writers[logdir].as_default():
        tf.summary.image("samples", grid[None], step=step)
      self._writers[logdir].flush()
    return {}


@register("gan_samples")
def gan_samples(*, num_samples: int = 64, seed: int = 0, directory: Optional[str] = None) -> GanSamples:
  """Spec factory: `gan_samples(num_samples=64)`; a grid of fixed-latent samples per run."""
  return GanSamples(num_samples=num_samples, seed=seed, directory=directory)
