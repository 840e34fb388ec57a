"""``jpatterns verify``: conformance checks on this machine's default JAX backend.

Runs every check of :mod:`jpatterns.conformance` (jpatterns against optax, flax,
jax.nn and, when it is importable, PyTorch on the CPU) on the default device (CPU, GPU
or TPU) and prints one row per check and dtype:

    pattern | reference | dtype | max error | tolerance | pass

``max error`` is max |ours − reference| / max(1, |reference|) over all elements; the
tolerances, per dtype and backend, are :data:`jpatterns.conformance.TOLERANCES`. Exit
status 0 when every check passes, 1 when any fails (or raises), 2 on bad input.
``--family`` takes the names of ``jpatterns list`` (a catalogue family or an alias such
as ``optim``, resolved by :func:`jpatterns.catalogue.family`); a family without checks
selects none.

Examples::

  jpatterns verify                       # everything, f32 and bf16
  jpatterns verify --dtype f32 --family optim
  jpatterns verify --filter norm --format json
  jpatterns verify --list
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import time

from jpatterns import conformance as _checks
from jpatterns.cli import _common
from jpatterns.cli._errors import UsageError, choose_from
from jpatterns.cli.list_cmd import family_help, resolve_family
from jpatterns.conformance import run_checks, torch_available
from jpatterns.train import compile_cache

__all__ = ["add_parser", "run", "run_checks", "parse_dtypes", "torch_available"]

_HELP_ERROR = "max |ours - ref| / max(1, |ref|), elementwise"


def add_parser(subparsers):
  p = subparsers.add_parser(
    "verify",
    help="check jpatterns against optax, flax, jax.nn (and torch) on this backend",
    description=(
      "Runs the conformance checks on the default JAX backend and prints pattern, "
      f"reference, dtype, max error ({_HELP_ERROR}), tolerance and pass. Exit "
      "status 0 if all pass, 1 if any fails."
    ),
  )
  p.add_argument(
    "--dtype",
    default="f32,bf16",
    help="comma-separated dtypes: f32, bf16 (default both; a check runs "
    "only the dtypes it supports)",
  )
  p.add_argument(
    "--filter", default=None, metavar="TEXT", help="only checks whose pattern name contains TEXT"
  )
  p.add_argument(
    "--family",
    default=None,
    metavar="FAMILY",
    help="only one catalogue family, as for jpatterns list: " + family_help(),
  )
  p.add_argument(
    "--format", default="table", choices=("table", "json"), help="output format (default table)"
  )
  p.add_argument(
    "--list", action="store_true", help="list the selected checks without running them"
  )
  _common.add_cache_flag(p)
  p.set_defaults(run=run)
  return p


def parse_dtypes(text: str) -> list[str]:
  """'f32,bf16' -> ['f32', 'bf16']; unknown names raise UsageError."""
  names = [t.strip() for t in str(text).split(",") if t.strip()]
  if not names:
    raise UsageError(f"--dtype: {text!r} names no dtype; choose from {', '.join(_checks.DTYPES)}")
  for name in names:
    if name not in _checks.DTYPES:
      raise choose_from("--dtype", name, list(_checks.DTYPES))
  return list(dict.fromkeys(names))


def _torch_version():
  if not torch_available():
    return None
  try:
    return importlib.metadata.version("torch")
  except importlib.metadata.PackageNotFoundError:
    return "unknown"


def machine_header(has_torch: bool = True) -> dict:
  from jpatterns.cli._common import versions

  return {
    **versions(),
    "backend": _checks.backend_name(),
    "torch": _torch_version() if has_torch else None,
    "matmul_precision": "highest",
    "max_error": _HELP_ERROR,
  }


def select(args) -> list[_checks.Check]:
  checks = list(_checks.CHECKS)
  family = None if args.family is None else resolve_family("--family", args.family)
  if family is not None:
    checks = [c for c in checks if c.family == family]
  if args.filter is not None:
    checks = [c for c in checks if args.filter.lower() in c.pattern.lower()]
    if not checks:
      raise UsageError(
        f"--filter: {args.filter!r} matches no check pattern"
        + (f" in family {family!r}" if family else "")
        + "; choose a part of one of: "
        + ", ".join(sorted({c.pattern for c in _checks.CHECKS}))
      )
  return checks


def _fmt_err(row):
  if row["error"] is not None:
    return "error"
  return f"{row['max_error']:.1e}" if row["max_error"] else "0"


def _table(header, rows) -> str:
  widths = [
    max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
    for i, h in enumerate(header)
  ]

  def line(cells):
    return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

  return "\n".join(
    [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows]
  )


def _progress(done, total, label):
  print(
    f"\r\033[Kverifying {label}: {done}/{total} checks done", end="", file=sys.stderr, flush=True
  )


def _header_line(h) -> str:
  torch = f"torch {h['torch']}" if h["torch"] else "torch not installed"
  return (
    f"jpatterns verify on backend {h['backend']} ({h['device_kind']}, "
    f"{h['device_count']} device(s)); jax {h['jax']}, flax {h['flax']}, "
    f"optax {h['optax']}, {torch}; matmul precision highest"
  )


def _list(checks, dtypes, fmt, has_torch):
  backend = _checks.backend_name()
  if fmt == "json":
    print(
      json.dumps(
        {
          "checks": [
            {
              "pattern": c.pattern,
              "family": c.family,
              "reference": c.reference,
              "dtypes": [d for d in c.dtypes if d in dtypes],
              "tolerance_class": c.tol,
              "needs_torch": c.torch,
            }
            for c in checks
          ]
        },
        indent=2,
      )
    )
    return 0
  rows = [
    (
      c.pattern,
      c.family,
      c.reference,
      ",".join(d for d in c.dtypes if d in dtypes) or "-",
      ", ".join(f"{d} {_checks.tolerance(c, d, backend):.2g}" for d in c.dtypes if d in dtypes)
      or "-",
      "yes" + ("" if has_torch else " (not installed: skipped)") if c.torch else "no",
    )
    for c in checks
  ]
  print(
    _table(("pattern", "family", "reference", "dtypes", f"tolerance ({backend})", "torch"), rows)
  )
  print(f"{len(checks)} checks")
  return 0


def run(args) -> int:
  dtypes = parse_dtypes(args.dtype)
  checks = select(args)
  has_torch = torch_available()
  if args.list:
    return _list(checks, dtypes, args.format, has_torch)
  if not checks and args.format == "table":  # a catalogue family without checks
    print(f"jpatterns verify: no conformance check in family {args.family!r}", file=sys.stderr)
    return 0
  _common.start_jax(args)
  header = machine_header(has_torch)
  cache_before = compile_cache.counts()
  start = time.perf_counter()
  results, skipped = run_checks(
    checks, dtypes, with_torch=has_torch, progress=_progress if sys.stderr.isatty() else None
  )
  if sys.stderr.isatty():
    print("\r\033[K", end="", file=sys.stderr)
  seconds = time.perf_counter() - start
  cache = compile_cache.counts().since(cache_before)
  failed = [r for r in results if not r["passed"]]
  if args.format == "json":
    print(
      json.dumps(
        {
          "header": header,
          "tolerances": _checks.TOLERANCES,
          "results": results,
          "skipped": [
            {"pattern": c.pattern, "reference": c.reference, "reason": "torch not installed"}
            for c in skipped
          ],
          "passed": not failed,
          "seconds": round(seconds, 2),
          "compile_cache": cache,
        },
        indent=2,
      )
    )
    return 1 if failed else 0
  print(_header_line(header))
  print(
    f"max error = {_HELP_ERROR}; tolerances per dtype and backend "
    f"({header['backend']} here) are jpatterns.conformance.TOLERANCES"
  )
  rows = [
    (
      r["pattern"],
      r["reference"],
      r["dtype"],
      _fmt_err(r),
      f"{r['tolerance']:.2g}" if r["tolerance"] else "0 (exact)",
      "pass" if r["passed"] else "FAIL",
    )
    for r in results
  ]
  print(_table(("pattern", "reference", "dtype", "max error", "tolerance", "pass"), rows))
  for c in skipped:
    print(f"skipped: torch not installed ({c.pattern} vs {c.reference})")
  for r in failed:
    if r["error"] is not None:
      print(f"FAIL {r['pattern']} [{r['dtype']}] raised {r['error']}", file=sys.stderr)
  print(
    f"{len(results) - len(failed)}/{len(results)} passed"
    + (f", {len(failed)} FAILED" if failed else "")
    + (f", {len(skipped)} skipped" if skipped else "")
    + f" in {seconds:.1f} s"
  )
  print(_common.cache_line([cache]))
  return 1 if failed else 0
