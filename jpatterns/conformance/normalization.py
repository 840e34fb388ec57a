"""Normalization against flax.linen, autodiff of the plain formula and torch."""

from __future__ import annotations

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np

from jpatterns import normalization as norm
from jpatterns.conformance import add
from jpatterns.conformance._inputs import f32, normal, on_torch

_EPS = 1e-5


def _scale_bias(seed, c):
  return 1.0 + 0.3 * normal(seed, (c,)), 0.3 * normal(seed + 1, (c,))


def _norm_check(ours, module, x_shape, with_bias=True):
  def fn(key, dtype):
    x = normal(0, x_shape, dtype, scale=2.0, loc=1.0)
    s, b = (a.astype(dtype) for a in _scale_bias(1, x_shape[-1]))  # same values both sides
    params = {"scale": s, "bias": b} if with_bias else {"scale": s}
    want = module.apply({"params": f32(params)}, x.astype(jnp.float32))
    return ours(x, s, b), want

  return fn


add("layer_norm", "flax.linen.LayerNorm", "reduction", ("f32", "bf16"))(
  _norm_check(
    lambda x, s, b: norm.layer_norm(x, scale=s, bias=b, eps=_EPS),
    fnn.LayerNorm(epsilon=_EPS, use_fast_variance=False),
    (4, 5, 8),
  )
)
add("group_norm", "flax.linen.GroupNorm", "reduction", ("f32", "bf16"))(
  _norm_check(
    lambda x, s, b: norm.group_norm(x, scale=s, bias=b, num_groups=3, eps=_EPS),
    fnn.GroupNorm(num_groups=3, epsilon=_EPS, use_fast_variance=False),
    (2, 3, 4, 6),
  )
)
add("instance_norm", "flax.linen.InstanceNorm", "reduction", ("f32", "bf16"))(
  _norm_check(
    lambda x, s, b: norm.instance_norm(x, scale=s, bias=b, eps=_EPS),
    fnn.InstanceNorm(epsilon=_EPS, use_fast_variance=False),
    (2, 3, 4, 6),
  )
)
add("rms_norm", "flax.linen.RMSNorm", "reduction", ("f32", "bf16"))(
  _norm_check(
    lambda x, s, b: norm.rms_norm(x, scale=s, eps=1e-6),
    fnn.RMSNorm(epsilon=1e-6),
    (4, 8),
    with_bias=False,
  )
)


@add(
  "batch_norm",
  "flax.linen.BatchNorm (output, running mean/var, 3 steps + eval)",
  "reduction",
  ("f32", "bf16"),
)
def _batch_norm(key, dtype):
  c = 6
  s, b = (a.astype(dtype) for a in _scale_bias(0, c))
  params = f32({"scale": s, "bias": b})
  bn = fnn.BatchNorm(momentum=0.9, epsilon=_EPS, use_fast_variance=False)
  # Three training steps (batches of different means) in one lax.scan, then eval.
  xs = (
    normal(2, (3, 8, 3, 3, c), scale=2.0) + jnp.arange(1.0, 4.0)[:, None, None, None, None]
  ).astype(dtype)

  def step(carry, x):
    stats, flax_stats = carry
    y, stats = norm.batch_norm(x, stats, scale=s, bias=b, train=True, momentum=0.9, eps=_EPS)
    y_ref, upd = bn.apply(
      {"params": params, "batch_stats": flax_stats},
      x.astype(jnp.float32),
      use_running_average=False,
      mutable=["batch_stats"],
    )
    flax_stats = upd["batch_stats"]
    return (stats, flax_stats), (
      (y, stats.mean, stats.var),
      (y_ref, flax_stats["mean"], flax_stats["var"]),
    )

  init_flax = {"mean": jnp.zeros(c), "var": jnp.ones(c)}
  (stats, flax_stats), (ours, theirs) = jax.lax.scan(
    step, (norm.init_batch_norm_stats(c), init_flax), xs
  )
  x = normal(3, (4, 3, 3, c), dtype)
  y, _ = norm.batch_norm(x, stats, scale=s, bias=b, train=False, eps=_EPS)
  y_ref = bn.apply(
    {"params": params, "batch_stats": flax_stats}, x.astype(jnp.float32), use_running_average=True
  )
  return [ours, y], [theirs, y_ref]


@add("batch_norm_analytic", "autodiff of the plain BN formula (∇h, ∇γ, ∇β)", "reduction")
def _batch_norm_analytic(key, dtype):
  h = normal(0, (16, 5), dtype, scale=2.0, loc=0.5)
  g, b = _scale_bias(1, 5)
  cot = normal(3, (16, 5))

  def plain(h, g, b):  # h1 = (h − μ)/√(σ² + ε); h2 = γ h1 + β
    mu = h.mean(0)
    var = ((h - mu) ** 2).mean(0)
    return g * (h - mu) / jnp.sqrt(var + _EPS) + b

  def loss(f):
    return lambda h, g, b: jnp.sum(f(h, g, b) * cot)

  ours = jax.grad(
    loss(lambda h, g, b: norm.batch_norm_analytic(h, scale=g, bias=b, eps=_EPS)), argnums=(0, 1, 2)
  )(h, g, b)
  return ours, jax.grad(loss(plain), argnums=(0, 1, 2))(h, g, b)


# torch: on the host CPU through on_torch (jax.pure_callback); NCHW where torch wants it.


def _torch():
  import torch  # noqa: PLC0415  (imported only when a torch check runs)

  return torch


@add("local_response_norm", "torch local_response_norm with α·n, sizes 1..5", "torch", torch=True)
def _torch_lrn(key, dtype):
  x = normal(0, (2, 7, 3, 3), scale=3.0)  # NCHW
  sizes, alpha, beta, k = (1, 2, 3, 4, 5), 1e-2, 0.75, 2.0

  def ref(x):
    F = _torch().nn.functional
    t = _torch().tensor(x)
    return [F.local_response_norm(t, n, alpha=alpha * n, beta=beta, k=k).numpy() for n in sizes]

  got = [
    norm.local_response_norm(x, size=n, k=k, alpha=alpha, beta=beta, channel_axis=1) for n in sizes
  ]
  return got, on_torch(ref, x, like=got)


@add(
  "layer_norm",
  "torch.nn.functional.layer_norm, last axis and last two axes without bias",
  "torch",
  torch=True,
)
def _torch_layer_norm(key, dtype):
  x = normal(0, (4, 5, 8), scale=2.0, loc=1.0)
  s, b = _scale_bias(1, 8)
  s2 = 1.0 + 0.3 * normal(3, (5, 8))

  def ref(x, s, b, s2):
    torch = _torch()
    t = torch.tensor(x)
    F = torch.nn.functional
    return [
      F.layer_norm(t, (8,), torch.tensor(s), torch.tensor(b), eps=_EPS).numpy(),
      F.layer_norm(t, (5, 8), torch.tensor(s2), None, eps=_EPS).numpy(),
    ]

  got = [
    norm.layer_norm(x, scale=s, bias=b, eps=_EPS),
    norm.layer_norm(x, scale=s2, bias=None, axis=(1, 2), eps=_EPS),
  ]
  return got, on_torch(ref, x, s, b, s2, like=got)


@add("group_norm", "torch.nn.functional.group_norm, NCHW (channel_axis=1)", "torch", torch=True)
def _torch_group_norm(key, dtype):
  x = normal(0, (2, 6, 4, 5), scale=2.0, loc=1.0)  # NCHW
  s, b = _scale_bias(1, 6)

  def ref(x, s, b):
    torch = _torch()
    return torch.nn.functional.group_norm(
      torch.tensor(x), 3, torch.tensor(s), torch.tensor(b), eps=_EPS
    ).numpy()

  got = norm.group_norm(x, scale=s, bias=b, num_groups=3, channel_axis=1, eps=_EPS)
  return got, on_torch(ref, x, s, b, like=got)


@add(
  "instance_norm", "torch.nn.functional.instance_norm, NCHW (channel_axis=1)", "torch", torch=True
)
def _torch_instance_norm(key, dtype):
  x = normal(0, (2, 6, 4, 5), scale=2.0, loc=1.0)  # NCHW
  s, b = _scale_bias(1, 6)

  def ref(x, s, b):
    torch = _torch()
    return torch.nn.functional.instance_norm(
      torch.tensor(x), weight=torch.tensor(s), bias=torch.tensor(b), eps=_EPS
    ).numpy()

  got = norm.instance_norm(x, scale=s, bias=b, channel_axis=1, eps=_EPS)
  return got, on_torch(ref, x, s, b, like=got)


@add("rms_norm", "torch.nn.functional.rms_norm", "torch", torch=True)
def _torch_rms_norm(key, dtype):
  x = normal(0, (4, 8), scale=0.5)
  s, _ = _scale_bias(1, 8)

  def ref(x, s):
    torch = _torch()
    return torch.nn.functional.rms_norm(torch.tensor(x), (8,), torch.tensor(s), eps=1e-6).numpy()

  got = norm.rms_norm(x, scale=s, eps=1e-6)
  return got, on_torch(ref, x, s, like=got)


@add(
  "batch_norm",
  "torch BatchNorm2d (converted settings: momentum 1 − 0.1, unbiased running var; 3 steps + eval)",
  "torch",
  torch=True,
)
def _torch_batch_norm(key, dtype):
  c = 5
  s, b = _scale_bias(1, c)
  xs = normal(2, (3, 4, 3, 3, c), scale=2.0) + jnp.arange(1.0, 4.0)[:, None, None, None, None]
  x_eval = normal(3, (2, 3, 3, c))

  def ref(xs, x_eval, s, b):
    torch = _torch()
    m = torch.nn.BatchNorm2d(c, momentum=0.1, eps=_EPS)
    with torch.no_grad():
      m.weight.copy_(torch.tensor(s))
      m.bias.copy_(torch.tensor(b))
      m.train()
      ys, means, vars_ = [], [], []
      for x in xs:  # NHWC here, NCHW for torch
        ys.append(m(torch.tensor(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy())
        means.append(m.running_mean.numpy().copy())
        vars_.append(m.running_var.numpy().copy())
      m.eval()
      y = m(torch.tensor(x_eval).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    return [(np.stack(ys), np.stack(means), np.stack(vars_)), y]

  def step(stats, x):
    y, stats = norm.batch_norm(
      x,
      stats,
      scale=s,
      bias=b,
      train=True,
      momentum=1 - 0.1,
      eps=_EPS,
      unbiased_running_var=True,
    )
    return stats, (y, stats.mean, stats.var)

  stats, trained = jax.lax.scan(step, norm.init_batch_norm_stats(c), xs)
  y, _ = norm.batch_norm(x_eval, stats, scale=s, bias=b, train=False, eps=_EPS)
  got = [trained, y]
  return got, on_torch(ref, xs, x_eval, s, b, like=got)
