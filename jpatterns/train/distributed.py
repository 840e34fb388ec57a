"""Several processes, one run: JAX's distributed runtime, started explicitly and watched.

JAX's own runtime is the engine (its coordination service for start-up, heartbeats
and a key-value store; gloo collectives on CPU, NCCL on GPU); this module only starts
it with explicit arguments, agrees on errors across processes and says clearly what
went wrong::

    from jpatterns import train
    train.init_distributed("10.0.0.1:1234", num_processes=2, process_id=0)  # on host 0
    history = train.fit(config)  # the batch is sharded over every process's devices

After :func:`init_distributed`, :func:`~jpatterns.train.fit` and
:func:`~jpatterns.train.compare` build one mesh over the devices of all processes; each
process places only its share of every batch and of the test set; only process 0
writes files (each atomically). How failures end a run (all bounded):

* a bad argument: every process validates before it connects, so a usage error that
  every host shares ends every process at once; one that only some hosts see (a file
  missing on one machine) is exchanged through the coordination service by
  :func:`agree`, and every process exits with the same line naming that process;
* an exception in one process after start-up: :func:`report_failure` publishes it and
  the others' watchdog (polling every 0.2 s) exits them with a line naming it;
* a process that is killed: JAX's coordination service misses its heartbeats and ends
  the others after ``heartbeat_timeout`` seconds (default 20) with "The following tasks
  are unhealthy (stopped sending heartbeats): I"; if the coordinator (process 0) is
  killed, the others end at once ("Socket closed");
* processes that never connect: a process gives up after ``initialization_timeout``
  seconds (default 60) with one line naming the coordinator.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import jax

from jpatterns.train.config import ConfigError

__all__ = [
  "ENV",
  "Spec",
  "resolve",
  "init_distributed",
  "is_primary",
  "agree",
  "report_failure",
  "DistributedError",
  "exit_now",
  "same_everywhere",
  "free_port",
  "local_environments",
  "DEFAULT_INITIALIZATION_TIMEOUT",
  "DEFAULT_HEARTBEAT_TIMEOUT",
]

# Argument -> the environment variable it falls back to.
ENV = {
  "coordinator": "JPATTERNS_COORDINATOR",
  "num_processes": "JPATTERNS_NUM_PROCESSES",
  "process_id": "JPATTERNS_PROCESS_ID",
}
DEFAULT_INITIALIZATION_TIMEOUT = 60
DEFAULT_HEARTBEAT_TIMEOUT = 20
_POLL_SECONDS = 0.2
_KEY = "jpatterns"


class DistributedError(ValueError):
  """The processes disagree (an argument one of them refused, different checkpoint
  files): one line, naming the process, raised in every process alike."""

  everywhere = True  # every process raises it: nobody needs telling


@dataclasses.dataclass(frozen=True)
class Spec:
  """A resolved multi-process set-up (``None`` fields: JAX's cluster auto-detection)."""

  coordinator: str | None
  num_processes: int | None
  process_id: int | None
  initialization_timeout: int = DEFAULT_INITIALIZATION_TIMEOUT
  heartbeat_timeout: int = DEFAULT_HEARTBEAT_TIMEOUT


def _int_arg(name, value, lo):
  if isinstance(value, str):
    try:
      value = int(value.strip())
    except ValueError:
      raise ConfigError(name, value, f"must be an integer >= {lo}") from None
  if isinstance(value, bool) or not isinstance(value, int) or value < lo:
    raise ConfigError(name, value, f"must be an integer >= {lo}")
  return value


def resolve(
  coordinator: str | None = None,
  num_processes: int | None = None,
  process_id: int | None = None,
  *,
  initialization_timeout: int = DEFAULT_INITIALIZATION_TIMEOUT,
  heartbeat_timeout: int = DEFAULT_HEARTBEAT_TIMEOUT,
  auto: bool = False,
  environ=None,
) -> Spec | None:
  """The set-up the arguments and ``JPATTERNS_*`` variables ask for, validated.

  Args:
    coordinator: ``HOST:PORT`` of process 0's coordination service; falls back to
      ``$JPATTERNS_COORDINATOR``. Giving one means a multi-process run.
    num_processes, process_id: fall back to ``$JPATTERNS_NUM_PROCESSES`` and
      ``$JPATTERNS_PROCESS_ID``; both are needed with a coordinator.
    initialization_timeout: seconds to wait for every process to connect.
    heartbeat_timeout: seconds without a heartbeat before a process is declared lost.
    auto: with no coordinator, use JAX's cluster auto-detection (SLURM, Open MPI,
      Kubernetes) instead of running one process.
    environ: the environment to read (default ``os.environ``).

  Returns:
    A :class:`Spec`, or None for a one-process run.

  Raises:
    ConfigError: a malformed value, naming the argument (and the variable it came from).
  """
  environ = os.environ if environ is None else environ
  given = {"coordinator": coordinator, "num_processes": num_processes, "process_id": process_id}
  for name, var in ENV.items():
    if given[name] is None and environ.get(var, "").strip():
      given[name] = environ[var].strip()
  timeouts = {
    "initialization_timeout": _int_arg("initialization_timeout", initialization_timeout, 1),
    "heartbeat_timeout": _int_arg("heartbeat_timeout", heartbeat_timeout, 1),
  }
  if given["coordinator"] is None:
    extra = [n for n in ("num_processes", "process_id") if given[n] is not None]
    if extra and not auto:
      raise ConfigError(
        extra[0], given[extra[0]], "needs a coordinator (HOST:PORT, or $JPATTERNS_COORDINATOR)"
      )
    if not auto:
      return None
    n, i = given["num_processes"], given["process_id"]
    n = None if n is None else _int_arg("num_processes", n, 1)
    i = None if i is None else _int_arg("process_id", i, 0)
    return Spec(None, n, i, **timeouts)
  address = given["coordinator"]
  host, sep, port = str(address).rpartition(":")
  if not (isinstance(address, str) and sep and host and port.isdigit() and 0 < int(port) < 65536):
    raise ConfigError("coordinator", address, "must be HOST:PORT with a port in 1..65535")
  for name in ("num_processes", "process_id"):
    if given[name] is None:
      raise ConfigError(name, None, f"is needed with a coordinator (or set ${ENV[name]})")
  n = _int_arg("num_processes", given["num_processes"], 1)
  i = _int_arg("process_id", given["process_id"], 0)
  if i >= n:
    raise ConfigError("process_id", i, f"must be below num_processes={n}")
  return Spec(address, n, i, **timeouts)


def _wait_for_port(address: str, seconds: float) -> bool:
  """True once something listens at ``address`` (the coordinator), within ``seconds``."""
  host, _, port = address.rpartition(":")
  host = host.strip("[]")
  deadline = time.monotonic() + seconds
  while True:
    try:
      with socket.create_connection((host, int(port)), timeout=1.0):
        return True
    except OSError:
      if time.monotonic() >= deadline:
        return False
      time.sleep(0.1)


def _die(message: str, status: int, *, linger: bool = True) -> None:
  """One line on stderr and exit at once, from any thread (JAX's runtime would abort)."""
  sys.stderr.write(f"jpatterns: error: {message}\n")
  exit_now(status, linger=linger)


def exit_now(status: int, *, linger: bool = True) -> None:
  """Ends this process without JAX's shutdown barrier, which would wait for processes
  that are stopping too. Process 0 hosts the coordination service: it lingers a
  moment so the others read the failure from it before it goes (``linger=False``
  when no other process is left to read it: the service would abort this one with
  its own error and a C++ stack trace meanwhile)."""
  _STATE["exiting"] = True  # the watchdog says nothing more
  sys.stderr.flush()
  sys.stdout.flush()
  if linger and _STATE["spec"] is not None and jax.process_index() == 0 and jax.process_count() > 1:
    time.sleep(4 * _POLL_SECONDS)
  os._exit(status)


_STATE = {"spec": None, "watchdog": None, "round": 0, "exiting": False}


def init_distributed(
  coordinator: str | None = None,
  num_processes: int | None = None,
  process_id: int | None = None,
  *,
  initialization_timeout: int = DEFAULT_INITIALIZATION_TIMEOUT,
  heartbeat_timeout: int = DEFAULT_HEARTBEAT_TIMEOUT,
  auto: bool = False,
) -> bool:
  """Starts JAX's distributed runtime for this process; call it before any other JAX call.

  The arguments are passed explicitly to ``jax.distributed.initialize``. With no
  coordinator and ``auto=False`` it does nothing (a one-process run).

  Args:
    coordinator: ``HOST:PORT`` of process 0 (default ``$JPATTERNS_COORDINATOR``).
    num_processes: how many processes (default ``$JPATTERNS_NUM_PROCESSES``).
    process_id: this process, ``0 … num_processes-1`` (default ``$JPATTERNS_PROCESS_ID``).
    initialization_timeout: seconds to wait for every process to connect; past them
      this process exits with one line (JAX would abort it).
    heartbeat_timeout: seconds without a heartbeat before JAX declares a process lost;
      this module's watchdog names a lost process after 0.6 × of them.
    auto: with no coordinator, JAX's cluster auto-detection (SLURM, Open MPI, ...).

  Returns:
    True when this process is one of several.

  Raises:
    ConfigError: a malformed argument (before anything connects).
  """
  spec = resolve(
    coordinator,
    num_processes,
    process_id,
    initialization_timeout=initialization_timeout,
    heartbeat_timeout=heartbeat_timeout,
    auto=auto,
  )
  if spec is None:
    return False
  if jax.distributed.is_initialized():
    return jax.process_count() > 1
  where = spec.coordinator or "the cluster's coordinator"
  if spec.coordinator is not None and spec.process_id != 0:
    if not _wait_for_port(spec.coordinator, spec.initialization_timeout):
      _die(
        f"process {spec.process_id}: no coordinator at {spec.coordinator} after "
        f"{spec.initialization_timeout} s; start process 0 there (or raise "
        "--initialization-timeout)",
        2,
      )
  # JAX aborts the process when the others do not connect in time; say why first.
  timer = threading.Timer(
    max(0.5, spec.initialization_timeout - 0.5),
    _die,
    (
      f"process {spec.process_id}: not all {spec.num_processes} processes connected to "
      f"{where} within {spec.initialization_timeout} s; start the same command on every "
      "host (or raise --initialization-timeout)",
      2,
    ),
  )
  timer.daemon = True
  timer.start()
  try:
    jax.distributed.initialize(
      coordinator_address=spec.coordinator,
      num_processes=spec.num_processes,
      process_id=spec.process_id,
      initialization_timeout=spec.initialization_timeout,
      heartbeat_timeout_seconds=spec.heartbeat_timeout,
    )
  except (RuntimeError, ValueError) as e:  # auto-detection found no cluster, and the like
    raise ConfigError("coordinator", spec.coordinator, f"could not start: {e}") from None
  finally:
    timer.cancel()
  _STATE["spec"] = spec
  if jax.process_count() > 1:
    _start_watchdog()
  return jax.process_count() > 1


def is_primary() -> bool:
  """True in process 0, the one that writes files (and in a one-process run)."""
  return jax.process_index() == 0


def _client():
  from jax._src import distributed as _dist

  return _dist.global_state.client


def report_failure(message: str) -> None:
  """Tells the other processes that this one fails with ``message`` (no-op alone)."""
  if jax.process_count() == 1 or _client() is None:
    return
  try:
    _client().key_value_set(f"{_KEY}/failed/{jax.process_index()}", message)
  except Exception:  # noqa: BLE001 - the runtime may be gone already; the heartbeat tells
    pass


def _start_watchdog() -> None:
  """A daemon thread that beats for this process and ends it when another fails.

  Every 0.2 s it bumps this process's counter in the coordination service's key-value
  store and reads the others'. A reported failure (:func:`report_failure`) ends this
  process at once with that message; a process whose counter has not moved for 0.6 ×
  ``heartbeat_timeout`` (it was killed, or hangs) ends it with a line naming the lost
  process, before JAX's own heartbeat check (at ``heartbeat_timeout``) aborts it
  with a C++ stack trace.
  """
  if _STATE["watchdog"] is not None:
    return
  me, n = jax.process_index(), jax.process_count()
  spec = _STATE["spec"]
  lost_after = 0.6 * (spec.heartbeat_timeout if spec else DEFAULT_HEARTBEAT_TIMEOUT)

  def watch():
    client = _client()
    seen = {i: (None, time.monotonic()) for i in range(n) if i != me}
    beat = 0
    while not _STATE["exiting"]:
      beat += 1
      try:
        client.key_value_set(f"{_KEY}/alive/{me}", str(beat), allow_overwrite=True)
        failed = client.key_value_dir_get(f"{_KEY}/failed/")
        alive = dict(client.key_value_dir_get(f"{_KEY}/alive/"))
        done = dict(client.key_value_dir_get(f"{_KEY}/done/"))
      except Exception:  # noqa: BLE001 - the service is gone: JAX's own error follows
        return
      others = sorted((int(k.rsplit("/", 1)[1]), v) for k, v in failed if not k.endswith(f"/{me}"))
      if others and not _STATE["exiting"]:
        pid, message = others[0]
        _die(f"process {pid} failed, so process {me} stops: {message}", 1)
      now = time.monotonic()
      for i, (value, since) in seen.items():
        current = alive.get(f"{_KEY}/alive/{i}")
        if f"{_KEY}/done/{i}" in done:  # it finished and is exiting: no more beats
          continue
        if current != value:
          seen[i] = (current, now)
        elif now - since > lost_after and not _STATE["exiting"]:
          _die(
            f"process {i} of {n} stopped responding (no heartbeat for {now - since:.0f} s), "
            f"so process {me} stops",
            1,
            linger=n > 2,  # someone besides the lost one may still read the failure
          )
      time.sleep(_POLL_SECONDS)

  t = threading.Thread(target=watch, name="jpatterns-watchdog", daemon=True)
  t.start()
  _STATE["watchdog"] = t
  # Registered after jax.distributed.initialize, so it runs before JAX's own shutdown
  # (atexit is last-in, first-out): the thread must not sit in a runtime call while the
  # interpreter finalizes (that aborts with "FATAL: exception not rethrown").
  atexit.register(_stop_watchdog)


def wait_for_lost_peer() -> None:
  """After a runtime error in a collective, gives the watchdog the time it needs to
  name a peer that died (0.6 × ``heartbeat_timeout`` + one poll): when one did, the
  watchdog ends this process with "process I of N stopped responding"; when none did,
  this returns and the error is reported as it is. A killed peer is often noticed
  first by the collective ("Gloo all-reduce failed: Connection closed by peer")."""
  t = _STATE["watchdog"]
  if t is None or not t.is_alive():
    return
  spec = _STATE["spec"]
  lost_after = 0.6 * (spec.heartbeat_timeout if spec else DEFAULT_HEARTBEAT_TIMEOUT)
  t.join(timeout=lost_after + 2 * _POLL_SECONDS)


def _stop_watchdog() -> None:
  """Says this process is done (no more beats to expect) and stops the watchdog."""
  _STATE["exiting"] = True
  try:
    _client().key_value_set(f"{_KEY}/done/{jax.process_index()}", "1", allow_overwrite=True)
  except Exception:  # noqa: BLE001 - the service may be gone
    pass
  t = _STATE["watchdog"]
  if t is not None:
    t.join(timeout=2.0)


def _exchange(what: str, value: str) -> list[str]:
  """Every process's ``value`` for this round, in process order (a KV-store all-gather)."""
  client = _client()
  _STATE["round"] += 1
  prefix = f"{_KEY}/{what}/{_STATE['round']}"
  client.key_value_set(f"{prefix}/{jax.process_index()}", value)
  wait_ms = int(1000 * _timeout())
  n = jax.process_count()
  return [client.blocking_key_value_get(f"{prefix}/{i}", wait_ms) for i in range(n)]


def _timeout() -> int:
  spec = _STATE["spec"]
  return DEFAULT_INITIALIZATION_TIMEOUT if spec is None else spec.initialization_timeout


def agree(problem: str | None, *, what: str = "start") -> None:
  """Every process states ``problem`` (None: ready); all stop if any has one.

  Raises:
    DistributedError: naming the lowest process that has a problem, in every process
      (the same line everywhere). A no-op in a one-process run (``problem`` is raised
      as is by the caller in that case).
  """
  if jax.process_count() == 1:
    return
  problems = [(i, v) for i, v in enumerate(_exchange(f"agree/{what}", problem or "")) if v]
  if problems:
    i, value = problems[0]
    raise DistributedError(f"process {i}: {value}")


def same_everywhere(name: str, digest: str, *, what: str = "same") -> None:
  """Raises DistributedError in every process unless all hold the same ``digest``."""
  if jax.process_count() == 1:
    return
  digests = _exchange(what, digest)
  differ = [i for i, d in enumerate(digests) if d != digests[0]]
  if differ:
    raise DistributedError(
      f"{name} differs between processes 0 and {differ[0]} (their files are not the same); "
      "give every process the same file"
    )


# --- several processes on one machine (jpatterns launch) -----------------------------

_FORCE = "--xla_force_host_platform_device_count"


def free_port() -> int:
  """A TCP port of 127.0.0.1 that nothing listens on now."""
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _gpus(environ) -> list[str]:
  visible = environ.get("CUDA_VISIBLE_DEVICES")
  if visible is not None:
    return [g for g in visible.split(",") if g.strip()]
  if "cpu" in environ.get("JAX_PLATFORMS", "").lower() or shutil.which("nvidia-smi") is None:
    return []
  try:
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
  except (OSError, subprocess.SubprocessError):
    return []
  return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def local_environments(n: int, per: int | None, environ=None) -> list[dict]:
  """Each process's environment: its share of the GPUs, or ``per`` CPU devices."""
  environ = dict(os.environ if environ is None else environ)
  gpus = _gpus(environ)
  if gpus and "cpu" not in environ.get("JAX_PLATFORMS", "").lower():
    if len(gpus) % n:
      raise ValueError(f"-n: {n} processes do not split the {len(gpus)} visible GPUs evenly")
    k = len(gpus) // n
    groups = [",".join(gpus[i * k : (i + 1) * k]) for i in range(n)]
    return [{**environ, "CUDA_VISIBLE_DEVICES": g} for g in groups]
  flags = environ.get("XLA_FLAGS", "")
  forced = re.search(rf"{_FORCE}=(\d+)", flags)
  if per is None:
    per = max(1, int(forced.group(1)) // n) if forced else 1
  flags = re.sub(rf"{_FORCE}=\d+", "", flags).strip()
  env = {**environ, "XLA_FLAGS": f"{flags} {_FORCE}={per}".strip()}
  return [dict(env) for _ in range(n)]
