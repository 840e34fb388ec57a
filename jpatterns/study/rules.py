"""The verdict rule of :mod:`jpatterns.study`: numbers in, ``supported`` / ``not supported`` /
``inconclusive`` out.

A claim's rule compares per-seed values of one metric. Two kinds:

* ``compare``: for each pair ``[a, b]`` of arms, the claim says ``a``'s value is higher
  (``direction="higher"``) or lower (``"lower"``) than ``b``'s. With ``n_a``, ``n_b`` seeds,

  - ``d = mean(a) - mean(b)`` (negated for ``"lower"``): positive supports the claim;
  - ``s = sqrt(var(a)/n_a + var(b)/n_b)``, sample variances (``ddof=1``): Welch's
    standard error of ``d``;

* ``threshold``: one arm against a fixed ``value``: ``d = mean(a) - value`` (negated for
  ``"lower"``), ``s = std(a, ddof=1) / sqrt(n_a)``.

Then, with ``k`` (default 2) and ``min_effect`` (default 0, in the metric's units):

* **supported** when ``d > k·s`` and ``d >= min_effect``: the effect is in the claimed
  direction, more than ``k`` standard errors from zero and at least ``min_effect``;
* **not supported** when ``d < -k·s`` (clearly the other way) or ``d + k·s < min_effect``
  (even the top of the interval ``d ± k·s`` is short of ``min_effect``: no effect worth
  the name);
* **inconclusive** otherwise (the seeds' spread is too large to tell).

A claim with several tests is supported when every test is, not supported when any
test is, inconclusive otherwise. A test whose values are not all finite is inconclusive
(the metric maps the non-finite values it can give a meaning to before this point; see
:mod:`jpatterns.study.metrics`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = [
  "SUPPORTED",
  "NOT_SUPPORTED",
  "INCONCLUSIVE",
  "Outcome",
  "check_pair",
  "check_threshold",
  "combine",
]

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"


@dataclasses.dataclass(frozen=True)
class Outcome:
  """One test of a rule: what was compared, the rule's numbers and the outcome.

  Attributes:
    label: e.g. ``"relu < sigmoid"`` or ``"layer_norm > 0.6"``.
    d: the oriented effect (positive supports the claim).
    s: its standard error.
    k: how many standard errors the effect must clear.
    min_effect: the smallest effect that counts.
    verdict: ``"supported"``, ``"not supported"`` or ``"inconclusive"``.
    reason: one phrase saying which branch of the rule decided.
  """

  label: str
  d: float
  s: float
  k: float
  min_effect: float
  verdict: str
  reason: str

  def to_json(self) -> dict:
    return dataclasses.asdict(self)


def _decide(d: float, s: float, k: float, min_effect: float) -> tuple[str, str]:
  if not (math.isfinite(d) and math.isfinite(s)):
    return INCONCLUSIVE, "values not finite"
  if d > k * s and d >= min_effect:
    return SUPPORTED, f"d > {k:g}·s and d >= {min_effect:g}"
  if d < -k * s:
    return NOT_SUPPORTED, f"d < -{k:g}·s: the other way"
  if d + k * s < min_effect:
    return NOT_SUPPORTED, f"d + {k:g}·s < {min_effect:g}: no effect of that size"
  return INCONCLUSIVE, "within the seeds' spread"


def _values(name: str, v) -> np.ndarray:
  a = np.asarray(v, np.float64).reshape(-1)
  if a.size < 2:
    raise ValueError(f"rule: {name} has {a.size} value(s); a standard error needs >= 2 seeds")
  return a


def check_pair(
  a, b, *, direction: str, k: float = 2.0, min_effect: float = 0.0, label: str = ""
) -> Outcome:
  """The rule for ``a`` against ``b`` (per-seed values), ``a`` claimed ``direction`` of ``b``.

  Args:
    a, b: per-seed values of the two arms (at least 2 each).
    direction: ``"higher"`` or ``"lower"``: what the claim says of ``a`` against ``b``.
    k: standard errors the effect must clear.
    min_effect: the smallest effect (metric units) that counts.
    label: a name for the test.

  Returns:
    An :class:`Outcome`.
  """
  a, b = _values("a", a), _values("b", b)
  sign = _sign(direction)
  d = sign * (a.mean() - b.mean())
  s = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
  return Outcome(
    label, float(d), float(s), float(k), float(min_effect), *_decide(d, s, k, min_effect)
  )


def check_threshold(
  a, value: float, *, direction: str, k: float = 2.0, min_effect: float = 0.0, label: str = ""
) -> Outcome:
  """The rule for one arm's per-seed values ``a`` against a fixed ``value``."""
  a = _values("a", a)
  d = _sign(direction) * (a.mean() - float(value))
  s = a.std(ddof=1) / math.sqrt(a.size)
  return Outcome(
    label, float(d), float(s), float(k), float(min_effect), *_decide(d, s, k, min_effect)
  )


def _sign(direction: str) -> float:
  if direction not in ("higher", "lower"):
    raise ValueError(f"rule: direction={direction!r} is not valid; choose from higher, lower")
  return 1.0 if direction == "higher" else -1.0


def combine(verdicts) -> str:
  """All supported: supported; any not supported: not supported; else inconclusive."""
  verdicts = list(verdicts)
  if verdicts and all(v == SUPPORTED for v in verdicts):
    return SUPPORTED
  if any(v == NOT_SUPPORTED for v in verdicts):
    return NOT_SUPPORTED
  return INCONCLUSIVE
