"""What ``train`` and ``compare`` share: the one map between TrainConfig fields and flags.

Every flag of a training field is generated from :class:`jpatterns.train.TrainConfig`
(type, default and help from the dataclass field) and :data:`jpatterns.train.CHOICES`
(the catalogue names it takes); :data:`FLAGS` names the few flags that are not
``--field-name``. Library errors name fields; :func:`flag_of` turns a field into the
flag the user typed.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses

import numpy as np

from jpatterns.cli._errors import UsageError
from jpatterns.train import CHOICES, TrainConfig
from jpatterns.train.config import field_names
from jpatterns.train.engine import environment as versions

__all__ = [
  "FLAGS",
  "flag_of",
  "field_of",
  "add_config_flags",
  "add_run_flags",
  "add_distributed_flags",
  "distributed_spec",
  "checked",
  "agree",
  "error_text",
  "explicit_fields",
  "parse_value",
  "parse_kv",
  "fmt_mean_std",
  "Progress",
  "versions",
]

# TrainConfig field (or fit argument) -> its flag, where that is not --field-name.
FLAGS = {
  "learning_rate": "--lr",
  "optimizer_kwargs": "--opt",
  "schedule_kwargs": "--sched",
  "dropout_rate": "--rate",
  "initializer": "--init",
  "resume": "--resume",
}
_FIELD_OF = {flag[2:].replace("-", "_"): field for field, flag in FLAGS.items()}


def flag_of(name: str) -> str:
  """``"batch_size"`` -> ``"--batch-size"``; ``"learning_rate"`` -> ``"--lr"``."""
  return FLAGS.get(name, "--" + name.replace("_", "-"))


def field_of(name: str) -> str:
  """A field from its flag spelling (``lr``, ``batch-size``) or itself."""
  name = name.replace("-", "_")
  return _FIELD_OF.get(name, name)


def _help(f: dataclasses.Field) -> str:
  text = f.metadata["help"]
  if f.name in CHOICES:
    choice = CHOICES[f.name]
    family = f" (catalogue family {choice.family})" if choice.family else ""
    text += f"{family}: {', '.join(choice.names)}"
    if f.name == "augment":
      text += "; comma-separated"
  if f.default not in (None, (), dataclasses.MISSING) and not callable(f.default):
    text += f" (default {f.default})"
  return text


def add_config_flags(p: argparse.ArgumentParser) -> None:
  """One flag per TrainConfig field; unset flags stay absent (argparse.SUPPRESS)."""
  g = p.add_argument_group("what to train (catalogue names)")
  for f in dataclasses.fields(TrainConfig):
    flags = [flag_of(f.name)]
    if flags[0] != "--" + f.name.replace("_", "-"):
      flags.append("--" + f.name.replace("_", "-"))  # the long spelling works too
    kw = dict(dest=f.name, default=argparse.SUPPRESS, help=_help(f))
    if f.type == "dict":
      g.add_argument(*flags, action="append", metavar="NAME=VALUE", **kw)
    elif f.type == "tuple":
      g.add_argument(
        *flags, metavar="NAMES", type=lambda s: tuple(a for a in s.split(",") if a), **kw
      )
    else:
      kind = {"int": int, "int | None": int, "float": float, "float | None": float}.get(f.type, str)
      g.add_argument(*flags, type=kind, metavar={int: "N", float: "X"}.get(kind, "NAME"), **kw)


def add_run_flags(p: argparse.ArgumentParser, out_default: str) -> None:
  g = p.add_argument_group("how to run")
  g.add_argument(
    "--out",
    default=out_default,
    help=f"directory for the metrics, curves and checkpoint (default {out_default})",
  )
  g.add_argument(
    "--devices",
    type=int,
    default=None,
    help="devices to shard the batch over (default: all of the default backend)",
  )
  add_distributed_flags(p)
  g.add_argument(
    "--overwrite",
    action="store_true",
    help="write to --out even while another run holds its lock (.jpatterns.lock)",
  )
  g.add_argument(
    "--no-terminate-on-nan",
    dest="terminate_on_nan",
    action="store_false",
    help="train on when a loss becomes NaN or infinite (default: stop after that epoch, "
    "keep the last finite checkpoint, exit 1)",
  )
  g.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")
  g.add_argument(
    "--early-stop",
    type=int,
    default=None,
    metavar="PATIENCE",
    help="stop when the mean test loss has not improved for PATIENCE epochs; the best "
    "epoch's variables are kept",
  )
  g.add_argument(
    "--log-every",
    type=int,
    default=1,
    metavar="N",
    help="when stderr is not a terminal, a progress line every N epochs (default 1)",
  )
  g.add_argument(
    "--seed-axis",
    choices=("auto", "vmap", "loop"),
    default="auto",
    help="several seeds: one vmapped program (vmap) or one program called per seed "
    "(loop); auto loops on one CPU device, vmaps elsewhere (one seed always runs unbatched)",
  )
  g.add_argument(
    "--diagnostics",
    action="store_true",
    help="also record per-layer gradient norms, activation statistics, weight norms and "
    "sparsity and the effective learning rate each epoch (into the JSON output)",
  )
  add_cache_flag(g)


def add_distributed_flags(p: argparse.ArgumentParser) -> None:
  """The multi-process flags (see :mod:`jpatterns.train.distributed`)."""
  from jpatterns.train import distributed as dist

  g = p.add_argument_group(
    "several processes (JAX's distributed runtime; `jpatterns launch` starts them locally)"
  )
  g.add_argument(
    "--coordinator",
    metavar="HOST:PORT",
    default=None,
    help=f"process 0's address: run the same command on every host with its --process-id "
    f"(default ${dist.ENV['coordinator']})",
  )
  g.add_argument(
    "--num-processes",
    metavar="N",
    default=None,
    help=f"how many processes (default ${dist.ENV['num_processes']})",
  )
  g.add_argument(
    "--process-id",
    metavar="I",
    default=None,
    help=f"this process, 0..N-1 (default ${dist.ENV['process_id']})",
  )
  g.add_argument(
    "--distributed",
    action="store_true",
    help="without --coordinator: take the set-up from the cluster (SLURM, Open MPI, "
    "Kubernetes) through JAX's auto-detection",
  )
  g.add_argument(
    "--initialization-timeout",
    type=int,
    metavar="S",
    default=dist.DEFAULT_INITIALIZATION_TIMEOUT,
    help="seconds to wait for every process to connect "
    f"(default {dist.DEFAULT_INITIALIZATION_TIMEOUT})",
  )
  g.add_argument(
    "--heartbeat-timeout",
    type=int,
    metavar="S",
    default=dist.DEFAULT_HEARTBEAT_TIMEOUT,
    help="seconds without a heartbeat before a lost process ends the run "
    f"(default {dist.DEFAULT_HEARTBEAT_TIMEOUT})",
  )


def distributed_spec(args):
  """The multi-process set-up the flags and ``JPATTERNS_*`` variables ask for, or None."""
  from jpatterns.train import distributed as dist

  return dist.resolve(
    args.coordinator,
    args.num_processes,
    args.process_id,
    initialization_timeout=args.initialization_timeout,
    heartbeat_timeout=args.heartbeat_timeout,
    auto=args.distributed,
  )


def checked(spec, check):
  """``check()``'s result and None, or (with several processes) None and its error.

  Alone, an error is raised at once. With several processes it is kept for
  :func:`agree`, so that every process stops with it, not only this one.
  """
  try:
    return check(), None
  except (UsageError, ValueError) as e:
    if spec is None:
      raise
    return None, e


def agree(problem) -> None:
  """Every process states its problem (an exception or None); all stop on the first."""
  from jpatterns.train import distributed as dist

  dist.agree(None if problem is None else error_text(problem), what="arguments")
  if problem is not None:
    raise problem


def error_text(e: Exception) -> str:
  """The one line a library or usage error is shown as (a field named by its flag)."""
  name = getattr(e, "name", None)
  if name is not None and hasattr(e, "problem"):
    return f"{flag_of(name)}: {e.value!r} {e.problem}"
  return str(e)


def add_cache_flag(p) -> None:
  """``--no-compile-cache`` (the cache is on by default; see ``jpatterns cache``)."""
  p.add_argument(
    "--no-compile-cache",
    action="store_true",
    help="do not read or write JAX's persistent compilation cache "
    "($JPATTERNS_COMPILE_CACHE, default ~/.cache/jpatterns/xla; `jpatterns cache --clear`)",
  )


def parse_value(text: str):
  """A command-line value: Python literal (number, bool, list) or a bare string.

  ``nan`` and ``inf`` are numbers (which the library then refuses as not finite), not
  the strings ``'nan'`` and ``'inf'``.
  """
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    lowered = text.lower()
    if lowered in ("true", "false"):
      return lowered == "true"
    try:
      return float(lowered)  # nan, inf, -inf, infinity
    except ValueError:
      return text


def parse_kv(items, flag: str) -> dict:
  """``["b1=0.9", "eps=1e-7"]`` -> ``{"b1": 0.9, "eps": 1e-7}``."""
  out = {}
  for item in items or ():
    for part in item.split(",") if "[" not in item else [item]:
      name, sep, value = part.partition("=")
      if not sep or not name:
        raise UsageError(f"{flag}: {part!r} is not NAME=VALUE")
      out[name.strip()] = parse_value(value.strip())
  return out


def explicit_fields(args) -> dict:
  """The TrainConfig fields given on the command line, parsed."""
  given = {k: v for k, v in vars(args).items() if k in field_names()}
  for f in ("optimizer_kwargs", "schedule_kwargs"):
    if f in given:
      given[f] = parse_kv(given[f], flag_of(f))
  return given


def start_jax(args, spec=None) -> bool:
  """Multi-process set-up, before any other JAX call; then the compilation cache.

  Returns True when this process is one of several.
  """
  from jpatterns.train import compile_cache
  from jpatterns.train import distributed as dist

  several = False
  if spec is not None:
    several = dist.init_distributed(
      spec.coordinator,
      spec.num_processes,
      spec.process_id,
      initialization_timeout=spec.initialization_timeout,
      heartbeat_timeout=spec.heartbeat_timeout,
      auto=True,
    )
  if getattr(args, "no_compile_cache", False):
    compile_cache.disable()
  else:
    compile_cache.enable()
  return several


def cache_line(records) -> str:
  """``compile cache: 5 hits, 1 miss (DIR)`` summed over runs' ``compile_cache`` records."""
  directory = records[0].get("directory") if records else None
  if directory is None:
    return "compile cache: off"
  hits = sum(r["hits"] for r in records)
  misses = sum(r["misses"] for r in records)
  return f"compile cache: {hits} hit(s), {misses} miss(es) ({directory})"


def fmt_mean_std(values, digits=4) -> str:
  v = np.asarray(values, np.float64)
  if v.size == 1:
    return f"{v.item():.{digits}f}"
  return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


class Progress:
  """Progress on stderr: a rich bar in a terminal, plain lines otherwise.

  In a terminal the bar says ``compiling …`` until the first program is built, then
  shows the epochs with the last metrics. When stderr is not a terminal (a log file,
  CI, ``nohup``) it prints one plain line per ``log_every`` epochs as they finish, and
  the compile time, so the log can be followed with ``tail -f``. Nothing when ``quiet``.
  """

  def __init__(self, total: int, quiet: bool, log_every: int = 1):
    import sys

    self._bar = None
    self._plain = not quiet and not sys.stderr.isatty()
    self._total, self._done, self._every, self._label = total, 0, max(1, log_every), ""
    if quiet or self._plain:
      return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    self._bar = RichProgress(
      TextColumn("{task.description}"),
      BarColumn(),
      MofNCompleteColumn(),
      TimeElapsedColumn(),
      TextColumn("{task.fields[metrics]}"),
      console=Console(stderr=True),
      transient=False,
    )
    self._task = self._bar.add_task("", total=total, metrics="")

  def __enter__(self):
    if self._bar is not None:
      self._bar.__enter__()
    return self

  def __exit__(self, *exc):
    if self._bar is not None:
      self._bar.__exit__(*exc)

  def _line(self, text: str) -> None:
    import sys

    print(text, file=sys.stderr, flush=True)

  def describe(self, text: str) -> None:
    """The current run's name; followed by ``compiling …`` until :meth:`compiled`."""
    self._label = text
    if self._bar is not None:
      self._bar.update(self._task, description=f"{text} (compiling …)")
    elif self._plain:
      self._line(f"{text}: compiling …")

  def compiled(self, seconds: float) -> None:
    """The epoch program is ready (``seconds`` 0.0: shared with an earlier run)."""
    how = "shared, no compile" if seconds == 0.0 else f"compiled in {seconds:.1f} s"
    if self._bar is not None:
      self._bar.update(self._task, description=f"{self._label} ({how})")
    elif self._plain:
      self._line(f"{self._label}: {how}")

  def advance(self, metrics: dict | None = None) -> None:
    self._done += 1
    text = ""
    if metrics:
      text = (
        f"loss {np.mean(metrics['train_loss']):.4f}  "
        f"acc {np.mean(metrics['train_accuracy']):.4f}  "
        f"test acc {np.mean(metrics['test_accuracy']):.4f}"
      )
    if self._bar is not None:
      self._bar.update(self._task, advance=1, metrics=text)
    elif self._plain and metrics and (self._done % self._every == 0 or self._done == self._total):
      self._line(f"{self._label}: epoch {self._done}/{self._total}  {text}")
