"""Building blocks shared by the networks. Layers import only keras (TensorFlow only behind a backend check), never
models/."""

from model_garden.layers.checks import ImageInputError, check_images
from model_garden.layers.class_token import ClassToken
from model_garden.layers.encoder_block import EncoderBlock
from model_garden.layers.map_head import MAPHead
from model_garden.layers.mixer_block import MixerBlock
from model_garden.layers.mlp_block import MlpBlock
from model_garden.layers.multi_head_dot_product_attention import MultiHeadDotProductAttention
from model_garden.layers.position_embedding import PositionEmbedding, posemb_sincos_2d, resample_posemb
from model_garden.layers.standardized_conv2d import StandardizedConv2D, standardize_kernel
from model_garden.layers.conditional_batch_norm import ConditionalBatchNorm
from model_garden.layers.layer_norm_all_axes import LayerNormAllAxes
from model_garden.layers.self_attention_2d import SelfAttention2D
from model_garden.layers.self_modulated_batch_norm import SelfModulatedBatchNorm
from model_garden.layers.spectral_norm import SpectralNorm
from model_garden.layers.standing_batch_norm import StandingBatchNorm
from model_garden.layers.weight_norm import WeightNorm
