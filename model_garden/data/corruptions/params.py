"""Severity tables of the ImageNet-C corruptions (Hendrycks & Dietterich, ICLR 2019).

Numbers from `hendrycks/robustness`, `ImageNet-C/create_c/make_imagenet_c.py` (the script that made the
released ImageNet-C), cross-checked with `tensorflow_datasets/image_classification/corruptions.py`. Where the
two differ, the ImageNet-C script wins and the difference is noted. Entry `s - 1` is severity `s`.

Every size is in pixels of the 224 x 224 crops ImageNet-C was made from; `corrupt` uses them unchanged at
other sizes (see the package docstring).
"""

from __future__ import annotations

import numpy as np

# The 15 benchmark corruptions, in the paper's order (noise, blur, weather, digital).
CORRUPTIONS = (
    "gaussian_noise", "shot_noise", "impulse_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness",
    "contrast", "elastic_transform", "pixelate", "jpeg_compression",
)
# The 4 held-out ("validation") corruptions.
EXTRA_CORRUPTIONS = ("speckle_noise", "gaussian_blur", "spatter", "saturate")

SEVERITIES = (1, 2, 3, 4, 5)

# Noise. gaussian: std of additive noise on [0, 1] images; shot: Poisson photon count scale;
# impulse: salt-and-pepper fraction; speckle: std of multiplicative noise.
GAUSSIAN_NOISE = (0.08, 0.12, 0.18, 0.26, 0.38)
SHOT_NOISE = (60, 25, 12, 5, 3)
IMPULSE_NOISE = (0.03, 0.06, 0.09, 0.17, 0.27)
SPECKLE_NOISE = (0.15, 0.2, 0.35, 0.45, 0.6)

# Blur. defocus: (disk radius, std of the Gaussian that anti-aliases the disk);
# glass: (Gaussian std, max pixel displacement, iterations); motion: (ImageMagick radius, sigma);
# zoom: zoom factors, as np.arange(start, stop, step) (the reference's own float arange, 11-16 factors);
# gaussian: std.
DEFOCUS_BLUR = ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5))
GLASS_BLUR = ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2))
# The reference shuffles pixels with sequential local swaps (a Python loop over every pixel); pixels ride
# along chains of swaps. `corrupt` draws one rounded-Gaussian displacement per pixel instead, with this
# per-axis standard deviation (pixels): the reference loop's measured displacement std on 224 px images
# (3 runs, both axes; the loop itself is not part of this package).
GLASS_BLUR_DISPLACEMENT_STD = (1.79, 1.85, 3.19, 3.64, 4.73)
MOTION_BLUR = ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))
MOTION_BLUR_ANGLE = (-45.0, 45.0)  # degrees, uniform (tfds draws uniform(-45, -45): always -45)
ZOOM_BLUR_ARANGE = ((1, 1.11, 0.01), (1, 1.16, 0.01), (1, 1.21, 0.02), (1, 1.26, 0.02), (1, 1.31, 0.03))
GAUSSIAN_BLUR = (1, 2, 3, 4, 6)

# Weather. snow: (noise mean, noise std, zoom factor, threshold, motion radius, motion sigma,
# blend weight of the image); frost: (weight of the image, weight of the frost texture);
# fog: (fog strength, plasma-fractal wibble decay); brightness: added HSV value;
# spatter: (noise mean, noise std, Gaussian std, threshold, water intensity / mud std, mud?).
SNOW = ((0.1, 0.3, 3, 0.5, 10, 4, 0.8),
        (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
        (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
        (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
        (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55))
SNOW_ANGLE = (-135.0, -45.0)  # degrees, uniform
FROST = ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75))
FROST_NUM_TEXTURES = 5  # the reference draws np.random.randint(5) over 6 files: frost6 is never used
FOG = ((1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))
FOG_MAPSIZE = 256  # make_imagenet_c.py's plasma_fractal default (tfds uses 512)
BRIGHTNESS = (0.1, 0.2, 0.3, 0.4, 0.5)
SPATTER = ((0.65, 0.3, 4, 0.69, 0.6, 0),
           (0.65, 0.3, 3, 0.68, 0.6, 0),
           (0.65, 0.3, 2, 0.68, 0.5, 0),
           (0.65, 0.3, 1, 0.65, 1.5, 1),
           (0.67, 0.4, 1, 0.65, 1.5, 1))
SPATTER_WATER_COLOR = (175, 238, 238)  # added to channels 0, 1, 2 as written (the script's "BGR")
SPATTER_MUD_COLOR = (63, 42, 20)

# Digital. contrast: factor towards the per-channel mean; elastic: (alpha, sigma, affine range) with
# the script's 244 (its comment: "244 should have been 224, but ultimately nothing is incorrect");
# pixelate: downscale factor (PIL BOX down and up); jpeg: quality; saturate: (HSV S scale, S shift).
CONTRAST = (0.4, 0.3, 0.2, 0.1, 0.05)
ELASTIC_TRANSFORM = ((244 * 2, 244 * 0.7, 244 * 0.1),
                     (244 * 2, 244 * 0.08, 244 * 0.2),
                     (244 * 0.05, 244 * 0.01, 244 * 0.02),
                     (244 * 0.07, 244 * 0.01, 244 * 0.02),
                     (244 * 0.12, 244 * 0.01, 244 * 0.02))
PIXELATE = (0.6, 0.5, 0.4, 0.3, 0.25)
JPEG_COMPRESSION = (25, 18, 15, 10, 7)
SATURATE = ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2))

# make_imagenet_c.py saves every corrupted image as a JPEG of this quality (see `corrupt(jpeg_quality=)`).
SAVE_QUALITY = 85


def zoom_factors(severity: int) -> tuple:
  """The zoom blur factors of one severity, exactly as the reference's float np.arange yields them."""
  return tuple(float(z) for z in np.arange(*ZOOM_BLUR_ARANGE[severity - 1]))
