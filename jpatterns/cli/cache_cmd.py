"""``jpatterns cache``: where JAX's persistent compilation cache is, its size; ``--clear``.

``train``, ``compare``, ``verify`` and ``bench`` read and write the cache unless given
``--no-compile-cache``; ``$JPATTERNS_COMPILE_CACHE`` moves it (a directory) or turns it
off (``off``). See :mod:`jpatterns.train.compile_cache`.
"""

from __future__ import annotations

from jpatterns.train import compile_cache

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
  p = sub.add_parser(
    "cache",
    help="show or clear the persistent compilation cache",
    description=__doc__.split("\n\n")[0],
  )
  p.add_argument("--clear", action="store_true", help="delete the cache directory")
  p.set_defaults(run=run)


def _mib(n: int) -> str:
  return f"{n / 2**20:.1f} MiB"


def run(args) -> int:
  directory = compile_cache.default_dir()
  if directory is None:
    print(f"compile cache off (${compile_cache.ENV}=off)")
    return 0
  if args.clear:
    freed = compile_cache.clear(directory)
    print(f"cleared {directory} ({_mib(freed)})")
    return 0
  print(
    f"{directory}: {_mib(compile_cache.size_bytes(directory))} of at most "
    f"{_mib(compile_cache.DEFAULT_MAX_SIZE)} (least recently used entries are evicted)"
  )
  return 0
