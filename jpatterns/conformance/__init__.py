"""The conformance checks that ``jpatterns verify`` runs: jpatterns against its references.

Each :class:`Check` computes ``fn(key, dtype) -> (ours, theirs)``, two arrays or two
pytrees of the same structure, on the default device. :func:`run_checks` compares
them with

    max error = max over elements of |ours − theirs| / max(1, |theirs|)

(relative where the reference is large, absolute where it is below 1) and passes a
check when that error is at most :data:`TOLERANCES` ``[tol][dtype][backend]``.

The problems are tiny (tens of elements, 20 optimizer steps): XLA compilation is
the whole cost, so :func:`run_checks` compiles the checks of one family and dtype as
one program. References are independent code: optax, flax.linen, jax.nn, autodiff of
a plain ``jnp`` transcription, and PyTorch when it is importable (on the host CPU
whatever the JAX backend, through ``jax.pure_callback``, so those checks jit too).
bf16 checks feed the same bf16 inputs (and parameters) to both sides and compute the
reference in float32 (the true value), so the error measured is jpatterns' bf16
rounding; jax.nn's own bf16 activations are up to 9e-3 from it.

A check's family is not stated here: it is the :mod:`jpatterns.catalogue` family of
the pattern it checks (:attr:`Check.name`, by default the pattern up to `` (``), so
``jpatterns verify --family`` and ``jpatterns list`` take the same names. The checks
live in one module per family (``jpatterns/conformance/<family>.py``); the registry,
tolerances and runner are here. ``jpatterns verify`` and ``tests/test_conformance.py``
both run :data:`CHECKS` through :func:`run_checks`.

Adding a check: in its family's module, decorate ``fn(key, dtype) -> (ours, theirs)``
with ``@add(pattern, reference, tol_class, dtypes)``; it must be traceable (jit=False
otherwise). ``key`` is for the patterns whose randomness is the point (dropout masks,
initializers: same key on both sides); data comes from ``_inputs.normal``.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import time
import traceback
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jpatterns import catalogue

__all__ = [
  "Check",
  "CHECKS",
  "DTYPES",
  "FAMILIES",
  "TOLERANCES",
  "add",
  "backend_name",
  "tolerance",
  "max_error",
  "run_checks",
  "torch_available",
]

DTYPES = {"f32": jnp.float32, "bf16": jnp.bfloat16}

# Tolerance on the max error, per tolerance class, dtype and backend: the one place
# where tolerances are stated. Every check runs under
# jax.default_matmul_precision("highest"), so float32 matmuls are float32 on GPU
# (no TF32) and TPU (no bf16 passes); the looser GPU/TPU entries allow for other
# transcendental-function implementations and reduction orders.
TOLERANCES = {
  # Same key, same sampling ops (initializers, dropout masks): bit-equal on the CPU
  # (tested). GPU/TPU fusion may round differently by an ulp or two; a wrong mask or
  # sample is off by O(1), far above that allowance.
  "exact": {
    "f32": {"cpu": 0.0, "gpu": 2.5e-7, "tpu": 2.5e-7},
    "bf16": {"cpu": 0.0, "gpu": 1.6e-2, "tpu": 1.6e-2},
  },
  # Elementwise formulas (activations, losses, schedules, clipping).
  # bf16: jax.nn's own bf16 results are up to 9e-3 from the float32 truth (selu).
  "elementwise": {
    "f32": {"cpu": 1e-5, "gpu": 1e-5, "tpu": 1e-4},
    "bf16": {"cpu": 2e-2, "gpu": 2e-2, "tpu": 2e-2},
  },
  # Reductions and matmuls (normalization, pooling, attention, gradients).
  "reduction": {
    "f32": {"cpu": 1e-5, "gpu": 1e-4, "tpu": 1e-3},
    "bf16": {"cpu": 2e-2, "gpu": 2e-2, "tpu": 3e-2},
  },
  # 20-step optimizer trajectories (rounding accumulates over steps).
  "trajectory": {"f32": {"cpu": 1e-5, "gpu": 1e-4, "tpu": 1e-3}},
  # check_grads' worst relative error in float32 (its own docs: 1e-4..1e-3).
  "gradcheck": {"f32": {"cpu": 5e-3, "gpu": 5e-3, "tpu": 1e-2}},
  # Against PyTorch on the CPU, converted through NumPy.
  "torch": {"f32": {"cpu": 1e-5, "gpu": 1e-4, "tpu": 1e-3}},
}


@dataclasses.dataclass(frozen=True)
class Check:
  """One conformance check.

  Attributes:
    pattern: what the row shows and ``--filter`` matches, e.g. ``"gelu (tanh)"``.
    reference: what it is compared with.
    fn: ``fn(key, dtype) -> (ours, theirs)``.
    tol: tolerance class, a key of :data:`TOLERANCES`.
    dtypes: dtype names the check supports (keys of :data:`DTYPES`).
    jit: wrap ``fn`` in ``jax.jit`` (False where it calls torch or is jitted inside).
    torch: needs PyTorch (skipped when torch is not importable).
    name: the catalogue name of the pattern checked; by default ``pattern`` up to
      its first `` (``. Must be a row of :data:`jpatterns.catalogue.PATTERNS`.
  """

  pattern: str
  reference: str
  fn: Callable[[Any, Any], tuple[Any, Any]]
  tol: str
  dtypes: tuple[str, ...] = ("f32",)
  jit: bool = True
  torch: bool = False
  name: str | None = None

  def __post_init__(self):
    if self.name is None:
      object.__setattr__(self, "name", self.pattern.split(" (")[0])
    try:
      catalogue.by_name(self.name)
    except KeyError:
      raise ValueError(
        f"check {self.pattern!r}: {self.name!r} is no catalogue pattern; "
        "pass name= the pattern it checks"
      ) from None

  @property
  def family(self) -> str:
    """The catalogue family of the pattern checked (what ``--family`` matches)."""
    return catalogue.by_name(self.name).family


def backend_name() -> str:
  """'cpu', 'gpu' or 'tpu' (jax.default_backend(), with cuda/rocm counted as gpu)."""
  b = jax.default_backend()
  return "gpu" if b in ("gpu", "cuda", "rocm") else b


def tolerance(check: Check, dtype: str, backend: str) -> float:
  by_backend = TOLERANCES[check.tol][dtype]
  return by_backend.get(backend, max(by_backend.values()))


def max_error(ours, theirs) -> float:
  """max |ours − theirs| / max(1, |theirs|) over every leaf and element (float64)."""
  a_leaves, b_leaves = jax.tree.leaves(ours), jax.tree.leaves(theirs)
  if len(a_leaves) != len(b_leaves):
    raise ValueError(f"ours has {len(a_leaves)} leaves, the reference {len(b_leaves)}")
  worst = 0.0
  for a, b in zip(a_leaves, b_leaves):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
      raise ValueError(f"shape {a.shape} differs from the reference's {b.shape}")
    if a.size == 0:
      continue
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
      same = np.array_equal(a, b, equal_nan=True)
      if not same:
        return float("inf")
      continue
    worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))))
  return worst


CHECKS: list[Check] = []


def add(pattern, reference, tol, dtypes=("f32",), jit=True, torch=False, name=None):
  """Decorator: registers ``fn(key, dtype) -> (ours, theirs)`` as a :class:`Check`."""

  def register(fn):
    CHECKS.append(Check(pattern, reference, fn, tol, tuple(dtypes), jit, torch, name))
    return fn

  return register


def torch_available() -> bool:
  """Whether PyTorch can be imported (its checks are skipped otherwise)."""
  return importlib.util.find_spec("torch") is not None


# ---------------------------------------------------------------------------- runner


def _evaluate(fns, key, dtype):
  """[(ours, theirs), ...] of ``fns`` compiled as one program (one XLA compile)."""
  return jax.device_get(jax.jit(lambda k: [f(k, dtype) for f in fns])(key))


def run_checks(checks, dtypes, *, with_torch=None, progress=None):
  """Runs ``checks`` for each of their supported ``dtypes``.

  The jittable checks of one family and dtype are compiled together as ONE program
  (XLA compilation dominates the run time; a group compiles in about the time of two
  of its checks alone). A group that raises is rerun check by check, so that an error
  is charged to its own check.

  Returns ``(results, skipped)``: one dict per check and dtype (pattern, family,
  reference, dtype, max_error, tolerance, passed, error, seconds; ``seconds`` is the
  check's share of its group's time) and the checks skipped for want of torch.
  ``progress(done, total, label)``, if given, is called before each group.
  """
  if with_torch is None:
    with_torch = torch_available()
  backend = backend_name()
  key = jax.random.key(0)
  skipped = [c for c in checks if c.torch and not with_torch]
  runnable = [c for c in checks if with_torch or not c.torch]
  rows = {}  # (index, dtype) -> row
  groups = {}  # (family, dtype) -> [index, ...]; (index, dtype) for a non-jit check
  for i, check in enumerate(runnable):
    for dtype in (d for d in dtypes if d in check.dtypes):
      rows[i, dtype] = {
        "pattern": check.pattern,
        "family": check.family,
        "reference": check.reference,
        "dtype": dtype,
        "max_error": None,
        "tolerance": tolerance(check, dtype, backend),
        "passed": False,
        "error": None,
        "seconds": None,
      }
      groups.setdefault((check.family if check.jit else i, dtype), []).append(i)

  def finish(i, dtype, pair):
    row = rows[i, dtype]
    try:
      err = max_error(*pair)
      row.update(max_error=err, passed=bool(err <= row["tolerance"]))
    except Exception as e:  # noqa: BLE001
      _record_error(row, e)

  done = 0
  with jax.default_matmul_precision("highest"):
    for (_, dtype), members in groups.items():
      if progress is not None:
        progress(done, len(rows), f"{runnable[members[0]].family} [{dtype}]")
      done += len(members)
      dt = DTYPES[dtype]
      start = time.perf_counter()
      try:
        if runnable[members[0]].jit:
          pairs = _evaluate([runnable[i].fn for i in members], key, dt)
        else:
          pairs = [jax.device_get(runnable[members[0]].fn(key, dt))]
      except Exception:  # noqa: BLE001  (find the culprit: one check at a time)
        pairs = None
      if pairs is not None:
        share = (time.perf_counter() - start) / len(members)
        for i, pair in zip(members, pairs):
          finish(i, dtype, pair)
          rows[i, dtype]["seconds"] = round(share, 3)
        continue
      for i in members:
        start = time.perf_counter()
        try:
          check = runnable[i]
          pair = (
            _evaluate([check.fn], key, dt)[0] if check.jit else jax.device_get(check.fn(key, dt))
          )
          finish(i, dtype, pair)
        except Exception as e:  # noqa: BLE001  (a crashing check is a failing check)
          _record_error(rows[i, dtype], e)
        rows[i, dtype]["seconds"] = round(time.perf_counter() - start, 3)
  results = [rows[k] for k in sorted(rows, key=lambda k: (k[0], dtypes.index(k[1])))]
  return results, skipped


def _record_error(row, e):
  row["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:200]
  row["traceback"] = traceback.format_exc()
  row["passed"] = False


# The checks: one module per catalogue family, named after it; each registers its
# checks on import (a family without checks has no module).
for _family in catalogue.FAMILIES:
  if importlib.util.find_spec(f"{__name__}.{_family}") is not None:
    importlib.import_module(f"{__name__}.{_family}")
del _family

# The catalogue families that have checks, in catalogue order (derived, not stated).
FAMILIES = tuple(f for f in catalogue.FAMILIES if any(c.family == f for c in CHECKS))
