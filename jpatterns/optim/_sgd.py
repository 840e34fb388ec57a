"""Gradient descent, momentum and Nesterov momentum as init/update pairs (seed 002
基本梯度下降算法, 动量方法, Nesterov 加速梯度; 003 §2).

Seed 002 writes every method as the step Δθ_t = θ_t − θ_{t−1}::

  SGD        θ_t = θ_{t−1} − α g_t
  动量法      Δθ_t = ρ Δθ_{t−1} − α g_t
  Nesterov   Δθ_t = ρ Δθ_{t−1} − α g(θ_{t−1} + ρ Δθ_{t−1})

The returned updates are Δθ, to ADD to the parameters (``optax.apply_updates``).

Two ways to keep the velocity (``velocity=``), identical for a constant α:

* ``"seed"`` (default): the state holds Δθ itself, α included, as the seed writes it
  (v_t = ρ v_{t−1} − α_t g_t). A change of α by a schedule acts on the new gradient
  only; the momentum carried from earlier steps keeps its old step size.
* ``"gradient"``: the state holds a sum of gradients b_t = ρ b_{t−1} + g_t and the
  step is −α_t b_t, as ``optax.sgd(momentum=)`` and ``torch.optim.SGD`` keep it. A
  schedule rescales the whole accumulated velocity at once.

Implementation notes: arithmetic is in at least float32, each accumulator is cast
back to its stored dtype (``accumulator_dtype``, default the parameter's), and
``count`` is the number of steps taken before this one (the schedule is evaluated at
it, as optax does); with a constant learning rate (and no dampening) nothing reads it and
the state holds ``count=None``, as ``optax.sgd(α)`` keeps no count. ``weight_decay`` is
PyTorch's coupled L2: g ← g + λθ first.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jpatterns import _validation
from jpatterns._dtypes import compute_dtype
from jpatterns.optim import _common
from jpatterns.optim._common import ScalarOrSchedule

__all__ = ["sgd", "momentum", "nesterov"]

# ---------------------------------------------------------------- sgd


class SgdState(NamedTuple):
  """State of :func:`sgd`: the step count, for a learning-rate schedule (``None`` for a
  constant learning rate, as ``optax.sgd`` keeps none)."""

  count: jax.Array | None


def sgd(
  learning_rate: ScalarOrSchedule,
  *,
  weight_decay: float = 0.0,
  accumulator_dtype: Any | None = None,
) -> optax.GradientTransformation:
  r"""Stochastic gradient descent (seed 002 随机梯度下降).

  .. math:: \Delta\theta_t = -\alpha_t\, g_t, \qquad
            (g_t \leftarrow g_t + \lambda\theta_{t-1} \text{ with weight decay})

  Equals ``optax.sgd(α)`` and ``torch.optim.SGD(lr=α, weight_decay=λ)``.

  Args:
    learning_rate: α, a float ≥ 0 or a schedule ``count -> α``.
    weight_decay: λ ≥ 0 of PyTorch's coupled L2, g ← g + λθ.
    accumulator_dtype: accepted so every optimizer takes the same keywords; SGD
      keeps no accumulator.

  Returns:
    An ``optax.GradientTransformation`` whose updates are Δθ.

  Example:
    >>> import jax.numpy as jnp
    >>> opt = sgd(0.5)
    >>> params = jnp.array([1.0, -2.0])
    >>> state = opt.init(params)
    >>> updates, state = opt.update(jnp.array([0.5, -3.0]), state, params)
    >>> print(updates)
    [-0.25  1.5 ]

  References:
    Robbins & Monro, "A Stochastic Approximation Method", 1951.
  """
  fn = "sgd"
  _common.check_learning_rate(fn, learning_rate)
  _common.check_accumulator_dtype(fn, accumulator_dtype)
  _common.check_weight_decay(fn, weight_decay)
  del accumulator_dtype

  def init(params):
    del params
    return SgdState(count=_common.initial_count(learning_rate))

  def update(grads, state, params=None):
    _common.needs_params(fn, params, weight_decay)
    lr = _common.learning_rate_at(learning_rate, state.count)  # α_t

    def leaf(g, p):
      gc = _common.coupled_gradient(g, p, weight_decay, compute_dtype(g.dtype))
      return (_common.cast(-lr * gc, g.dtype),)  # Δθ = −α g

    treedef = jax.tree.structure(grads)
    (updates,) = _common.per_leaf(leaf, 1, treedef, grads, params)
    return updates, SgdState(count=_common.next_count(state.count))

  return optax.GradientTransformation(init, update)


# ---------------------------------------------------------------- momentum


class MomentumState(NamedTuple):
  """State of :func:`momentum`: count and the velocity (Δθ_{t−1}, or Σ ρ^k g).

  ``count`` is ``None`` when nothing reads it: a constant learning rate and no dampening.
  """

  count: jax.Array | None
  momentum_velocity: Any


def momentum(
  learning_rate: ScalarOrSchedule,
  *,
  momentum: float = 0.9,
  velocity: str = "seed",
  dampening: float = 0.0,
  weight_decay: float = 0.0,
  accumulator_dtype: Any | None = None,
) -> optax.GradientTransformation:
  r"""Momentum (seed 002 动量法; Polyak's heavy ball).

  .. math::

     \texttt{velocity="seed"}:&\quad \Delta\theta_t = \rho\,\Delta\theta_{t-1}
        - \alpha_t g_t \quad (\text{state } v_t = \Delta\theta_t)\\
     \texttt{velocity="gradient"}:&\quad b_t = \rho\, b_{t-1} + g_t, \quad
        \Delta\theta_t = -\alpha_t b_t

  Seed symbols → code: ρ ``momentum``, α ``learning_rate``, Δθ_{t−1}
  ``momentum_velocity`` (seed form). With a constant α the two forms are the same
  trajectory (v = −α b); with a schedule they differ: ``"seed"`` applies α_t to
  the newest gradient only, ``"gradient"`` (optax ``sgd(momentum=ρ)``,
  ``torch.optim.SGD(momentum=ρ)``) rescales the accumulated velocity by α_t.

  ``dampening=d`` is torch's: from the second step on the new gradient enters as
  (1 − d) g_t (b_t = ρb_{t−1} + (1 − d)g_t), while the first step takes g_1 whole,
  as ``torch.optim.SGD(momentum=ρ, dampening=d)`` does; ``d = ρ`` then makes b an
  exponential moving average of the gradients. The seed has d = 0.

  Args:
    learning_rate: α, a float ≥ 0 or a schedule ``count -> α``.
    momentum: ρ in [0, 1) (the seed's usual 0.9).
    velocity: ``"seed"`` (default) or ``"gradient"`` (optax/torch), see above.
    dampening: d in [0, 1], torch's dampening (0: the seed's momentum).
    weight_decay: λ ≥ 0 of PyTorch's coupled L2, g ← g + λθ.
    accumulator_dtype: dtype of the velocity (e.g. ``jnp.bfloat16``); default each
      parameter's dtype.

  Returns:
    An ``optax.GradientTransformation`` whose updates are Δθ.

  Example:
    >>> import jax.numpy as jnp
    >>> opt = momentum(0.1, momentum=0.5)
    >>> params = jnp.array([1.0])
    >>> state = opt.init(params)
    >>> for _ in range(2):
    ...   updates, state = opt.update(jnp.array([1.0]), state, params)
    >>> print(jnp.round(updates, 4))  # 0.5·(−0.1) − 0.1
    [-0.15]

  References:
    Polyak, "Some methods of speeding up the convergence of iteration methods",
    1964.
  """
  fn = "momentum"
  rho = momentum
  _common.check_learning_rate(fn, learning_rate)
  _common.check_accumulator_dtype(fn, accumulator_dtype)
  _common.check_decay(fn, "momentum", rho)
  _validation.check_choice(fn, "velocity", velocity, _common.VELOCITIES)
  _validation.check_in_range(fn, "dampening", dampening, 0.0, 1.0)
  _common.check_weight_decay(fn, weight_decay)
  seed_form = velocity == "seed"
  damped = not _common.is_static_zero(dampening)  # reads the count (first step undamped)

  def init(params):
    return MomentumState(
      count=_common.initial_count(learning_rate, needed=damped),
      momentum_velocity=_common.zeros_like(params, accumulator_dtype),
    )

  def update(grads, state, params=None):
    _common.needs_params(fn, params, weight_decay)
    lr = _common.learning_rate_at(learning_rate, state.count)  # α_t
    # A state without a count was made with a Python 0 dampening (the engine's traced
    # value of that same 0 included): nothing to dampen.
    use_dampening = damped and state.count is not None
    if damped and state.count is None and isinstance(dampening, int | float):
      raise ValueError(
        f"{fn}: dampening={dampening!r} reads the step count, but the state has count=None "
        "(made by the init of a momentum with dampening=0 and a constant learning rate)"
      )
    if use_dampening:
      # g_t ← (1 − d) g_t, except on the first step (torch's b_1 = g_1)
      keep = jnp.where(state.count == 0, 1.0, 1.0 - jnp.asarray(dampening, jnp.float32))

    def leaf(g, v, p):
      ct = compute_dtype(g.dtype)
      gc = _common.coupled_gradient(g, p, weight_decay, ct)
      if use_dampening:
        gc = _common.cast(keep, ct) * gc  # (1 − d) g_t
      if seed_form:
        v_new = rho * _common.cast(v, ct) - lr * gc  # Δθ_t = ρΔθ_{t−1} − α g_t
        delta = v_new
      else:
        v_new = rho * _common.cast(v, ct) + gc  # b_t = ρ b_{t−1} + g_t
        delta = -lr * v_new  # Δθ_t = −α b_t
      return _common.cast(delta, g.dtype), _common.cast(v_new, v.dtype)

    treedef = jax.tree.structure(grads)
    updates, v = _common.per_leaf(leaf, 2, treedef, grads, state.momentum_velocity, params)
    return updates, MomentumState(count=_common.next_count(state.count), momentum_velocity=v)

  return optax.GradientTransformation(init, update)


# ---------------------------------------------------------------- nesterov


class NesterovState(NamedTuple):
  """State of :func:`nesterov`: count and the velocity (Δθ_{t−1}, or Σ ρ^k g).

  ``count`` is ``None`` for a constant learning rate (nothing reads it).
  """

  count: jax.Array | None
  nesterov_velocity: Any


def nesterov(
  learning_rate: ScalarOrSchedule,
  *,
  momentum: float = 0.9,
  velocity: str = "seed",
  weight_decay: float = 0.0,
  accumulator_dtype: Any | None = None,
) -> optax.GradientTransformation:
  r"""Nesterov accelerated gradient (seed 002 Nesterov 加速梯度), re-parametrized.

  The seed evaluates the gradient at the look-ahead point:

  .. math::

     \Delta\theta_t = \rho\,\Delta\theta_{t-1}
        - \alpha_t\, g(\theta_{t-1} + \rho\,\Delta\theta_{t-1}), \qquad
     \theta_t = \theta_{t-1} + \Delta\theta_t .

  An optimizer only sees the gradient at the parameters it holds, so this one holds
  the look-ahead point instead of θ. Let φ_t = θ_t + ρΔθ_t (φ_0 = θ_0, since
  Δθ_0 = 0). Then g_t = g(φ_{t−1}) is the gradient at the current parameters, and

  .. math::

     \varphi_t - \varphi_{t-1}
       = \Delta\theta_t + \rho\,(\Delta\theta_t - \Delta\theta_{t-1})
       = \rho\,\Delta\theta_t - \alpha_t g_t ,

  using Δθ_t − ρΔθ_{t−1} = −α_t g_t. So ``update`` keeps v_t = Δθ_t = ρv_{t−1} −
  α_t g_t (the seed's velocity, ``nesterov_velocity``) and returns
  **ρ v_t − α_t g_t**. The parameters it produces are the seed's look-ahead points
  φ_t = θ_t + ρΔθ_t; the seed's θ_t is recovered as ``params − ρ·velocity``. Both
  sequences start at θ_0 and converge to the same point (Δθ → 0).

  ``velocity="gradient"`` keeps b_t = ρb_{t−1} + g_t and returns −α_t(g_t + ρ b_t),
  the form of ``optax.sgd(momentum=ρ, nesterov=True)`` and ``torch.optim.SGD(
  momentum=ρ, nesterov=True)``; for a constant α it is the same trajectory
  (v = −α b), with a schedule it rescales the accumulated velocity by α_t.

  Args:
    learning_rate: α, a float ≥ 0 or a schedule ``count -> α``.
    momentum: ρ in [0, 1).
    velocity: ``"seed"`` (default) or ``"gradient"`` (optax/torch).
    weight_decay: λ ≥ 0 of PyTorch's coupled L2, g ← g + λθ.
    accumulator_dtype: dtype of the velocity; default each parameter's dtype.

  Returns:
    An ``optax.GradientTransformation`` whose updates are φ_t − φ_{t−1}.

  Example:
    >>> import jax.numpy as jnp
    >>> opt = nesterov(0.1, momentum=0.5)
    >>> params = jnp.array([1.0])
    >>> state = opt.init(params)
    >>> updates, state = opt.update(jnp.array([1.0]), state, params)
    >>> print(jnp.round(updates, 4))  # ρ(−0.1) − 0.1
    [-0.15]

  References:
    Nesterov, "A method for solving the convex programming problem with
    convergence rate O(1/k²)", 1983; Sutskever, Martens, Dahl & Hinton, "On the
    importance of initialization and momentum in deep learning", ICML 2013.
  """
  fn = "nesterov"
  rho = momentum
  _common.check_learning_rate(fn, learning_rate)
  _common.check_accumulator_dtype(fn, accumulator_dtype)
  _common.check_decay(fn, "momentum", rho)
  _validation.check_choice(fn, "velocity", velocity, _common.VELOCITIES)
  _common.check_weight_decay(fn, weight_decay)
  seed_form = velocity == "seed"

  def init(params):
    return NesterovState(
      count=_common.initial_count(learning_rate),
      nesterov_velocity=_common.zeros_like(params, accumulator_dtype),
    )

  def update(grads, state, params=None):
    _common.needs_params(fn, params, weight_decay)
    lr = _common.learning_rate_at(learning_rate, state.count)  # α_t

    def leaf(g, v, p):
      ct = compute_dtype(g.dtype)
      # g_t = g(φ_{t−1}), the gradient at the look-ahead point
      gc = _common.coupled_gradient(g, p, weight_decay, ct)
      if seed_form:
        v_new = rho * _common.cast(v, ct) - lr * gc  # Δθ_t = ρΔθ_{t−1} − α g_t
        delta = rho * v_new - lr * gc  # φ_t − φ_{t−1} = ρΔθ_t − α g_t
      else:
        v_new = rho * _common.cast(v, ct) + gc  # b_t = ρ b_{t−1} + g_t
        delta = -lr * (gc + rho * v_new)  # φ_t − φ_{t−1} = −α(g_t + ρ b_t)
      return _common.cast(delta, g.dtype), _common.cast(v_new, v.dtype)

    treedef = jax.tree.structure(grads)
    updates, v = _common.per_leaf(leaf, 2, treedef, grads, state.nesterov_velocity, params)
    return updates, NesterovState(count=_common.next_count(state.count), nesterov_velocity=v)

  return optax.GradientTransformation(init, update)
