"""jpatterns: neural-network design patterns as pure, verified JAX functions.

Ground floor (pure functions on arrays) re-exported here; optimizers, schedules and
gradient transforms live in :mod:`jpatterns.optim`.

The dropout variants live in :mod:`jpatterns.stochastic`; ``jpatterns.dropout`` is the
function (``jp.dropout(key, x, rate=0.1)``).

:func:`checking` turns on run-time checks of traced hyperparameters (off by default);
:func:`is_checking` reads the mode.
"""

__version__ = "0.1.0"

from jpatterns import optim as optim
from jpatterns._validation import checking as checking
from jpatterns._validation import is_checking as is_checking
from jpatterns.activations import celu as celu
from jpatterns.activations import elu as elu
from jpatterns.activations import gelu as gelu
from jpatterns.activations import leaky_relu as leaky_relu
from jpatterns.activations import log_softmax as log_softmax
from jpatterns.activations import mish as mish
from jpatterns.activations import prelu as prelu
from jpatterns.activations import relu as relu
from jpatterns.activations import rrelu as rrelu
from jpatterns.activations import selu as selu
from jpatterns.activations import sigmoid as sigmoid
from jpatterns.activations import silu as silu
from jpatterns.activations import softmax as softmax
from jpatterns.activations import softplus as softplus
from jpatterns.activations import swish as swish
from jpatterns.activations import tanh as tanh
from jpatterns.augment import cutout as cutout
from jpatterns.augment import flip_left_right as flip_left_right
from jpatterns.augment import flip_up_down as flip_up_down
from jpatterns.augment import gaussian_noise as gaussian_noise
from jpatterns.augment import mixup as mixup
from jpatterns.augment import random_crop as random_crop
from jpatterns.augment import random_flip_left_right as random_flip_left_right
from jpatterns.augment import random_flip_up_down as random_flip_up_down
from jpatterns.augment import random_rotate as random_rotate
from jpatterns.augment import random_translate as random_translate
from jpatterns.augment import random_zoom as random_zoom
from jpatterns.augment import rotate as rotate
from jpatterns.augment import translate as translate
from jpatterns.augment import zoom as zoom
from jpatterns.gradcheck import GradCheckResult as GradCheckResult
from jpatterns.gradcheck import check_grads as check_grads
from jpatterns.initializers import constant as constant
from jpatterns.initializers import glorot_normal as glorot_normal
from jpatterns.initializers import glorot_uniform as glorot_uniform
from jpatterns.initializers import he_normal as he_normal
from jpatterns.initializers import he_uniform as he_uniform
from jpatterns.initializers import lecun_normal as lecun_normal
from jpatterns.initializers import lecun_uniform as lecun_uniform
from jpatterns.initializers import normal as normal
from jpatterns.initializers import ones as ones
from jpatterns.initializers import orthogonal as orthogonal
from jpatterns.initializers import truncated_normal as truncated_normal
from jpatterns.initializers import uniform as uniform
from jpatterns.initializers import variance_scaling as variance_scaling
from jpatterns.initializers import zeros as zeros
from jpatterns.layers import avg_pool as avg_pool
from jpatterns.layers import cbow as cbow
from jpatterns.layers import init_lstm_carry as init_lstm_carry
from jpatterns.layers import init_lstm_params as init_lstm_params
from jpatterns.layers import init_multi_head_attention as init_multi_head_attention
from jpatterns.layers import init_transformer_block as init_transformer_block
from jpatterns.layers import lstm_cell as lstm_cell
from jpatterns.layers import max_pool as max_pool
from jpatterns.layers import multi_head_attention as multi_head_attention
from jpatterns.layers import residual as residual
from jpatterns.layers import transformer_block as transformer_block
from jpatterns.losses import dice_loss as dice_loss
from jpatterns.losses import focal_loss as focal_loss
from jpatterns.losses import gan_discriminator_loss as gan_discriminator_loss
from jpatterns.losses import gan_generator_loss as gan_generator_loss
from jpatterns.losses import huber as huber
from jpatterns.losses import mean_squared_error as mean_squared_error
from jpatterns.losses import sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy
from jpatterns.losses import softmax_cross_entropy as softmax_cross_entropy
from jpatterns.normalization import BatchNormStats as BatchNormStats
from jpatterns.normalization import batch_norm as batch_norm
from jpatterns.normalization import batch_norm_analytic as batch_norm_analytic
from jpatterns.normalization import group_norm as group_norm
from jpatterns.normalization import init_batch_norm_stats as init_batch_norm_stats
from jpatterns.normalization import instance_norm as instance_norm
from jpatterns.normalization import layer_norm as layer_norm
from jpatterns.normalization import local_response_norm as local_response_norm
from jpatterns.normalization import rms_norm as rms_norm
from jpatterns.normalization import spectral_norm as spectral_norm
from jpatterns.normalization import weight_norm as weight_norm
from jpatterns.preprocessing import MinMaxStats as MinMaxStats
from jpatterns.preprocessing import StandardizationStats as StandardizationStats
from jpatterns.preprocessing import WhiteningStats as WhiteningStats
from jpatterns.preprocessing import fit_min_max as fit_min_max
from jpatterns.preprocessing import fit_standardization as fit_standardization
from jpatterns.preprocessing import fit_whitening as fit_whitening
from jpatterns.preprocessing import min_max_scale as min_max_scale
from jpatterns.preprocessing import standardize as standardize
from jpatterns.preprocessing import whiten as whiten
from jpatterns.regularization import l1_penalty as l1_penalty
from jpatterns.regularization import l2_penalty as l2_penalty
from jpatterns.regularization import label_smoothing as label_smoothing
from jpatterns.stochastic import alpha_dropout as alpha_dropout
from jpatterns.stochastic import drop_path as drop_path
from jpatterns.stochastic import dropconnect as dropconnect
from jpatterns.stochastic import dropconnect_inference as dropconnect_inference
from jpatterns.stochastic import dropout as dropout
from jpatterns.stochastic import gaussian_dropout as gaussian_dropout
from jpatterns.stochastic import spatial_dropout as spatial_dropout
from jpatterns.stochastic import standout as standout

__all__ = [
  "optim",
  "checking",
  "is_checking",
  "sigmoid",
  "tanh",
  "relu",
  "leaky_relu",
  "prelu",
  "rrelu",
  "elu",
  "selu",
  "celu",
  "gelu",
  "silu",
  "swish",
  "mish",
  "softplus",
  "softmax",
  "log_softmax",
  "variance_scaling",
  "glorot_normal",
  "glorot_uniform",
  "he_normal",
  "he_uniform",
  "lecun_normal",
  "lecun_uniform",
  "truncated_normal",
  "normal",
  "uniform",
  "orthogonal",
  "zeros",
  "ones",
  "constant",
  "BatchNormStats",
  "init_batch_norm_stats",
  "batch_norm",
  "batch_norm_analytic",
  "layer_norm",
  "instance_norm",
  "group_norm",
  "rms_norm",
  "weight_norm",
  "local_response_norm",
  "spectral_norm",
  "dropout",
  "dropconnect",
  "dropconnect_inference",
  "standout",
  "gaussian_dropout",
  "alpha_dropout",
  "spatial_dropout",
  "drop_path",
  "l2_penalty",
  "l1_penalty",
  "label_smoothing",
  "softmax_cross_entropy",
  "sigmoid_binary_cross_entropy",
  "dice_loss",
  "mean_squared_error",
  "huber",
  "focal_loss",
  "gan_discriminator_loss",
  "gan_generator_loss",
  "MinMaxStats",
  "StandardizationStats",
  "WhiteningStats",
  "fit_min_max",
  "min_max_scale",
  "fit_standardization",
  "standardize",
  "fit_whitening",
  "whiten",
  "GradCheckResult",
  "check_grads",
  "max_pool",
  "avg_pool",
  "residual",
  "multi_head_attention",
  "init_multi_head_attention",
  "transformer_block",
  "init_transformer_block",
  "cbow",
  "lstm_cell",
  "init_lstm_params",
  "init_lstm_carry",
  "flip_left_right",
  "flip_up_down",
  "random_flip_left_right",
  "random_flip_up_down",
  "random_crop",
  "rotate",
  "random_rotate",
  "zoom",
  "random_zoom",
  "translate",
  "random_translate",
  "gaussian_noise",
  "cutout",
  "mixup",
]
