"""``jpatterns bench``: the benchmark suite of ``benchmarks/`` on the current backend.

Each suite times jpatterns and its reference side by side in one run (jitted, warm,
``block_until_ready``, median of many, alternating order) and prints a Markdown
ratio table, jpatterns / reference, under a header naming the device and the
versions. The suites live in the source checkout's ``benchmarks/`` folder (they are
not part of the installed wheel): run from a clone, or point ``--dir`` at one.

Example::

    jpatterns bench                      # every suite, full repeats
    jpatterns bench activations optim --quick
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

from jpatterns.cli import _common
from jpatterns.cli._errors import UsageError, choose_from

__all__ = ["add_parser", "run", "SUITES"]

# suite name -> (module in benchmarks/, extra argv for --quick)
SUITES = {
  "activations": ("bench_activations", ["--quick"]),
  "dropout": ("bench_dropout", ["--quick"]),
  "normalization": ("bench_normalization", ["--quick"]),
  "optim": ("bench_optim", ["--quick"]),
  "train": ("bench_train", ["--quick"]),
  "compare": ("bench_compare", ["--quick"]),
}


def add_parser(sub) -> None:
  p = sub.add_parser(
    "bench",
    help="run the benchmarks (ratio tables vs jax.nn / flax / optax)",
    description=__doc__.split("\n\n")[0],
    formatter_class=argparse.RawDescriptionHelpFormatter,
    epilog=__doc__.split("\n\n", 1)[1],
  )
  p.add_argument(
    "suites", nargs="*", metavar="SUITE", help=f"which suites (default all): {', '.join(SUITES)}"
  )
  p.add_argument("--quick", action="store_true", help="few repeats (a smoke run)")
  p.add_argument(
    "--dir",
    default=None,
    help="the benchmarks/ folder (default: the one beside the jpatterns package)",
  )
  p.add_argument("--list", action="store_true", help="list the suites and exit")
  _common.add_cache_flag(p)
  p.set_defaults(run=run)


def find_benchmarks(directory=None) -> str:
  """The folder that holds ``benchmarks/``'s parent (put on sys.path)."""
  import jpatterns

  if directory is None:
    directory = os.path.join(
      os.path.dirname(os.path.dirname(os.path.abspath(jpatterns.__file__))), "benchmarks"
    )
  directory = os.path.abspath(directory)
  if not os.path.isfile(os.path.join(directory, "_timing.py")):
    raise UsageError(
      f"--dir: no benchmark suite at {directory!r}; the suites ship with "
      "the source checkout (git clone, then run from it or pass --dir "
      "path/to/benchmarks)"
    )
  return directory


def run(args) -> int:
  for s in args.suites:
    if s not in SUITES:
      raise choose_from("suite", s, SUITES)
  if args.list:
    for name, (module, _) in SUITES.items():
      print(f"{name:<15} benchmarks/{module}.py")
    return 0
  directory = find_benchmarks(args.dir)
  # In-process only: the suites' fresh-process timings (compile included) stay cold.
  _common.start_jax(args)
  root = os.path.dirname(directory)
  if root not in sys.path:
    sys.path.insert(0, root)
  from jpatterns.cli._common import versions

  v = versions()
  print(
    f"# jpatterns bench — {v['backend']} ({v['device_kind']}) x{v['device_count']}; "
    f"jax {v['jax']}, flax {v['flax']}, optax {v['optax']}, python {v['python']}"
  )
  for name in args.suites or SUITES:
    module, quick = SUITES[name]
    print(f"\n## {name} (benchmarks/{module}.py{' --quick' if args.quick else ''})\n", flush=True)
    t0 = time.perf_counter()
    mod = importlib.import_module(f"benchmarks.{module}")
    mod.main(quick if args.quick else [])
    print(f"\n({name}: {time.perf_counter() - t0:.1f} s)", flush=True)
  return 0
