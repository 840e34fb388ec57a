"""Lion, the sign-based relative of Adam, as an init/update pair (beyond seed 002; it
reuses its Adam symbols M_t, α, β).

Same conventions as :mod:`jpatterns.optim._adam`: one fused pass per leaf, arithmetic
in at least float32, ``count`` = steps taken before this one (``None`` when the learning
rate and the weight decay are constants: nothing reads it).
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

__all__ = ["lion"]


class LionState(NamedTuple):
  """State of :func:`lion`: count and the momentum M_t (``lion_m``)."""

  count: jax.Array | None
  lion_m: Any


def lion(
  learning_rate: ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.99,
  weight_decay: ScalarOrSchedule = 0.0,
  mask: Any | Callable[[Any], Any] | None = None,
  accumulator_dtype: Any | None = None,
) -> optax.GradientTransformation:
  r"""Lion: the sign of an interpolated momentum (beyond seed 002).

  .. math::

     C_t &= \beta_1 M_{t-1} + (1-\beta_1) g_t\\
     \Delta\theta_t &= -\alpha_t\big(\operatorname{sign}(C_t) + \lambda\,\theta_{t-1}\big)\\
     M_t &= \beta_2 M_{t-1} + (1-\beta_2) g_t

  Every coordinate moves by ±α (0 where C_t = 0), so Lion wants a learning rate
  3–10× smaller than Adam's and a proportionally larger decoupled weight decay λ.
  Same as ``optax.lion`` except the default ``weight_decay`` (0 here, 1e-3 in optax).

  Args:
    learning_rate: α, a float ≥ 0 or a schedule ``count -> α``.
    b1: β₁ in [0, 1), interpolation for the sign.
    b2: β₂ in [0, 1), decay of the momentum M_t.
    weight_decay: decoupled λ ≥ 0 (multiplied by α, as optax), or a schedule.
    mask: where to decay, as in :func:`jpatterns.optim.adamw`.
    accumulator_dtype: dtype M is stored in; default each parameter's dtype.

  Returns:
    An ``optax.GradientTransformation``.

  Example:
    >>> import jax.numpy as jnp
    >>> opt = lion(0.01)
    >>> params = jnp.array([1.0, -2.0, 3.0])
    >>> state = opt.init(params)
    >>> updates, state = opt.update(jnp.array([0.5, -3.0, 0.0]), state, params)
    >>> print(updates)
    [-0.01  0.01 -0.  ]

  References:
    Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023.
  """
  fn = "lion"
  _common.check_learning_rate(fn, learning_rate)
  _common.check_accumulator_dtype(fn, accumulator_dtype)
  _common.check_decay(fn, "b1", b1)
  _common.check_decay(fn, "b2", b2)
  if not callable(weight_decay):
    _validation.check_non_negative(fn, "weight_decay", weight_decay)

  def init(params):
    return LionState(
      count=_common.initial_count(learning_rate, weight_decay),
      lion_m=_common.zeros_like(params, accumulator_dtype),
    )

  def update(grads, state, params=None):
    _common.needs_params(fn, params, weight_decay)
    lr = _common.learning_rate_at(learning_rate, state.count)  # α_t
    wd = _common.learning_rate_at(weight_decay, state.count)  # λ_t
    treedef = jax.tree.structure(grads)
    use_decay = not _common.is_static_zero(weight_decay)
    decays = (
      _common.decay_mask(mask, params, treedef) if use_decay else [False] * treedef.num_leaves
    )

    def leaf(g, m, p, decay):
      ct = compute_dtype(g.dtype)
      gc, mc = g.astype(ct), m.astype(ct)
      c = b1 * mc + (1 - b1) * gc  # C_t = β₁M_{t−1} + (1−β₁)g
      step = jnp.sign(c)  # sign(C_t)
      if decay:
        step = step + wd * p.astype(ct)  # + λθ
      delta = -lr * step  # Δθ = −α(sign(C_t) + λθ)
      m_new = b2 * mc + (1 - b2) * gc  # M_t = β₂M_{t−1} + (1−β₂)g
      return delta.astype(g.dtype), m_new.astype(m.dtype)

    updates, m = _common.per_leaf(
      leaf,
      2,
      treedef,
      grads,
      state.lion_m,
      params if use_decay else None,
      treedef.unflatten(decays),
    )
    return updates, LionState(count=_common.next_count(state.count), lion_m=m)

  return optax.GradientTransformation(init, update)
