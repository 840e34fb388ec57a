"""Activations against jax.nn (f32, bf16) and torch (gelu)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jpatterns import activations as act
from jpatterns.conformance import add
from jpatterns.conformance._inputs import normal, on_torch

_ACTIVATIONS = [
  ("sigmoid", act.sigmoid, jax.nn.sigmoid, "jax.nn.sigmoid"),
  ("tanh", act.tanh, jnp.tanh, "jnp.tanh"),
  ("relu", act.relu, jax.nn.relu, "jax.nn.relu"),
  ("leaky_relu", act.leaky_relu, jax.nn.leaky_relu, "jax.nn.leaky_relu"),
  ("elu", act.elu, jax.nn.elu, "jax.nn.elu"),
  ("selu", act.selu, jax.nn.selu, "jax.nn.selu"),
  ("celu", act.celu, jax.nn.celu, "jax.nn.celu"),
  (
    "gelu (exact)",
    act.gelu,
    functools.partial(jax.nn.gelu, approximate=False),
    "jax.nn.gelu(approximate=False)",
  ),
  (
    "gelu (tanh)",
    functools.partial(act.gelu, approximate=True),
    functools.partial(jax.nn.gelu, approximate=True),
    "jax.nn.gelu(approximate=True)",
  ),
  ("silu", act.silu, jax.nn.silu, "jax.nn.silu"),
  ("softplus", act.softplus, jax.nn.softplus, "jax.nn.softplus"),
  ("softmax", act.softmax, jax.nn.softmax, "jax.nn.softmax"),
  ("log_softmax", act.log_softmax, jax.nn.log_softmax, "jax.nn.log_softmax"),
]
if hasattr(jax.nn, "mish"):
  _ACTIVATIONS.append(("mish", act.mish, jax.nn.mish, "jax.nn.mish"))


def _activation_check(ours, theirs):
  def fn(key, dtype):
    x = normal(0, (4, 16), dtype, scale=3.0)  # a spread of negative and positive
    return ours(x), theirs(x.astype(jnp.float32))

  return fn


for _name, _ours, _theirs, _ref in _ACTIVATIONS:
  add(_name, _ref, "elementwise", ("f32", "bf16"))(_activation_check(_ours, _theirs))


def _torch_fn(name):
  import torch  # noqa: PLC0415

  return lambda *a: getattr(torch.nn.functional, name)(*(torch.tensor(x) for x in a))


@add("gelu (exact)", "torch.nn.functional.gelu", "torch", torch=True)
def _torch_gelu(key, dtype):
  x = normal(0, (64,), scale=3.0)
  return act.gelu(x), on_torch(lambda x: _torch_fn("gelu")(x).numpy(), x, like=x)
