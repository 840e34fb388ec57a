"""Regularizers and update guards as gradient transformations (seed 002 正则化: L2, L1,
权重衰减, 显式约束正则化; 003 §10 Transfer Learning).

Where each goes in an ``optax.chain``:

* ``add_l2`` / ``add_l1`` act on the raw GRADIENT (g ← g + λw, g ← g + λ sgn w): chain
  them BEFORE the optimizer. With plain SGD this is the seed's L2/L1 update; with an
  adaptive optimizer the penalty gradient is rescaled by the moments too (coupled L2).
* ``weight_decay`` acts on the UPDATE (Δθ ← Δθ − ηλθ): chain it AFTER the optimizer.
  That is decoupled weight decay (Loshchilov & Hutter): θ ← (1 − ηλ)θ + Δθ_opt.
* ``max_norm`` projects the NEW parameters: chain it LAST.
* ``freeze`` wraps an optimizer (or is chained last) to keep chosen subtrees fixed.
* ``skip_nonfinite`` wraps an optimizer to skip steps with NaN/Inf gradients.

Masks (``mask`` of add_l2, add_l1, weight_decay, max_norm; True = apply) and the
frozen mask of ``freeze`` (True = frozen) are pytrees of Python bools with the
structure of the params or a prefix of it, or callables ``params -> such a pytree``
(static, as in ``jpatterns.regularization``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from jpatterns import _validation
from jpatterns.optim import _common
from jpatterns.optim._common import ScalarOrSchedule, upcast
from jpatterns.regularization import _full_mask

__all__ = [
  "add_l2",
  "add_l1",
  "weight_decay",
  "max_norm",
  "freeze",
  "skip_nonfinite",
]

Mask = Any | Callable[[Any], Any] | None


def _check_transformation(fn: str, name: str, tx) -> None:
  if not (callable(getattr(tx, "init", None)) and callable(getattr(tx, "update", None))):
    raise ValueError(
      f"{fn}: {name}={tx!r} is not an optax.GradientTransformation (init/update pair)"
    )


def _needs_params(fn: str, params):
  if params is None:
    raise ValueError(f"{fn}: update needs params; call update(updates, state, params)")


def _map_masked(fn_name, f, updates, params, mask):
  """u ← f(u, p) on the masked leaves, u unchanged elsewhere."""
  full = _full_mask(fn_name, mask, params)
  return jax.tree.map(lambda u, p, m: f(u, p).astype(u.dtype) if m else u, updates, params, full)


def add_l2(weight: float, *, mask: Mask = None) -> optax.GradientTransformation:
  r"""Add the L2 penalty gradient λw to the gradient (seed 002 L2正则化).

  .. math:: g \leftarrow g + \lambda w \qquad (\nabla_w\, \tfrac{\lambda}{2}\lVert w
     \rVert^2 = \lambda w)

  Chain BEFORE the optimizer. With ``optax.sgd(η)`` it gives the seed's
  :math:`w \leftarrow (1 - \eta\lambda) w - \eta \nabla C_0`. Same as
  ``optax.add_decayed_weights(λ, mask)``; the gradient of
  ``jpatterns.regularization.l2_penalty``.

  Args:
    weight: λ ≥ 0.
    mask: leaves to penalize (True); default all.

  Returns:
    A stateless ``optax.GradientTransformation`` (needs ``params``).

  Example:
    >>> import jax.numpy as jnp
    >>> t = add_l2(0.1)
    >>> p = {"w": jnp.array([1.0, -2.0])}
    >>> g, _ = t.update({"w": jnp.zeros(2)}, t.init(p), p)
    >>> print(g["w"])
    [ 0.1 -0.2]
  """
  _validation.check_non_negative("add_l2", "weight", weight)

  def update(updates, state, params=None):
    _needs_params("add_l2", params)
    return _map_masked(
      "add_l2",
      lambda g, w: upcast(g) + weight * upcast(w),  # g + λw
      updates,
      params,
      mask,
    ), state

  return optax.GradientTransformation(optax.init_empty_state, update)


def add_l1(weight: float, *, mask: Mask = None) -> optax.GradientTransformation:
  r"""Add the L1 penalty gradient λ sgn(w), sgn(0) = 0, to the gradient (seed 002 L1正则化).

  .. math:: g \leftarrow g + \lambda\, \mathrm{sgn}(w), \qquad \mathrm{sgn}(0) = 0

  Chain BEFORE the optimizer; with ``optax.sgd(η)``:
  :math:`w \leftarrow w - \eta\lambda\,\mathrm{sgn}(w) - \eta\nabla C_0`. The gradient of
  ``jpatterns.regularization.l1_penalty``.

  Args:
    weight: λ ≥ 0.
    mask: leaves to penalize (True); default all.

  Returns:
    A stateless ``optax.GradientTransformation`` (needs ``params``).

  Example:
    >>> import jax.numpy as jnp
    >>> t = add_l1(0.1)
    >>> p = {"w": jnp.array([1.5, 0.0, -2.0])}
    >>> g, _ = t.update({"w": jnp.zeros(3)}, t.init(p), p)
    >>> print(g["w"])
    [ 0.1  0.  -0.1]
  """
  _validation.check_non_negative("add_l1", "weight", weight)

  def update(updates, state, params=None):
    _needs_params("add_l1", params)
    return _map_masked(
      "add_l1",
      lambda g, w: upcast(g) + weight * jnp.sign(w),  # g + λ sgn w
      updates,
      params,
      mask,
    ), state

  return optax.GradientTransformation(optax.init_empty_state, update)


class WeightDecayState(NamedTuple):
  """``weight_decay_count``: steps taken (to evaluate a learning-rate schedule; ``None``
  for a constant learning rate).

  Not named ``count``, so ``optax.tree.get(state, "count")`` still finds the
  optimizer's own counter in ``optax.chain(adam(...), weight_decay(...))``.
  """

  weight_decay_count: jax.Array | None


def weight_decay(
  weight_decay: float,
  *,
  learning_rate: ScalarOrSchedule,
  mask: Mask = None,
) -> optax.GradientTransformation:
  r"""Decoupled weight decay, chained AFTER an optimizer (seed 002 权重衰减).

  .. math:: \Delta\theta \leftarrow \Delta\theta_{\text{opt}} - \eta_t \lambda \theta,
     \qquad \theta \leftarrow (1 - \eta_t\lambda)\theta + \Delta\theta_{\text{opt}}

  With ``optax.sgd(η)`` as the optimizer (Δθ_opt = −η∇C₀) this is the seed's
  :math:`w \leftarrow (1 - \eta\lambda) w - \eta \nabla C_0`; with Adam it is AdamW
  (``optax.chain(adam(η), weight_decay(λ, learning_rate=η))`` equals
  ``optax.adamw(η, weight_decay=λ)``). The decay is multiplied by the learning rate
  η_t (pass the optimizer's own float or schedule, evaluated at the same count), as
  ``torch.optim.AdamW`` and ``optax.adamw`` do. It never passes through the
  optimizer's moments — that is what "decoupled" means; for the coupled form (the
  penalty gradient added before the optimizer) use :func:`add_l2`.

  Args:
    weight_decay: λ ≥ 0.
    learning_rate: η, a float ≥ 0 or a schedule ``count -> η``.
    mask: leaves to decay (True); typically weights only, not biases or
      normalization scales, e.g. ``lambda p: jax.tree.map(lambda x: x.ndim > 1, p)``.

  Returns:
    An ``optax.GradientTransformation`` with a :class:`WeightDecayState` (needs
    ``params``).

  Example:
    >>> import jax.numpy as jnp, optax
    >>> opt = optax.chain(optax.sgd(0.1), weight_decay(0.5, learning_rate=0.1))
    >>> p = {"w": jnp.array([2.0])}
    >>> u, _ = opt.update({"w": jnp.array([1.0])}, opt.init(p), p)
    >>> print(optax.apply_updates(p, u)["w"])  # (1 − 0.05)·2 − 0.1·1
    [1.8]

  References:
    Loshchilov & Hutter, "Decoupled Weight Decay Regularization", 2019.
  """
  fn = "weight_decay"
  _validation.check_non_negative(fn, "weight_decay", weight_decay)
  _common.check_learning_rate(fn, learning_rate)

  def init(params):
    del params
    return WeightDecayState(weight_decay_count=_common.initial_count(learning_rate))

  def update(updates, state, params=None):
    _needs_params(fn, params)
    eta = _common.learning_rate_at(learning_rate, state.weight_decay_count)
    rate = jnp.asarray(eta, jnp.float32) * weight_decay  # η_t λ
    updates = _map_masked(
      fn,
      lambda u, p: upcast(u) - rate * upcast(p),  # Δθ − ηλθ
      updates,
      params,
      mask,
    )
    return updates, WeightDecayState(_common.next_count(state.weight_decay_count))

  return optax.GradientTransformation(init, update)


def max_norm(
  max_value: float,
  *,
  axis: None | int | tuple[int, ...] = 0,
  mask: Mask = None,
) -> optax.GradientTransformation:
  r"""Max-norm constraint: project the new weights onto ‖w‖ ≤ k (seed 002 显式约束正则化).

  .. math:: \theta' = \theta + \Delta\theta, \qquad
     w' \leftarrow w' \cdot \min\!\Big(1, \frac{k}{\lVert w' \rVert_2}\Big)
     \ \text{for each slice } w' \text{ (norm over } \texttt{axis}\text{)}

  Seed 002 writes the constrained problem min J(θ) s.t. Ω(θ) < k and its Lagrangian;
  here it is solved by projection after each step (Srivastava et al. 2014's max-norm,
  Keras' ``MaxNorm``): the returned updates are ``proj(θ + Δθ) − θ``, so
  ``optax.apply_updates`` lands on the projected weights (up to one float rounding).
  Chain it LAST. ``axis`` are the axes the norm reduces over (NumPy's meaning): for a
  dense kernel of shape (in, out), ``axis=0`` bounds each unit's incoming weight
  vector; ``axis=None`` the whole tensor. The projection onto the ball is exact
  (Keras divides by ``ε + ‖w‖``).

  Args:
    max_value: k > 0.
    axis: axes of each leaf reduced by the norm (each must exist in every constrained
      leaf), or ``None`` for the whole leaf.
    mask: leaves to constrain (True); default all (use a mask to skip biases).

  Returns:
    A stateless ``optax.GradientTransformation`` (needs ``params``).

  Example:
    >>> import jax.numpy as jnp, optax
    >>> t = max_norm(1.0, axis=0)
    >>> p = {"w": jnp.array([[3.0, 0.1], [4.0, 0.1]])}
    >>> u, _ = t.update(jax.tree.map(jnp.zeros_like, p), t.init(p), p)
    >>> print(jnp.round(optax.apply_updates(p, u)["w"], 4))
    [[0.6 0.1]
     [0.8 0.1]]

  References:
    Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
    Overfitting", 2014 (max-norm regularization).
  """
  fn = "max_norm"
  _validation.check_positive(fn, "max_value", max_value)
  if axis is not None:
    axes = _validation.axis_tuple(fn, "axis", axis)
    if len(set(axes)) != len(axes):
      raise ValueError(f"{fn}: axis={axis!r} repeats an axis")

  def project(u, p):
    new = upcast(p) + upcast(u)  # θ' = θ + Δθ
    axes = None if axis is None else _validation.canonical_axes(fn, "axis", axis, p.ndim)
    norm = jnp.sqrt(jnp.sum(new * new, axis=axes, keepdims=True))  # ‖w'‖ per slice
    over = norm > max_value
    scale = jnp.where(over, max_value / jnp.where(over, norm, 1.0), 1.0)  # min(1, k/‖w'‖)
    return new * scale - upcast(p)  # proj(θ') − θ

  def update(updates, state, params=None):
    _needs_params(fn, params)
    return _map_masked(fn, project, updates, params, mask), state

  return optax.GradientTransformation(optax.init_empty_state, update)


class FreezeState(NamedTuple):
  """``freeze_inner``: the wrapped optimizer's state, for the trainable leaves only."""

  freeze_inner: Any


def freeze(
  mask: Any,
  *,
  inner: optax.GradientTransformation | None = None,
) -> optax.GradientTransformation:
  r"""Keep chosen subtrees fixed, for transfer learning (seed 003 §10).

  .. math:: \Delta\theta_l = 0 \ \text{for frozen leaves } l, \qquad
     \Delta\theta_l = \text{inner}(g)_l \ \text{otherwise}

  003 §10: reuse a trained network and retrain only its last layer(s). With
  ``inner`` (the optimizer), ``inner`` sees only the trainable leaves — it keeps no
  state for the frozen ones (no Adam moments for a frozen backbone) — and frozen
  leaves get zero updates; this is ``optax.selective_transform(inner,
  freeze_mask=mask)``. Without ``inner`` it is stateless and zeroes the frozen
  updates (``optax.freeze(mask)``); chain it LAST, after the optimizer, so a weight
  decay cannot move frozen leaves either.

  Pitfall this avoids: ``optax.masked(opt, trainable)`` passes the NON-selected leaves
  through UNCHANGED, so a "frozen" leaf gets the raw gradient as its update and moves
  (θ ← θ + g, uphill). Freezing needs the non-selected updates set to zero.

  Args:
    mask: which leaves are frozen (True = frozen): a pytree of bools with the params'
      structure or a prefix of it (``{"backbone": True, "head": False}``), or a
      callable ``params -> such a pytree``.
    inner: the optimizer to run on the trainable leaves; ``None`` to only zero the
      frozen updates.

  Returns:
    An ``optax.GradientTransformation`` with a :class:`FreezeState`.

  Example:
    >>> import jax.numpy as jnp, optax
    >>> p = {"backbone": jnp.ones(2), "head": jnp.ones(2)}
    >>> opt = freeze({"backbone": True, "head": False}, inner=optax.adam(0.1))
    >>> state = opt.init(p)
    >>> u, state = opt.update(jax.tree.map(jnp.ones_like, p), state, p)
    >>> print(u["backbone"], u["head"])
    [0. 0.] [-0.1 -0.1]
  """
  fn = "freeze"
  inner = optax.identity() if inner is None else inner
  _check_transformation(fn, "inner", inner)
  inner = optax.with_extra_args_support(inner)

  def split(tree, frozen):
    """The tree with each frozen leaf replaced by an empty ``optax.MaskedNode``."""
    return jax.tree.map(lambda x, f: optax.MaskedNode() if f else x, tree, frozen)

  def init(params):
    frozen = _full_mask(fn, mask, params)
    return FreezeState(freeze_inner=inner.init(split(params, frozen)))

  def update(updates, state, params=None, **extra_args):
    frozen = _full_mask(fn, mask, updates if params is None else params)
    trainable_params = None if params is None else split(params, frozen)
    new, inner_state = inner.update(
      split(updates, frozen), state.freeze_inner, trainable_params, **extra_args
    )
    new_leaves = iter(jax.tree.leaves(new))  # trainable leaves, in order
    leaves, treedef = jax.tree.flatten(updates)
    out = [
      jnp.zeros_like(g) if f else next(new_leaves)  # Δθ = 0 on frozen leaves
      for g, f in zip(leaves, jax.tree.leaves(frozen))
    ]
    return treedef.unflatten(out), FreezeState(freeze_inner=inner_state)

  return optax.GradientTransformationExtraArgs(init, update)


class SkipNonfiniteState(NamedTuple):
  """Counters of skipped steps, and the wrapped optimizer's state.

  ``skip_total``: steps skipped so far; ``skip_consecutive``: steps skipped since the
  last applied one (0 after a finite step); ``skip_inner``: the inner state.
  """

  skip_total: jax.Array
  skip_consecutive: jax.Array
  skip_inner: Any


def skip_nonfinite(inner: optax.GradientTransformation) -> optax.GradientTransformation:
  r"""Skip any step whose gradients contain NaN or Inf (opt-in guard; beyond the seeds).

  .. math:: (\Delta\theta, s) = \begin{cases} \text{inner}(g, s) & g \text{ all
     finite} \\ (0, s) & \text{otherwise} \end{cases}

  A skipped step returns zero updates and the unchanged inner state (no moment is
  polluted, the inner step counter does not advance) and increments ``skip_total``
  and ``skip_consecutive``; a finite step resets ``skip_consecutive`` to 0. The
  counters make divergence visible: stop training when ``skip_consecutive`` grows.

  Compared with ``optax.apply_if_finite(inner, max_consecutive_errors=n)``: the same
  skipping and counters (its ``total_notfinite`` and ``notfinite_count``), but this
  wrapper never gives up — optax applies the non-finite update after ``n``
  consecutive skips, which writes NaN into the params and the moments for good. The
  name says what it does to a step (skip), rather than when it applies one.

  Args:
    inner: the optimizer (or chain) to guard.

  Returns:
    An ``optax.GradientTransformationExtraArgs`` with a :class:`SkipNonfiniteState`.

  Example:
    >>> import jax.numpy as jnp, optax
    >>> opt = skip_nonfinite(optax.sgd(0.1))
    >>> p = {"w": jnp.ones(2)}
    >>> s = opt.init(p)
    >>> u, s = opt.update({"w": jnp.array([1.0, jnp.nan])}, s, p)
    >>> print(u["w"], int(s.skip_total), int(s.skip_consecutive))
    [0. 0.] 1 1
    >>> u, s = opt.update({"w": jnp.array([1.0, 1.0])}, s, p)
    >>> print(u["w"], int(s.skip_total), int(s.skip_consecutive))
    [-0.1 -0.1] 1 0
  """
  _check_transformation("skip_nonfinite", "inner", inner)
  inner = optax.with_extra_args_support(inner)

  def init(params):
    # Two distinct buffers (one shared array would be donated twice under jit).
    return SkipNonfiniteState(
      skip_total=jnp.zeros([], jnp.int32),
      skip_consecutive=jnp.zeros([], jnp.int32),
      skip_inner=inner.init(params),
    )

  def update(updates, state, params=None, **extra_args):
    finite = jnp.all(
      jnp.array([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(updates)], dtype=bool)
    )

    def apply(_):
      return inner.update(updates, state.skip_inner, params, **extra_args)

    def skip(_):
      return jax.tree.map(jnp.zeros_like, updates), state.skip_inner

    new_updates, inner_state = lax.cond(finite, apply, skip, None)
    return new_updates, SkipNonfiniteState(
      skip_total=jnp.where(finite, state.skip_total, _common.increment(state.skip_total)),
      skip_consecutive=jnp.where(
        finite, jnp.zeros([], jnp.int32), _common.increment(state.skip_consecutive)
      ),
      skip_inner=inner_state,
    )

  return optax.GradientTransformationExtraArgs(init, update)
