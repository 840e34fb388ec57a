"""Optimizers, schedules and gradient transforms (seed 002 优化算法, 学习率衰减, 梯度截断, 正则化).

Every optimizer is one init/update pair returned as an ``optax.GradientTransformation``;
schedules are pure functions of the step count, usable as ``learning_rate``.
"""

from jpatterns.optim._adam import adam as adam
from jpatterns.optim._adam import adamw as adamw
from jpatterns.optim._adam import amsgrad as amsgrad
from jpatterns.optim._adam import nadam as nadam
from jpatterns.optim._adamax import adamax as adamax
from jpatterns.optim._adaptive import adadelta as adadelta
from jpatterns.optim._adaptive import adagrad as adagrad
from jpatterns.optim._adaptive import rmsprop as rmsprop
from jpatterns.optim._clipping import clip_by_global_norm as clip_by_global_norm
from jpatterns.optim._clipping import clip_by_norm as clip_by_norm
from jpatterns.optim._clipping import clip_by_value as clip_by_value
from jpatterns.optim._flat import FlatLayout as FlatLayout
from jpatterns.optim._flat import flat_train_step as flat_train_step
from jpatterns.optim._flat import flatten_params as flatten_params
from jpatterns.optim._lion import lion as lion
from jpatterns.optim._regularize import add_l1 as add_l1
from jpatterns.optim._regularize import add_l2 as add_l2
from jpatterns.optim._regularize import freeze as freeze
from jpatterns.optim._regularize import max_norm as max_norm
from jpatterns.optim._regularize import skip_nonfinite as skip_nonfinite
from jpatterns.optim._regularize import weight_decay as weight_decay
from jpatterns.optim._schedules import cosine_decay as cosine_decay
from jpatterns.optim._schedules import exponential_decay as exponential_decay
from jpatterns.optim._schedules import inverse_time_decay as inverse_time_decay
from jpatterns.optim._schedules import natural_exp_decay as natural_exp_decay
from jpatterns.optim._schedules import piecewise_constant as piecewise_constant
from jpatterns.optim._schedules import step_decay as step_decay
from jpatterns.optim._schedules import warmup as warmup
from jpatterns.optim._sgd import momentum as momentum
from jpatterns.optim._sgd import nesterov as nesterov
from jpatterns.optim._sgd import sgd as sgd

__all__ = [
  "sgd",
  "momentum",
  "nesterov",
  "adagrad",
  "adadelta",
  "rmsprop",
  "adam",
  "adamw",
  "amsgrad",
  "nadam",
  "adamax",
  "lion",
  "inverse_time_decay",
  "exponential_decay",
  "natural_exp_decay",
  "piecewise_constant",
  "step_decay",
  "cosine_decay",
  "warmup",
  "clip_by_value",
  "clip_by_norm",
  "clip_by_global_norm",
  "add_l2",
  "add_l1",
  "weight_decay",
  "max_norm",
  "freeze",
  "skip_nonfinite",
  "FlatLayout",
  "flatten_params",
  "flat_train_step",
]
