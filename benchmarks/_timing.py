"""Timing helpers shared by every benchmark: warm, jitted, median of many.

Usage pattern (one run, jpatterns and the reference side by side)::

  t_ours = median_time(jax.jit(ours), x)
  t_ref = median_time(jax.jit(ref), x)
  rows.append((name, shape, t_ours, t_ref))
  print_ratio_table("Normalization fwd+bwd", rows)
"""

from __future__ import annotations

import datetime
import os
import platform
import resource
import statistics
import subprocess
import time

import jax


def median_time(fn, *args, repeats: int = 50, warmup: int = 3, min_time: float = 0.0):
  """Median wall time in seconds of ``fn(*args)``, blocking on the result.

  ``fn`` should already be jitted; ``warmup`` calls (compile included) are not timed.
  At least ``repeats`` calls are timed, more if ``min_time`` seconds are not reached.
  """
  for _ in range(warmup):
    jax.block_until_ready(fn(*args))
  times = []
  start = time.perf_counter()
  while len(times) < repeats or time.perf_counter() - start < min_time:
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return statistics.median(times)


def interleaved_median_times(fns, args_list, repeats: int = 50, warmup: int = 3):
  """Median times of several functions timed in alternation (fairer under noise).

  ``fns[i]`` is called on ``args_list[i]``. Returns a list of medians in seconds.
  """
  for fn, args in zip(fns, args_list):
    for _ in range(warmup):
      jax.block_until_ready(fn(*args))
  samples = [[] for _ in fns]
  order = list(range(len(fns)))
  for r in range(repeats):
    # Alternate the order every round (ABBA…): whichever runs right after another
    # finds its shared inputs warm in cache, a bias of up to 30 % on CPU otherwise.
    for i in order if r % 2 == 0 else order[::-1]:
      fn, args = fns[i], args_list[i]
      t0 = time.perf_counter()
      jax.block_until_ready(fn(*args))
      samples[i].append(time.perf_counter() - t0)
  return [statistics.median(s) for s in samples]


def compile_time(fn, *args) -> float:
  """Seconds to lower and compile ``jax.jit(fn)`` for ``args`` (no execution)."""
  t0 = time.perf_counter()
  jax.jit(fn).lower(*args).compile()
  return time.perf_counter() - t0


def process_times(cmd, cwd, env=None) -> tuple[float, float]:
  """``(wall, cpu)`` seconds of one fresh process (cpu = user + system of the child).

  Whole-process figures (imports and compile included) are reported in both: the
  machine is shared and wall time moves by 2x, CPU seconds much less.
  """
  before = resource.getrusage(resource.RUSAGE_CHILDREN)
  t0 = time.perf_counter()
  subprocess.run(
    cmd,
    cwd=cwd,
    check=True,
    stdout=subprocess.DEVNULL,
    env=None if env is None else {**os.environ, **env},
  )
  wall = time.perf_counter() - t0
  after = resource.getrusage(resource.RUSAGE_CHILDREN)
  cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
  return wall, cpu


def machine_info() -> str:
  dev = jax.devices()[0]
  import flax
  import optax

  return (
    f"{datetime.date.today().isoformat()} | {platform.node()} | "
    f"{platform.processor() or platform.machine()} | backend={jax.default_backend()} "
    f"device={dev.device_kind} x{jax.device_count()} | jax {jax.__version__}, "
    f"flax {flax.__version__}, optax {optax.__version__}"
  )


def print_ratio_table(title: str, rows, ref_name: str = "reference") -> None:
  """Prints rows of (name, shape, t_ours, t_ref) as a Markdown table with ratios."""
  print(f"\n### {title}\n")
  print(f"| pattern | shape | jpatterns (ms) | {ref_name} (ms) | ratio |")
  print("|---|---|---:|---:|---:|")
  for name, shape, t_ours, t_ref in rows:
    print(f"| {name} | {shape} | {t_ours * 1e3:.3f} | {t_ref * 1e3:.3f} | {t_ours / t_ref:.2f} |")
