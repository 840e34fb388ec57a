"""Tools: check_grads on a smooth MLP loss."""

from __future__ import annotations

from jpatterns import gradcheck
from jpatterns.conformance import add
from jpatterns.conformance._inputs import mlp_problem


@add("check_grads", "worst relative error vs 0 on a smooth MLP loss", "gradcheck", jit=False)
def _check_grads(key, dtype):
  loss, params = mlp_problem()
  return gradcheck.check_grads(loss, params).max_rel_error, 0.0
