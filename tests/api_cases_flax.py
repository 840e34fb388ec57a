"""The API walk's cases for the Flax modules: their constructor arguments.

A module's arguments are checked where it is built (nnx ``__init__``, linen
``__post_init__``). Each argument's kind comes from :data:`KIND` by name (the same
name means the same thing in every module), with per-class overrides.
"""

from __future__ import annotations

import inspect
import math

import flax.linen as nn
import jax.numpy as jnp
from api_cases import BAD, Case
from flax import nnx

from jpatterns.flax import linen as L
from jpatterns.flax import nnx as N

BAD = dict(BAD)
BAD["axis1"] = [2.5, "a", True, [0], (0, 1)]  # one axis (its range needs the input's rank)
BAD["axes1"] = [2.5, "a", True, (0.5,)]
BAD["axis_name"] = [3, 2.5, ("a", 1)]
BAD["str"] = [3, None, 2.5]
BAD["rngs"] = [1, "r", 2.5]
BAD["rngs!"] = [1, "r", 2.5, None]  # required
BAD["sizes"] = [0, -1, 2.5, math.nan, "3", True, (4, 0), (4, 2.5)]  # an int or a tuple of ints

KIND = {
  "num_features": "posint",
  "features": "posint",
  "in_features": "posint",
  "out_features": "posint",
  "hidden_features": "posint",
  "dim": "posint",
  "kv_dim": "posint?",
  "out_dim": "posint?",
  "num_channels": "posint?",
  "num_groups": "posint",
  "num_heads": "posint",
  "num_samples": "posint",
  "size": "posint",
  "n_steps": "posint",
  "feature_axis": "axis1",
  "channel_axis": "axis1",
  "batch_axis": "axis1",
  "axis": "axes1",
  "broadcast_dims": "axes1",
  "momentum": "unit",
  "rate": "unit",
  "lower": "unit",
  "upper": "unit",
  "eps": "pos",
  "k": "pos",
  "alpha": "nonneg",
  "beta": "float",
  "negative_slope_init": "float",
  "forget_bias": "float",
  "use_bias": "flag",
  "use_scale": "flag",
  "inverted": "flag",
  "causal": "flag",
  "per_channel": "flag",
  "use_running_average": "flag?",
  "deterministic": "flag?",
  "update_stats": "flag?",
  "bias_init": "fn",
  "scale_init": "fn",
  "kernel_init": "fn",
  "gate": "fn",
  "branch": "fn",
  "activation": "fn?",
  "param_dtype": "dtype",
  "axis_name": "axis_name",
  "rng_collection": "str",
  "rngs": "rngs",
}

CASES: list[Case] = []


def module_case(cls, api, extra=None, kinds=None, **kwargs):
  init = cls.__init__
  params = [p for p in inspect.signature(init).parameters.values() if p.name not in ("self",)]
  kinds_override, kinds = kinds, {}
  for p in params:
    if p.name in ("parent", "name"):
      continue
    kind = KIND[p.name]
    if kind == "rngs" and p.default is inspect.Parameter.empty:
      kind = "rngs!"
    kinds[p.name] = kind
  kinds |= kinds_override or {}
  case = Case(f"{api}.{cls.__name__}", cls, kwargs, kinds, extra or {})
  case.bad_values = lambda param, case=case: (
    list(BAD[case.kinds[param]]) + list(case.extra.get(param, []))
  )
  CASES.append(case)


R = nnx.Rngs(0)
_LOWER = {"lower": [0.5, math.nan]}  # lower > upper (upper 1/3)

# ------------------------------------------------------------------ nnx
module_case(N.BatchNorm, "nnx", num_features=4, rngs=R)
module_case(N.LayerNorm, "nnx", kinds={"num_features": "sizes"}, num_features=4, rngs=R)
module_case(N.GroupNorm, "nnx", num_features=4, num_groups=2, rngs=R)
module_case(N.InstanceNorm, "nnx", num_features=4, rngs=R)
module_case(N.RMSNorm, "nnx", kinds={"num_features": "sizes"}, num_features=4, rngs=R)
module_case(N.LocalResponseNorm, "nnx", size=3)
module_case(N.WeightNormDense, "nnx", in_features=3, out_features=4, rngs=R)
module_case(N.SpectralNormDense, "nnx", in_features=3, out_features=4, rngs=R)
module_case(N.Dropout, "nnx", rate=0.5, rngs=R)
module_case(N.GaussianDropout, "nnx", rate=0.5, rngs=R)
module_case(N.AlphaDropout, "nnx", rate=0.5, rngs=R)
module_case(N.SpatialDropout, "nnx", rate=0.5, rngs=R)
module_case(N.DropPath, "nnx", rate=0.5, rngs=R)
module_case(N.DropConnectDense, "nnx", in_features=3, out_features=4, rate=0.5, rngs=R)
module_case(N.Standout, "nnx", in_features=3, out_features=4, rngs=R)
module_case(N.PReLU, "nnx", negative_slope_init=0.01)
module_case(N.RReLU, "nnx", _LOWER, rngs=R)
module_case(N.Residual, "nnx", branch=jnp.tanh, rngs=R)
module_case(N.MultiHeadAttention, "nnx", dim=4, num_heads=2, rngs=R)
module_case(N.LSTMCell, "nnx", in_features=3, hidden_features=4, rngs=R)

# ------------------------------------------------------------------ linen
for cls, kw in (
  (L.BatchNorm, {}),
  (L.LayerNorm, {}),
  (L.GroupNorm, {}),
  (L.InstanceNorm, {}),
  (L.RMSNorm, {}),
  (L.LocalResponseNorm, {"size": 3}),
  (L.WeightNormDense, {"features": 4}),
  (L.SpectralNormDense, {"features": 4}),
  (L.Dropout, {"rate": 0.5}),
  (L.GaussianDropout, {"rate": 0.5}),
  (L.AlphaDropout, {"rate": 0.5}),
  (L.SpatialDropout, {"rate": 0.5}),
  (L.DropPath, {"rate": 0.5}),
  (L.DropConnectDense, {"features": 4}),
  (L.Standout, {"features": 4}),
  (L.PReLU, {}),
  (L.RReLU, {}),
  (L.Residual, {"branch": nn.Dense(4)}),
  (L.MultiHeadAttention, {"num_heads": 2}),
  (L.LSTMCell, {"features": 4}),
):
  module_case(cls, "linen", _LOWER if cls is L.RReLU else None, **kw)
