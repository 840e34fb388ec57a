"""Adaptive learning-rate methods as init/update pairs (seed 002 自适应学习率算法:
AdaGrad, AdaDelta, RMSProp, RMSProp动量; 003 §2).

Seed 002 writes, with every operation element-wise::

  AdaGrad   G_t = Σ_{τ≤t} g_τ ⊙ g_τ                 Δθ_t = −α / √(G_t + ε) ⊙ g_t
  RMSProp   G_t = β G_{t−1} + (1 − β) g_t ⊙ g_t     Δθ_t = −α / √(G_t + ε) ⊙ g_t
  AdaDelta  G_t as RMSProp,  ΔX²_{t−1} = β₁ ΔX²_{t−2} + (1 − β₁) Δθ_{t−1} ⊙ Δθ_{t−1}
            Δθ_t = −√(ΔX²_{t−1} + ε) / √(G_t + ε) ⊙ g_t

with ε INSIDE the square root. PyTorch adds ε outside (√G + ε) for AdaGrad and
RMSProp; optax puts it inside but starts AdaGrad's sum at 0.1. Each factory has the
arguments that reproduce either side; the docstrings give the exact settings.

Shared notes: arithmetic in at least float32, accumulators cast back to their stored
dtype (``accumulator_dtype``, default the parameter's); ``count`` = steps taken
before this one (the schedule is evaluated at it; ``None`` for a constant learning rate,
which reads no count); ``weight_decay`` is PyTorch's
coupled L2 (g ← g + λθ before the accumulators). Where a denominator is exactly 0
(ε = 0 and no gradient seen yet) the step is 0, not NaN.
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

__all__ = ["adagrad", "adadelta", "rmsprop"]


def _divide(g, denominator, eps):
  """g / denominator; 0 where the denominator is 0 unless ε is a static positive number.

  With ε > 0 known at trace time the denominator is positive and the division is
  plain (one op per leaf fewer to lower and compile); ε = 0 or a traced ε keeps the
  guard, so a gradient that stays zero gives a zero step, not NaN.
  """
  if isinstance(eps, (int, float)) and eps > 0:
    return g / denominator
  positive = denominator > 0
  return jnp.where(positive, g / jnp.where(positive, denominator, 1), 0)


def _root(x, eps, eps_inside_sqrt):
  """√(x + ε) (seed, optax) or √x + ε (torch)."""
  return jnp.sqrt(x + eps) if eps_inside_sqrt else jnp.sqrt(x) + eps


# ---------------------------------------------------------------- adagrad


class AdagradState(NamedTuple):
  """State of :func:`adagrad`: count and G_t, the sum of squared gradients."""

  count: jax.Array | None
  adagrad_g: Any


def adagrad(
  learning_rate: ScalarOrSchedule,
  *,
  eps: float = 1e-10,
  initial_accumulator_value: float = 0.0,
  eps_inside_sqrt: bool = True,
  weight_decay: float = 0.0,
  accumulator_dtype: Any | None = None,
) -> optax.GradientTransformation:
  r"""AdaGrad (seed 002 AdaGrad 算法).

  .. math::

     G_t = G_0 + \sum_{\tau=1}^{t} g_\tau \odot g_\tau, \qquad
     \Delta\theta_t = -\frac{\alpha_t}{\sqrt{G_t + \epsilon}} \odot g_t
     \quad\Big(\texttt{eps\_inside\_sqrt=False}:\
       -\frac{\alpha_t}{\sqrt{G_t} + \epsilon} \odot g_t\Big)

  Seed symbols → code: G_t ``adagrad_g``, α ``learning_rate``, ε ``eps``. The
  defaults are the seed's form (ε inside the root, G_0 = 0) with torch's ε = 1e-10.
  The libraries differ:

  * ``optax.adagrad(α, initial_accumulator_value=0.1, eps=1e-7)`` (its defaults) =
    ``adagrad(α, initial_accumulator_value=0.1, eps=1e-7)`` (ε inside the root);
  * ``torch.optim.Adagrad(lr=α, eps=1e-10, initial_accumulator_value=0)`` =
    ``adagrad(α, eps_inside_sqrt=False)`` (ε outside: √G + ε). Torch's
    ``lr_decay=d`` is the schedule ``learning_rate=lambda c: α / (1 + c·d)``.

  Args:
    learning_rate: α, a float ≥ 0 or a schedule ``count -> α``.
    eps: ε ≥ 0.
    initial_accumulator_value: G_0 ≥ 0 (torch 0, optax 0.1).
    eps_inside_sqrt: ``True`` (seed, optax): √(G + ε); ``False`` (torch): √G + ε.
    weight_decay: λ ≥ 0 of PyTorch's coupled L2, g ← g + λθ.
    accumulator_dtype: dtype G is stored in; default each parameter's dtype.

  Returns:
    An ``optax.GradientTransformation`` whose updates are Δθ.

  Example:
    >>> import jax.numpy as jnp
    >>> opt = adagrad(0.1)
    >>> params = jnp.array([1.0, -2.0])
    >>> state = opt.init(params)
    >>> updates, state = opt.update(jnp.array([0.5, -3.0]), state, params)
    >>> print(jnp.round(updates, 4))  # −α g/|g| on the first step
    [-0.1  0.1]

  References:
    Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and
    Stochastic Optimization", JMLR 2011.
  """
  fn = "adagrad"
  _common.check_learning_rate(fn, learning_rate)
  _common.check_accumulator_dtype(fn, accumulator_dtype)
  _validation.check_non_negative(fn, "eps", eps)
  _validation.check_non_negative(fn, "initial_accumulator_value", initial_accumulator_value)
  _validation.check_bool(fn, "eps_inside_sqrt", eps_inside_sqrt)
  _common.check_weight_decay(fn, weight_decay)

  def init(params):
    return AdagradState(
      count=_common.initial_count(learning_rate),
      adagrad_g=_common.full_like(params, initial_accumulator_value, accumulator_dtype),
    )

  def update(grads, state, params=None):
    _common.needs_params(fn, params, weight_decay)
    lr = _common.learning_rate_at(learning_rate, state.count)  # α_t

    def leaf(g, acc, p):
      ct = compute_dtype(g.dtype)
      gc = _common.coupled_gradient(g, p, weight_decay, ct)
      acc_new = _common.cast(acc, ct) + gc * gc  # G_t = G_{t−1} + g⊙g
      delta = -lr * _divide(gc, _root(acc_new, eps, eps_inside_sqrt), eps)  # Δθ = −α g/√(G+ε)
      return _common.cast(delta, g.dtype), _common.cast(acc_new, acc.dtype)

    treedef = jax.tree.structure(grads)
    updates, acc = _common.per_leaf(leaf, 2, treedef, grads, state.adagrad_g, params)
    return updates, AdagradState(count=_common.next_count(state.count), adagrad_g=acc)

  return optax.GradientTransformation(init, update)


# ---------------------------------------------------------------- adadelta


class AdadeltaState(NamedTuple):
  """State of :func:`adadelta`: count, G_t and ΔX²_t (EMA of squared steps)."""

  count: jax.Array | None
  adadelta_g: Any
  adadelta_dx2: Any


def adadelta(
  *,
  learning_rate: ScalarOrSchedule = 1.0,
  rho: float = 0.9,
  eps: float = 1e-6,
  weight_decay: float = 0.0,
  accumulator_dtype: Any | None = None,
) -> optax.GradientTransformation:
  r"""AdaDelta (seed 002 AdaDelta 算法).

  .. math::

     G_t &= \rho\, G_{t-1} + (1-\rho)\, g_t \odot g_t\\
     \Delta\theta_t &= -\frac{\sqrt{\Delta X^2_{t-1} + \epsilon}}{\sqrt{G_t + \epsilon}}
        \odot g_t\\
     \Delta X^2_t &= \rho\, \Delta X^2_{t-1} + (1-\rho)\, \Delta\theta_t \odot \Delta\theta_t

  and the returned update is α_t Δθ_t. Seed symbols → code: G_t ``adadelta_g``,
  ΔX²_t ``adadelta_dx2``; the seed names the two decay rates β (G, "as RMSProp") and
  β₁ (ΔX²); here both are ``rho``, as in Zeiler's paper, torch and optax. The seed
  has no learning rate: ``learning_rate=1`` (the default) is the seed's method; any
  other α multiplies the step after ΔX² is updated (ΔX² tracks the unscaled Δθ_t),
  which is what ``torch.optim.Adadelta(lr=α)`` and ``optax.adadelta(α)`` compute.

  Beware: ``optax.adadelta()``'s default ``learning_rate=None`` skips its sign flip,
  so its updates are −Δθ: it climbs uphill. Pass ``learning_rate=1.0`` there.

  Args:
    learning_rate: α (keyword-only, default 1.0 = the seed), a float ≥ 0 or a
      schedule ``count -> α``.
    rho: ρ in [0, 1), decay of both G and ΔX².
    eps: ε > 0 (with ε = 0, ΔX²_0 = 0 would keep every step 0).
    weight_decay: λ ≥ 0 of PyTorch's coupled L2, g ← g + λθ.
    accumulator_dtype: dtype G and ΔX² are stored in; default each parameter's dtype.

  Returns:
    An ``optax.GradientTransformation`` whose updates are α Δθ.

  Example:
    >>> import jax.numpy as jnp
    >>> opt = adadelta(rho=0.9, eps=1e-6)
    >>> params = jnp.array([1.0])
    >>> state = opt.init(params)
    >>> updates, state = opt.update(jnp.array([1.0]), state, params)
    >>> print(jnp.round(updates * 1e3, 4))  # −√ε/√(0.1 + ε)
    [-3.1623]

  References:
    Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.
  """
  fn = "adadelta"
  _common.check_learning_rate(fn, learning_rate)
  _common.check_accumulator_dtype(fn, accumulator_dtype)
  _common.check_decay(fn, "rho", rho)
  _validation.check_positive(fn, "eps", eps)
  _common.check_weight_decay(fn, weight_decay)

  def init(params):
    return AdadeltaState(
      count=_common.initial_count(learning_rate),
      adadelta_g=_common.zeros_like(params, accumulator_dtype),
      adadelta_dx2=_common.zeros_like(params, accumulator_dtype),
    )

  def update(grads, state, params=None):
    _common.needs_params(fn, params, weight_decay)
    lr = _common.learning_rate_at(learning_rate, state.count)  # α_t

    def leaf(g, acc_g, acc_dx2, p):
      ct = compute_dtype(g.dtype)
      gc = _common.coupled_gradient(g, p, weight_decay, ct)
      dx2 = _common.cast(acc_dx2, ct)  # ΔX²_{t−1}
      acc_g_new = rho * _common.cast(acc_g, ct) + (1 - rho) * gc * gc  # G_t = ρG + (1−ρ)g⊙g
      step = -jnp.sqrt(dx2 + eps) / jnp.sqrt(acc_g_new + eps) * gc  # Δθ_t = −√(ΔX²+ε)/√(G+ε) g
      dx2_new = rho * dx2 + (1 - rho) * step * step  # ΔX²_t = ρΔX² + (1−ρ)Δθ⊙Δθ
      return (
        _common.cast(lr * step, g.dtype),
        _common.cast(acc_g_new, acc_g.dtype),
        _common.cast(dx2_new, acc_dx2.dtype),
      )  # update = α Δθ_t

    treedef = jax.tree.structure(grads)
    updates, acc_g, acc_dx2 = _common.per_leaf(
      leaf, 3, treedef, grads, state.adadelta_g, state.adadelta_dx2, params
    )
    return updates, AdadeltaState(
      count=_common.next_count(state.count), adadelta_g=acc_g, adadelta_dx2=acc_dx2
    )

  return optax.GradientTransformation(init, update)


# ---------------------------------------------------------------- rmsprop


class RmspropState(NamedTuple):
  """State of :func:`rmsprop`: count, G_t, the mean gradient M_t (``centered``,
  else ``None``) and the velocity (``momentum`` > 0, else ``None``)."""

  count: jax.Array | None
  rmsprop_g: Any
  rmsprop_m: Any
  rmsprop_velocity: Any


def rmsprop(
  learning_rate: ScalarOrSchedule,
  *,
  decay: float = 0.9,
  eps: float = 1e-8,
  eps_inside_sqrt: bool = True,
  initial_scale: float = 0.0,
  centered: bool = False,
  momentum: float = 0.0,
  nesterov: bool = False,
  velocity: str = "seed",
  weight_decay: float = 0.0,
  accumulator_dtype: Any | None = None,
) -> optax.GradientTransformation:
  r"""RMSProp, plain, centered, with momentum (seed 002 RMSProp, RMSProp动量).

  .. math::

     G_t &= \beta\, G_{t-1} + (1-\beta)\, g_t \odot g_t, \qquad
       M_t = \beta\, M_{t-1} + (1-\beta)\, g_t \ (\texttt{centered})\\
     D_t &= \sqrt{G_t - M_t^2 + \epsilon} \ \text{(ε inside; } M_t = 0
       \text{ unless centered)} \quad\text{or}\quad \sqrt{G_t - M_t^2} + \epsilon\\
     \Delta\theta_t &= -\alpha_t\, g_t / D_t \quad (\text{the seed; no momentum})\\
     \text{momentum } \mu:\ v_t &= \mu v_{t-1} - \alpha_t g_t / D_t, \quad
       \Delta\theta_t = v_t \ \ (\text{Nesterov: } \mu v_t - \alpha_t g_t / D_t)

  Seed symbols → code: G_t ``rmsprop_g``, β ``decay``, ε ``eps``, α
  ``learning_rate``; M_t ``rmsprop_m``, v ``rmsprop_velocity``. The defaults are
  the seed's form (ε inside the root) and optax's (β = 0.9). Seed 002 gives
  "RMSProp动量" only as a picture; its source (Goodfellow, Bengio & Courville, *Deep
  Learning*, Algorithm 8.6, RMSProp with Nesterov momentum) takes the gradient at the
  look-ahead point θ + μv, then r ← ρr + (1−ρ)g⊙g, v ← μv − α g/√r, θ ← θ + v.
  That is ``nesterov=True`` (with the seed's √(G + ε)), re-parametrized exactly as
  in :func:`jpatterns.optim.nesterov`: the parameters held are the look-ahead points
  θ_t + μv_t (a test runs the literal look-ahead loop). ``nesterov=False`` is the
  heavy-ball form of torch and optax. G − M² is clipped at 0 against rounding (it is
  ≥ 0 in exact arithmetic).

  ``velocity`` chooses what the momentum buffer holds, as in :func:`momentum`:
  ``"seed"`` v includes α (optax, which applies ``trace`` after the learning rate);
  ``"gradient"`` b_t = μ b_{t−1} + g_t/D_t, Δθ = −α_t b_t (torch). Same trajectory
  for a constant α. Settings that reproduce the libraries:

  * ``optax.rmsprop(α, decay=β, eps=ε, centered=c, momentum=μ, nesterov=n,
    initial_scale=s)`` = ``rmsprop(α, decay=β, eps=ε, centered=c, momentum=μ,
    nesterov=n, initial_scale=s)`` (optax ``momentum=None`` is μ = 0);
  * ``torch.optim.RMSprop(lr=α, alpha=β, eps=ε, momentum=μ, centered=c)`` =
    ``rmsprop(α, decay=β, eps=ε, eps_inside_sqrt=False, momentum=μ, centered=c,
    velocity="gradient")`` (torch's defaults: β = 0.99, ε = 1e-8).

  Args:
    learning_rate: α, a float ≥ 0 or a schedule ``count -> α``.
    decay: β in [0, 1) (optax 0.9, torch ``alpha`` 0.99).
    eps: ε ≥ 0.
    eps_inside_sqrt: ``True`` (seed, optax): √(G + ε); ``False`` (torch): √G + ε.
    initial_scale: G_0 ≥ 0 (optax ``initial_scale``; torch 0, TF1 1).
    centered: divide by the root of the variance estimate G − M² (Graves 2013).
    momentum: μ in [0, 1); 0 keeps no velocity.
    nesterov: look-ahead momentum (seed 002 RMSProp动量; optax ``nesterov``).
    velocity: ``"seed"`` (default, optax) or ``"gradient"`` (torch).
    weight_decay: λ ≥ 0 of PyTorch's coupled L2, g ← g + λθ.
    accumulator_dtype: dtype of G, M and v; default each parameter's dtype.

  Returns:
    An ``optax.GradientTransformation`` whose updates are Δθ.

  Example:
    >>> import jax.numpy as jnp
    >>> opt = rmsprop(0.01, decay=0.99, eps=0.0)
    >>> params = jnp.array([1.0, -2.0])
    >>> state = opt.init(params)
    >>> updates, state = opt.update(jnp.array([0.5, -3.0]), state, params)
    >>> print(jnp.round(updates, 4))  # −α g/√(0.01 g²) = −α·10·sign(g)
    [-0.1  0.1]

  References:
    Tieleman & Hinton, "Lecture 6.5 — RMSProp", COURSERA 2012; Graves, "Generating
    Sequences With Recurrent Neural Networks", arXiv:1308.0850, 2013.
  """
  fn = "rmsprop"
  mu = momentum
  _common.check_learning_rate(fn, learning_rate)
  _common.check_accumulator_dtype(fn, accumulator_dtype)
  _common.check_decay(fn, "decay", decay)
  _validation.check_non_negative(fn, "eps", eps)
  _validation.check_non_negative(fn, "initial_scale", initial_scale)
  for name, flag in (
    ("eps_inside_sqrt", eps_inside_sqrt),
    ("centered", centered),
    ("nesterov", nesterov),
  ):
    _validation.check_bool(fn, name, flag)
  _common.check_decay(fn, "momentum", mu)
  _validation.check_choice(fn, "velocity", velocity, _common.VELOCITIES)
  _common.check_weight_decay(fn, weight_decay)
  use_momentum = not _common.is_static_zero(mu)
  if nesterov and not use_momentum:
    raise ValueError(f"{fn}: nesterov=True needs momentum > 0; got momentum={mu!r}")
  seed_form = velocity == "seed"

  def init(params):
    return RmspropState(
      count=_common.initial_count(learning_rate),
      rmsprop_g=_common.full_like(params, initial_scale, accumulator_dtype),
      rmsprop_m=_common.zeros_like(params, accumulator_dtype) if centered else None,
      rmsprop_velocity=(_common.zeros_like(params, accumulator_dtype) if use_momentum else None),
    )

  def update(grads, state, params=None):
    _common.needs_params(fn, params, weight_decay)
    lr = _common.learning_rate_at(learning_rate, state.count)  # α_t

    def leaf(g, acc_g, acc_m, v, p):
      ct = compute_dtype(g.dtype)
      gc = _common.coupled_gradient(g, p, weight_decay, ct)
      acc_g_new = decay * _common.cast(acc_g, ct) + (1 - decay) * gc * gc  # G_t = βG + (1−β)g⊙g
      var = acc_g_new
      acc_m_new = None
      if centered:
        acc_m_new = decay * _common.cast(acc_m, ct) + (1 - decay) * gc  # M_t = βM + (1−β)g
        var = jnp.maximum(acc_g_new - acc_m_new * acc_m_new, 0)  # G_t − M_t²
        acc_m_new = _common.cast(acc_m_new, acc_m.dtype)
      scaled = _divide(gc, _root(var, eps, eps_inside_sqrt), eps)  # g/√(G+ε)
      v_new = None
      if not use_momentum:
        delta = -lr * scaled  # Δθ_t = −α g/√(G+ε)
      elif seed_form:
        v_new = mu * _common.cast(v, ct) - lr * scaled  # v_t = μv − α g/√(G+ε)
        delta = mu * v_new - lr * scaled if nesterov else v_new  # Δθ_t
      else:
        v_new = mu * _common.cast(v, ct) + scaled  # b_t = μb + g/√(G+ε)
        delta = -lr * (scaled + mu * v_new) if nesterov else -lr * v_new  # Δθ_t
      if v_new is not None:
        v_new = _common.cast(v_new, v.dtype)
      return _common.cast(delta, g.dtype), _common.cast(acc_g_new, acc_g.dtype), acc_m_new, v_new

    treedef = jax.tree.structure(grads)
    updates, acc_g, acc_m, v = _common.per_leaf(
      leaf, 4, treedef, grads, state.rmsprop_g, state.rmsprop_m, state.rmsprop_velocity, params
    )
    return updates, RmspropState(
      count=_common.next_count(state.count),
      rmsprop_g=acc_g,
      rmsprop_m=acc_m if centered else None,
      rmsprop_velocity=v if use_momentum else None,
    )

  return optax.GradientTransformation(init, update)
