"""GAN generators and discriminators of compare_gan (the Brain Zurich GAN studies) and BigGAN.

Each architecture registers two spec factories in `model_garden.models.MODELS`, `<arch>_generator` and
`<arch>_discriminator`, so a GAN config names its two networks independently (and may mix them):

  dcgan, sndcgan (the study's SNDCGAN), resnet_cifar (SNGAN's 32 px ResNet), resnet_stl (48 px),
  resnet19 (the study's 128 px ResNet, compare_gan's resnet5), biggan, biggan_deep.

Generators (`GanGenerator`) map latents (and labels) to images in [-1, 1]; discriminators
(`GanDiscriminator`, an `ImageModel`) map images (and labels) to one logit.

Example:
  >>> g = model_garden.models.get("biggan_generator(image_size=128, label_classes=1000)")
  >>> d = model_garden.models.get("biggan_discriminator(image_size=128, label_classes=1000)")
"""

from model_garden.models.gan.biggan import BigGanDiscriminator, BigGanGenerator
from model_garden.models.gan.biggan_deep import BigGanDeepDiscriminator, BigGanDeepGenerator
from model_garden.models.gan.biggan_deep_block import BigGanDeepBlock
from model_garden.models.gan.dcgan import DcganDiscriminator, DcganGenerator
from model_garden.models.gan.discriminator import GanDiscriminator
from model_garden.models.gan.gan_norm import GanNorm
from model_garden.models.gan.generator import GanGenerator
from model_garden.models.gan.resnet19 import ResNet19Discriminator, ResNet19Generator
from model_garden.models.gan.resnet_block import ResNetBlock
from model_garden.models.gan.resnet_cifar import ResNetCifarDiscriminator, ResNetCifarGenerator
from model_garden.models.gan.resnet_gan_discriminator import ResNetGanDiscriminator
from model_garden.models.gan.resnet_gan_generator import ResNetGanGenerator
from model_garden.models.gan.resnet_stl import ResNetStlDiscriminator, ResNetStlGenerator
from model_garden.models.gan.sndcgan import SndcganDiscriminator, SndcganGenerator
from model_garden.models.gan.standing_statistics import batch_norm_layers, update_standing_statistics

ARCHITECTURES = ("dcgan", "sndcgan", "resnet_cifar", "resnet_stl", "resnet19", "biggan", "biggan_deep")
