"""Adamax, the infinity-norm relative of Adam, as an init/update pair (beyond seed 002;
it reuses its Adam symbols M_t, α, β).

Same conventions as :mod:`jpatterns.optim._adam`: one fused pass per leaf, arithmetic
in at least float32, ``count`` = steps taken before this one.
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

__all__ = ["adamax"]


class AdamaxState(NamedTuple):
  """State of :func:`adamax`: count, M_t (``adamax_m``) and U_t (``adamax_u``)."""

  count: jax.Array
  adamax_m: Any
  adamax_u: Any


def adamax(
  learning_rate: ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  eps_in_max: bool = True,
  weight_decay: float = 0.0,
  accumulator_dtype: Any | None = None,
) -> optax.GradientTransformation:
  r"""Adamax: Adam with the infinity norm in place of G_t (beyond seed 002).

  .. math::

     M_t &= \beta_1 M_{t-1} + (1-\beta_1) g_t\\
     U_t &= \max(\beta_2 U_{t-1}, |g_t| + \epsilon), \qquad
       \Delta\theta_t = -\frac{\alpha_t}{1-\beta_1^t}\,\frac{M_t}{U_t}
       \quad (\text{eps\_in\_max=True})\\
     U_t &= \max(\beta_2 U_{t-1}, |g_t|), \qquad
       \Delta\theta_t = -\frac{\alpha_t}{1-\beta_1^t}\,\frac{M_t}{U_t + \epsilon}
       \quad (\text{eps\_in\_max=False})

  ``optax.adamax`` and ``torch.optim.Adamax`` agree: both put ε INSIDE the max
  (``eps_in_max=True``, the default). Kingma & Ba's Algorithm 2 has no ε at all;
  Keras adds it to the denominator, which is ``eps_in_max=False``. No bias correction
  on U_t (the max is not biased towards 0).

  Args:
    learning_rate: α, a float ≥ 0 or a schedule ``count -> α``.
    b1: β₁ in [0, 1).
    b2: β₂, decay of the infinity norm, in [0, 1).
    eps: ε > 0 (U_t = 0 where a gradient stays zero, so ε = 0 would give 0/0).
    eps_in_max: ε inside the max (optax, torch) or in the denominator (Keras).
    weight_decay: λ ≥ 0 of torch's coupled L2, g ← g + λθ.
    accumulator_dtype: dtype M and U are stored in; default each parameter's dtype.

  Returns:
    An ``optax.GradientTransformation``.

  Example:
    >>> import jax.numpy as jnp
    >>> opt = adamax(0.1)
    >>> params = jnp.array([1.0, -2.0])
    >>> state = opt.init(params)
    >>> updates, state = opt.update(jnp.array([0.5, -3.0]), state, params)
    >>> print(jnp.round(updates, 4))
    [-0.1  0.1]

  References:
    Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, §7.1.
  """
  fn = "adamax"
  _common.check_learning_rate(fn, learning_rate)
  _common.check_accumulator_dtype(fn, accumulator_dtype)
  _common.check_decay(fn, "b1", b1)
  _common.check_decay(fn, "b2", b2)
  _validation.check_positive(fn, "eps", eps)
  _validation.check_bool(fn, "eps_in_max", eps_in_max)
  _validation.check_non_negative(fn, "weight_decay", weight_decay)

  def init(params):
    return AdamaxState(
      count=jnp.zeros([], jnp.int32),
      adamax_m=_common.zeros_like(params, accumulator_dtype),
      adamax_u=_common.zeros_like(params, accumulator_dtype),
    )

  def update(grads, state, params=None):
    _common.needs_params(fn, params, weight_decay)
    lr = _common.learning_rate_at(learning_rate, state.count)  # α_t
    count = _common.increment(state.count)  # t
    bc1 = _common.bias_correction(b1, count)
    use_l2 = not _common.is_static_zero(weight_decay)

    def leaf(g, m, u, p):
      ct = compute_dtype(g.dtype)
      gc = _common.coupled_gradient(g, p, weight_decay, ct)  # g ← g + λθ
      m_new = b1 * m.astype(ct) + (1 - b1) * gc  # M_t = β₁M_{t−1} + (1−β₁)g
      if eps_in_max:
        u_new = jnp.maximum(b2 * u.astype(ct), jnp.abs(gc) + eps)  # U_t = max(β₂U, |g|+ε)
        denom = u_new
      else:
        u_new = jnp.maximum(b2 * u.astype(ct), jnp.abs(gc))  # U_t = max(β₂U, |g|)
        denom = u_new + eps
      delta = -lr * (m_new / bc1) / denom  # Δθ = −α/(1−β₁ᵗ) · M_t/U_t
      return delta.astype(g.dtype), m_new.astype(m.dtype), u_new.astype(u.dtype)

    treedef = jax.tree.structure(grads)
    updates, m, u = _common.per_leaf(
      leaf, 3, treedef, grads, state.adamax_m, state.adamax_u, params if use_l2 else None
    )
    return updates, AdamaxState(count=count, adamax_m=m, adamax_u=u)

  return optax.GradientTransformation(init, update)
