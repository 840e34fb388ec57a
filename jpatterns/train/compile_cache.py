"""JAX's persistent compilation cache, as the training layer turns it on.

A run that compiles the same programs as an earlier one (the same model, optimizer,
shapes and JAX version) reads the compiled executables from disk instead of running
XLA again. This module only configures JAX's own cache
(``jax_compilation_cache_dir``, ``jax_compilation_cache_max_size``, LRU eviction) and
counts its hits and misses through :mod:`jax.monitoring`; it writes no cache of its own.

Where the cache lives:

- ``enable(path)`` with a path uses it;
- else the environment variable ``JPATTERNS_COMPILE_CACHE``: a directory, or ``off``
  (also ``0``, ``none``, ``false``, empty) to disable it;
- else ``$XDG_CACHE_HOME/jpatterns/xla`` (``~/.cache/jpatterns/xla``).

The commands ``jpatterns train``, ``compare``, ``verify`` and ``bench`` call
:func:`enable` unless given ``--no-compile-cache``; ``jpatterns cache`` shows and clears
it. In Python, :func:`jpatterns.train.fit` takes ``compile_cache=`` (``None`` leaves
JAX's configuration as it is).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import warnings

import jax
from jax.experimental.compilation_cache import compilation_cache as _jax_cache

__all__ = [
  "ENV",
  "DEFAULT_MAX_SIZE",
  "default_dir",
  "enable",
  "disable",
  "clear",
  "size_bytes",
  "counts",
  "CacheCounts",
]

ENV = "JPATTERNS_COMPILE_CACHE"
DEFAULT_MAX_SIZE = 2 * 1024**3  # bytes; JAX evicts the least recently used entries beyond
_OFF = ("", "0", "off", "none", "false", "no")
# Every program is written (JAX's default skips those compiling in under 1 s: the small
# init and evaluation programs, and a threshold near a program's compile time makes
# whether a second run hits depend on the machine's load). A 1-epoch train writes 44
# entries, 356 KiB.
_MIN_COMPILE_SECONDS = 0.0

_HITS = "/jax/compilation_cache/cache_hits"
_MISSES = "/jax/compilation_cache/cache_misses"


@dataclasses.dataclass
class CacheCounts:
  """Persistent-cache lookups since the process started (or since :func:`counts` reset)."""

  hits: int = 0
  misses: int = 0
  directory: str | None = None

  def since(self, before: CacheCounts) -> dict:
    """``{"directory", "hits", "misses"}`` of the lookups between ``before`` and these."""
    return {
      "directory": self.directory,
      "hits": self.hits - before.hits,
      "misses": self.misses - before.misses,
    }

  def __str__(self) -> str:
    if self.directory is None:
      return "compile cache off"
    return f"compile cache {self.hits} hit(s), {self.misses} miss(es) in {self.directory}"


_COUNTS = CacheCounts()
_LISTENING = False


def _listen(event: str, **kwargs) -> None:
  del kwargs
  if event == _HITS:
    _COUNTS.hits += 1
  elif event == _MISSES:
    _COUNTS.misses += 1


def default_dir() -> str | None:
  """The cache directory the environment asks for; ``None`` when it says ``off``.

  Returns:
    ``$JPATTERNS_COMPILE_CACHE`` when set (``None`` for ``off``/``0``/empty), else
    ``$XDG_CACHE_HOME/jpatterns/xla`` or ``~/.cache/jpatterns/xla``.
  """
  value = os.environ.get(ENV)
  if value is not None:
    return None if value.strip().lower() in _OFF else os.path.expanduser(value)
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "jpatterns", "xla")


def _check_path(path) -> str:
  if isinstance(path, bool) or not isinstance(path, str | os.PathLike):
    raise ValueError(f"compile_cache={path!r} is not valid; give a directory path, True or False")
  path = os.fspath(path)
  if os.path.exists(path) and not os.path.isdir(path):
    raise ValueError(f"compile_cache={path!r} is not valid; it is a file, not a directory")
  return path


def enable(path=None, *, max_size: int = DEFAULT_MAX_SIZE) -> str | None:
  """Points JAX's persistent compilation cache at ``path`` and counts its hits.

  Args:
    path: the directory; ``None`` takes :func:`default_dir` (which may say ``off``).
    max_size: bytes the cache may hold; JAX evicts least recently used entries beyond.

  Returns:
    The directory in use, or ``None`` when the environment turned the cache off or the
    directory cannot be created (a warning says why).

  Raises:
    ValueError: ``path`` is a file, or ``max_size`` is not a positive integer.
  """
  if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
    raise ValueError(f"max_size={max_size!r} must be an integer >= 1 (bytes)")
  path = default_dir() if path is None else _check_path(path)
  if path is None:
    disable()
    return None
  try:
    os.makedirs(path, exist_ok=True)
  except OSError as e:  # a read-only home must not stop a run: train without the cache
    warnings.warn(f"compile cache off: cannot create {path!r} ({e})", stacklevel=2)
    disable()
    return None
  global _LISTENING
  if not _LISTENING:
    jax.monitoring.register_event_listener(_listen)
    _LISTENING = True
  if jax.config.jax_compilation_cache_dir != path:
    _jax_cache.reset_cache()  # JAX opens its cache once: a new directory needs a reset
  jax.config.update("jax_compilation_cache_dir", path)
  jax.config.update("jax_compilation_cache_max_size", max_size)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", _MIN_COMPILE_SECONDS)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  _COUNTS.directory = path
  return path


def disable() -> None:
  """Turns the persistent cache off for the programs compiled from now on.

  Returns:
    None.
  """
  if jax.config.jax_compilation_cache_dir is not None:
    _jax_cache.reset_cache()
  jax.config.update("jax_compilation_cache_dir", None)
  _COUNTS.directory = None


def clear(path=None) -> int:
  """Deletes the cache directory and everything in it.

  Args:
    path: the directory; ``None`` takes :func:`default_dir`.

  Returns:
    The bytes freed (0 when there was nothing, or the cache is off).
  """
  path = default_dir() if path is None else _check_path(path)
  if path is None or not os.path.isdir(path):
    return 0
  freed = size_bytes(path)
  shutil.rmtree(path)
  return freed


def size_bytes(path=None) -> int:
  """Bytes held by the cache directory (0 when it does not exist).

  Args:
    path: the directory; ``None`` takes :func:`default_dir`.

  Returns:
    The total size of its files.
  """
  path = default_dir() if path is None else _check_path(path)
  if path is None or not os.path.isdir(path):
    return 0
  return sum(
    os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files
  )


def counts(*, reset: bool = False) -> CacheCounts:
  """The cache's hits and misses so far in this process.

  Args:
    reset: start counting again from zero after reading.

  Returns:
    A copy of the counts, with the directory in use (``None`` when off).
  """
  out = dataclasses.replace(_COUNTS)
  if reset:
    _COUNTS.hits = _COUNTS.misses = 0
  return out
