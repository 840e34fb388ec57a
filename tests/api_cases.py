"""The API walk's case registry: one valid call per public callable, and the kind of each
parameter (which decides the bad values the walk tries).

``tests/test_api_walk.py`` walks it: for every case, every parameter, every bad value of
its kind, the call must raise a ``ValueError`` whose message names the parameter. A
public callable without a case, or a parameter without a kind, fails the walk.

Kinds (bad values in :data:`BAD`):
  array / array? (optional, None allowed), key, float (any finite real), pos, nonneg,
  rate ([0, 1)), unit ([0, 1]), posint, nonnegint, axis, axes? (None allowed), flag,
  flag? (None allowed), choice, fn / fn? (callables), dtype, shape, stats, lr (a learning
  rate or a schedule), and ``free`` (a pytree or an opaque object the walk cannot
  break generically; the reason is written next to it).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

import jpatterns as jp
from jpatterns import optim

NAN, INF = math.nan, math.inf
K = jax.random.key(0)

_NUM = ["0.5", [0.5], jnp.ones(2), True]  # not a number: str, list, array of rank 1, bool
BAD: dict[str, list] = {
  "array": [[1.0, 2.0], "x", None],
  "array?": [[1.0, 2.0], "x"],
  "key": [0, None, jnp.zeros(2), jax.random.split(K, 2), "k"],
  "key?": [0, jnp.zeros(2), jax.random.split(K, 2), "k"],
  "float": [NAN, INF, -INF, jnp.array(NAN), *_NUM],
  "bound": [NAN, jnp.array(NAN), *_NUM],  # a real number or ±inf (no bound)
  "pos": [NAN, INF, -INF, 0.0, -1.0, jnp.array(-1.0), *_NUM],
  "pos?": [NAN, INF, 0.0, -1.0, jnp.array(-1.0), *_NUM],
  "nonneg": [NAN, INF, -INF, -1.0, jnp.array(-1.0), *_NUM],
  "nonneg?": [NAN, INF, -1.0, jnp.array(-1.0), *_NUM],
  "rate": [NAN, INF, -0.1, 1.0, 1.5, jnp.array(1.5), *_NUM],
  "unit": [NAN, INF, -0.1, 1.5, jnp.array(1.5), *_NUM],
  "unit?": [NAN, INF, -0.1, 1.5, jnp.array(1.5), *_NUM],
  "posint": [0, -1, 2.5, NAN, "3", [3], True],
  "posint?": [0, -1, 2.5, NAN, "3", [3], True],
  "nonnegint": [-1, 2.5, NAN, "3", [3], True],
  "axis": [2.5, "a", 99, -99, True, [0.5]],
  "axes?": [2.5, "a", 99, (0, 0), True],
  "flag": ["yes", 2, None],
  "flag?": ["yes", 2],
  "choice": ["nope", 3, None],
  "fn": [1, "f", None],
  "fn?": [1, "f"],
  "dtype": [jnp.int32, "nope", 3],
  "shape": [(-1, 2), (2.5,), "ab", None],
  "stats": [None, "s", (1, 2)],
  "lr": [NAN, INF, -INF, -0.1, jnp.array(-0.1), "0.1", [0.1], jnp.ones(2), True],
  "free": [],
}


@dataclasses.dataclass
class Case:
  """A valid call ``fn(**kwargs)`` and the kind of each parameter."""

  name: str
  fn: Callable
  kwargs: dict[str, Any]
  kinds: dict[str, str]
  extra: dict[str, list] = dataclasses.field(default_factory=dict)  # more bad values
  then: Callable | None = None  # applied to the result (e.g. call a returned init)

  def bad_values(self, param):
    return list(BAD[self.kinds[param]]) + list(self.extra.get(param, []))

  def run(self, kwargs):
    out = self.fn(**kwargs)
    return out if self.then is None else self.then(out)


def show(value) -> str:
  """A short label of a bad value for messages."""
  if isinstance(value, jax.Array):
    return f"Array(shape={value.shape}, dtype={value.dtype})"
  text = repr(value)
  return text if len(text) <= 40 else text[:37] + "..."


x2 = jnp.linspace(-2.0, 2.0, 12).reshape(3, 4)
img = jnp.linspace(0.0, 1.0, 8 * 8 * 3).reshape(8, 8, 3)
w34 = jnp.linspace(-1.0, 1.0, 12).reshape(4, 3)
RANK1 = jnp.ones(5)  # a wrong-rank array for inputs that need rank >= 2

CASES: list[Case] = []


def case(fn, kinds, extra=None, name=None, then=None, **kwargs):
  name = name or fn.__name__
  CASES.append(Case(name, fn, kwargs, kinds, extra or {}, then))


def _init(init):
  return init(K, (4, 3))


# ------------------------------------------------------------------ activations
for f in (jp.sigmoid, jp.tanh, jp.relu, jp.selu, jp.silu, jp.mish, jp.softplus):
  case(f, {"x": "array"}, x=x2)
case(jp.swish, {"x": "array"}, name="swish", x=x2)
case(jp.leaky_relu, {"x": "array", "negative_slope": "float"}, x=x2, negative_slope=0.1)
case(jp.elu, {"x": "array", "alpha": "float"}, x=x2, alpha=1.0)
case(jp.celu, {"x": "array", "alpha": "pos"}, x=x2, alpha=1.0)
case(jp.gelu, {"x": "array", "approximate": "flag"}, x=x2, approximate=False)
case(jp.softmax, {"x": "array", "axis": "axes?"}, x=x2, axis=-1)
case(jp.log_softmax, {"x": "array", "axis": "axes?"}, x=x2, axis=-1)
case(
  jp.prelu,
  {"x": "array", "alpha": "array", "channel_axis": "axis"},
  {"alpha": [jnp.ones(3), jnp.ones((4, 4))]},
  x=x2,
  alpha=jnp.full(4, 0.1),
  channel_axis=-1,
)
case(
  jp.rrelu,
  {"key": "key", "x": "array", "lower": "unit", "upper": "unit", "train": "flag"},
  {"lower": [0.5]},  # lower > upper
  key=K,
  x=x2,
  lower=0.1,
  upper=0.3,
  train=True,
)

# ------------------------------------------------------------------ initializers
_VS_AXES = {"in_axis": "axis", "out_axis": "axis", "batch_axis": "free"}  # batch_axis: ()
case(
  jp.variance_scaling,
  {"scale": "pos", "mode": "choice", "distribution": "choice", **_VS_AXES},
  scale=1.0,
  mode="fan_in",
  distribution="normal",
  in_axis=-2,
  out_axis=-1,
  batch_axis=(),
  then=_init,
)
for f in (jp.glorot_normal, jp.he_normal, jp.lecun_normal):
  case(f, {"distribution": "choice", **_VS_AXES}, then=_init, distribution="normal")
for f in (jp.glorot_uniform, jp.he_uniform, jp.lecun_uniform):
  case(f, dict(_VS_AXES), then=_init)
case(
  jp.truncated_normal,
  {"stddev": "pos", "lower": "float", "upper": "float"},
  {"lower": [3.0]},
  then=_init,
  stddev=1.0,
  lower=-2.0,
  upper=2.0,
)
case(jp.normal, {"stddev": "pos"}, then=_init, stddev=1.0)
case(jp.uniform, {"scale": "pos"}, then=_init, scale=1.0)
case(jp.orthogonal, {"scale": "pos", "column_axis": "axis"}, then=_init, scale=1.0, column_axis=-1)
case(jp.zeros, {}, then=_init)
case(jp.ones, {}, then=_init)
case(jp.constant, {"value": "float"}, then=_init, value=0.5)

# ------------------------------------------------------------------ normalization
_stats = jp.init_batch_norm_stats(4)
case(
  jp.init_batch_norm_stats,
  {"shape": "shape", "dtype": "dtype"},
  {"shape": [-3, 2.5]},
  shape=(4,),
  dtype=jnp.float32,
)
case(
  jp.BatchNormStats,
  {"mean": "free", "var": "free"},  # a plain NamedTuple; batch_norm checks its fields
  mean=jnp.zeros(4),
  var=jnp.ones(4),
)
case(
  jp.batch_norm,
  {
    "x": "array",
    "stats": "stats",
    "scale": "array?",
    "bias": "array?",
    "train": "flag",
    "axis": "axes?",
    "momentum": "unit",
    "eps": "pos",
    "axis_name": "free",  # a mapped-axis name, checked by jax where it is bound
    "mask": "array?",
    "unbiased_running_var": "flag",
  },
  {
    "x": [jnp.ones((0, 4))],
    "scale": [jnp.ones(3)],
    "mask": [jnp.ones((2, 2, 2), bool), jnp.ones((3, 5), bool)],
    "stats": [jp.init_batch_norm_stats(3)],
  },
  x=x2,
  stats=_stats,
  scale=jnp.ones(4),
  bias=jnp.zeros(4),
  train=True,
  axis=0,
  momentum=0.9,
  eps=1e-5,
  axis_name=None,
  mask=jnp.ones((3, 4), bool),
  unbiased_running_var=False,
)
case(
  jp.batch_norm_analytic,
  {"h": "array", "scale": "array?", "bias": "array?", "axis": "axes?", "eps": "pos"},
  {"h": [RANK1]},
  h=x2,
  scale=jnp.ones(4),
  bias=jnp.zeros(4),
  axis=None,
  eps=1e-5,
)
_NORM = {"x": "array", "scale": "array?", "bias": "array?", "eps": "pos"}
case(
  jp.layer_norm,
  {**_NORM, "axis": "axes?"},
  {"scale": [jnp.ones(3)]},
  x=x2,
  scale=jnp.ones(4),
  bias=jnp.zeros(4),
  axis=-1,
  eps=1e-5,
)
case(
  jp.instance_norm,
  {**_NORM, "channel_axis": "axis", "axis": "axes?"},
  {"axis": [-1]},
  x=img[None],
  scale=jnp.ones(3),
  bias=jnp.zeros(3),
  channel_axis=-1,
  axis=None,
  eps=1e-5,
)
case(
  jp.group_norm,
  {**_NORM, "num_groups": "posint", "channel_axis": "axis", "axis": "axes?"},
  {"num_groups": [2]},
  x=img[None],
  num_groups=3,
  scale=jnp.ones(3),
  bias=jnp.zeros(3),
  channel_axis=-1,
  axis=None,
  eps=1e-5,
)
case(
  jp.rms_norm,
  {"x": "array", "scale": "array?", "axis": "axes?", "eps": "pos"},
  x=x2,
  scale=jnp.ones(4),
  axis=-1,
  eps=1e-6,
)
case(
  jp.weight_norm,
  {"v": "array", "g": "array", "axis": "axes?", "eps": "pos"},
  {"g": [jnp.ones(4)]},
  v=w34,
  g=jnp.ones(3),
  axis=None,
  eps=1e-12,
)
case(
  jp.local_response_norm,
  {
    "x": "array",
    "size": "posint",
    "k": "pos",
    "alpha": "nonneg",
    "beta": "float",
    "channel_axis": "axis",
  },
  x=img,
  size=3,
  k=2.0,
  alpha=1e-4,
  beta=0.75,
  channel_axis=-1,
)
case(
  jp.spectral_norm,
  {"w": "array", "u": "array", "n_steps": "posint", "eps": "pos"},
  {"u": [jnp.ones(4)]},
  w=w34,
  u=jnp.ones(3),
  n_steps=1,
  eps=1e-12,
)

# ------------------------------------------------------------------ dropout family
for f in (jp.dropout, jp.gaussian_dropout, jp.alpha_dropout, jp.drop_path):
  kinds = {"key": "key", "x": "array", "rate": "unit", "train": "flag"}
  kw = dict(key=K, x=x2, rate=0.3, train=True)
  if f is jp.dropout:
    kinds |= {"inverted": "flag", "broadcast_dims": "axes?"}
    kw |= dict(inverted=True, broadcast_dims=(0,))
  case(f, kinds, **kw)
case(
  jp.spatial_dropout,
  {
    "key": "key",
    "x": "array",
    "rate": "unit",
    "channel_axis": "axis",
    "batch_axis": "axes?",
    "train": "flag",
  },
  {"batch_axis": [-1]},
  key=K,
  x=img[None],
  rate=0.3,
  channel_axis=-1,
  batch_axis=0,
  train=True,
)
_DC = {"key": "key", "x": "array", "w": "array", "rate": "unit", "bias": "array?"}
case(
  jp.dropconnect,
  {**_DC, "activation": "fn?", "inverted": "flag"},
  {"w": [jnp.ones((5, 3))], "bias": [jnp.ones(4)]},
  key=K,
  x=x2,
  w=w34,
  rate=0.3,
  bias=jnp.zeros(3),
  activation=jp.relu,
  inverted=True,
)
case(
  jp.dropconnect_inference,
  {**_DC, "activation": "fn?", "num_samples": "posint", "inverted": "flag"},
  {"w": [jnp.ones((5, 3))]},
  key=K,
  x=x2,
  w=w34,
  rate=0.3,
  bias=jnp.zeros(3),
  activation=jp.relu,
  num_samples=8,
  inverted=True,
)
case(
  jp.standout,
  {
    "key": "key",
    "x": "array",
    "w": "array",
    "ws": "array",
    "bias": "array?",
    "gate_bias": "array?",
    "activation": "fn?",
    "gate": "fn",
    "train": "flag",
  },
  {"ws": [jnp.ones((4, 2))]},
  key=K,
  x=x2,
  w=w34,
  ws=w34,
  bias=jnp.zeros(3),
  gate_bias=jnp.zeros(3),
  activation=jp.relu,
  gate=jp.sigmoid,
  train=True,
)

# ------------------------------------------------------------------ regularization, losses
_params = {"w": w34, "b": jnp.zeros(3)}
for f in (jp.l2_penalty, jp.l1_penalty):
  case(
    f,
    {"params": "free", "weight": "nonneg", "mask": "free"},  # pytrees (mask checked by shape)
    {"mask": [{"w": True}, "m"]},
    params=_params,
    weight=0.1,
    mask=None,
  )
case(
  jp.label_smoothing,
  {"labels": "array", "eps": "rate", "num_classes": "posint?", "dtype": "dtype"},
  {"num_classes": [1]},
  labels=jnp.array([0, 2, 1]),
  eps=0.1,
  num_classes=3,
  dtype=jnp.float32,
)
_logits = jnp.linspace(-1.0, 1.0, 12).reshape(4, 3)
_onehot = jax.nn.one_hot(jnp.array([0, 1, 2, 0]), 3)
case(
  jp.softmax_cross_entropy,
  {"logits": "array", "labels": "array", "label_smoothing": "rate", "axis": "axis"},
  {"labels": [jnp.ones((4, 2)), jnp.array([0, 1, 2])]},
  logits=_logits,
  labels=_onehot,
  label_smoothing=0.1,
  axis=-1,
)
case(
  jp.sigmoid_binary_cross_entropy,
  {"logits": "array", "labels": "array"},
  {"labels": [jnp.ones((4, 2))]},
  logits=_logits,
  labels=_onehot,
)
case(
  jp.dice_loss,
  {
    "predictions": "array",
    "targets": "array",
    "from_logits": "flag",
    "smooth": "nonneg",
    "axis": "axes?",
  },
  {"targets": [jnp.ones((4, 2))]},
  predictions=_logits,
  targets=_onehot,
  from_logits=True,
  smooth=1.0,
  axis=None,
)
for f in (jp.mean_squared_error,):
  case(
    f,
    {"predictions": "array", "targets": "array"},
    {"targets": [jnp.ones((4, 2))]},
    predictions=_logits,
    targets=_onehot,
  )
case(
  jp.huber,
  {"predictions": "array", "targets": "array", "delta": "pos"},
  {"targets": [jnp.ones((4, 2))]},
  predictions=_logits,
  targets=_onehot,
  delta=1.0,
)
case(
  jp.focal_loss,
  {"logits": "array", "labels": "array", "gamma": "nonneg", "alpha": "unit?"},
  {"labels": [jnp.ones((4, 2))]},
  logits=_logits,
  labels=_onehot,
  gamma=2.0,
  alpha=0.25,
)

case(
  jp.gan_discriminator_loss,
  {"real_logits": "array", "fake_logits": "array", "real_label": "unit"},
  {"fake_logits": [jnp.ones(3)], "real_label": [0.0]},
  real_logits=_logits[:, 0],
  fake_logits=_logits[:, 1],
  real_label=0.9,
)
case(
  jp.gan_generator_loss,
  {"fake_logits": "array", "saturating": "flag"},
  fake_logits=_logits[:, 0],
  saturating=False,
)

# ------------------------------------------------------------------ preprocessing
_data = jnp.linspace(-3.0, 5.0, 24).reshape(8, 3) ** 2
_mm = jp.fit_min_max(_data)
_st = jp.fit_standardization(_data)
_wh = jp.fit_whitening(_data)
case(
  jp.fit_min_max,
  {"x": "array", "axis": "axes?", "feature_range": "free"},
  {"feature_range": [(0.0, 1.0, 2.0), (1.0, 0.0), (0.0, INF), (NAN, 1.0), "ab", 1.0]},
  x=_data,
  axis=0,
  feature_range=(0.0, 1.0),
)
case(
  jp.fit_standardization,
  {"x": "array", "axis": "axes?", "eps": "nonneg"},
  x=_data,
  axis=0,
  eps=0.0,
)
case(
  jp.fit_whitening,
  {"x": "array", "method": "choice", "eps": "pos", "n_components": "posint?"},
  {"x": [RANK1], "n_components": [4]},
  x=_data,
  method="zca",
  eps=1e-5,
  n_components=None,
)
for f, st in ((jp.min_max_scale, _mm), (jp.standardize, _st), (jp.whiten, _wh)):
  case(f, {"x": "array", "stats": "stats"}, {"x": [jnp.ones((8, 4))]}, x=_data, stats=st)
case(jp.MinMaxStats, {p: "free" for p in jp.MinMaxStats._fields}, **_mm._asdict())
case(jp.StandardizationStats, {p: "free" for p in jp.StandardizationStats._fields}, **_st._asdict())
case(jp.WhiteningStats, {p: "free" for p in jp.WhiteningStats._fields}, **_wh._asdict())

# ------------------------------------------------------------------ gradcheck
case(
  jp.check_grads,
  {"f": "fn", "params": "free", "eps": "pos?", "floor": "nonneg?", "batch_size": "posint?"},
  f=lambda p: jnp.sum(p**2),
  params=jnp.ones(3),
  eps=None,
  floor=None,
  batch_size=None,
)
case(
  jp.GradCheckResult,
  {p: "free" for p in jp.GradCheckResult._fields},  # a result record, built by check_grads
  **{p: 0.0 for p in jp.GradCheckResult._fields},
)

# ------------------------------------------------------------------ checked mode
# The valid call leaves the mode as the walk found it (off); a bad value changes nothing.
case(jp.checking, {"enabled": "flag"}, {"enabled": [1.0, jnp.array(True)]}, enabled=False)
case(jp.is_checking, {})

# ------------------------------------------------------------------ layers
_pool = {"x": "array", "window": "free", "strides": "free", "padding": "choice"}
_pool_bad = {"window": [0, -1, 2.5, (2, 2, 2), "2", None], "strides": [0, -1, 2.5, "2"]}
case(jp.max_pool, _pool, _pool_bad, x=img[None], window=2, strides=None, padding="VALID")
case(
  jp.avg_pool,
  {**_pool, "count_include_pad": "flag"},
  _pool_bad,
  x=img[None],
  window=2,
  strides=None,
  padding="VALID",
  count_include_pad=False,
)
case(
  jp.residual,
  {"f": "fn", "x": "array", "projection": "free"},
  {"projection": [jnp.ones((5, 4)), "p"]},
  f=jnp.tanh,
  x=x2,
  projection=None,
)
_tb = jp.init_transformer_block(K, 4)
case(
  jp.init_transformer_block,
  {"key": "key", "dim": "posint", "mlp_dim": "posint?", "kernel_init": "fn?", "dtype": "dtype"},
  key=K,
  dim=4,
  mlp_dim=None,
  kernel_init=None,
  dtype=jnp.float32,
)
case(
  jp.transformer_block,
  {
    "params": "free",  # a dict of kernels; checked by shape
    "x": "array",
    "num_heads": "posint",
    "mask": "array?",
    "causal": "flag",
    "activation": "fn",
    "norm": "fn?",
    "branch": "fn?",
  },
  params=_tb,
  x=jnp.ones((2, 5, 4)),
  num_heads=2,
  mask=None,
  causal=False,
  activation=jp.gelu,
  norm=None,
  branch=None,
)
case(
  jp.cbow,
  {"embeddings": "array", "context": "array", "mask": "array?"},
  {"embeddings": [jnp.ones(3)], "context": [jnp.ones((2, 2))]},
  embeddings=jnp.ones((6, 3)),
  context=jnp.array([[0, 1, 2], [3, 4, 5]]),
  mask=None,
)
_mha = jp.init_multi_head_attention(K, 4)
case(
  jp.init_multi_head_attention,
  {
    "key": "key",
    "dim": "posint",
    "kv_dim": "posint?",
    "out_dim": "posint?",
    "use_bias": "flag",
    "dtype": "dtype",
  },
  key=K,
  dim=4,
  kv_dim=None,
  out_dim=None,
  use_bias=True,
  dtype=jnp.float32,
)
case(
  jp.multi_head_attention,
  {
    "params": "free",  # a dict of kernels; checked by shape
    "query": "array",
    "key_value": "array?",
    "num_heads": "posint",
    "mask": "array?",
    "causal": "flag",
  },
  {"num_heads": [3], "params": [{}, "p"], "query": [RANK1], "mask": [jnp.ones((3, 3), bool)]},
  params=_mha,
  query=jnp.ones((2, 5, 4)),
  key_value=None,
  num_heads=2,
  mask=None,
  causal=False,
)
_lstm = jp.init_lstm_params(K, 3, 4)
case(
  jp.init_lstm_params,
  {
    "key": "key",
    "in_features": "posint",
    "hidden": "posint",
    "forget_bias": "float",
    "dtype": "dtype",
  },
  key=K,
  in_features=3,
  hidden=4,
  forget_bias=1.0,
  dtype=jnp.float32,
)
case(
  jp.init_lstm_carry,
  {"batch_shape": "shape", "hidden": "posint", "dtype": "dtype"},
  batch_shape=(2,),
  hidden=4,
  dtype=jnp.float32,
)
case(
  jp.lstm_cell,
  {"params": "free", "carry": "free", "x": "array"},  # params/carry: checked by shape
  {"params": [{}, "p"], "carry": [None, (jnp.ones((2, 3)), jnp.ones((2, 3)))], "x": [RANK1]},
  params=_lstm,
  carry=jp.init_lstm_carry((2,), 4),
  x=jnp.ones((2, 3)),
)

# ------------------------------------------------------------------ augment
_IMG = {"image": "array", "channel_axis": "axis"}
_IMG_BAD = {"image": [jnp.ones((8, 8))], "channel_axis": [1]}
for f in (jp.flip_left_right, jp.flip_up_down):
  case(f, _IMG, _IMG_BAD, image=img, channel_axis=-1)
for f in (jp.random_flip_left_right, jp.random_flip_up_down):
  case(
    f,
    {"key": "key", **_IMG, "probability": "unit"},
    _IMG_BAD,
    key=K,
    image=img,
    probability=0.5,
    channel_axis=-1,
  )
case(
  jp.random_crop,
  {"key": "key", **_IMG, "crop_size": "free", "padding": "free", "pad_mode": "choice"},
  {
    **_IMG_BAD,
    "crop_size": [0, -1, 2.5, (20, 4), (4, 4, 4), "4", None],
    "padding": [-1, 2.5, "1", (1, 2, 3)],
  },
  key=K,
  image=img,
  crop_size=6,
  padding=1,
  pad_mode="constant",
  channel_axis=-1,
)
_RES = {"order": "choice", "mode": "choice", "cval": "float"}
case(
  jp.rotate,
  {**_IMG, "angle": "float", **_RES},
  _IMG_BAD,
  image=img,
  angle=0.3,
  order=1,
  mode="nearest",
  cval=0.0,
  channel_axis=-1,
)
case(
  jp.random_rotate,
  {"key": "key", **_IMG, "max_angle": "nonneg", **_RES},
  _IMG_BAD,
  key=K,
  image=img,
  max_angle=0.3,
  order=1,
  mode="nearest",
  cval=0.0,
  channel_axis=-1,
)
case(
  jp.zoom,
  {**_IMG, "factor": "pos", **_RES},
  _IMG_BAD,
  image=img,
  factor=1.2,
  order=1,
  mode="nearest",
  cval=0.0,
  channel_axis=-1,
)
case(
  jp.random_zoom,
  {"key": "key", **_IMG, "min_factor": "pos", "max_factor": "pos", **_RES},
  {**_IMG_BAD, "min_factor": [2.0]},
  key=K,
  image=img,
  min_factor=0.8,
  max_factor=1.2,
  order=1,
  mode="nearest",
  cval=0.0,
  channel_axis=-1,
)
case(
  jp.translate,
  {**_IMG, "shift": "free", **_RES},
  {
    **_IMG_BAD,
    "shift": [(NAN, 1.0), (INF, 0.0), (1.0, 2.0, 3.0), "ab", jnp.array([NAN, 0.0]), None],
  },
  image=img,
  shift=jnp.array([1.0, -2.0]),
  order=1,
  mode="nearest",
  cval=0.0,
  channel_axis=-1,
)
case(
  jp.random_translate,
  {"key": "key", **_IMG, "max_shift": "free", "mode": "choice", "cval": "float"},
  {**_IMG_BAD, "max_shift": [-1, 2.5, NAN, "2", (1, 2, 3), None]},
  key=K,
  image=img,
  max_shift=2,
  mode="nearest",
  cval=0.0,
  channel_axis=-1,
)
case(
  jp.gaussian_noise,
  {"key": "key", **_IMG, "stddev": "nonneg"},
  _IMG_BAD,
  key=K,
  image=img,
  stddev=0.1,
  channel_axis=-1,
)
case(
  jp.cutout,
  {"key": "key", **_IMG, "size": "free", "fill": "float"},
  {**_IMG_BAD, "size": [0, -1, 2.5, 99, (2, 2, 2), "2", None]},
  key=K,
  image=img,
  size=2,
  fill=0.0,
  channel_axis=-1,
)
case(
  jp.mixup,
  {"key": "key", "images": "array", "labels": "array", "alpha": "pos"},
  {"labels": [jnp.ones((3, 3))]},
  key=K,
  images=jnp.ones((4, 2, 2, 1)),
  labels=_onehot,
  alpha=0.2,
)

# ------------------------------------------------------------------ optimizers
_OPT = {"learning_rate": "lr", "weight_decay": "nonneg", "accumulator_dtype": "dtype"}
_OPT_KW = dict(learning_rate=0.1, weight_decay=0.0, accumulator_dtype=jnp.float32)
case(optim.sgd, _OPT, **_OPT_KW)
for f in (optim.momentum, optim.nesterov):
  kinds = {**_OPT, "momentum": "rate", "velocity": "choice"}
  kw = dict(_OPT_KW, momentum=0.9, velocity="seed")
  if f is optim.momentum:
    kinds["dampening"] = "unit"
    kw["dampening"] = 0.0
  case(f, kinds, **kw)
case(
  optim.adagrad,
  {**_OPT, "eps": "nonneg", "initial_accumulator_value": "nonneg", "eps_inside_sqrt": "flag"},
  **_OPT_KW,
  eps=1e-10,
  initial_accumulator_value=0.1,
  eps_inside_sqrt=True,
)
case(optim.adadelta, {**_OPT, "rho": "rate", "eps": "pos"}, **_OPT_KW, rho=0.9, eps=1e-6)
case(
  optim.rmsprop,
  {
    **_OPT,
    "decay": "rate",
    "eps": "nonneg",
    "eps_inside_sqrt": "flag",
    "initial_scale": "nonneg",
    "centered": "flag",
    "momentum": "rate",
    "nesterov": "flag",
    "velocity": "choice",
  },
  **_OPT_KW,
  decay=0.9,
  eps=1e-8,
  eps_inside_sqrt=True,
  initial_scale=0.0,
  centered=False,
  momentum=0.5,
  nesterov=False,
  velocity="seed",
)
_ADAM = {**_OPT, "b1": "rate", "b2": "rate", "eps": "nonneg", "eps_root": "nonneg"}
_ADAM_KW = dict(_OPT_KW, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0)
case(optim.adam, _ADAM, **_ADAM_KW)
case(optim.adamw, {**_ADAM, "weight_decay": "lr", "mask": "free"}, **_ADAM_KW, mask=None)
case(optim.amsgrad, {**_ADAM, "max_over": "choice"}, **_ADAM_KW, max_over="corrected")
case(optim.nadam, {**_ADAM, "momentum_decay": "nonneg?"}, **_ADAM_KW, momentum_decay=None)
case(
  optim.adamax,
  {**_OPT, "b1": "rate", "b2": "rate", "eps": "pos", "eps_in_max": "flag"},
  **_OPT_KW,
  b1=0.9,
  b2=0.999,
  eps=1e-8,
  eps_in_max=True,
)
case(
  optim.lion,
  {**_OPT, "b1": "rate", "b2": "rate", "weight_decay": "lr", "mask": "free"},
  **_OPT_KW,
  b1=0.9,
  b2=0.99,
  mask=None,
)
case(
  optim.inverse_time_decay,
  {"init_value": "nonneg", "decay_rate": "nonneg", "decay_steps": "pos", "staircase": "flag"},
  init_value=0.1,
  decay_rate=0.5,
  decay_steps=1,
  staircase=False,
)
case(
  optim.natural_exp_decay,
  {"init_value": "nonneg", "decay_rate": "nonneg", "decay_steps": "pos", "staircase": "flag"},
  init_value=0.1,
  decay_rate=0.5,
  decay_steps=1,
  staircase=False,
)
case(
  optim.exponential_decay,
  {
    "init_value": "nonneg",
    "decay_rate": "unit",
    "transition_steps": "pos",
    "staircase": "flag",
    "transition_begin": "nonnegint",
    "end_value": "nonneg?",
  },
  {"decay_rate": [0.0]},
  init_value=0.1,
  decay_rate=0.5,
  transition_steps=1,
  staircase=False,
  transition_begin=0,
  end_value=None,
)
case(
  optim.piecewise_constant,
  {"init_value": "nonneg", "boundaries_and_scales": "free", "inclusive": "flag"},
  {"boundaries_and_scales": [{10: NAN}, {10: -1.0}, {-1: 0.1}, {2.5: 0.1}, "ab", None]},
  init_value=0.1,
  boundaries_and_scales={10: 0.1},
  inclusive=True,
)
case(
  optim.step_decay,
  {"init_value": "nonneg", "boundaries": "free", "factor": "unit", "inclusive": "flag"},
  {"boundaries": [[-1], [2.5], [10, 5], "ab", None], "factor": [0.0]},
  init_value=0.1,
  boundaries=[10, 20],
  factor=0.1,
  inclusive=True,
)
case(
  optim.cosine_decay,
  {"init_value": "nonneg", "decay_steps": "posint", "alpha": "unit"},
  init_value=0.1,
  decay_steps=10,
  alpha=0.0,
)
case(
  optim.warmup,
  {"schedule": "lr", "warmup_steps": "posint", "init_value": "nonneg"},
  schedule=0.1,
  warmup_steps=5,
  init_value=0.0,
)
case(optim.clip_by_value, {"a": "bound", "b": "bound"}, {"b": [-2.0]}, a=-1.0, b=1.0)
case(optim.clip_by_norm, {"max_norm": "pos"}, max_norm=1.0)
case(optim.clip_by_global_norm, {"max_norm": "pos"}, max_norm=1.0)
case(optim.add_l2, {"weight": "nonneg", "mask": "free"}, weight=0.1, mask=None)
case(optim.add_l1, {"weight": "nonneg", "mask": "free"}, weight=0.1, mask=None)
case(
  optim.weight_decay,
  {"weight_decay": "nonneg", "learning_rate": "lr", "mask": "free"},
  weight_decay=0.1,
  learning_rate=0.1,
  mask=None,
)
case(
  optim.max_norm,
  {"max_value": "pos", "axis": "axes?", "mask": "free"},
  then=lambda tx: tx.update(_params, tx.init(_params), _params),
  max_value=1.0,
  axis=0,
  mask=None,
)
case(
  optim.freeze,
  {"mask": "free", "inner": "free"},  # pytrees / a GradientTransformation
  {"inner": ["x", 1]},
  mask={"w": True},
  inner=None,
)
case(optim.skip_nonfinite, {"inner": "free"}, {"inner": ["x", 1, None]}, inner=optim.sgd(0.1))
_flat, _layout = optim.flatten_params(_params)
case(optim.flatten_params, {"params": "free", "groups": "free"}, params=_params, groups=None)
case(
  optim.FlatLayout,
  {"treedef": "free", "shapes": "free", "dtypes": "free", "buffer_of": "free"},  # built by
  **{
    f: getattr(_layout, f) for f in ("treedef", "shapes", "dtypes", "buffer_of")
  },  # flatten_params
)
case(
  optim.flat_train_step,
  {"loss_fn": "fn", "optimizer": "free", "unflatten": "free", "has_aux": "flag"},
  {"optimizer": ["x", None], "unflatten": ["x", None]},
  loss_fn=lambda p: jnp.sum(p["w"] ** 2),
  optimizer=optim.sgd(0.1),
  unflatten=_layout,
  has_aux=False,
)


def all_cases() -> list[Case]:
  """The pure-function and optimizer cases, then the Flax modules' (imported lazily)."""
  import api_cases_flax

  return CASES + api_cases_flax.CASES
