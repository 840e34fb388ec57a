"""Parameter and flag plumbing of the ``flax.linen`` modules (one copy for all families)."""

from __future__ import annotations

import flax.linen as nn


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
