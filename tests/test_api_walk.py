"""The API walk (issue 14): every public callable, every parameter, the bad values of its kind.

Each bad call must raise a ``ValueError`` whose message names the parameter. The case
registry is :mod:`tests.api_cases`; a public callable without a case, or a parameter
without a kind, fails :func:`test_every_public_callable_has_a_case`.

Outcomes per bad call: ``clear`` (ValueError naming the parameter), ``unnamed``
(ValueError without the name), ``other`` (another exception: a crash inside jax),
``accepted`` (no error: a silent wrong result). ``test_walk_counts`` prints the totals
(visible with ``-rA``) and fails unless every bad call is clear.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re

import api_cases
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import PUBLIC_MODULES

# "jpatterns" itself: the callables only the top level exports (checking, is_checking).
MODULES = [*PUBLIC_MODULES, "jpatterns", "jpatterns.flax.nnx", "jpatterns.flax.linen"]

# Parameters a walk cannot give a bad value to: Flax's own plumbing of linen modules.
FLAX_PLUMBING = {"parent", "name"}


def _public():
  out = {}
  for m in MODULES:
    module = importlib.import_module(m)
    for attr in module.__all__:
      obj = getattr(module, attr)
      if callable(obj) and not inspect.ismodule(obj):
        out[f"{m}.{attr}"] = obj
  return out


PUBLIC = _public()
CASES = api_cases.all_cases()
BY_NAME = {c.name: c for c in CASES}
assert len(BY_NAME) == len(CASES), "two cases share a name"


def _params(obj):
  """Parameter names of a function, or of a class's constructor (nnx ``__init__``, linen and
  NamedTuple generated signatures)."""
  params = None
  if inspect.isclass(obj):
    params = list(inspect.signature(obj.__init__).parameters.values())[1:]
    if all(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
      params = None  # tuple's / object's generic __init__: the class signature says more
  if params is None:
    params = list(inspect.signature(obj).parameters.values())
  return [p.name for p in params if p.name not in FLAX_PLUMBING]


def test_every_public_callable_has_a_case():
  missing = [q for q, obj in PUBLIC.items() if not any(c.fn is obj for c in CASES)]
  assert not missing, f"public callables with no case in tests/api_cases.py: {missing}"
  for case in CASES:
    qualname, obj = case.name, case.fn
    params = _params(obj)
    no_kind = [p for p in params if p not in case.kinds]
    assert not no_kind, f"{qualname}: parameters with no kind in its case: {no_kind}"
    unknown = [p for p in case.kinds if p not in params]
    assert not unknown, f"{qualname}: the case names parameters it does not have: {unknown}"


def _outcome(case, param, bad):
  kwargs = dict(case.kwargs)
  kwargs[param] = bad
  try:
    case.run(kwargs)
  except ValueError as e:
    return "clear" if re.search(rf"\b{re.escape(param)}\b", str(e)) else f"unnamed: {e}"
  except Exception as e:  # noqa: BLE001 (the walk records every other outcome)
    return f"other: {type(e).__name__}: {str(e)[:200]}"
  return "accepted"


@functools.cache
def walk(name):
  """[(param, bad value, outcome)] for one case."""
  case = BY_NAME[name]
  return [
    (param, bad, _outcome(case, param, bad))
    for param in case.kinds
    for bad in case.bad_values(param)
  ]


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_valid_call_runs(name):
  case = BY_NAME[name]
  out = case.run(dict(case.kwargs))
  floats = [
    np.asarray(a, np.float64)
    for a in jax.tree.leaves(out)
    if isinstance(a, jax.Array | np.ndarray) and jnp.issubdtype(a.dtype, jnp.floating)
  ]
  assert out is not None, f"{name} returned None"
  assert all(np.isfinite(a).all() for a in floats), f"{name}: non-finite output of a valid call"


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_bad_values_give_named_value_errors(name):
  bad = [
    f"{param}={api_cases.show(value)}: {outcome}"
    for param, value, outcome in walk(name)
    if outcome != "clear"
  ]
  assert not bad, f"{name}: {len(bad)} bad calls without a clear error:\n  " + "\n  ".join(bad)


def test_walk_counts():
  counts = {"calls": 0, "clear": 0, "unnamed": 0, "other": 0, "accepted": 0}
  for name in BY_NAME:
    for _, _, outcome in walk(name):
      counts["calls"] += 1
      counts[outcome.split(":")[0]] += 1
  print(
    f"\nAPI walk: {len(BY_NAME)} callables, {counts['calls']} bad calls tried, "
    f"{counts['clear']} clear ValueErrors, {counts['unnamed']} ValueErrors not naming "
    f"the parameter, {counts['other']} other exceptions, {counts['accepted']} accepted"
  )
  assert counts["clear"] == counts["calls"], counts
