"""Files a run writes: atomically (temp file + rename), with the user's umask.

A reader never sees half a file, and two writers of one path leave one whole file,
never a mix. ``tempfile.mkstemp`` creates its file with mode 0600; the file is given
the mode an ordinary ``open`` would (0666 less the umask) before it is renamed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile

__all__ = ["atomic_open", "umask_mode", "check_output_dir", "output_lock", "LOCK_NAME"]


def umask_mode() -> int:
  """0666 less the process umask: the mode ``open(path, "w")`` gives a new file."""
  mask = os.umask(0)
  os.umask(mask)
  return 0o666 & ~mask


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", **kwargs):
  """``open`` for writing into a temp file in ``path``'s directory, renamed on success.

  Args:
    path: the file to (re)place.
    mode: ``"w"`` or ``"wb"``; ``kwargs`` go to ``open`` (``encoding``, ``newline``).

  Yields:
    The open file. On an exception the temp file is removed and ``path`` is untouched.
  """
  path = os.fspath(path)
  directory = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
  try:
    with os.fdopen(fd, mode, **kwargs) as f:
      yield f
    os.chmod(tmp, umask_mode())
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise


def check_output_dir(path, name: str = "out") -> None:
  """ConfigError unless ``path`` is, or can be made, a writable directory.

  Creates nothing: the nearest existing ancestor must be a writable directory, no
  part of the path may be a file, and every name must fit the file system.
  """
  from jpatterns.train.config import ConfigError

  text = os.fspath(path)
  if not text:
    raise ConfigError(name, text, "is empty; give a directory")
  p = os.path.abspath(text)
  probe = p
  while not os.path.exists(probe):
    parent = os.path.dirname(probe)
    if parent == probe:
      break
    probe = parent
  if not os.path.isdir(probe):
    what = "is a file" if probe == p else f"is under the file {probe!r}"
    raise ConfigError(name, text, f"{what}; give a directory")
  try:
    limit = os.pathconf(probe, "PC_NAME_MAX")
  except (OSError, ValueError):
    limit = 255
  long = [part for part in p.split(os.sep) if len(part.encode()) > limit]
  if long:
    raise ConfigError(name, text, f"has a name longer than {limit} bytes ({long[0][:20]}...)")
  if not os.access(probe, os.W_OK | os.X_OK):
    where = "is not writable" if probe == p else f"cannot be created: {probe!r} is not writable"
    raise ConfigError(name, text, where)


LOCK_NAME = ".jpatterns.lock"


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


@contextlib.contextmanager
def output_lock(directory, *, overwrite: bool = False):
  """Holds ``directory/.jpatterns.lock`` while a run writes there; removed at the end.

  A second run on the same directory is refused with a ConfigError naming ``out``
  while the first runs (on this host, its process is alive); a lock left by a run
  that died is taken over. ``overwrite=True`` writes regardless. Directories it
  creates are removed again when the run fails before writing anything into them.
  """
  from jpatterns.train.config import ConfigError

  created = _missing_parents(directory)
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, LOCK_NAME)
  me = f"{os.getpid()} {socket.gethostname()}"
  for _ in range(2):
    try:
      fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, umask_mode())
      with os.fdopen(fd, "w") as f:
        f.write(me + "\n")
      break
    except FileExistsError:
      try:
        with open(path, encoding="utf-8") as f:
          pid_text, _, host = f.read().strip().partition(" ")
        pid = int(pid_text)
      except (OSError, ValueError):
        pid, host = -1, ""
      stale = host == socket.gethostname() and pid > 0 and not _alive(pid)
      if overwrite or stale:
        with contextlib.suppress(OSError):
          os.remove(path)
        continue
      raise ConfigError(
        "out",
        os.fspath(directory),
        f"is in use by another run (process {pid} on {host or '?'}); wait for it, choose "
        f"another directory, or pass --overwrite (remove {path} if that run is gone)",
      ) from None
  try:
    yield
  except BaseException:
    _release(path, me)
    for d in created:  # deepest first; only those still empty
      with contextlib.suppress(OSError):
        os.rmdir(d)
    raise
  _release(path, me)


def _release(path, me) -> None:
  with contextlib.suppress(OSError):
    with open(path, encoding="utf-8") as f:
      if f.read().strip() == me:
        os.remove(path)


def _missing_parents(directory) -> list[str]:
  """The directories ``os.makedirs(directory)`` would create, deepest first."""
  out = []
  d = os.path.abspath(os.fspath(directory))
  while not os.path.exists(d):
    out.append(d)
    parent = os.path.dirname(d)
    if parent == d:
      break
    d = parent
  return out
