"""Optimizers: 20-step trajectories against optax and torch.optim."""

from __future__ import annotations

import numpy as np
import optax

from jpatterns import optim
from jpatterns.conformance import add
from jpatterns.conformance._inputs import STEPS, mlp_problem, on_torch, trajectory

# A small multi-leaf MLP with a non-quadratic loss (log-cosh regression through tanh,
# plus a quartic term; _inputs.mlp_problem), STEPS steps of ours and of the reference
# in one jitted lax.scan.


def _optim_check(ours, theirs):
  def fn(key, dtype):
    loss, params = mlp_problem()
    return trajectory(ours(), loss, params), trajectory(theirs(), loss, params)

  return fn


_OPTIMIZERS = [
  ("sgd", lambda: optim.sgd(0.1), lambda: optax.sgd(0.1), "optax.sgd"),
  (
    "momentum",
    lambda: optim.momentum(0.1, momentum=0.9),
    lambda: optax.sgd(0.1, momentum=0.9),
    "optax.sgd(momentum=0.9)",
  ),
  (
    "nesterov",
    lambda: optim.nesterov(0.1, momentum=0.9),
    lambda: optax.sgd(0.1, momentum=0.9, nesterov=True),
    "optax.sgd(nesterov=True)",
  ),
  (
    "adagrad",
    lambda: optim.adagrad(0.1, initial_accumulator_value=0.1, eps=1e-7),
    lambda: optax.adagrad(0.1),
    "optax.adagrad (initial accumulator 0.1, eps 1e-7)",
  ),
  (
    "adadelta",
    lambda: optim.adadelta(learning_rate=1.0, rho=0.9, eps=1e-6),
    lambda: optax.adadelta(learning_rate=1.0, rho=0.9, eps=1e-6),
    "optax.adadelta(learning_rate=1)",
  ),
  ("rmsprop", lambda: optim.rmsprop(0.002), lambda: optax.rmsprop(0.002), "optax.rmsprop"),
  (
    "rmsprop (centered, momentum)",
    lambda: optim.rmsprop(0.001, centered=True, momentum=0.9),
    lambda: optax.rmsprop(0.001, centered=True, momentum=0.9),
    "optax.rmsprop(centered, momentum)",
  ),
  ("adam", lambda: optim.adam(0.01), lambda: optax.adam(0.01), "optax.adam"),
  (
    "adamw",
    lambda: optim.adamw(0.01, weight_decay=0.1),
    lambda: optax.adamw(0.01, weight_decay=0.1),
    "optax.adamw",
  ),
  ("amsgrad", lambda: optim.amsgrad(0.01), lambda: optax.amsgrad(0.01), "optax.amsgrad"),
  ("nadam", lambda: optim.nadam(0.01), lambda: optax.nadam(0.01), "optax.nadam"),
  ("adamax", lambda: optim.adamax(0.01), lambda: optax.adamax(0.01), "optax.adamax"),
  ("lion", lambda: optim.lion(1e-3), lambda: optax.lion(1e-3, weight_decay=0.0), "optax.lion"),
]
for _name, _ours, _theirs, _ref in _OPTIMIZERS:
  add(_name, f"{_ref}, {STEPS} steps", "trajectory")(_optim_check(_ours, _theirs))


def _torch_mlp_trajectory(torch_opt, params, x, y):
  import torch  # noqa: PLC0415  (optional dependency)

  names = sorted(params)
  ts = {k: torch.tensor(params[k], requires_grad=True) for k in names}
  opt = torch_opt(torch, [ts[k] for k in names])
  x, y = torch.tensor(x), torch.tensor(y)
  out = {k: [] for k in names}
  for _ in range(STEPS):
    opt.zero_grad()
    r = torch.tanh(x @ ts["w1"] + ts["b1"]) @ ts["w2"] - y
    (torch.log(torch.cosh(r)).mean() + 0.1 * (ts["s"] ** 4).sum()).backward()
    opt.step()
    for k in names:
      out[k].append(ts[k].detach().numpy().copy())
  return {k: np.stack(v) for k, v in out.items()}


def _torch_optim_check(ours, torch_opt):
  def fn(key, dtype):
    loss, params, (x, y) = mlp_problem(with_data=True)
    got = trajectory(ours(), loss, params)
    want = on_torch(
      lambda p, x, y: _torch_mlp_trajectory(torch_opt, p, x, y), params, x, y, like=got
    )
    return got, want

  return fn


for _name, _ours, _theirs, _ref in [
  (
    "adagrad",
    lambda: optim.adagrad(0.1, eps_inside_sqrt=False),
    lambda torch, ps: torch.optim.Adagrad(ps, lr=0.1),
    "torch.optim.Adagrad",
  ),
  (
    "rmsprop",
    lambda: optim.rmsprop(0.001, decay=0.99, eps=1e-8, eps_inside_sqrt=False, velocity="gradient"),
    lambda torch, ps: torch.optim.RMSprop(ps, lr=0.001, alpha=0.99, eps=1e-8),
    "torch.optim.RMSprop",
  ),
  (
    "adam",
    lambda: optim.adam(0.01),
    lambda torch, ps: torch.optim.Adam(ps, lr=0.01),
    "torch.optim.Adam",
  ),
]:
  add(_name, f"{_ref}, {STEPS} steps", "torch", torch=True)(_torch_optim_check(_ours, _theirs))
