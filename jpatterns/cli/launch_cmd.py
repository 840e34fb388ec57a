"""``jpatterns launch``: several processes on this machine, to try the multi-host path.

Example::

    jpatterns launch -n 2 --devices-per-process 2 -- train --norm batch --epochs 2

starts ``jpatterns train ... --coordinator 127.0.0.1:PORT --num-processes 2
--process-id I`` for I = 0, 1 on a free port of 127.0.0.1, each with its own devices:
on CPU ``--devices-per-process`` host devices (XLA's
``--xla_force_host_platform_device_count``); with GPUs, the visible GPUs split into
equal groups (``CUDA_VISIBLE_DEVICES``). It waits for all of them and exits with the
first failure's status (0 when all succeed). Ctrl-C (or SIGTERM) is forwarded to every
process; a process that fails makes the others stop (they are told through JAX's
coordination service and exit within a second; any still running after
``--grace`` seconds are terminated).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

from jpatterns.cli._errors import UsageError
from jpatterns.train.distributed import free_port, local_environments

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
  p = sub.add_parser(
    "launch",
    help="start N local processes of train/compare on 127.0.0.1 (multi-host, on one machine)",
    description=__doc__.split("\n\n")[0],
    formatter_class=argparse.RawDescriptionHelpFormatter,
    epilog=__doc__.split("\n\n", 1)[1],
  )
  p.add_argument("-n", "--num-processes", type=int, required=True, metavar="N")
  p.add_argument(
    "--devices-per-process",
    type=int,
    default=None,
    metavar="K",
    help="CPU devices each process gets (default: the host's forced device count / N, or 1)",
  )
  p.add_argument("--port", type=int, default=None, help="coordinator port (default: a free one)")
  p.add_argument(
    "--grace",
    type=float,
    default=30.0,
    help="seconds the others get to stop after one fails (default 30)",
  )
  p.add_argument("command", nargs=argparse.REMAINDER, help="-- train|compare FLAGS...")
  p.set_defaults(run=run)


def run(args) -> int:
  command = list(args.command)
  if command[:1] == ["--"]:
    command = command[1:]
  if args.num_processes is None or args.num_processes < 1:
    raise UsageError(f"-n: {args.num_processes} is not valid; need an integer >= 1")
  if args.devices_per_process is not None and args.devices_per_process < 1:
    raise UsageError(f"--devices-per-process: {args.devices_per_process} must be >= 1")
  if not command or command[0] not in ("train", "compare"):
    raise UsageError("give the command to run after --: train ... or compare ...")
  taken = [f for f in ("--coordinator", "--num-processes", "--process-id") if f in command]
  if taken:
    raise UsageError(f"{taken[0]}: launch sets it; leave it out of the command")
  n = args.num_processes
  port = args.port or free_port()
  try:
    envs = local_environments(n, args.devices_per_process)
  except ValueError as e:
    raise UsageError(str(e)) from None
  base = [sys.executable, "-m", "jpatterns", *command]
  base += ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(n)]
  procs = [subprocess.Popen([*base, "--process-id", str(i)], env=envs[i]) for i in range(n)]
  first = None  # (process id, status) of the first failure

  def forward(signum, frame):
    for p in procs:
      if p.poll() is None:
        p.send_signal(signum)

  old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
  try:
    deadline = None
    while any(p.poll() is None for p in procs):
      for i, p in enumerate(procs):
        status = p.poll()
        if status not in (None, 0) and first is None:
          first = (i, status)
          deadline = time.monotonic() + args.grace
      if deadline is not None and time.monotonic() > deadline:
        for p in procs:
          if p.poll() is None:
            p.kill()
      time.sleep(0.05)
  finally:
    for s, h in old.items():
      signal.signal(s, h)
  if first is None:
    failed = [(i, p.returncode) for i, p in enumerate(procs) if p.returncode]
    first = failed[0] if failed else None
  if first is None:
    return 0
  i, status = first
  how = f"signal {signal.Signals(-status).name}" if status < 0 else f"status {status}"
  print(f"jpatterns launch: process {i} of {n} exited with {how}", file=sys.stderr)
  return 128 - status if status < 0 else status
