"""Parameter and flag plumbing of the ``flax.linen`` modules (one copy for all families)."""

from __future__ import annotations

import dataclasses

import flax.linen as nn

from jpatterns.flax import _shared


def checked(cls):
  """Class decorator: the module's fields are checked in ``__post_init__`` (construction).

  Same table as the nnx modules (:func:`jpatterns.flax._shared.check_config`).
  """
  parent_post_init = cls.__post_init__

  def __post_init__(self):
    fields = [f for f in dataclasses.fields(self) if f.name not in ("parent", "name")]
    nullable = tuple(f.name for f in fields if f.default is None)
    params = {f.name: getattr(self, f.name) for f in fields}
    _shared.check_config(type(self).__name__, params, nullable)
    parent_post_init(self)

  cls.__post_init__ = __post_init__
  return cls


def optional_param(module, use, name, init, shape):
  """``module.param(name, init, shape, module.param_dtype)`` when ``use``, else None."""
  return module.param(name, init, shape, module.param_dtype) if use else None


def scale_bias(module, shape):
  """γ and β of a norm module (``None`` where ``use_scale`` / ``use_bias`` is off)."""
  scale = optional_param(module, module.use_scale, "scale", module.scale_init, shape)
  bias = optional_param(module, module.use_bias, "bias", module.bias_init, shape)
  return scale, bias


class Stochastic(nn.Module):
  """Shared flag and key handling (as ``flax.linen.Dropout``)."""

  def _train(self, deterministic):
    return not nn.merge_param("deterministic", self.deterministic, deterministic)

  def _key(self, rng):
    return self.make_rng(self.rng_collection) if rng is None else rng
