"""The conformance checks that ``jpatterns verify`` runs: jpatterns against its references.

Each :class:`Check` computes ``fn(key, dtype) -> (ours, theirs)``, two arrays or two
pytrees of the same structure, on the default device. The command compares them with

    max error = max over elements of |ours − theirs| / max(1, |theirs|)

(relative where the reference is large, absolute where it is below 1) and passes a
check when that error is at most :data:`TOLERANCES` ``[tol][dtype][backend]``.

The problems are tiny (tens of elements, 20 optimizer steps): XLA compilation is
the whole cost, so ``verify`` compiles the checks of one family and dtype as one
program. References are independent code: optax, flax.linen, jax.nn, autodiff of a
plain ``jnp`` transcription, and PyTorch when it is importable (on the host CPU
whatever the JAX backend, through ``jax.pure_callback``, so those checks jit too).
bf16 checks feed the same bf16 inputs (and parameters) to both sides and compute the
reference in float32 (the true value), so the error measured is jpatterns' bf16
rounding; jax.nn's own bf16 activations are up to 9e-3 from it.

Adding a check: decorate ``fn(key, dtype) -> (ours, theirs)`` with
``@_add(pattern, reference, tol_class, family, dtypes)``; it must be traceable
(jit=False otherwise). ``key`` is for the patterns whose randomness is the point
(dropout masks, initializers: same key on both sides); data comes from ``_normal``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jpatterns import activations as act
from jpatterns import stochastic as jdrop
from jpatterns import gradcheck
from jpatterns import initializers as init
from jpatterns import layers
from jpatterns import losses
from jpatterns import normalization as norm
from jpatterns import optim
from jpatterns import regularization

__all__ = ["Check", "CHECKS", "DTYPES", "FAMILIES", "TOLERANCES", "backend_name",
           "tolerance", "max_error"]

DTYPES = {"f32": jnp.float32, "bf16": jnp.bfloat16}

# Tolerance on the max error, per tolerance class, dtype and backend: the one place
# where tolerances are stated. Every check runs under
# jax.default_matmul_precision("highest"), so float32 matmuls are float32 on GPU
# (no TF32) and TPU (no bf16 passes); the looser GPU/TPU entries allow for other
# transcendental-function implementations and reduction orders.
TOLERANCES = {
    # Same key, same sampling ops (initializers, dropout masks): bit-equal on the CPU
    # (tested). GPU/TPU fusion may round differently by an ulp or two; a wrong mask or
    # sample is off by O(1), far above that allowance.
    "exact": {"f32": {"cpu": 0.0, "gpu": 2.5e-7, "tpu": 2.5e-7},
              "bf16": {"cpu": 0.0, "gpu": 1.6e-2, "tpu": 1.6e-2}},
    # Elementwise formulas (activations, losses, schedules, clipping).
    # bf16: jax.nn's own bf16 results are up to 9e-3 from the float32 truth (selu).
    "elementwise": {"f32": {"cpu": 1e-5, "gpu": 1e-5, "tpu": 1e-4},
                    "bf16": {"cpu": 2e-2, "gpu": 2e-2, "tpu": 2e-2}},
    # Reductions and matmuls (normalization, pooling, attention, gradients).
    "reduction": {"f32": {"cpu": 1e-5, "gpu": 1e-4, "tpu": 1e-3},
                  "bf16": {"cpu": 2e-2, "gpu": 2e-2, "tpu": 3e-2}},
    # 20-step optimizer trajectories (rounding accumulates over steps).
    "trajectory": {"f32": {"cpu": 1e-5, "gpu": 1e-4, "tpu": 1e-3}},
    # check_grads' worst relative error in float32 (its own docs: 1e-4..1e-3).
    "gradcheck": {"f32": {"cpu": 5e-3, "gpu": 5e-3, "tpu": 1e-2}},
    # Against PyTorch on the CPU, converted through NumPy.
    "torch": {"f32": {"cpu": 1e-5, "gpu": 1e-4, "tpu": 1e-3}},
}


@dataclasses.dataclass(frozen=True)
class Check:
  """One conformance check.

  Attributes:
    pattern: the jpatterns pattern (what ``--filter`` matches).
    reference: what it is compared with.
    fn: ``fn(key, dtype) -> (ours, theirs)``.
    tol: tolerance class, a key of :data:`TOLERANCES`.
    family: catalogue family (what ``--family`` matches).
    dtypes: dtype names the check supports (keys of :data:`DTYPES`).
    jit: wrap ``fn`` in ``jax.jit`` (False where it calls torch or is jitted inside).
    torch: needs PyTorch (skipped when torch is not importable).
  """
  pattern: str
  reference: str
  fn: Callable[[Any, Any], tuple[Any, Any]]
  tol: str
  family: str
  dtypes: tuple[str, ...] = ("f32",)
  jit: bool = True
  torch: bool = False


def backend_name() -> str:
  """'cpu', 'gpu' or 'tpu' (jax.default_backend(), with cuda/rocm counted as gpu)."""
  b = jax.default_backend()
  return "gpu" if b in ("gpu", "cuda", "rocm") else b


def tolerance(check: Check, dtype: str, backend: str) -> float:
  by_backend = TOLERANCES[check.tol][dtype]
  return by_backend.get(backend, max(by_backend.values()))


def max_error(ours, theirs) -> float:
  """max |ours − theirs| / max(1, |theirs|) over every leaf and element (float64)."""
  a_leaves, b_leaves = jax.tree.leaves(ours), jax.tree.leaves(theirs)
  if len(a_leaves) != len(b_leaves):
    raise ValueError(f"ours has {len(a_leaves)} leaves, the reference {len(b_leaves)}")
  worst = 0.0
  for a, b in zip(a_leaves, b_leaves):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
      raise ValueError(f"shape {a.shape} differs from the reference's {b.shape}")
    if a.size == 0:
      continue
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
      same = np.array_equal(a, b, equal_nan=True)
      if not same:
        return float("inf")
      continue
    worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))))
  return worst


# ---------------------------------------------------------------------------- inputs

def _normal(seed: int, shape, dtype=jnp.float32, scale=1.0, loc=0.0):
  """Test data from NumPy: a constant in the compiled program. (jax.random here would
  put a threefry hash into every check, and those dominated the compile time.)"""
  x = loc + scale * np.random.default_rng(seed).standard_normal(shape)
  return jnp.asarray(x.astype(np.float32)).astype(dtype)


def _integers(seed: int, shape, high):
  return jnp.asarray(np.random.default_rng(seed).integers(0, high, shape), jnp.int32)


def _f32(x):
  return jax.tree.map(lambda a: a.astype(jnp.float32), x)


CHECKS: list[Check] = []


def _add(pattern, reference, tol, family, dtypes=("f32",), jit=True, torch=False):
  def register(fn):
    CHECKS.append(Check(pattern, reference, fn, tol, family, tuple(dtypes), jit, torch))
    return fn
  return register


# ----------------------------------------------------------------------- activations

_ACTIVATIONS = [
    ("sigmoid", act.sigmoid, jax.nn.sigmoid, "jax.nn.sigmoid"),
    ("tanh", act.tanh, jnp.tanh, "jnp.tanh"),
    ("relu", act.relu, jax.nn.relu, "jax.nn.relu"),
    ("leaky_relu", act.leaky_relu, jax.nn.leaky_relu, "jax.nn.leaky_relu"),
    ("elu", act.elu, jax.nn.elu, "jax.nn.elu"),
    ("selu", act.selu, jax.nn.selu, "jax.nn.selu"),
    ("celu", act.celu, jax.nn.celu, "jax.nn.celu"),
    ("gelu (exact)", act.gelu, functools.partial(jax.nn.gelu, approximate=False),
     "jax.nn.gelu(approximate=False)"),
    ("gelu (tanh)", functools.partial(act.gelu, approximate=True),
     functools.partial(jax.nn.gelu, approximate=True), "jax.nn.gelu(approximate=True)"),
    ("silu", act.silu, jax.nn.silu, "jax.nn.silu"),
    ("softplus", act.softplus, jax.nn.softplus, "jax.nn.softplus"),
    ("softmax", act.softmax, jax.nn.softmax, "jax.nn.softmax"),
    ("log_softmax", act.log_softmax, jax.nn.log_softmax, "jax.nn.log_softmax"),
]
if hasattr(jax.nn, "mish"):
  _ACTIVATIONS.append(("mish", act.mish, jax.nn.mish, "jax.nn.mish"))


def _activation_check(ours, theirs):
  def fn(key, dtype):
    x = _normal(0, (4, 16), dtype, scale=3.0)  # a spread of negative and positive
    return ours(x), theirs(x.astype(jnp.float32))
  return fn


for _name, _ours, _theirs, _ref in _ACTIVATIONS:
  _add(_name, _ref, "elementwise", "activations", ("f32", "bf16"))(
      _activation_check(_ours, _theirs))

# ---------------------------------------------------------------------- initializers

_JI = jax.nn.initializers
_INITIALIZERS = [
    ("glorot_normal", init.glorot_normal(), _JI.variance_scaling(1.0, "fan_avg", "normal"),
     'variance_scaling(1, "fan_avg", "normal")'),
    ("glorot_uniform", init.glorot_uniform(), _JI.glorot_uniform(), "glorot_uniform"),
    ("he_normal", init.he_normal(), _JI.variance_scaling(2.0, "fan_in", "normal"),
     'variance_scaling(2, "fan_in", "normal")'),
    ("he_uniform", init.he_uniform(), _JI.he_uniform(), "he_uniform"),
    ("lecun_normal", init.lecun_normal(), _JI.variance_scaling(1.0, "fan_in", "normal"),
     'variance_scaling(1, "fan_in", "normal")'),
    ("lecun_uniform", init.lecun_uniform(), _JI.lecun_uniform(), "lecun_uniform"),
    ("truncated_normal", init.truncated_normal(0.3), _JI.truncated_normal(0.3),
     "truncated_normal(0.3)"),
    ("orthogonal", init.orthogonal(scale=2.0), _JI.orthogonal(2.0), "orthogonal(2)"),
]


def _init_check(ours, theirs, qr):
  def fn(key, dtype):
    shape = (3, 3, 4, 6)  # a conv kernel (H, W, in, out): the fans include H·W
    # jax.nn's orthogonal has no bf16 QR: it samples in float32, then rounds.
    ref = theirs(key, shape, jnp.float32).astype(dtype) if qr else theirs(key, shape, dtype)
    return ours(key, shape, dtype), ref
  return fn


for _name, _ours, _theirs, _ref in _INITIALIZERS:
  _add(_name, "jax.nn.initializers." + _ref + " same key", "exact", "initializers",
       ("f32", "bf16"))(_init_check(_ours, _theirs, _name == "orthogonal"))

# --------------------------------------------------------------------- normalization

_EPS = 1e-5


def _scale_bias(seed, c):
  return 1.0 + 0.3 * _normal(seed, (c,)), 0.3 * _normal(seed + 1, (c,))


def _norm_check(ours, module, x_shape, with_bias=True):
  def fn(key, dtype):
    x = _normal(0, x_shape, dtype, scale=2.0, loc=1.0)
    s, b = (a.astype(dtype) for a in _scale_bias(1, x_shape[-1]))  # same values both sides
    params = {"scale": s, "bias": b} if with_bias else {"scale": s}
    want = module.apply({"params": _f32(params)}, x.astype(jnp.float32))
    return ours(x, s, b), want
  return fn


_add("layer_norm", "flax.linen.LayerNorm", "reduction", "normalization", ("f32", "bf16"))(
    _norm_check(lambda x, s, b: norm.layer_norm(x, s, b, epsilon=_EPS),
                fnn.LayerNorm(epsilon=_EPS, use_fast_variance=False), (4, 5, 8)))
_add("group_norm", "flax.linen.GroupNorm", "reduction", "normalization", ("f32", "bf16"))(
    _norm_check(lambda x, s, b: norm.group_norm(x, s, b, num_groups=3, epsilon=_EPS),
                fnn.GroupNorm(num_groups=3, epsilon=_EPS, use_fast_variance=False),
                (2, 3, 4, 6)))
_add("instance_norm", "flax.linen.InstanceNorm", "reduction", "normalization",
     ("f32", "bf16"))(
    _norm_check(lambda x, s, b: norm.instance_norm(x, s, b, epsilon=_EPS),
                fnn.InstanceNorm(epsilon=_EPS, use_fast_variance=False), (2, 3, 4, 6)))
_add("rms_norm", "flax.linen.RMSNorm", "reduction", "normalization", ("f32", "bf16"))(
    _norm_check(lambda x, s, b: norm.rms_norm(x, s, epsilon=1e-6),
                fnn.RMSNorm(epsilon=1e-6), (4, 8), with_bias=False))


@_add("batch_norm", "flax.linen.BatchNorm (output, running mean/var, 3 steps + eval)",
      "reduction", "normalization", ("f32", "bf16"))
def _batch_norm(key, dtype):
  c = 6
  s, b = (a.astype(dtype) for a in _scale_bias(0, c))
  params = _f32({"scale": s, "bias": b})
  bn = fnn.BatchNorm(momentum=0.9, epsilon=_EPS, use_fast_variance=False)
  # Three training steps (batches of different means) in one lax.scan, then eval.
  xs = (_normal(2, (3, 8, 3, 3, c), scale=2.0)
        + jnp.arange(1.0, 4.0)[:, None, None, None, None]).astype(dtype)

  def step(carry, x):
    stats, flax_stats = carry
    y, stats = norm.batch_norm(x, stats, s, b, train=True, momentum=0.9, epsilon=_EPS)
    y_ref, upd = bn.apply({"params": params, "batch_stats": flax_stats},
                          x.astype(jnp.float32), use_running_average=False,
                          mutable=["batch_stats"])
    flax_stats = upd["batch_stats"]
    return (stats, flax_stats), ((y, stats.mean, stats.var),
                                 (y_ref, flax_stats["mean"], flax_stats["var"]))

  init_flax = {"mean": jnp.zeros(c), "var": jnp.ones(c)}
  (stats, flax_stats), (ours, theirs) = jax.lax.scan(
      step, (norm.init_batch_norm_stats(c), init_flax), xs)
  x = _normal(3, (4, 3, 3, c), dtype)
  y, _ = norm.batch_norm(x, stats, s, b, train=False, epsilon=_EPS)
  y_ref = bn.apply({"params": params, "batch_stats": flax_stats}, x.astype(jnp.float32),
                   use_running_average=True)
  return [ours, y], [theirs, y_ref]


@_add("batch_norm_analytic", "autodiff of the plain BN formula (∇h, ∇γ, ∇β)",
      "reduction", "normalization")
def _batch_norm_analytic(key, dtype):
  h = _normal(0, (16, 5), dtype, scale=2.0, loc=0.5)
  g, b = _scale_bias(1, 5)
  cot = _normal(3, (16, 5))

  def plain(h, g, b):  # h1 = (h − μ)/√(σ² + ε); h2 = γ h1 + β
    mu = h.mean(0)
    var = ((h - mu) ** 2).mean(0)
    return g * (h - mu) / jnp.sqrt(var + _EPS) + b

  def loss(f):
    return lambda h, g, b: jnp.sum(f(h, g, b) * cot)

  ours = jax.grad(loss(functools.partial(norm.batch_norm_analytic, epsilon=_EPS)),
                  argnums=(0, 1, 2))(h, g, b)
  return ours, jax.grad(loss(plain), argnums=(0, 1, 2))(h, g, b)


# --------------------------------------------------------------------------- dropout

@_add("dropout", "flax.linen.Dropout same key (bit-equal)", "exact", "dropout",
      ("f32", "bf16"))
def _dropout(key, dtype):
  x = _normal(0, (4, 5, 6), dtype)
  ours = [jdrop.dropout(key, x, rate=r, broadcast_dims=d)
          for r, d in ((0.5, ()), (0.1, ()), (0.3, (0,)))]
  theirs = [fnn.Dropout(r, broadcast_dims=d, deterministic=False).apply({}, x, rng=key)
            for r, d in ((0.5, ()), (0.1, ()), (0.3, (0,)))]
  return ours, theirs


# -------------------------------------------------------------------------- optimizers
# A small multi-leaf MLP with a non-quadratic loss (log-cosh regression through tanh,
# plus a quartic term), 20 steps of ours and of optax in one jitted lax.scan.

_STEPS = 20


def _mlp_problem(with_data=False):
  x, y = _normal(0, (16, 4)), _normal(1, (16, 2))
  params = {"w1": _normal(2, (4, 3), scale=0.5), "b1": _normal(3, (3,), scale=0.1),
            "w2": _normal(4, (3, 2), scale=0.5), "s": jnp.array([0.8, -1.2])}

  def loss(p):
    r = jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] - y
    return jnp.log(jnp.cosh(r)).mean() + 0.1 * jnp.sum(p["s"] ** 4)
  return (loss, params, (x, y)) if with_data else (loss, params)


def _trajectory(opt, loss, params, steps=_STEPS):
  def step(carry, _):
    p, state = carry
    updates, state = opt.update(jax.grad(loss)(p), state, p)
    p = optax.apply_updates(p, updates)
    return (p, state), p
  return jax.lax.scan(step, (params, opt.init(params)), None, length=steps)[1]


def _optim_check(ours, theirs):
  def fn(key, dtype):
    loss, params = _mlp_problem()
    return _trajectory(ours(), loss, params), _trajectory(theirs(), loss, params)
  return fn


_OPTIMIZERS = [
    ("sgd", lambda: optim.sgd(0.1), lambda: optax.sgd(0.1), "optax.sgd"),
    ("momentum", lambda: optim.momentum(0.1, momentum=0.9),
     lambda: optax.sgd(0.1, momentum=0.9), "optax.sgd(momentum=0.9)"),
    ("nesterov", lambda: optim.nesterov(0.1, momentum=0.9),
     lambda: optax.sgd(0.1, momentum=0.9, nesterov=True), "optax.sgd(nesterov=True)"),
    ("adagrad", lambda: optim.adagrad(0.1, initial_accumulator_value=0.1, eps=1e-7),
     lambda: optax.adagrad(0.1), "optax.adagrad (initial accumulator 0.1, eps 1e-7)"),
    ("adadelta", lambda: optim.adadelta(learning_rate=1.0, rho=0.9, eps=1e-6),
     lambda: optax.adadelta(learning_rate=1.0, rho=0.9, eps=1e-6),
     "optax.adadelta(learning_rate=1)"),
    ("rmsprop", lambda: optim.rmsprop(0.002), lambda: optax.rmsprop(0.002),
     "optax.rmsprop"),
    ("rmsprop (centered, momentum)",
     lambda: optim.rmsprop(0.001, centered=True, momentum=0.9),
     lambda: optax.rmsprop(0.001, centered=True, momentum=0.9),
     "optax.rmsprop(centered, momentum)"),
    ("adam", lambda: optim.adam(0.01), lambda: optax.adam(0.01), "optax.adam"),
    ("adamw", lambda: optim.adamw(0.01, weight_decay=0.1),
     lambda: optax.adamw(0.01, weight_decay=0.1), "optax.adamw"),
    ("amsgrad", lambda: optim.amsgrad(0.01), lambda: optax.amsgrad(0.01), "optax.amsgrad"),
    ("nadam", lambda: optim.nadam(0.01), lambda: optax.nadam(0.01), "optax.nadam"),
    ("adamax", lambda: optim.adamax(0.01), lambda: optax.adamax(0.01), "optax.adamax"),
    ("lion", lambda: optim.lion(1e-3), lambda: optax.lion(1e-3, weight_decay=0.0),
     "optax.lion"),
]
for _name, _ours, _theirs, _ref in _OPTIMIZERS:
  _add(_name, f"{_ref}, {_STEPS} steps", "trajectory", "optim")(_optim_check(_ours, _theirs))

# --------------------------------------------------------------------------- schedules

_T = np.arange(60)  # NumPy: importing this module must not start a JAX backend
_SCHEDULES = [
    ("exponential_decay", optim.exponential_decay(0.1, 0.9),
     optax.exponential_decay(0.1, 1, 0.9), "optax.exponential_decay"),
    ("cosine_decay", optim.cosine_decay(0.1, 40, alpha=0.1),
     optax.cosine_decay_schedule(0.1, 40, alpha=0.1), "optax.cosine_decay_schedule"),
    ("piecewise_constant", optim.piecewise_constant(0.5, {10: 0.1, 25: 0.5, 40: 0.2}),
     optax.piecewise_constant_schedule(0.5, {10: 0.1, 25: 0.5, 40: 0.2}),
     "optax.piecewise_constant_schedule"),
    ("step_decay", optim.step_decay(0.1, [10, 30], factor=0.5),
     optax.piecewise_constant_schedule(0.1, {10: 0.5, 30: 0.5}),
     "optax.piecewise_constant_schedule"),
    ("warmup", optim.warmup(optim.cosine_decay(0.2, 40, alpha=0.05), warmup_steps=10,
                            init_value=0.01),
     optax.warmup_cosine_decay_schedule(0.01, 0.2, 10, 50, 0.01),
     "optax.warmup_cosine_decay_schedule"),
]


def _schedule_check(ours, theirs):
  return lambda key, dtype: (jax.vmap(ours)(_T), jax.vmap(theirs)(_T))


for _name, _ours, _theirs, _ref in _SCHEDULES:
  _add(_name, _ref + ", steps 0..59", "elementwise", "schedules")(
      _schedule_check(_ours, _theirs))

# ------------------------------------------------------------ clipping, regularization


def _grads():
  return {"w": _normal(0, (4, 3), scale=2.0), "b": _normal(1, (3,), scale=0.5)}


def _transform_check(ours, theirs):
  def fn(key, dtype):
    g = _grads()
    apply = lambda tx: tx.update(g, tx.init(g), g)[0]  # noqa: E731
    return apply(ours), theirs(g)
  return fn


_add("clip_by_value", "optax.clip", "elementwise", "regularization")(_transform_check(
    optim.clip_by_value(-0.5, 0.5), lambda g: optax.clip(0.5).update(g, None)[0]))
_add("clip_by_norm", "optax.clip_by_global_norm per leaf", "elementwise",
     "regularization")(_transform_check(
         optim.clip_by_norm(1.0),
         lambda g: jax.tree.map(lambda x: optax.clip_by_global_norm(1.0).update(x, None)[0],
                                g)))
_add("clip_by_global_norm", "optax.clip_by_global_norm", "elementwise", "regularization")(
    _transform_check(optim.clip_by_global_norm(2.0),
                     lambda g: optax.clip_by_global_norm(2.0).update(g, None)[0]))


@_add("label_smoothing", "optax.smooth_labels with α = εK/(K−1)", "elementwise",
      "regularization")
def _label_smoothing(key, dtype):
  k, eps = 5, 0.2
  labels = _integers(0, (6,), k)
  one_hot = jax.nn.one_hot(labels, k)
  return (regularization.label_smoothing(labels, epsilon=eps, num_classes=k),
          optax.smooth_labels(one_hot, eps * k / (k - 1)))


# ------------------------------------------------------------------------------ losses

@_add("softmax_cross_entropy", "optax.softmax_cross_entropy (+ integer labels)",
      "elementwise", "losses")
def _softmax_ce(key, dtype):
  z, y = _normal(0, (8, 5), scale=2.0), _integers(1, (8,), 5)
  p = jax.nn.softmax(_normal(2, (8, 5)))
  return ([losses.softmax_cross_entropy(z, y), losses.softmax_cross_entropy(z, p)],
          [optax.softmax_cross_entropy_with_integer_labels(z, y),
           optax.softmax_cross_entropy(z, p)])


@_add("sigmoid_binary_cross_entropy", "optax.sigmoid_binary_cross_entropy",
      "elementwise", "losses")
def _sigmoid_bce(key, dtype):
  z = _normal(0, (8, 3), scale=4.0)
  y = jnp.asarray(np.random.default_rng(1).uniform(size=(8, 3)), jnp.float32)
  return losses.sigmoid_binary_cross_entropy(z, y), optax.sigmoid_binary_cross_entropy(z, y)


@_add("huber", "optax.huber_loss(delta=0.5)", "elementwise", "losses")
def _huber(key, dtype):
  p, t = _normal(0, (16,), scale=2.0), _normal(1, (16,))
  return losses.huber(p, t, delta=0.5), optax.huber_loss(p, t, delta=0.5)


# ------------------------------------------------------------------------------ layers

@_add("multi_head_attention", "jax.nn.dot_product_attention (causal) + projections",
      "reduction", "layers", ("f32", "bf16"))
def _mha(key, dtype):
  heads, dim = 2, 8
  p = {name: _normal(i, (dim, dim), scale=dim ** -0.5)
       for i, name in enumerate(("wq", "wk", "wv", "wo"))}
  for i, name in enumerate(("bq", "bk", "bv", "bo")):
    p[name] = _normal(10 + i, (dim,), scale=0.3)  # nonzero biases
  x = _normal(20, (3, 5, dim), dtype)
  p = jax.tree.map(lambda a: a.astype(dtype), p)
  ours = layers.multi_head_attention(p, x, num_heads=heads, causal=True)
  x32, p = x.astype(jnp.float32), _f32(p)
  q, k, v = ((x32 @ p[w] + p[b]).reshape(3, 5, heads, dim // heads)
             for w, b in (("wq", "bq"), ("wk", "bk"), ("wv", "bv")))
  att = jax.nn.dot_product_attention(q, k, v, is_causal=True)
  return ours, att.reshape(3, 5, dim) @ p["wo"] + p["bo"]


@_add("max_pool", "flax.linen.max_pool", "reduction", "layers", ("f32", "bf16"))
def _max_pool(key, dtype):
  x = _normal(0, (2, 7, 8, 3), dtype)
  return ([layers.max_pool(x, window=(2, 2), strides=(2, 2)),
           layers.max_pool(x, window=(3, 3), strides=(2, 2), padding="SAME")],
          [fnn.max_pool(x.astype(jnp.float32), (2, 2), strides=(2, 2)),
           fnn.max_pool(x.astype(jnp.float32), (3, 3), strides=(2, 2), padding="SAME")])


@_add("avg_pool", "flax.linen.avg_pool", "reduction", "layers", ("f32", "bf16"))
def _avg_pool(key, dtype):
  x = _normal(0, (2, 7, 8, 3), dtype)
  x32 = x.astype(jnp.float32)
  return ([layers.avg_pool(x, window=(2, 2), strides=(2, 2)),
           layers.avg_pool(x, window=(3, 3), strides=(2, 2), padding="SAME",
                           count_include_pad=True),
           layers.avg_pool(x, window=(3, 3), strides=(2, 2), padding="SAME")],
          [fnn.avg_pool(x32, (2, 2), strides=(2, 2)),
           fnn.avg_pool(x32, (3, 3), strides=(2, 2), padding="SAME",
                        count_include_pad=True),
           fnn.avg_pool(x32, (3, 3), strides=(2, 2), padding="SAME",
                        count_include_pad=False)])


# --------------------------------------------------------------------------- gradcheck

@_add("check_grads", "worst relative error vs 0 on a smooth MLP loss", "gradcheck",
      "tools", jit=False)
def _check_grads(key, dtype):
  loss, params = _mlp_problem()
  return gradcheck.check_grads(loss, params).max_rel_error, 0.0


# ------------------------------------------------------------------------------- torch
# Run only when torch is importable; torch runs on the CPU whatever the JAX backend.


# The torch side runs through jax.pure_callback, so these checks jit (and group) like
# the others.


def _on_torch(f, *args, like):
  """``f(*numpy_args) -> numpy`` on the host via PyTorch; result shaped like ``like``."""
  shape = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, jnp.float32), like)

  def host(*np_args):
    out = f(*jax.tree.map(np.asarray, np_args))
    return jax.tree.map(lambda o: np.asarray(o, np.float32), out)
  return jax.pure_callback(host, shape, *args)


def _torch_mlp_trajectory(torch_opt, params, x, y):
  import torch  # noqa: PLC0415  (optional dependency)
  names = sorted(params)
  ts = {k: torch.tensor(params[k], requires_grad=True) for k in names}
  opt = torch_opt(torch, [ts[k] for k in names])
  x, y = torch.tensor(x), torch.tensor(y)
  out = {k: [] for k in names}
  for _ in range(_STEPS):
    opt.zero_grad()
    r = torch.tanh(x @ ts["w1"] + ts["b1"]) @ ts["w2"] - y
    (torch.log(torch.cosh(r)).mean() + 0.1 * (ts["s"] ** 4).sum()).backward()
    opt.step()
    for k in names:
      out[k].append(ts[k].detach().numpy().copy())
  return {k: np.stack(v) for k, v in out.items()}


def _torch_optim_check(ours, torch_opt):
  def fn(key, dtype):
    loss, params, (x, y) = _mlp_problem(with_data=True)
    got = _trajectory(ours(), loss, params)
    want = _on_torch(lambda p, x, y: _torch_mlp_trajectory(torch_opt, p, x, y),
                     params, x, y, like=got)
    return got, want
  return fn


for _name, _ours, _theirs, _ref in [
    ("adagrad", lambda: optim.adagrad(0.1, eps_inside_sqrt=False),
     lambda torch, ps: torch.optim.Adagrad(ps, lr=0.1), "torch.optim.Adagrad"),
    ("rmsprop", lambda: optim.rmsprop(0.001, decay=0.99, eps=1e-8, eps_inside_sqrt=False,
                                      velocity="gradient"),
     lambda torch, ps: torch.optim.RMSprop(ps, lr=0.001, alpha=0.99, eps=1e-8),
     "torch.optim.RMSprop"),
    ("adam", lambda: optim.adam(0.01), lambda torch, ps: torch.optim.Adam(ps, lr=0.01),
     "torch.optim.Adam"),
]:
  _add(_name, f"{_ref}, {_STEPS} steps", "torch", "optim", torch=True)(
      _torch_optim_check(_ours, _theirs))


def _torch_fn(name):
  import torch  # noqa: PLC0415
  return lambda *a: getattr(torch.nn.functional, name)(*(torch.tensor(x) for x in a))


@_add("gelu (exact)", "torch.nn.functional.gelu", "torch", "activations", torch=True)
def _torch_gelu(key, dtype):
  x = _normal(0, (64,), scale=3.0)
  return act.gelu(x), _on_torch(lambda x: _torch_fn("gelu")(x).numpy(), x, like=x)


@_add("local_response_norm", "torch local_response_norm with α·n", "torch",
      "normalization", torch=True)
def _torch_lrn(key, dtype):
  x = _normal(0, (2, 7, 3, 3), scale=3.0)  # NCHW
  size, alpha, beta, k = 5, 1e-2, 0.75, 2.0

  def ref(x):
    import torch  # noqa: PLC0415
    return torch.nn.functional.local_response_norm(
        torch.tensor(x), size, alpha=alpha * size, beta=beta, k=k).numpy()
  got = norm.local_response_norm(x, size=size, k=k, alpha=alpha, beta=beta, channel_axis=1)
  return got, _on_torch(ref, x, like=got)


@_add("layer_norm", "torch.nn.functional.layer_norm", "torch", "normalization",
      torch=True)
def _torch_layer_norm(key, dtype):
  x = _normal(0, (4, 5, 8), scale=2.0, loc=1.0)
  s, b = _scale_bias(1, 8)

  def ref(x, s, b):
    import torch  # noqa: PLC0415
    return torch.nn.functional.layer_norm(torch.tensor(x), (8,), torch.tensor(s),
                                          torch.tensor(b), eps=_EPS).numpy()
  got = norm.layer_norm(x, s, b, epsilon=_EPS)
  return got, _on_torch(ref, x, s, b, like=got)


FAMILIES = tuple(sorted({c.family for c in CHECKS}))
