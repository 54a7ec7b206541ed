"""SS-GAN: a GAN whose discriminator also predicts the rotation of its inputs (an auxiliary 4-way head)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from model_garden.layers import normalized_layers
from model_garden.layers.symbolic import output_spec
from model_garden.models.gan.discriminator import kernel_norm_of
from model_garden.objectives.gan import GAN
from model_garden.objectives.objective import register

NUM_ROTATIONS = 4
ROTATION_LOGS = ("rotation_loss_d", "rotation_loss_g", "rotation_accuracy_real")


def head_kernel_norm(discriminator) -> str:
  """The kernel reparameterisation of `discriminator`'s layers ("spectral", "weight" or "none").

  compare_gan gives the auxiliary heads spectral norm exactly when D uses it (`use_sn` of the architecture).
  """
  kernel_norm = getattr(discriminator, "kernel_norm", None)
  if isinstance(kernel_norm, str):
    return kernel_norm
  return kernel_norm_of(getattr(discriminator, "spectral_norm", False), getattr(discriminator, "weight_norm", False),
                        discriminator.name)


def rotations(images) -> tf.Tensor:
  """[n, S, S, C] -> [3n, S, S, C]: the images rotated by 90, 180 and 270 degrees, rotation-major.

  Counter-clockwise, `np.rot90(image, k)` for k = 1, 2, 3 (compare_gan's `rotate_images(rot90_scalars=(1, 2,
  3))` and `objectives.ssl.pretext.rotate_images`); all n images at 90 degrees first, then at 180, then 270.
  """
  rot90 = tf.transpose(tf.reverse(images, [2]), [0, 2, 1, 3])
  rot180 = tf.reverse(images, [1, 2])
  rot270 = tf.reverse(tf.transpose(images, [0, 2, 1, 3]), [2])
  return tf.concat([rot90, rot180, rot270], axis=0)


def rotation_cross_entropy(logits, labels) -> tf.Tensor:
  """-mean(log(softmax(logits)[label] + 1e-10)): compare_gan's rotation loss, epsilon included."""
  log_probs = tf.math.log(tf.nn.softmax(tf.cast(logits, tf.float32)) + 1e-10)
  return -tf.reduce_mean(tf.reduce_sum(tf.one_hot(labels, NUM_ROTATIONS) * log_probs, axis=1))


@keras.saving.register_keras_serializable("model_garden")
class SSGAN(GAN):
  """Self-supervised GAN: the discriminator also classifies the rotation of real and generated images.

  "Self-Supervised GANs via Auxiliary Rotation Loss" (Chen, Zhai, Ritter, Lucic, Houlsby, CVPR 2019), as
  compare_gan's `gans/ssgan.py`. Everything of `GAN` (n_disc slices, losses, penalties, EMA, stateless draws,
  two optimizers, distribution) holds; each step (D and G) changes as follows. With b the images of one
  step (per replica) and n = rotated_batch_fraction * b / 4, the last n real and the last n generated
  images are rotated by 90, 180 and 270 degrees and appended, and ONE discriminator call sees

    concat(real [b], rotated real [3n], fake [b], rotated fake [3n])   (rotated: all at 90, then 180, 270)

  so batch norm in D sees all of them. The GAN loss uses the b upright real and b upright fake logits. A
  rotation head (a linear layer to 4 logits on D's `pre_logits`, spectrally or weight normalised when D's
  layers are, D's kernel initialiser; owned by this objective, trained by `d_optimizer`) reads every image;
  the rotation cross-entropy CE_rot covers the last 4n images of each half: the n upright originals (label
  0) and their 3n rotations (labels 1, 2, 3), labels [0]*n + [1]*n + [2]*n + [3]*n. Then

    L_D = L_D^GAN + penalty_weight * penalty + weight_rotation_loss_d * CE_rot(real)    (beta = 1)
    L_G = L_G^GAN + weight_rotation_loss_g * CE_rot(fake)                              (alpha = 0.2)

  CE_rot is compare_gan's -mean(log(softmax + 1e-10)). The penalty's discriminator calls see upright
  images only (no head), as compare_gan. `self_supervision="rotation_only"` drops the GAN loss (and the
  penalty, which compare_gan multiplies by 0 too; pass penalty="none"): D learns rotations of real images
  only, G is trained to make its samples' rotations recognisable.

  Which images rotate: `rotated_batch_fraction` f in (0, 1] is the share of a step's batch in the rotation
  loss, f * b images of each kind (n = f * b / 4 originals, each in 4 orientations; 3n extra images per
  kind). f * b must be a multiple of 4. compare_gan's SSGAN takes `rotated_batch_size` R over all replicas
  instead: f = R / (global batch of one step); compare_gan's S3GAN takes a divisor k: f = 1 / k.

  Conditional GANs (projection discriminator): each rotated copy carries its own image's label: rotated
  reals the real labels, rotated fakes the fakes' sampled labels. compare_gan's SSGAN tiles the REAL
  labels for the rotated fakes (`sampled_y_rotated = tf.tile(y[-n:], ...)`), a bug that its S3GAN's
  `merge_with_rotation_data` does not have; this port follows S3GAN.

  Logged besides GAN's: `rotation_loss_d` (CE_rot on reals, D steps), `rotation_loss_g` (CE_rot on fakes,
  G step), `rotation_accuracy_real` (rotation accuracy on the 4n real images, D steps).

  Args:
    self_supervision: "rotation_gan" (GAN + rotation losses) or "rotation_only".
    rotated_batch_fraction: share f of a step's batch in the rotation loss (see above; 1.0: b / 4 images
      get rotated, the D call sees 3.5 b images).
    weight_rotation_loss_d: weight of CE_rot(real) in L_D (compare_gan and the paper's beta: 1.0).
    weight_rotation_loss_g: weight of CE_rot(fake) in L_G (alpha: 0.2).
    Others: see `GAN`.

  Example:
    >>> g = model_garden.models.get("sndcgan_generator(image_size=32)")
    >>> d = model_garden.models.get("sndcgan_discriminator(image_size=32, spectral_norm=True)")
    >>> gan = model_garden.objectives.get("ssgan(rotated_batch_fraction=0.5)", generator=g, discriminator=d)
    >>> with strategy.scope():
    ...   gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, 0.5), g_optimizer=keras.optimizers.Adam(2e-4, 0.5))
    ...   gan.build_for_training()   # builds the rotation head and its optimizer state too
    >>> gan.fit(dataset, epochs=10, steps_per_epoch=1000)
  """

  SELF_SUPERVISION = ("rotation_gan", "rotation_only")

  def __init__(self, network=None, discriminator=None, generator=None, self_supervision: str = "rotation_gan",
               rotated_batch_fraction: float = 1.0, weight_rotation_loss_d: float = 1.0,
               weight_rotation_loss_g: float = 0.2, **kwargs):
    kind = type(self).__name__
    if self_supervision not in self.SELF_SUPERVISION:
      raise ValueError(f"{kind}: self_supervision must be one of {self.SELF_SUPERVISION}, got "
                       f"{self_supervision!r}.")
    fraction = float(rotated_batch_fraction)
    if not 0.0 < fraction <= 1.0:
      raise ValueError(f"{kind}: rotated_batch_fraction is the share of a discriminator step's batch in the "
                       f"rotation loss, in (0, 1]; got {rotated_batch_fraction}. compare_gan's S3GAN took a "
                       "divisor k (batch // k images): pass 1 / k.")
    if self_supervision == "rotation_only" and kwargs.get("penalty", "none") != "none":
      raise ValueError(f"{kind}: self_supervision='rotation_only' trains no GAN loss and no penalty "
                       "(compare_gan multiplies both by 0); use penalty='none'.")
    super().__init__(network=network, discriminator=discriminator, generator=generator, **kwargs)
    self.self_supervision = self_supervision
    self.rotated_batch_fraction = fraction
    self.weight_rotation_loss_d = float(weight_rotation_loss_d)
    self.weight_rotation_loss_g = float(weight_rotation_loss_g)
    self.rotation = self_supervision != "none"
    self.rotation_head = None
    if self.rotation:
      self.rotation_head = self.make_head(NUM_ROTATIONS, "rotation_head")
      self.add_log_trackers(ROTATION_LOGS)

  def make_head(self, units: int, name: str):
    d = self.discriminator
    return normalized_layers.dense(units, name=name, kernel_norm=head_kernel_norm(d),
                                   init=getattr(d, "init", "normal"))

  # -- Heads ---------------------------------------------------------------------------------------------
  def heads(self):
    return [self.rotation_head] if self.rotation_head is not None else []

  def build_heads(self):
    dim = self._pre_logits_dim()
    for head in self.heads():
      if not head.built:
        head.build((None, dim))

  def _pre_logits_dim(self) -> int:
    d = self.discriminator
    images = keras.KerasTensor((1, d.image_size, d.image_size, d.channels))
    if d.label_classes:
      fn = lambda x, y: d.forward(x, labels=y)[1]["pre_logits"]  # noqa: E731
      spec = output_spec(fn, images, keras.KerasTensor((1, d.label_classes)))
    else:
      spec = output_spec(lambda x: d.forward(x)[1]["pre_logits"], images)
    if len(spec.shape) != 2:
      raise ValueError(f"{type(self).__name__} puts its heads on the discriminator's `pre_logits`, which must "
                       f"be (batch, features); {d.name} gives {spec.shape}.")
    return int(spec.shape[-1])

  # -- The rotation batch --------------------------------------------------------------------------------
  def rotated_examples(self, batch_size: int) -> int:
    """n: how many of a step's `batch_size` real (and fake) images are rotated (each 3 times)."""
    count = self.rotated_batch_fraction * batch_size
    rounded = int(round(count))
    if abs(count - rounded) > 1e-6 or rounded % NUM_ROTATIONS or rounded == 0:
      raise ValueError(
          f"{type(self).__name__}: rotated_batch_fraction={self.rotated_batch_fraction:g} of a discriminator "
          f"step's batch of {batch_size} images gives {count:g} images for the rotation loss; it must be a "
          f"positive multiple of {NUM_ROTATIONS} (n originals in {NUM_ROTATIONS} orientations). The step batch "
          "is config.input.batch_size / (replicas x n_disc); choose the fraction or the batch size so that "
          "fraction x step batch is a multiple of 4.")
    return rounded // NUM_ROTATIONS

  def rotation_batch(self, images, labels=None, n: int = 0):
    """concat(images, rotations(images[-n:])) and the labels of each (rotated copies keep their own).

    Returns (images [b + 3n], labels [b + 3n, K] or None, rotation labels [4n] of the last 4n images).
    """
    if not n:
      return images, labels, None
    images = tf.concat([images, rotations(images[-n:])], axis=0)
    if labels is not None:
      labels = tf.concat([labels, tf.tile(labels[-n:], [NUM_ROTATIONS - 1, 1])], axis=0)
    return images, labels, tf.constant(np.repeat(np.arange(NUM_ROTATIONS, dtype=np.int32), n))

  # -- Losses ----------------------------------------------------------------------------------------------
  def call_discriminator(self, images, labels, training):
    """One call of D: {"logits" (float32), "pre_logits"}."""
    out = self.discriminator(images, labels=labels, training=training, return_endpoints=True)
    return {"logits": tf.cast(out["logits"], tf.float32), "pre_logits": out["pre_logits"]}

  def discriminator_outputs(self, images, labels, training):
    """D and the rotation head on `images`: {"logits", "pre_logits", "rotation_logits"}, logits in float32."""
    result = self.call_discriminator(images, labels, training)
    if self.rotation_head is not None:
      result["rotation_logits"] = tf.cast(self.rotation_head(result["pre_logits"], training=training),
                                          tf.float32)
    return result

  def adversarial_losses(self, real, fake, real_labels, fake_labels, training):
    batch_size = real.shape[0]
    if batch_size is None:
      if self.rotation:
        raise ValueError(f"{type(self).__name__} needs a static per-step batch size to build its rotation "
                         "batch; batch the dataset with drop_remainder=True.")
      batch_size = tf.shape(real)[0]
    n = self.rotated_examples(batch_size) if self.rotation else 0
    projects = bool(self.discriminator.label_classes)
    real_all, real_y, rotation_labels = self.rotation_batch(
        tf.cast(real, tf.float32), real_labels if projects else None, n)
    fake_all, fake_y, _ = self.rotation_batch(tf.cast(fake, tf.float32), fake_labels if projects else None, n)
    labels = tf.concat([real_y, fake_y], axis=0) if projects else None
    out = self.discriminator_outputs(tf.concat([real_all, fake_all], axis=0), labels, training)
    logits_real, logits_fake = tf.split(out["logits"], 2, axis=0)
    logits_real, logits_fake = logits_real[:batch_size], logits_fake[:batch_size]
    d_loss, g_loss = self.loss_fn(logits_real, logits_fake)
    d_terms = {"d_real": tf.reduce_mean(logits_real), "d_fake": tf.reduce_mean(logits_fake)}
    g_terms = {}
    if self.rotation:
      rot_real, rot_fake = tf.split(out["rotation_logits"], 2, axis=0)
      rot_real, rot_fake = rot_real[-NUM_ROTATIONS * n:], rot_fake[-NUM_ROTATIONS * n:]
      loss_real = rotation_cross_entropy(rot_real, rotation_labels)
      loss_fake = rotation_cross_entropy(rot_fake, rotation_labels)
      correct = tf.equal(tf.argmax(rot_real, axis=1, output_type=tf.int32), rotation_labels)
      if self.self_supervision == "rotation_only":
        # compare_gan multiplies by 0: every D variable keeps a (zero) gradient, the final layer included.
        d_loss, g_loss = 0.0 * d_loss, 0.0 * g_loss
      d_loss += self.weight_rotation_loss_d * loss_real
      g_loss += self.weight_rotation_loss_g * loss_fake
      d_terms.update(rotation_loss_d=loss_real, rotation_accuracy_real=tf.reduce_mean(tf.cast(correct, tf.float32)))
      g_terms["rotation_loss_g"] = loss_fake
    aux = {"outputs": out, "batch_size": batch_size, "real_labels": real_y, "fake_labels": fake_y}
    return {"d_loss": d_loss, **d_terms}, {"g_loss": g_loss, **g_terms}, aux

  # -- Config ----------------------------------------------------------------------------------------------
  def get_config(self):
    config = super().get_config()
    config.update({"self_supervision": self.self_supervision,
                   "rotated_batch_fraction": self.rotated_batch_fraction,
                   "weight_rotation_loss_d": self.weight_rotation_loss_d,
                   "weight_rotation_loss_g": self.weight_rotation_loss_g})
    return config


@register("ssgan", networks=("generator", "discriminator"))
def ssgan(*, generator, discriminator, loss: str = "non_saturating", penalty: str = "none",
          penalty_weight: float = 1.0, n_disc: int = 1, ema_decay: float = 0.0, ema_start_step: int = 0,
          fit_label_distribution: bool = False, seed: int = 0, image_key: str = "image", label_key: str = "label",
          standing_stats_samples: int = 0, self_supervision: str = "rotation_gan", rotated_batch_fraction: float = 1.0,
          weight_rotation_loss_d: float = 1.0, weight_rotation_loss_g: float = 0.2) -> SSGAN:
  """Spec factory: `ssgan(loss='non_saturating', rotated_batch_fraction=0.5)`; networks from code."""
  return SSGAN(generator=generator, discriminator=discriminator, loss=loss, penalty=penalty,
               penalty_weight=penalty_weight, n_disc=n_disc, ema_decay=ema_decay, ema_start_step=ema_start_step,
               fit_label_distribution=fit_label_distribution, seed=seed, image_key=image_key,
               label_key=label_key, standing_stats_samples=standing_stats_samples, self_supervision=self_supervision,
               rotated_batch_fraction=rotated_batch_fraction, weight_rotation_loss_d=weight_rotation_loss_d,
               weight_rotation_loss_g=weight_rotation_loss_g)
