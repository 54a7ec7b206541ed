"""Networks. `get(spec)` builds one by name; every vision network subclasses `ImageModel`.

Models import only `layers/` and `registry`; they know nothing of data, objectives or training.
"""

from model_garden.models.image_model import ImageModel
from model_garden.models.registry import MODELS, get, input_shape, names, register
from model_garden.models.resnet_small import ResNetSmall
from model_garden.models.weights import WeightsMismatchError, load_weights
from model_garden.models.mixer import MlpMixer, mixer_param_count
from model_garden.models.vit import VisionTransformer, decode_variant, vit_param_count
from model_garden.models.bit import BiTResNet, bit_param_count
from model_garden.models.bert_encoder import BertEncoder
from model_garden.models.text_transformer import TextTransformer
from model_garden.models.two_towers import TwoTowers
from model_garden.models import gan  # noqa: F401  (registers <arch>_generator/_discriminator)
from model_garden.models import ssl  # noqa: F401  (ResNet v1/v2, RevNet, VGG of the SSL papers)
