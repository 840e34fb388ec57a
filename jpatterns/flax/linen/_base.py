"""Parameter and flag plumbing of the ``flax.linen`` modules (one copy for all families)."""

from __future__ import annotations

import flax.linen as nn


def scale_bias(module, shape):
  """γ and β of a norm module (``None`` where ``use_scale`` / ``use_bias`` is off)."""
  scale = (module.param("scale", module.scale_init, shape, module.param_dtype)
           if module.use_scale else None)
  bias = (module.param("bias", module.bias_init, shape, module.param_dtype)
          if module.use_bias else None)
  return scale, bias


class Stochastic(nn.Module):
  """Shared flag and key handling (as ``flax.linen.Dropout``)."""

  def _train(self, deterministic):
    return not nn.merge_param("deterministic", self.deterministic, deterministic)

  def _key(self, rng):
    return self.make_rng(self.rng_collection) if rng is None else rng
