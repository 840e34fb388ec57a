"""Learning-rate schedules (seed 002 学习率衰减; 003 §3 Learning Rate Decay).

Each factory validates its arguments once and returns a pure function
``schedule(count) -> α_t`` of the step counter, usable as the ``learning_rate`` of
every jpatterns and optax optimizer. ``count`` is the number of steps taken before
the current one (optax's convention: the first update uses ``schedule(0)``). It may be
a Python int or a traced int32 array: nothing in a schedule depends on its value at
trace time, so a jitted training step compiles once for every step. Values are
float32.

Seed 002 lists three fixed decays, with ``t`` the step and ``β`` the decay rate::

  逆时衰减 (inverse time)      α_t = α₀ / (1 + β t)
  指数衰减 (exponential)        α_t = α₀ β^t
  自然指数衰减 (natural exp)    α_t = α₀ exp(−β t)

Seed 003 §3 adds the two popular forms "decrease step by step" and "huge drops at
chosen epochs" (``step_decay`` / ``piecewise_constant``). ``cosine_decay`` and
``warmup`` are beyond the seeds.

Boundary convention of the piecewise schedules: optax's
``piecewise_constant_schedule`` applies a scale from ``count >= boundary`` on
(``jnp.sign(threshold - count)`` is 0 at the boundary); Keras' ``PiecewiseConstantDecay``
from ``count > boundary`` (``step <= boundaries[0]`` still gives ``values[0]``). Both are
available through ``inclusive`` (default ``True``, optax's).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp

from jpatterns import _validation

__all__ = [
  "inverse_time_decay",
  "exponential_decay",
  "natural_exp_decay",
  "piecewise_constant",
  "step_decay",
  "cosine_decay",
  "warmup",
]

Schedule = Callable[[jax.Array], jax.Array]


def _time(count):
  """The step count as float32, clamped at 0; a static negative count is an error.

  Steps count from 0 (optax's convention): a traced negative count (which no optimizer
  produces) is read as step 0 instead of extrapolating the formula backwards.
  """
  if not _validation.is_traced(count) and jnp.ndim(count) == 0:
    value = _validation.number("schedule", "count", count)
    if value < 0:
      raise ValueError(f"schedule: count={count!r} is negative; steps count from 0")
  return jnp.maximum(jnp.asarray(count, jnp.float32), 0.0)


def _steps(t, decay_steps, staircase: bool):
  """t / T as float32 (``t`` from :func:`_time`), floored when ``staircase``."""
  p = t / jnp.float32(decay_steps)  # t / T
  return jnp.floor(p) if staircase else p


def _check_flag(fn: str, name: str, value) -> None:
  _validation.check_bool(fn, name, value)


def inverse_time_decay(
  init_value: float,
  decay_rate: float,
  *,
  decay_steps: float = 1,
  staircase: bool = False,
) -> Schedule:
  r"""Inverse time decay (seed 002 学习率衰减 逆时衰减).

  .. math:: \alpha_t = \frac{\alpha_0}{1 + \beta\, t / T}

  with :math:`T` = ``decay_steps`` (the seed's form is :math:`T = 1`); with
  ``staircase`` :math:`t / T` is floored. This is Keras' ``InverseTimeDecay``.

  Args:
    init_value: α₀ ≥ 0.
    decay_rate: β ≥ 0.
    decay_steps: T > 0, the number of steps per unit of decay.
    staircase: floor ``t / T`` (decay in discrete jumps).

  Returns:
    ``schedule(count) -> α_t`` (float32).

  Example:
    >>> sched = inverse_time_decay(0.1, 0.5)
    >>> print([round(float(sched(t)), 4) for t in (0, 1, 2, 10)])
    [0.1, 0.0667, 0.05, 0.0167]

  References:
    Keras ``tf.keras.optimizers.schedules.InverseTimeDecay``.
  """
  fn = "inverse_time_decay"
  _validation.check_non_negative(fn, "init_value", init_value)
  _validation.check_non_negative(fn, "decay_rate", decay_rate)
  _validation.check_positive(fn, "decay_steps", decay_steps)
  _check_flag(fn, "staircase", staircase)

  def schedule(count):
    p = _steps(_time(count), decay_steps, staircase)
    return init_value / (1.0 + decay_rate * p)  # α₀ / (1 + β t)

  return schedule


def exponential_decay(
  init_value: float,
  decay_rate: float,
  *,
  transition_steps: float = 1,
  staircase: bool = False,
  transition_begin: int = 0,
  end_value: float | None = None,
) -> Schedule:
  r"""Exponential decay (seed 002 学习率衰减 指数衰减).

  .. math:: \alpha_t = \alpha_0\, \beta^{(t - t_0) / T} \quad (t > t_0), \qquad
     \alpha_t = \alpha_0 \quad (t \le t_0)

  with :math:`T` = ``transition_steps`` and :math:`t_0` = ``transition_begin`` (the
  seed's form: :math:`T = 1, t_0 = 0`), floored exponent with ``staircase``, and
  :math:`\alpha_t` kept ≥ ``end_value`` when given. Same as ``optax.exponential_decay``
  restricted to decays (:math:`0 < \beta \le 1`; optax also allows growth).

  Args:
    init_value: α₀ ≥ 0.
    decay_rate: β in (0, 1].
    transition_steps: T > 0.
    staircase: floor the exponent (decay in discrete jumps every T steps).
    transition_begin: t₀ ≥ 0, steps held at α₀ before the decay starts.
    end_value: optional lower bound of α_t, ≥ 0.

  Returns:
    ``schedule(count) -> α_t`` (float32).

  Example:
    >>> sched = exponential_decay(0.1, 0.5, transition_steps=2)
    >>> print([round(float(sched(t)), 4) for t in (0, 1, 2, 4)])
    [0.1, 0.0707, 0.05, 0.025]
  """
  fn = "exponential_decay"
  _validation.check_non_negative(fn, "init_value", init_value)
  _validation.check_in_range(fn, "decay_rate", decay_rate, 0.0, 1.0, lo_open=True)
  _validation.check_positive(fn, "transition_steps", transition_steps)
  _validation.check_non_negative_int(fn, "transition_begin", transition_begin)
  _check_flag(fn, "staircase", staircase)
  if end_value is not None:
    _validation.check_non_negative(fn, "end_value", end_value)

  def schedule(count):
    t = _time(count) - transition_begin  # t − t₀
    p = _steps(t, transition_steps, staircase)
    value = jnp.where(
      t <= 0, jnp.float32(init_value), init_value * jnp.power(jnp.float32(decay_rate), p)
    )  # α₀ β^t
    if end_value is not None:
      value = jnp.maximum(value, end_value)
    return value

  return schedule


def natural_exp_decay(
  init_value: float,
  decay_rate: float,
  *,
  decay_steps: float = 1,
  staircase: bool = False,
) -> Schedule:
  r"""Natural exponential decay (seed 002 学习率衰减 自然指数衰减).

  .. math:: \alpha_t = \alpha_0 \exp(-\beta\, t / T)

  with :math:`T` = ``decay_steps`` (the seed's form is :math:`T = 1`), floored
  :math:`t/T` with ``staircase``. It is :func:`exponential_decay` with rate
  :math:`e^{-\beta}`.

  Args:
    init_value: α₀ ≥ 0.
    decay_rate: β ≥ 0.
    decay_steps: T > 0.
    staircase: floor ``t / T``.

  Returns:
    ``schedule(count) -> α_t`` (float32).

  Example:
    >>> sched = natural_exp_decay(0.1, 0.5)
    >>> print([round(float(sched(t)), 4) for t in (0, 1, 2)])
    [0.1, 0.0607, 0.0368]
  """
  fn = "natural_exp_decay"
  _validation.check_non_negative(fn, "init_value", init_value)
  _validation.check_non_negative(fn, "decay_rate", decay_rate)
  _validation.check_positive(fn, "decay_steps", decay_steps)
  _check_flag(fn, "staircase", staircase)

  def schedule(count):
    p = _steps(_time(count), decay_steps, staircase)
    return init_value * jnp.exp(-decay_rate * p)  # α₀ exp(−β t)

  return schedule


def _check_boundaries(fn: str, boundaries: Sequence, name: str = "boundaries") -> tuple[int, ...]:
  if not isinstance(boundaries, (list, tuple)):
    raise ValueError(f"{fn}: {name}={boundaries!r} must be a sequence of integer steps")
  out = []
  for b in boundaries:
    if not isinstance(b, numbers.Integral) or isinstance(b, bool) or b < 0:
      raise ValueError(
        f"{fn}: {name} has boundary {b!r}, not a non-negative integer step; give "
        "boundaries as integers >= 0"
      )
    out.append(int(b))
  if any(b1 >= b2 for b1, b2 in zip(out, out[1:])):
    raise ValueError(
      f"{fn}: {name}={out!r} is not strictly increasing; "
      f"list them in increasing order without repeats"
    )
  return tuple(out)


def piecewise_constant(
  init_value: float,
  boundaries_and_scales: Mapping[int, float] | Sequence[tuple[int, float]],
  *,
  inclusive: bool = True,
) -> Schedule:
  r"""Piecewise-constant schedule: scaled drops at chosen steps (seed 003 §3).

  .. math:: \alpha_t = \alpha_0 \prod_{i:\ t \ge b_i} s_i \quad (\texttt{inclusive}),
     \qquad \alpha_t = \alpha_0 \prod_{i:\ t > b_i} s_i \quad (\text{otherwise})

  ``inclusive=True`` is optax's ``piecewise_constant_schedule`` convention (the scale
  applies from ``count == boundary`` on); ``inclusive=False`` is Keras'
  ``PiecewiseConstantDecay`` (the value at ``count == boundary`` is still the old one).

  Args:
    init_value: α₀ ≥ 0.
    boundaries_and_scales: ``{b_i: s_i}`` or a sequence of ``(b_i, s_i)`` pairs;
      boundaries are integer steps ≥ 0 given in strictly increasing order, scales
      are ≥ 0 and multiply (cumulatively) into α from their boundary on.
    inclusive: apply a scale at ``count >= b_i`` (optax) rather than ``count > b_i``
      (Keras).

  Returns:
    ``schedule(count) -> α_t`` (float32).

  Example:
    >>> sched = piecewise_constant(1.0, {2: 0.1, 4: 0.1})
    >>> print([round(float(sched(t)), 4) for t in range(6)])
    [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    >>> keras = piecewise_constant(1.0, {2: 0.1, 4: 0.1}, inclusive=False)
    >>> print([round(float(keras(t)), 4) for t in range(6)])
    [1.0, 1.0, 1.0, 0.1, 0.1, 0.01]
  """
  fn = "piecewise_constant"
  name = "boundaries_and_scales"
  _validation.check_non_negative(fn, "init_value", init_value)
  _check_flag(fn, "inclusive", inclusive)
  if isinstance(boundaries_and_scales, Mapping):
    pairs = list(boundaries_and_scales.items())
  elif isinstance(boundaries_and_scales, (list, tuple)) and all(
    isinstance(p, (list, tuple)) and len(p) == 2 for p in boundaries_and_scales
  ):
    pairs = [tuple(p) for p in boundaries_and_scales]
  else:
    raise ValueError(
      f"{fn}: {name}={boundaries_and_scales!r} must be a dict {{step: scale}} or a "
      "sequence of (step, scale) pairs"
    )
  boundaries = _check_boundaries(fn, [b for b, _ in pairs], name)
  scales = tuple(s for _, s in pairs)
  for s in scales:
    _validation.check_non_negative(fn, name, s)

  def schedule(count):
    count = _time(count)
    value = jnp.asarray(init_value, jnp.float32)
    for b, s in zip(boundaries, scales):
      passed = count >= b if inclusive else count > b
      value = jnp.where(passed, value * s, value)  # α ← α s_i once t reaches b_i
    return value

  return schedule


def step_decay(
  init_value: float,
  boundaries: Sequence[int],
  *,
  factor: float = 0.1,
  inclusive: bool = True,
) -> Schedule:
  r"""Step decay: the same large drop at each chosen step (seed 003 §3).

  .. math:: \alpha_t = \alpha_0\, \gamma^{\#\{i:\ t \ge b_i\}}

  (``t > b_i`` with ``inclusive=False``), γ = ``factor``; torch's ``MultiStepLR``
  with ``gamma=factor``. It is :func:`piecewise_constant` with every scale γ.

  Args:
    init_value: α₀ ≥ 0.
    boundaries: integer steps ≥ 0, strictly increasing.
    factor: γ in (0, 1], the multiplier applied at each boundary.
    inclusive: drop at ``count >= b_i`` (optax, torch) rather than ``count > b_i``
      (Keras).

  Returns:
    ``schedule(count) -> α_t`` (float32).

  Example:
    >>> sched = step_decay(0.1, [3, 6], factor=0.5)
    >>> print([round(float(sched(t)), 4) for t in (0, 3, 5, 6)])
    [0.1, 0.05, 0.05, 0.025]
  """
  fn = "step_decay"
  _validation.check_in_range(fn, "factor", factor, 0.0, 1.0, lo_open=True)
  _validation.check_non_negative(fn, "init_value", init_value)
  _check_flag(fn, "inclusive", inclusive)
  boundaries = _check_boundaries(fn, boundaries)
  return piecewise_constant(init_value, [(b, factor) for b in boundaries], inclusive=inclusive)


def cosine_decay(
  init_value: float,
  decay_steps: int,
  *,
  alpha: float = 0.0,
) -> Schedule:
  r"""Cosine decay (beyond the seeds; Loshchilov & Hutter's SGDR without restarts).

  .. math:: \alpha_t = \alpha_0 \left[(1 - a)\, \tfrac12\left(1 + \cos\frac{\pi
     \min(t, T)}{T}\right) + a\right]

  with :math:`T` = ``decay_steps`` and :math:`a` = ``alpha`` (the final fraction of
  α₀, reached at step T and held). Same as ``optax.cosine_decay_schedule``.

  Args:
    init_value: α₀ ≥ 0.
    decay_steps: T > 0.
    alpha: a in [0, 1], the final value as a fraction of α₀.

  Returns:
    ``schedule(count) -> α_t`` (float32).

  Example:
    >>> sched = cosine_decay(1.0, 4, alpha=0.1)
    >>> print([round(float(sched(t)), 4) for t in (0, 2, 4, 8)])
    [1.0, 0.55, 0.1, 0.1]

  References:
    Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", 2017.
  """
  fn = "cosine_decay"
  _validation.check_non_negative(fn, "init_value", init_value)
  _validation.check_positive_int(fn, "decay_steps", decay_steps)
  _validation.check_in_range(fn, "alpha", alpha, 0.0, 1.0)

  def schedule(count):
    t = jnp.minimum(_time(count), decay_steps)  # min(t, T)
    cos = 0.5 * (1.0 + jnp.cos(math.pi * t / decay_steps))  # ½(1 + cos(π t/T))
    return init_value * ((1.0 - alpha) * cos + alpha)

  return schedule


def warmup(
  schedule: float | Schedule,
  *,
  warmup_steps: int,
  init_value: float = 0.0,
) -> Schedule:
  r"""Linear warmup, then any schedule (beyond the seeds; Goyal et al., 2017).

  .. math:: \alpha_t = \begin{cases} \alpha_{\text{init}} + (s(0) -
     \alpha_{\text{init}})\, t / W & t < W \\ s(t - W) & t \ge W \end{cases}

  with :math:`W` = ``warmup_steps`` and :math:`s` = ``schedule`` (a constant is the
  schedule :math:`s(t) = s`). The schedule starts its own clock at the end of the
  warmup, as ``optax.join_schedules`` does; e.g. ``warmup(cosine_decay(p, T - W,
  alpha=e / p), warmup_steps=W, init_value=i)`` is
  ``optax.warmup_cosine_decay_schedule(i, p, W, T, e)``.

  Args:
    schedule: the schedule (or constant ≥ 0) to follow after the warmup; its value
      at 0 is the peak reached at step W.
    warmup_steps: W > 0.
    init_value: α at step 0, ≥ 0.

  Returns:
    ``schedule(count) -> α_t`` (float32).

  Example:
    >>> sched = warmup(cosine_decay(1.0, 4), warmup_steps=2)
    >>> print([round(float(sched(t)), 4) for t in range(7)])
    [0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0]

  References:
    Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017.
  """
  fn = "warmup"
  _validation.check_positive_int(fn, "warmup_steps", warmup_steps)
  _validation.check_non_negative(fn, "init_value", init_value)
  if not callable(schedule):
    _validation.check_non_negative(fn, "schedule", schedule)
  after = schedule if callable(schedule) else (lambda count: jnp.float32(schedule))

  def warmed(count):
    t = _time(count)
    peak = jnp.asarray(after(0), jnp.float32)
    ramp = init_value + (peak - init_value) * t / warmup_steps  # α_init + (s(0) − α_init) t/W
    since = jnp.maximum(jnp.asarray(count) - warmup_steps, 0)  # t − W, clamped: unused before W
    later = jnp.asarray(after(since), jnp.float32)  # s(t − W)
    return jnp.where(t < warmup_steps, ramp, later)

  return warmed
