"""``jpatterns study``: the seed documents' claims as experiments with a verdict.

Examples::

    jpatterns study --list                      # the claims, their seed sections
    jpatterns study l1-sparsity --out runs/study
    jpatterns study --all --out docs/study --report docs/study.md
    jpatterns study --claims my_claims.toml     # a user's own claims (JSON or TOML)

Each claim trains its grid (every arm with the same seeds; arms that differ
only in hyperparameters share one compiled program; claims that share a grid train it
once), prints the metric per arm (mean ± std over seeds), each test of its rule with
the numbers (d, s, k) and the verdict: supported when the claimed effect exceeds k = 2
Welch standard errors and the claim's minimum effect, not supported when it is clearly
the other way or clearly smaller than that minimum, inconclusive otherwise. It writes
``NAME.png`` (the effect: gradient norms per layer, activation scales, weight
histograms or curves, and the per-seed values) and ``study.json`` to ``--out``; with
``--all`` (or ``--report``) also the Markdown report. ``--quick`` shrinks every claim
to a smoke test whose verdicts are not results.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import time

from jpatterns.cli import _common
from jpatterns.cli._errors import UsageError

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
  p = sub.add_parser(
    "study",
    help="the documents' claims as experiments: table, verdict, plot, report",
    description=__doc__.split("\n\n")[0],
    formatter_class=argparse.RawDescriptionHelpFormatter,
    epilog=__doc__.split("\n\n", 1)[1],
  )
  p.add_argument("claims", nargs="*", metavar="CLAIM", help="claims to run (see --list)")
  p.add_argument("--list", action="store_true", help="list the claims and their seed sections")
  p.add_argument("--all", action="store_true", help="run every claim and write the report")
  p.add_argument(
    "--out",
    default=os.path.join("runs", "study"),
    help="directory for plots and JSON (default runs/study)",
  )
  p.add_argument(
    "--report",
    default=None,
    metavar="PATH",
    help="the Markdown report (default OUT/study.md with --all)",
  )
  p.add_argument("--seeds", type=int, default=None, help="seeds per arm (default each claim's, 3)")
  p.add_argument(
    "--quick",
    action="store_true",
    help="shrink every claim to a smoke test (verdicts are not results)",
  )
  p.add_argument(
    "--claims",
    dest="claims_file",
    metavar="FILE",
    default=None,
    help="add the claims of a .json or .toml file",
  )
  p.add_argument("--no-plot", action="store_true", help="skip the figures")
  p.add_argument(
    "--devices", type=int, default=None, help="devices to shard the batch over (default all)"
  )
  p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
  _common.add_cache_flag(p)
  p.set_defaults(run=run)


def _select(args, study) -> list:
  from_file = study.load_claims(args.claims_file) if args.claims_file else []
  if args.list:
    return []
  if args.all:
    if args.claims:
      raise UsageError("give claim names or --all, not both")
    return list(study.CLAIMS.values())
  if not args.claims:
    if from_file:
      return from_file
    raise UsageError("name a claim, or give --all or --list (see jpatterns study --help)")
  out = []
  for name in args.claims:
    if name not in study.CLAIMS:
      close = difflib.get_close_matches(name, list(study.CLAIMS), n=1, cutoff=0.5)
      hint = f"; did you mean {close[0]}?" if close else ""
      raise UsageError(f"unknown claim {name!r}{hint} (jpatterns study --list shows them)")
    out.append(study.CLAIMS[name])
  return out


def _print_list(study) -> None:
  rows = [("claim", "section", "claim (English)")]
  rows += [(c.name, c.section, c.text_en) for c in study.CLAIMS.values()]
  w0 = max(len(r[0]) for r in rows)
  w1 = max(_width(r[1]) for r in rows)
  for i, (a, b, c) in enumerate(rows):
    print(f"{a.ljust(w0)}  {b}{' ' * (w1 - _width(b))}  {c}")
    if i == 0:
      print(f"{'-' * w0}  {'-' * w1}  {'-' * 15}")
  print(f"{len(rows) - 1} claims")


def _width(text: str) -> int:
  """Terminal columns of ``text`` (CJK characters take two)."""
  import unicodedata

  return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _print_result(r) -> None:
  from jpatterns.study import report

  c = r.claim
  print(f"\n{c.name} ({c.section}){' [quick: not a result]' if r.quick else ''}")
  print(f"  {c.text_en}")
  rows = report.format_table(r)
  widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
  for j, row in enumerate(rows):
    print("  " + "  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths)))
    if j == 0:
      print("  " + "  ".join("-" * w for w in widths))
  if r.diverged:
    print(
      "  diverged (loss not finite): "
      + ", ".join(f"{a} {n}/{len(r.seeds)} seeds" for a, n in r.diverged.items())
    )
  for line in report.format_tests(r):
    print(f"  {line}")
  tail = " (quick mode: not a result)" if r.quick else ""
  print(f"  verdict: {r.verdict}{tail}")
  if r.plot:
    print(f"  plot: {r.plot}")


def run(args) -> int:
  from jpatterns import study
  from jpatterns.train._files import atomic_open, check_output_dir

  if args.seeds is not None and args.seeds < 2:
    raise UsageError(
      f"--seeds: {args.seeds} is not valid; need an integer >= 2 (the rule needs a spread)"
    )
  claims = _select(args, study)
  if args.list:
    _print_list(study)
    return 0
  check_output_dir(args.out, "out")
  _common.start_jax(args)
  cache: dict = {}

  def on_arm(name, arm, cached):
    if not args.quiet:
      print(f"{name}: {arm}{' (trained already)' if cached else ''}", file=sys.stderr, flush=True)

  t0 = time.perf_counter()
  results = study.run_claims(
    claims,
    seeds=args.seeds,
    quick=args.quick,
    out=args.out,
    plot=not args.no_plot,
    devices=args.devices,
    cache=cache,
    on_arm=on_arm,
  )
  for r in results:
    _print_result(r)
  wall = time.perf_counter() - t0
  os.makedirs(args.out, exist_ok=True)
  written = []
  path = os.path.join(args.out, "study.json")
  with atomic_open(path, "w", encoding="utf-8") as f:
    json.dump(
      {
        "command": "study",
        "quick": args.quick,
        "wall_seconds": wall,
        "versions": _common.versions(),
        "results": [r.to_json() for r in results],
      },
      f,
      indent=1,
      ensure_ascii=False,
    )
    f.write("\n")
  written.append(path)
  report = args.report or (os.path.join(args.out, "study.md") if args.all else None)
  if report:
    header = (
      f"{len(results)} claims in {wall:.0f} s on {_describe()}; "
      f"`jpatterns study {'--all' if args.all else ' '.join(c.name for c in claims)}"
      f"{' --quick' if args.quick else ''}`."
    )
    written.append(study.write_report(results, report, header=header))
  counts = {
    v: sum(r.verdict == v for r in results) for v in ("supported", "not supported", "inconclusive")
  }
  print(
    f"\n{len(results)} claim(s) in {wall:.1f} s: "
    + ", ".join(f"{n} {v}" for v, n in counts.items())
    + ("  [quick: not results]" if args.quick else "")
  )
  print(f"wrote {', '.join(written)}")
  return 0


def _describe() -> str:
  import jax

  from jpatterns import __version__ as version

  devices = f"{jax.device_count()} × {jax.devices()[0].platform}"
  return f"{devices}, jax {jax.__version__}, jpatterns {version}"
