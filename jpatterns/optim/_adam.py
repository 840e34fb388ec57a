"""Adam and its family as init/update pairs (seed 002 优化算法 Adam; beyond the seed: AdamW,
AMSGrad, NAdam).

Seed 002 writes Adam with the moments ``M_t`` (first) and ``G_t`` (second)::

  M_t = β₁ M_{t−1} + (1 − β₁) g_t        M̂_t = M_t / (1 − β₁ᵗ)
  G_t = β₂ G_{t−1} + (1 − β₂) g_t ⊙ g_t  Ĝ_t = G_t / (1 − β₂ᵗ)
  Δθ_t = −α M̂_t / √(Ĝ_t + ε)

with β₁ = 0.9, β₂ = 0.99, α = 0.001 and ε INSIDE the square root. optax and PyTorch put
ε outside (√Ĝ_t + ε) and default β₂ = 0.999. Every optimizer here computes
``Δθ = −α M̂ / (√(Ĝ + eps_root) + eps)``: the defaults (``eps=1e-8, eps_root=0``) are
optax's and torch's; ``eps=0, eps_root=ε, b2=0.99`` is the seed's own form.

Implementation notes shared by every optimizer of this file:

* The update is computed leaf by leaf by one function returning the new moments and
  Δθ together (``_common.per_leaf``): one pass over the tree, no intermediate trees (M̂, Ĝ)
  kept alive. After XLA's fusion passes the step compiles to the same kernels as
  optax's (on CPU: 3 loop fusions per leaf for adam, the same op count), so the step
  time matches optax's and the trace is shorter. Arithmetic is in at least float32
  and each accumulator is cast back to its stored dtype (``accumulator_dtype``,
  default: the parameter's dtype).
* ``count`` is the number of steps taken before this one (optax's convention): the
  learning-rate schedule is evaluated at ``count`` and the bias corrections use
  ``t = count + 1``.
* ``weight_decay`` on adam/amsgrad/nadam is PyTorch's coupled L2 (g ← g + λθ before
  the moments); on adamw it is decoupled (Δθ ← Δθ − αλθ, as ``torch.optim.AdamW`` and
  ``optax.adamw``, both of which multiply λθ by the learning rate).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jpatterns import _validation
from jpatterns._dtypes import compute_dtype
from jpatterns.optim import _common
from jpatterns.optim._common import ScalarOrSchedule

__all__ = ["adam", "adamw", "amsgrad", "nadam"]


# ---------------------------------------------------------------- checks


def _check_common(fn: str, learning_rate, b1, b2, eps, eps_root=0.0, weight_decay=0.0):
  """Construction-time checks shared by the Adam family (static values only)."""
  _common.check_learning_rate(fn, learning_rate)
  _common.check_decay(fn, "b1", b1)
  _common.check_decay(fn, "b2", b2)
  _validation.check_non_negative(fn, "eps", eps)
  _validation.check_non_negative(fn, "eps_root", eps_root)
  if not callable(weight_decay):
    _validation.check_non_negative(fn, "weight_decay", weight_decay)
  if _common.is_static_zero(eps) and _common.is_static_zero(eps_root):
    raise ValueError(
      f"{fn}: eps=0 and eps_root=0 divide 0 by 0 wherever a gradient stays zero; "
      "choose eps > 0 or eps_root > 0"
    )


# ---------------------------------------------------------------- adam


class AdamState(NamedTuple):
  """State of :func:`adam`: step count, M_t (``adam_m``) and G_t (``adam_g``)."""

  count: jax.Array
  adam_m: Any
  adam_g: Any


def adam(
  learning_rate: ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  eps_root: float = 0.0,
  weight_decay: float = 0.0,
  accumulator_dtype: Any | None = None,
) -> optax.GradientTransformation:
  r"""Adam (seed 002 Adam算法), both ε conventions.

  .. math::

     g_t &\leftarrow g_t + \lambda \theta_{t-1} \quad (\text{coupled L2, torch's weight\_decay})\\
     M_t &= \beta_1 M_{t-1} + (1-\beta_1) g_t, \qquad
     G_t = \beta_2 G_{t-1} + (1-\beta_2) g_t \odot g_t\\
     \hat M_t &= \frac{M_t}{1-\beta_1^t}, \qquad \hat G_t = \frac{G_t}{1-\beta_2^t}\\
     \Delta\theta_t &= -\alpha_t \frac{\hat M_t}{\sqrt{\hat G_t + \epsilon_{root}} + \epsilon}

  Seed symbols → code: M_t ``adam_m``, G_t ``adam_g``, β₁ ``b1``, β₂ ``b2``, α
  ``learning_rate``, Δθ_t the returned update. The seed writes ε inside the root,
  Δθ = −α M̂/√(Ĝ + ε) with β₂ = 0.99: that is ``adam(α, b2=0.99, eps=0.0,
  eps_root=ε)``. The defaults are optax's and torch's (ε outside, β₂ = 0.999).

  Args:
    learning_rate: α, a float ≥ 0 or a schedule ``count -> α``.
    b1: β₁, decay of the first moment, in [0, 1).
    b2: β₂, decay of the second moment, in [0, 1).
    eps: ε added to √Ĝ (outside the root, optax/torch), ≥ 0.
    eps_root: ε added to Ĝ inside the root (the seed's form), ≥ 0. ``eps`` and
      ``eps_root`` may not both be 0 (0/0 where a gradient stays zero).
    weight_decay: λ ≥ 0 of PyTorch's coupled L2, g ← g + λθ (``torch.optim.Adam``);
      for decoupled decay use :func:`adamw`.
    accumulator_dtype: dtype M and G are stored in (e.g. ``jnp.bfloat16``); default
      each parameter's dtype. Arithmetic is in at least float32.

  Returns:
    An ``optax.GradientTransformation`` whose updates are Δθ (add them to θ with
    ``optax.apply_updates``).

  Example:
    >>> import jax.numpy as jnp
    >>> opt = adam(0.1)
    >>> params = {"w": jnp.array([1.0, -2.0])}
    >>> state = opt.init(params)
    >>> updates, state = opt.update({"w": jnp.array([0.5, -3.0])}, state, params)
    >>> print(jnp.round(updates["w"], 4))
    [-0.1  0.1]

  References:
    Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
  """
  fn = "adam"
  _check_common(fn, learning_rate, b1, b2, eps, eps_root, weight_decay)
  _common.check_accumulator_dtype(fn, accumulator_dtype)

  def init(params):
    return AdamState(
      count=jnp.zeros([], jnp.int32),
      adam_m=_common.zeros_like(params, accumulator_dtype),
      adam_g=_common.zeros_like(params, accumulator_dtype),
    )

  def update(grads, state, params=None):
    _common.needs_params(fn, params, weight_decay)
    lr = _common.learning_rate_at(learning_rate, state.count)  # α_t
    count = _common.increment(state.count)  # t
    bc1, bc2 = _common.bias_correction(b1, count), _common.bias_correction(b2, count)
    use_l2 = not _common.is_static_zero(weight_decay)

    def leaf(g, m, v, p):
      ct = compute_dtype(g.dtype)
      gc = _common.coupled_gradient(g, p, weight_decay, ct)  # g ← g + λθ
      m_new = b1 * _common.cast(m, ct) + (1 - b1) * gc  # M_t = β₁M_{t−1} + (1−β₁)g
      v_new = b2 * _common.cast(v, ct) + (1 - b2) * gc * gc  # G_t = β₂G_{t−1} + (1−β₂)g⊙g
      m_hat = m_new / bc1  # M̂_t = M_t / (1−β₁ᵗ)
      v_hat = v_new / bc2  # Ĝ_t = G_t / (1−β₂ᵗ)
      delta = -lr * m_hat / (jnp.sqrt(v_hat + eps_root) + eps)  # Δθ = −α M̂/(√(Ĝ+ε_r)+ε)
      return (
        _common.cast(delta, g.dtype),
        _common.cast(m_new, m.dtype),
        _common.cast(v_new, v.dtype),
      )

    treedef = jax.tree.structure(grads)
    updates, m, v = _common.per_leaf(
      leaf, 3, treedef, grads, state.adam_m, state.adam_g, params if use_l2 else None
    )
    return updates, AdamState(count=count, adam_m=m, adam_g=v)

  return optax.GradientTransformation(init, update)


# ---------------------------------------------------------------- adamw


class AdamWState(NamedTuple):
  """State of :func:`adamw`: step count, M_t (``adamw_m``) and G_t (``adamw_g``)."""

  count: jax.Array
  adamw_m: Any
  adamw_g: Any


def adamw(
  learning_rate: ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  eps_root: float = 0.0,
  weight_decay: ScalarOrSchedule = 1e-4,
  mask: Any | Callable[[Any], Any] | None = None,
  accumulator_dtype: Any | None = None,
) -> optax.GradientTransformation:
  r"""AdamW: Adam with decoupled weight decay (beyond seed 002; builds on its Adam).

  .. math::

     \Delta\theta_t = -\alpha_t \Big(\frac{\hat M_t}{\sqrt{\hat G_t + \epsilon_{root}}
       + \epsilon} + \lambda\,\theta_{t-1}\Big)

  with M̂_t, Ĝ_t as in :func:`adam`. The decay λθ is NOT fed into the moments and is
  multiplied by the learning rate α_t: this is what both ``torch.optim.AdamW``
  (θ ← θ(1 − αλ) then the Adam step) and ``optax.adamw`` compute; Loshchilov &
  Hutter's paper scales it by the schedule multiplier only (pass λ/α to get it).

  Args:
    learning_rate: α, a float ≥ 0 or a schedule ``count -> α``.
    b1: β₁ in [0, 1).
    b2: β₂ in [0, 1).
    eps: ε outside the root, ≥ 0.
    eps_root: ε inside the root, ≥ 0 (not both 0).
    weight_decay: λ ≥ 0, or a schedule ``count -> λ``. Default 1e-4 (optax's;
      torch's AdamW default is 1e-2).
    mask: where to decay: a pytree of Python bools with the structure of the
      parameters (or a prefix of it), or a callable ``params -> mask``; leaves marked
      ``False`` (e.g. biases, norm scales) get no decay, as in ``optax.adamw(mask=)``.
    accumulator_dtype: dtype M and G are stored in; default each parameter's dtype.

  Returns:
    An ``optax.GradientTransformation``; its ``update`` needs ``params``.

  Example:
    >>> import jax.numpy as jnp
    >>> opt = adamw(0.1, weight_decay=0.5, mask={"w": True, "b": False})
    >>> params = {"w": jnp.array([2.0]), "b": jnp.array([2.0])}
    >>> state = opt.init(params)
    >>> grads = {"w": jnp.array([1.0]), "b": jnp.array([1.0])}
    >>> updates, state = opt.update(grads, state, params)
    >>> print(jnp.round(updates["w"], 4), jnp.round(updates["b"], 4))
    [-0.2] [-0.1]

  References:
    Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
  """
  fn = "adamw"
  _check_common(fn, learning_rate, b1, b2, eps, eps_root, weight_decay)
  _common.check_accumulator_dtype(fn, accumulator_dtype)

  def init(params):
    return AdamWState(
      count=jnp.zeros([], jnp.int32),
      adamw_m=_common.zeros_like(params, accumulator_dtype),
      adamw_g=_common.zeros_like(params, accumulator_dtype),
    )

  def update(grads, state, params=None):
    _common.needs_params(fn, params, weight_decay)
    lr = _common.learning_rate_at(learning_rate, state.count)  # α_t
    wd = _common.learning_rate_at(weight_decay, state.count)  # λ_t
    count = _common.increment(state.count)  # t
    bc1, bc2 = _common.bias_correction(b1, count), _common.bias_correction(b2, count)
    treedef = jax.tree.structure(grads)
    use_decay = not _common.is_static_zero(weight_decay)
    decays = (
      _common.decay_mask(mask, params, treedef) if use_decay else [False] * treedef.num_leaves
    )

    def leaf(g, m, v, p, decay):
      ct = compute_dtype(g.dtype)
      gc = _common.cast(g, ct)
      m_new = b1 * _common.cast(m, ct) + (1 - b1) * gc  # M_t = β₁M_{t−1} + (1−β₁)g
      v_new = b2 * _common.cast(v, ct) + (1 - b2) * gc * gc  # G_t = β₂G_{t−1} + (1−β₂)g⊙g
      m_hat = m_new / bc1  # M̂_t
      v_hat = v_new / bc2  # Ĝ_t
      step = m_hat / (jnp.sqrt(v_hat + eps_root) + eps)  # M̂/(√(Ĝ+ε_r)+ε)
      if decay:
        step = step + wd * _common.cast(p, ct)  # + λθ (decoupled: not in the moments)
      delta = -lr * step  # Δθ = −α(M̂/(√Ĝ+ε) + λθ)
      return (
        _common.cast(delta, g.dtype),
        _common.cast(m_new, m.dtype),
        _common.cast(v_new, v.dtype),
      )

    updates, m, v = _common.per_leaf(
      leaf,
      3,
      treedef,
      grads,
      state.adamw_m,
      state.adamw_g,
      params if use_decay else None,
      treedef.unflatten(decays),
    )
    return updates, AdamWState(count=count, adamw_m=m, adamw_g=v)

  return optax.GradientTransformation(init, update)


# ---------------------------------------------------------------- amsgrad


class AmsgradState(NamedTuple):
  """State of :func:`amsgrad`: count, M_t, G_t and the running maximum of G."""

  count: jax.Array
  amsgrad_m: Any
  amsgrad_g: Any
  amsgrad_g_max: Any


def amsgrad(
  learning_rate: ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  eps_root: float = 0.0,
  max_over: str = "corrected",
  weight_decay: float = 0.0,
  accumulator_dtype: Any | None = None,
) -> optax.GradientTransformation:
  r"""AMSGrad: Adam whose second moment never decreases (beyond seed 002).

  .. math::

     \text{corrected (optax):}\quad \hat G^{max}_t &= \max\big(\hat G^{max}_{t-1},
        G_t/(1-\beta_2^t)\big)\\
     \text{raw (torch):}\quad G^{max}_t &= \max(G^{max}_{t-1}, G_t), \quad
        \hat G^{max}_t = G^{max}_t/(1-\beta_2^t)\\
     \Delta\theta_t &= -\alpha_t \frac{\hat M_t}{\sqrt{\hat G^{max}_t+\epsilon_{root}}+\epsilon}

  with M_t, G_t, M̂_t as in :func:`adam`. The two libraries differ in where the
  bias correction sits: ``optax.amsgrad`` keeps the maximum of the CORRECTED moments
  Ĝ_i (its ``bias_correction_nu=True``), ``torch.optim.Adam(amsgrad=True)`` the
  maximum of the RAW moments G_i, divided by 1 − β₂ᵗ afterwards. ``max_over``
  chooses; the stored ``amsgrad_g_max`` is Ĝ^max (corrected) or G^max (raw).

  Args:
    learning_rate: α, a float ≥ 0 or a schedule ``count -> α``.
    b1: β₁ in [0, 1).
    b2: β₂ in [0, 1).
    eps: ε outside the root, ≥ 0.
    eps_root: ε inside the root, ≥ 0 (not both 0).
    max_over: ``"corrected"`` (default, optax) or ``"raw"`` (torch).
    weight_decay: λ ≥ 0 of torch's coupled L2, g ← g + λθ.
    accumulator_dtype: dtype of M, G and the maximum; default each parameter's dtype.

  Returns:
    An ``optax.GradientTransformation``.

  Example:
    >>> import jax.numpy as jnp
    >>> opt = amsgrad(0.1, max_over="raw")
    >>> params = jnp.array([1.0, -2.0])
    >>> state = opt.init(params)
    >>> updates, state = opt.update(jnp.array([0.5, -3.0]), state, params)
    >>> print(jnp.round(updates, 4))
    [-0.1  0.1]

  References:
    Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond", ICLR 2018.
  """
  fn = "amsgrad"
  _check_common(fn, learning_rate, b1, b2, eps, eps_root, weight_decay)
  _common.check_accumulator_dtype(fn, accumulator_dtype)
  _validation.check_choice(fn, "max_over", max_over, ("corrected", "raw"))
  raw = max_over == "raw"

  def init(params):
    return AmsgradState(
      count=jnp.zeros([], jnp.int32),
      amsgrad_m=_common.zeros_like(params, accumulator_dtype),
      amsgrad_g=_common.zeros_like(params, accumulator_dtype),
      amsgrad_g_max=_common.zeros_like(params, accumulator_dtype),
    )

  def update(grads, state, params=None):
    _common.needs_params(fn, params, weight_decay)
    lr = _common.learning_rate_at(learning_rate, state.count)  # α_t
    count = _common.increment(state.count)  # t
    bc1, bc2 = _common.bias_correction(b1, count), _common.bias_correction(b2, count)
    use_l2 = not _common.is_static_zero(weight_decay)

    def leaf(g, m, v, v_max, p):
      ct = compute_dtype(g.dtype)
      gc = _common.coupled_gradient(g, p, weight_decay, ct)  # g ← g + λθ
      m_new = b1 * _common.cast(m, ct) + (1 - b1) * gc  # M_t
      v_new = b2 * _common.cast(v, ct) + (1 - b2) * gc * gc  # G_t
      m_hat = m_new / bc1  # M̂_t
      if raw:
        v_max_new = jnp.maximum(_common.cast(v_max, ct), v_new)  # G^max_t = max(G^max, G_t)
        v_hat = v_max_new / bc2  # Ĝ^max_t = G^max_t / (1−β₂ᵗ)
      else:
        v_max_new = jnp.maximum(_common.cast(v_max, ct), v_new / bc2)  # Ĝ^max = max(Ĝ^max, Ĝ_t)
        v_hat = v_max_new
      delta = -lr * m_hat / (jnp.sqrt(v_hat + eps_root) + eps)  # Δθ
      return (
        _common.cast(delta, g.dtype),
        _common.cast(m_new, m.dtype),
        _common.cast(v_new, v.dtype),
        _common.cast(v_max_new, v_max.dtype),
      )

    treedef = jax.tree.structure(grads)
    updates, m, v, v_max = _common.per_leaf(
      leaf,
      4,
      treedef,
      grads,
      state.amsgrad_m,
      state.amsgrad_g,
      state.amsgrad_g_max,
      params if use_l2 else None,
    )
    return updates, AmsgradState(count=count, amsgrad_m=m, amsgrad_g=v, amsgrad_g_max=v_max)

  return optax.GradientTransformation(init, update)


# ---------------------------------------------------------------- nadam


class NadamState(NamedTuple):
  """State of :func:`nadam`: count, M_t, G_t and Π_{i≤t} μ_i (``nadam_mu_product``)."""

  count: jax.Array
  nadam_mu_product: jax.Array
  nadam_m: Any
  nadam_g: Any


def nadam(
  learning_rate: ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  eps_root: float = 0.0,
  momentum_decay: float | None = None,
  weight_decay: float = 0.0,
  accumulator_dtype: Any | None = None,
) -> optax.GradientTransformation:
  r"""NAdam: Adam with a Nesterov look-ahead on the first moment (beyond seed 002).

  .. math::

     \hat M_t &= \frac{\mu_{t+1} M_t}{1 - \prod_{i\le t+1}\mu_i}
       + \frac{(1-\mu_t)\, g_t}{1 - \prod_{i\le t}\mu_i}, \qquad
     \Delta\theta_t = -\alpha_t \frac{\hat M_t}{\sqrt{\hat G_t + \epsilon_{root}} + \epsilon}

  with M_t, G_t, Ĝ_t as in :func:`adam` (M_t decays with the constant β₁). The
  momentum schedule μ_t is where optax and PyTorch differ:

  * ``momentum_decay=None`` (default): μ_t = β₁ for all t, Dozat's simplified form
    as ``optax.nadam`` computes it (the products are β₁ᵗ, β₁ᵗ⁺¹);
  * ``momentum_decay=ψ``: μ_t = β₁(1 − ½·0.96^{tψ}), ``torch.optim.NAdam``'s schedule
    (torch's default ψ = 0.004). Note ψ = 0 gives μ_t = β₁/2, not β₁ — exactly what
    torch does with ``momentum_decay=0``.

  The product Π μ_i is kept in the state in float32, as torch keeps it.

  Args:
    learning_rate: α, a float ≥ 0 or a schedule ``count -> α``.
    b1: β₁ in [0, 1).
    b2: β₂ in [0, 1).
    eps: ε outside the root, ≥ 0.
    eps_root: ε inside the root, ≥ 0 (not both 0).
    momentum_decay: ``None`` (optax) or ψ ≥ 0 (torch's schedule).
    weight_decay: λ ≥ 0 of torch's coupled L2, g ← g + λθ.
    accumulator_dtype: dtype M and G are stored in; default each parameter's dtype.

  Returns:
    An ``optax.GradientTransformation``.

  Example:
    >>> import jax.numpy as jnp
    >>> opt = nadam(0.1, momentum_decay=0.004)
    >>> params = jnp.array([1.0, -2.0])
    >>> state = opt.init(params)
    >>> updates, state = opt.update(jnp.array([0.5, -3.0]), state, params)
    >>> print(jnp.round(updates, 4))
    [-0.1  0.1]

  References:
    Dozat, "Incorporating Nesterov Momentum into Adam", ICLR workshop 2016.
  """
  fn = "nadam"
  _check_common(fn, learning_rate, b1, b2, eps, eps_root, weight_decay)
  _common.check_accumulator_dtype(fn, accumulator_dtype)
  if momentum_decay is not None:
    _validation.check_non_negative(fn, "momentum_decay", momentum_decay)

  def mu_at(t):
    """μ_t: β₁, or torch's β₁(1 − ½·0.96^{tψ})."""
    if momentum_decay is None:
      return jnp.asarray(b1, jnp.float32)
    return b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))

  def init(params):
    return NadamState(
      count=jnp.zeros([], jnp.int32),
      nadam_mu_product=jnp.ones([], jnp.float32),
      nadam_m=_common.zeros_like(params, accumulator_dtype),
      nadam_g=_common.zeros_like(params, accumulator_dtype),
    )

  def update(grads, state, params=None):
    _common.needs_params(fn, params, weight_decay)
    lr = _common.learning_rate_at(learning_rate, state.count)  # α_t
    count = _common.increment(state.count)  # t
    t = count.astype(jnp.float32)
    mu, mu_next = mu_at(t), mu_at(t + 1)  # μ_t, μ_{t+1}
    mu_product = state.nadam_mu_product * mu  # Π_{i≤t} μ_i
    mu_product_next = mu_product * mu_next  # Π_{i≤t+1} μ_i
    coef_m = mu_next / (1 - mu_product_next)  # μ_{t+1} / (1 − Π_{t+1})
    coef_g = (1 - mu) / (1 - mu_product)  # (1 − μ_t) / (1 − Π_t)
    bc2 = _common.bias_correction(b2, count)
    use_l2 = not _common.is_static_zero(weight_decay)

    def leaf(g, m, v, p):
      ct = compute_dtype(g.dtype)
      gc = _common.coupled_gradient(g, p, weight_decay, ct)  # g ← g + λθ
      m_new = b1 * _common.cast(m, ct) + (1 - b1) * gc  # M_t = β₁M_{t−1} + (1−β₁)g
      v_new = b2 * _common.cast(v, ct) + (1 - b2) * gc * gc  # G_t
      m_hat = coef_m * m_new + coef_g * gc  # M̂_t = μ_{t+1}M_t/(1−Π_{t+1}) + (1−μ_t)g/(1−Π_t)
      v_hat = v_new / bc2  # Ĝ_t
      delta = -lr * m_hat / (jnp.sqrt(v_hat + eps_root) + eps)  # Δθ
      return (
        _common.cast(delta, g.dtype),
        _common.cast(m_new, m.dtype),
        _common.cast(v_new, v.dtype),
      )

    treedef = jax.tree.structure(grads)
    updates, m, v = _common.per_leaf(
      leaf, 3, treedef, grads, state.nadam_m, state.nadam_g, params if use_l2 else None
    )
    return updates, NadamState(count=count, nadam_mu_product=mu_product, nadam_m=m, nadam_g=v)

  return optax.GradientTransformation(init, update)
