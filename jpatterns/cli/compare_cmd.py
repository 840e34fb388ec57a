"""``jpatterns compare``: an ablation grid, every configuration over the same seeds.

Example::

    jpatterns compare --vary optimizer=sgd,momentum,nesterov,adagrad,rmsprop,adam \\
        --vary norm=none,batch,layer --seeds 3

runs every combination of the ``--vary`` values (any training flag: ``lr=0.1,0.01``,
``dropout=none,dropout,standout``, ``opt.b1=0.8,0.9``; an ``augment`` value joins names
with ``+``: ``augment=none,cutout+random_crop``), each configuration's seeds with
one compiled program (looped over the seeds on a CPU, vmapped elsewhere), and prints
mean ± std over seeds of the final test accuracy and train loss, with the wall time of
training and of compilation. It writes ``compare.png`` (loss and accuracy curves, mean
± std band), ``compare.json`` and ``curves.csv`` (every seed, every epoch) to ``--out``.

With no ``--vary`` it answers seed 002's optimizer question (优化算法): on the
digits MLP, at each optimizer's usual learning rate, which of SGD, momentum,
Nesterov, AdaGrad, AdaDelta, RMSProp and Adam ends best, and which gets there first?
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools
import json
import os
import time

import numpy as np

from jpatterns.cli import _common
from jpatterns.cli._errors import UsageError
from jpatterns.train._files import atomic_open, output_lock

__all__ = ["add_parser", "run", "DEFAULT_VARY"]

DEFAULT_VARY = ["optimizer=sgd,momentum,nesterov,adagrad,adadelta,rmsprop,adam"]
DEFAULT_SEEDS = 3
_TARGET_ACCURACY = 0.95


def add_parser(sub) -> None:
  p = sub.add_parser(
    "compare",
    help="ablation grid over patterns and seeds; table + plot",
    description=__doc__.split("\n\n")[0],
    formatter_class=argparse.RawDescriptionHelpFormatter,
    epilog=__doc__.split("\n\n", 1)[1],
  )
  p.add_argument(
    "--vary",
    action="append",
    metavar="FIELD=V1,V2,...",
    default=None,
    help="a training flag and its values (repeat for a grid)",
  )
  p.add_argument(
    "--seeds",
    type=int,
    default=DEFAULT_SEEDS,
    help=f"seeds per configuration (default {DEFAULT_SEEDS})",
  )
  p.add_argument("--no-plot", action="store_true", help="skip compare.png")
  _common.add_config_flags(p)
  _common.add_run_flags(p, os.path.join("runs", "compare"))
  p.set_defaults(run=run)


def parse_vary(items) -> list[tuple[str, list]]:
  """``["norm=none,batch"]`` -> ``[("norm", ["none", "batch"])]``; ``opt.b1`` a kwarg.

  The names are the user's (a field, its flag without dashes, or ``opt.NAME`` /
  ``sched.NAME``); :func:`_apply` maps them to TrainConfig fields.
  """
  from jpatterns.train.config import field_names

  grid = []
  fields = field_names()
  kwarg_fields = ("optimizer_kwargs", "schedule_kwargs")
  for item in items:
    name, sep, values = item.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not values:
      raise UsageError(f"--vary: {item!r} is not FIELD=V1,V2,...")
    base = _common.field_of(name.split(".", 1)[0])
    if base not in fields or (base in kwarg_fields) != ("." in name):
      raise UsageError(
        f"--vary: {name!r} is not a training field; choose from "
        f"{', '.join(f for f in fields if f not in kwarg_fields)}, opt.NAME, sched.NAME"
      )
    if any(n == name for n, _ in grid):
      raise UsageError(f"--vary: {name} is given twice")
    if base == "augment":
      vals = [tuple(a for a in v.split("+") if a and a != "none") for v in values.split(",")]
    else:
      vals = [_common.parse_value(v.strip()) for v in values.split(",")]
    grid.append((name, vals))
  return grid


def _apply(base, assignment):
  changes = {
    "optimizer_kwargs": dict(base.optimizer_kwargs),
    "schedule_kwargs": dict(base.schedule_kwargs),
  }
  for name, value in assignment:
    field, _, sub = name.partition(".")
    field = _common.field_of(field)
    if sub:
      changes[field][sub] = value
    else:
      changes[field] = value
  return dataclasses.replace(base, **changes)


def _label(config, assignment):
  """``optimizer=sgd norm=batch_norm``: the user's names, the canonical values."""
  parts = []
  for name, _ in assignment:
    field, _, sub = name.partition(".")
    v = getattr(config, _common.field_of(field))
    v = v[sub] if sub else v
    parts.append(f"{name}={'+'.join(v) or 'none' if isinstance(v, tuple) else v}")
  return " ".join(parts) or "default"


def _plan(args, spec):
  """The grid, every configuration validated and its data loaded, before JAX starts."""
  from jpatterns import train
  from jpatterns.train import engine
  from jpatterns.train._files import check_output_dir
  from jpatterns.train.config import validate

  if args.seeds < 1:
    raise UsageError(f"--seeds: {args.seeds} is not valid; need an integer >= 1")
  grid = parse_vary(args.vary or DEFAULT_VARY)
  base = train.TrainConfig(**_common.explicit_fields(args))
  names = [n for n, _ in grid]
  assignments = [list(zip(names, combo)) for combo in itertools.product(*(v for _, v in grid))]
  configs = [validate(_apply(base, a)) for a in assignments]
  loaded = {}
  for c in configs:
    if (c.dataset, c.test_fraction) not in loaded:
      loaded[c.dataset, c.test_fraction] = engine.load_data(c)
  if spec is None or spec.process_id in (None, 0):  # process 0 writes
    check_output_dir(args.out)
  data = [loaded[c.dataset, c.test_fraction] for c in configs]
  return grid, base, names, assignments, configs, data


def run(args) -> int:
  spec = _common.distributed_spec(args)
  from jpatterns.train import distributed, engine

  plan, problem = _common.checked(spec, lambda: _plan(args, spec))
  _common.start_jax(args, spec)
  _common.agree(problem)
  grid, base, names, assignments, configs, data = plan
  primary = distributed.is_primary()
  seeds = list(range(base.seed, base.seed + args.seeds))
  question = (
    None
    if args.vary
    else (
      "Seed 002 (优化算法): on the digits MLP, at each optimizer's usual learning "
      "rate, which optimizer ends with the best test accuracy, and which reaches "
      f"{_TARGET_ACCURACY:.0%} first?"
    )
  )

  t_all = time.perf_counter()
  # Every configuration is validated (and its data loaded) before the first compile.
  experiments = [engine.prepare(c, d) for c, d in zip(configs, data)]
  for e in experiments:
    engine.check_devices(args.devices, e.config.batch_size)
  if not primary:  # the others train alongside, quietly; process 0 reports and writes
    for exp, share in zip(experiments, engine._shared_evaluation(experiments), strict=True):
      engine.run_experiment(
        exp,
        seeds=seeds,
        devices=args.devices,
        terminate_on_nan=args.terminate_on_nan,
        seed_axis=args.seed_axis,
        early_stop=args.early_stop,
        diagnostics=args.diagnostics,
        share_eval=share,
      )
    return 0
  with output_lock(args.out, overwrite=args.overwrite):
    return _run_grid(args, experiments, assignments, seeds, question, grid, names, t_all)


def _run_grid(args, experiments, assignments, seeds, question, grid, names, t_all) -> int:
  from jpatterns import train
  from jpatterns.train import engine

  if question:
    print(question)
  results = []
  total = sum(e.config.epochs for e in experiments)
  with _common.Progress(total, args.quiet, args.log_every) as bar:
    shared = engine._shared_evaluation(experiments)
    for exp, assignment, share in zip(experiments, assignments, shared, strict=True):
      label = _label(exp.config, assignment)
      bar.describe(label)
      try:
        h = engine.run_experiment(
          exp,
          seeds=seeds,
          devices=args.devices,
          on_epoch=lambda epoch, metrics: bar.advance(metrics),
          terminate_on_nan=args.terminate_on_nan,
          seed_axis=args.seed_axis,
          on_compiled=bar.compiled,
          early_stop=args.early_stop,
          diagnostics=args.diagnostics,
          share_eval=share,
        )
      except engine.NonFiniteLossError as e:
        e.args = (f"{label}: {e}",)  # which configuration diverged
        raise
      results.append(
        {
          "label": label,
          "config": h.config.to_json(),
          "compile_seconds": h.compile_seconds,
          "compile_cache": h.compile_cache,
          "train_seconds": h.train_seconds,
          "devices": h.devices,
          "final": h.summary(),
          "curves": {m: v.tolist() for m, v in h.metrics.items()},
          **h.diagnostics_json(),
          "_hist": np.stack([h.metrics[m].T for m in train.METRICS], axis=1),
        }
      )
  wall = time.perf_counter() - t_all

  _print_table(results, args.seeds)
  if question:
    print(_answer(results))
  os.makedirs(args.out, exist_ok=True)
  written = [_write_csv(results, os.path.join(args.out, "curves.csv"))]
  report = {
    "command": "compare",
    "vary": [[n, [list(v) if isinstance(v, tuple) else v for v in vals]] for n, vals in grid],
    "seeds": seeds,
    "question": question,
    "wall_seconds": wall,
    "versions": engine.environment(),
    "results": [{k: v for k, v in r.items() if k != "_hist"} for r in results],
  }
  with atomic_open(os.path.join(args.out, "compare.json"), "w", encoding="utf-8") as f:
    json.dump(report, f, indent=1, ensure_ascii=False)
    f.write("\n")
  written.append(os.path.join(args.out, "compare.json"))
  if not args.no_plot:
    written.append(_plot(results, os.path.join(args.out, "compare.png"), names))
  print(_common.cache_line([r["compile_cache"] for r in results]))
  print(
    f"{len(results)} configurations x {len(seeds)} seeds in {wall:.1f} s; "
    f"wrote {', '.join(w for w in written if w)}"
  )
  return 0


def _print_table(results, num_seeds):
  from jpatterns.cli._common import fmt_mean_std

  rows = [
    ("configuration", f"test accuracy (n={num_seeds})", "final train loss", "train s", "compile s")
  ]
  for r in results:
    f = r["final"]
    rows.append(
      (
        r["label"],
        fmt_mean_std(f["test_accuracy"]["per_seed"]),
        fmt_mean_std(f["train_loss"]["per_seed"]),
        f"{r['train_seconds']:.2f}",
        f"{r['compile_seconds']:.2f}",
      )
    )
  widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
  for j, row in enumerate(rows):
    print(
      "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
    )
    if j == 0:
      print("  ".join("-" * w for w in widths))


def _answer(results) -> str:
  """The default question's answer, read off the results (not written in advance)."""
  import numpy as np

  acc = {r["label"]: r["final"]["test_accuracy"] for r in results}
  best = max(acc, key=lambda k: acc[k]["mean"])
  close = [
    k
    for k in acc
    if k != best and acc[best]["mean"] - acc[k]["mean"] <= 2 * max(acc[best]["std"], acc[k]["std"])
  ]
  loss = {r["label"]: r["final"]["train_loss"]["mean"] for r in results}
  lowest = min(loss, key=loss.get)
  firsts = {}
  for r in results:
    hit = np.nonzero(r["_hist"][:, 3, :].mean(axis=1) >= _TARGET_ACCURACY)[0]
    firsts[r["label"]] = int(hit[0]) + 1 if hit.size else None
  lines = [
    f"Answer: best test accuracy {best} ({acc[best]['mean']:.4f} ± {acc[best]['std']:.4f})"
    + (f"; within 2 std of it: {', '.join(close)}" if close else "; no other within 2 std")
  ]
  lines.append(
    f"        lowest final train loss {lowest} ({loss[lowest]:.4f}); "
    f"highest {max(loss, key=loss.get)} ({max(loss.values()):.4f})"
  )
  lines.append(
    f"        epochs to {_TARGET_ACCURACY:.0%} mean test accuracy: "
    + ", ".join(f"{k.split('=', 1)[-1]} {'-' if e is None else e}" for k, e in firsts.items())
  )
  return "\n".join(lines)


def _write_csv(results, path):
  from jpatterns.train import METRICS

  with atomic_open(path, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["configuration", "seed", "epoch", *METRICS])
    for r in results:
      hist = r["_hist"]  # (E, 4, S)
      seeds = range(r["config"]["seed"], r["config"]["seed"] + hist.shape[2])
      for s_i, seed in enumerate(seeds):
        for e in range(hist.shape[0]):
          w.writerow([r["label"], seed, e + 1, *(f"{v:.6g}" for v in hist[e, :, s_i])])
  return path


def _plot(results, path, names):
  try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
  except ImportError:
    print("plot skipped: matplotlib is not installed (pip install matplotlib)")
    return None
  import numpy as np

  fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
  for r in results:
    hist = r["_hist"]
    epochs = np.arange(1, hist.shape[0] + 1)
    for ax, i in ((ax_loss, 0), (ax_acc, 3)):
      mean, std = hist[:, i, :].mean(1), hist[:, i, :].std(1)
      (line,) = ax.plot(epochs, mean, label=r["label"])
      ax.fill_between(epochs, mean - std, mean + std, alpha=0.2, color=line.get_color())
  ax_loss.set(xlabel="epoch", ylabel="train loss", yscale="log", title="training loss")
  ax_acc.set(xlabel="epoch", ylabel="test accuracy", title="test accuracy")
  ax_acc.legend(fontsize=8, loc="lower right")
  for ax in (ax_loss, ax_acc):
    ax.grid(alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
  fig.suptitle(
    f"jpatterns compare: {', '.join(names) or 'default'} "
    f"(mean ± std over {results[0]['_hist'].shape[2]} seeds)"
  )
  fig.tight_layout()
  with atomic_open(path, "wb") as f:
    fig.savefig(f, dpi=110, format="png")
  plt.close(fig)
  return path
