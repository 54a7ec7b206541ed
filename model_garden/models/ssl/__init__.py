"""Networks of the self-supervision and S4L papers (Kolesnikov, Zhai, Beyer 2019; Zhai et al. 2019).

ResNet-50 v1/v2 and RevNet-50 with a widening factor, VGG-19 with BatchNorm, and `PatchAverage` (patch
endpoints averaged, for evaluating patch-based pretext models). Importing this package registers the
specs `resnet50_v1`, `resnet50_v2`, `revnet50`, `vgg19_bn`, `ssl_resnet_v1`, `ssl_resnet_v2`, `ssl_revnet`
and `patch_average`.
"""

from model_garden.models.ssl.patch_average import PatchAverage
from model_garden.models.ssl.resnet_v1 import ResNetV1
from model_garden.models.ssl.resnet_v2 import ResNetV2
from model_garden.models.ssl.revnet import RevNet
from model_garden.models.ssl.vgg import VGG19BN
