"""Grids of generated images: a PNG per evaluation and a TensorBoard image summary (a fit callback)."""

from __future__ import annotations

import math
import os
from typing import Optional

import keras
import numpy as np
import tensorflow as tf
from PIL import Image


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


class GanSamplesCallback(keras.callbacks.Callback):
  """Writes a grid of samples from fixed latents every `every_steps` generator steps (at epoch ends).

  `samples/step_{step:08d}.png` under `directory` (PIL) and an image summary `samples` in `logdir`
  (TensorBoard). The same latents (and labels: class i % label_classes) are used every time, so the grids
  show how one set of samples evolves. The generator is `objective.sampling_generator()`: the EMA
  generator if the GAN keeps one.

  Args:
    directory: where `samples/*.png` go (None: no PNG).
    logdir: TensorBoard directory (None: no summary).
    num_samples: images per grid (a square number gives a square grid).
    every_steps: period in generator steps (0: every epoch end).
    seed: seed of the fixed latents.

  Example:
    >>> gan.fit(ds, epochs=10, steps_per_epoch=100,
    ...         callbacks=[GanSamplesCallback("workdir", "workdir/tensorboard", every_steps=500)])
  """

  def __init__(self, directory: Optional[str], logdir: Optional[str] = None, num_samples: int = 64,
               every_steps: int = 0, seed: int = 0):
    super().__init__()
    self.directory, self.logdir = directory, logdir
    self.num_samples, self.every_steps, self.seed = int(num_samples), int(every_steps), int(seed)
    self._writer = None
    self.last_path = None

  def samples(self):
    generator = self.model.sampling_generator() if hasattr(self.model, "sampling_generator") else self.model
    z = generator.sample_latents(self.num_samples, self.seed)
    labels = None
    if getattr(generator, "label_classes", 0):
      labels = tf.range(self.num_samples) % generator.label_classes
    return tf.cast(generator(z, labels=labels, training=False), tf.float32).numpy()

  def on_epoch_end(self, epoch, logs=None):
    step = int(self.model.optimizer.iterations.numpy())
    if self.every_steps and step % self.every_steps:
      return
    grid = image_grid(self.samples())
    if self.directory:
      folder = os.path.join(self.directory, "samples")
      os.makedirs(folder, exist_ok=True)
      self.last_path = os.path.join(folder, f"step_{step:08d}.png")
      Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(self.last_path)
    if self.logdir:
      if self._writer is None:
        self._writer = tf.summary.create_file_writer(os.path.join(self.logdir, "samples"))
      with self._writer.as_default():
        tf.summary.image("samples", grid[None], step=step)
      self._writer.flush()
