"""Every check of :mod:`jpatterns.conformance` as a pytest case: the registry that
``jpatterns verify`` runs is the one the test suite runs, per check and dtype.

Each case asserts that its check's max error is within its stated tolerance
(``conformance.TOLERANCES`` for this backend). As in ``jpatterns verify``, the checks of
one family and dtype are compiled and evaluated together, once per test process (a
cached group), so each case costs one lookup after its group's single compile. torch
checks run (torch is a test dependency): they are not skipped when torch is missing,
they fail.
"""

from __future__ import annotations

import functools

import pytest

from jpatterns import catalogue, conformance

CASES = [(check, dtype) for check in conformance.CHECKS for dtype in check.dtypes]


def _id(case):
  check, dtype = case
  reference = check.reference.split()[0].rstrip(",")
  return f"{check.family}/{check.pattern} vs {reference}/{dtype}"


@functools.cache
def _group(family, dtype):
  """{check: result row} for the checks of ``family`` in ``dtype``: one compiled program."""
  checks = [c for c in conformance.CHECKS if c.family == family and dtype in c.dtypes]
  results, skipped = conformance.run_checks(checks, [dtype], with_torch=True)
  assert not skipped
  assert len(results) == len(checks)
  return dict(zip(checks, results))


# xdist_group: under ``pytest -n N --dist loadgroup`` a family and dtype stay on one
# worker, so each group compiles once in all (without it, once per worker that gets one).
@pytest.mark.parametrize(
  "case",
  [
    pytest.param(c, marks=pytest.mark.xdist_group(f"conformance-{c[0].family}-{c[1]}"))
    for c in CASES
  ],
  ids=[_id(c) for c in CASES],
)
def test_check_is_within_its_tolerance(case):
  check, dtype = case
  row = _group(check.family, dtype)[check]
  assert row["error"] is None, row.get("traceback", row["error"])
  assert row["max_error"] <= row["tolerance"], (
    f"{check.pattern} vs {check.reference} [{dtype}]: max error {row['max_error']:.3g} "
    f"> tolerance {row['tolerance']:.3g} ({check.tol})"
  )


def test_registry_is_well_formed():
  """Each check names a catalogue pattern (its family comes from there), supports at
  least one dtype, has a tolerance per dtype and backend; torch checks exist and
  torch is importable, so the torch cases above ran."""
  import torch  # noqa: F401  (a test dependency: torch checks must run, not skip)

  assert conformance.torch_available()
  assert any(c.torch for c in conformance.CHECKS)
  for c in conformance.CHECKS:
    assert c.family == catalogue.by_name(c.name).family
    assert c.dtypes and set(c.dtypes) <= set(conformance.DTYPES)
    for dtype in c.dtypes:
      assert set(conformance.TOLERANCES[c.tol][dtype]) == {"cpu", "gpu", "tpu"}, c
  assert len({_id(c) for c in CASES}) == len(CASES)
  assert conformance.FAMILIES == tuple(
    f for f in catalogue.FAMILIES if any(c.family == f for c in conformance.CHECKS)
  )
