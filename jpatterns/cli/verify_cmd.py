"""``jpatterns verify``: conformance checks on this machine's default JAX backend.

Runs every check of :mod:`jpatterns.conformance` (jpatterns against optax, flax,
jax.nn and, when it is importable, PyTorch on the CPU) on the default device (CPU, GPU
or TPU) and prints one row per check and dtype:

    pattern | reference | dtype | max error | tolerance | pass

``max error`` is max |ours − reference| / max(1, |reference|) over all elements; the
tolerances, per dtype and backend, are the ``TOLERANCES`` dict of ``_checks``. Exit
status 0 when every check passes, 1 when any fails (or raises), 2 on bad input.

Examples::

  jpatterns verify                       # everything, f32 and bf16
  jpatterns verify --dtype f32 --family optim
  jpatterns verify --filter norm --format json
  jpatterns verify --list
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
import time
import traceback

import jax

from jpatterns import conformance as _checks
from jpatterns.cli._errors import UsageError, choose_from

__all__ = ["add_parser", "run", "run_checks", "parse_dtypes", "torch_available"]

_HELP_ERROR = "max |ours - ref| / max(1, |ref|), elementwise"


def add_parser(subparsers):
  p = subparsers.add_parser(
      "verify",
      help="check jpatterns against optax, flax, jax.nn (and torch) on this backend",
      description=(
          "Runs the conformance checks on the default JAX backend and prints pattern, "
          f"reference, dtype, max error ({_HELP_ERROR}), tolerance and pass. Exit "
          "status 0 if all pass, 1 if any fails."))
  p.add_argument("--dtype", default="f32,bf16",
                 help="comma-separated dtypes: f32, bf16 (default both; a check runs "
                      "only the dtypes it supports)")
  p.add_argument("--filter", default=None, metavar="TEXT",
                 help="only checks whose pattern name contains TEXT")
  p.add_argument("--family", default=None,
                 help="only one family: " + ", ".join(_checks.FAMILIES))
  p.add_argument("--format", default="table", choices=("table", "json"),
                 help="output format (default table)")
  p.add_argument("--list", action="store_true",
                 help="list the selected checks without running them")
  p.set_defaults(run=run)
  return p


def parse_dtypes(text: str) -> list[str]:
  """'f32,bf16' -> ['f32', 'bf16']; unknown names raise UsageError."""
  names = [t.strip() for t in str(text).split(",") if t.strip()]
  if not names:
    raise UsageError(f"--dtype: {text!r} names no dtype; choose from "
                     f"{', '.join(_checks.DTYPES)}")
  for name in names:
    if name not in _checks.DTYPES:
      raise choose_from("--dtype", name, list(_checks.DTYPES))
  return list(dict.fromkeys(names))


def torch_available() -> bool:
  """Whether PyTorch can be imported (its checks are skipped otherwise)."""
  return importlib.util.find_spec("torch") is not None


def _torch_version():
  if not torch_available():
    return None
  try:
    return importlib.metadata.version("torch")
  except importlib.metadata.PackageNotFoundError:
    return "unknown"


def machine_header(has_torch: bool = True) -> dict:
  from jpatterns.cli._common import versions
  return {**versions(), "backend": _checks.backend_name(),
          "torch": _torch_version() if has_torch else None,
          "matmul_precision": "highest", "max_error": _HELP_ERROR}


def select(args) -> list[_checks.Check]:
  checks = list(_checks.CHECKS)
  if args.family is not None:
    if args.family not in _checks.FAMILIES:
      raise choose_from("--family", args.family, _checks.FAMILIES)
    checks = [c for c in checks if c.family == args.family]
  if args.filter is not None:
    checks = [c for c in checks if args.filter.lower() in c.pattern.lower()]
    if not checks:
      raise UsageError(
          f"--filter: {args.filter!r} matches no check pattern"
          + (f" in family {args.family!r}" if args.family else "")
          + "; choose a part of one of: "
          + ", ".join(sorted({c.pattern for c in _checks.CHECKS})))
  return checks


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
  backend = _checks.backend_name()
  key = jax.random.key(0)
  skipped = [c for c in checks if c.torch and not with_torch]
  runnable = [c for c in checks if with_torch or not c.torch]
  rows = {}  # (index, dtype) -> row
  groups = {}  # (family, dtype) -> [index, ...]; (index, dtype) for a non-jit check
  for i, check in enumerate(runnable):
    for dtype in (d for d in dtypes if d in check.dtypes):
      rows[i, dtype] = {"pattern": check.pattern, "family": check.family,
                        "reference": check.reference, "dtype": dtype, "max_error": None,
                        "tolerance": _checks.tolerance(check, dtype, backend),
                        "passed": False, "error": None, "seconds": None}
      groups.setdefault((check.family if check.jit else i, dtype), []).append(i)

  def finish(i, dtype, pair):
    row = rows[i, dtype]
    try:
      err = _checks.max_error(*pair)
      row.update(max_error=err, passed=bool(err <= row["tolerance"]))
    except Exception as e:  # noqa: BLE001
      _record_error(row, e)

  done = 0
  with jax.default_matmul_precision("highest"):
    for (_, dtype), members in groups.items():
      if progress is not None:
        progress(done, len(rows), f"{runnable[members[0]].family} [{dtype}]")
      done += len(members)
      dt = _checks.DTYPES[dtype]
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
          pair = (_evaluate([check.fn], key, dt)[0] if check.jit
                  else jax.device_get(check.fn(key, dt)))
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


def _fmt_err(row):
  if row["error"] is not None:
    return "error"
  return f"{row['max_error']:.1e}" if row["max_error"] else "0"


def _table(header, rows) -> str:
  widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
            for i, h in enumerate(header)]
  line = lambda cells: "| " + " | ".join(  # noqa: E731
      str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
  return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                   + [line(r) for r in rows])


def _progress(done, total, label):
  print(f"\r\033[Kverifying {label}: {done}/{total} checks done", end="", file=sys.stderr,
        flush=True)


def _header_line(h) -> str:
  torch = f"torch {h['torch']}" if h["torch"] else "torch not installed"
  return (f"jpatterns verify on backend {h['backend']} ({h['device_kind']}, "
          f"{h['device_count']} device(s)); jax {h['jax']}, flax {h['flax']}, "
          f"optax {h['optax']}, {torch}; matmul precision highest")


def _list(checks, dtypes, fmt, has_torch):
  backend = _checks.backend_name()
  if fmt == "json":
    print(json.dumps({"checks": [
        {"pattern": c.pattern, "family": c.family, "reference": c.reference,
         "dtypes": [d for d in c.dtypes if d in dtypes], "tolerance_class": c.tol,
         "needs_torch": c.torch} for c in checks]}, indent=2))
    return 0
  rows = [(c.pattern, c.family, c.reference,
           ",".join(d for d in c.dtypes if d in dtypes) or "-",
           ", ".join(f"{d} {_checks.tolerance(c, d, backend):.2g}"
                     for d in c.dtypes if d in dtypes) or "-",
           "yes" + ("" if has_torch else " (not installed: skipped)")
           if c.torch else "no")
          for c in checks]
  print(_table(("pattern", "family", "reference", "dtypes", f"tolerance ({backend})",
                "torch"), rows))
  print(f"{len(checks)} checks")
  return 0


def run(args) -> int:
  dtypes = parse_dtypes(args.dtype)
  checks = select(args)
  has_torch = torch_available()
  if args.list:
    return _list(checks, dtypes, args.format, has_torch)
  header = machine_header(has_torch)
  start = time.perf_counter()
  results, skipped = run_checks(checks, dtypes, with_torch=has_torch,
                                progress=_progress if sys.stderr.isatty() else None)
  if sys.stderr.isatty():
    print("\r\033[K", end="", file=sys.stderr)
  seconds = time.perf_counter() - start
  failed = [r for r in results if not r["passed"]]
  if args.format == "json":
    print(json.dumps({
        "header": header, "tolerances": _checks.TOLERANCES,
        "results": results,
        "skipped": [{"pattern": c.pattern, "reference": c.reference,
                     "reason": "torch not installed"} for c in skipped],
        "passed": not failed, "seconds": round(seconds, 2)}, indent=2))
    return 1 if failed else 0
  print(_header_line(header))
  print(f"max error = {_HELP_ERROR}; tolerances per dtype and backend "
        f"({header['backend']} here) are jpatterns.conformance.TOLERANCES")
  rows = [(r["pattern"], r["reference"], r["dtype"], _fmt_err(r),
           f"{r['tolerance']:.2g}" if r["tolerance"] else "0 (exact)",
           "pass" if r["passed"] else "FAIL") for r in results]
  print(_table(("pattern", "reference", "dtype", "max error", "tolerance", "pass"), rows))
  for c in skipped:
    print(f"skipped: torch not installed ({c.pattern} vs {c.reference})")
  for r in failed:
    if r["error"] is not None:
      print(f"FAIL {r['pattern']} [{r['dtype']}] raised {r['error']}", file=sys.stderr)
  print(f"{len(results) - len(failed)}/{len(results)} passed"
        + (f", {len(failed)} FAILED" if failed else "")
        + (f", {len(skipped)} skipped" if skipped else "")
        + f" in {seconds:.1f} s")
  return 1 if failed else 0

