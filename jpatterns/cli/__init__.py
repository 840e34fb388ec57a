"""The ``jpatterns`` command: list, train, compare, study, verify, bench, cache, launch.

Each subcommand lives in its own module with two functions, ``add_parser(subparsers)``
and ``run(args) -> int``; ``train`` and ``compare`` are thin layers over
:mod:`jpatterns.train`. Bad input raises :class:`UsageError`, argparse's own error or
the library's ``ValueError`` (whose field :func:`main` names by its flag); each is
printed as one line, exit status 2, with no traceback. Nothing imports this package.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys

from jpatterns.cli._errors import UsageError

__all__ = ["main", "main_exit", "UsageError"]

# Subcommand name -> module in this package that implements it.
_COMMANDS = {
  "list": "jpatterns.cli.list_cmd",
  "train": "jpatterns.cli.train_cmd",
  "compare": "jpatterns.cli.compare_cmd",
  "study": "jpatterns.cli.study_cmd",
  "verify": "jpatterns.cli.verify_cmd",
  "bench": "jpatterns.cli.bench_cmd",
  "cache": "jpatterns.cli.cache_cmd",
  "launch": "jpatterns.cli.launch_cmd",
}


class _Parser(argparse.ArgumentParser):
  """argparse, but a bad flag or value is one line (the usage only with ``--help``)."""

  def error(self, message):
    sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
    sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
  parser = _Parser(
    prog="jpatterns", description="Train, compare, verify and benchmark the jpatterns patterns."
  )
  sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
  for _name, module in _COMMANDS.items():
    importlib.import_module(module).add_parser(sub)
  return parser


def _reject_unknown(parser, args, extra) -> None:
  """argparse's 'unrecognized arguments', with the closest valid flag when one is close."""
  sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
  command_parser = sub.choices[args.command]
  flags = sorted(
    {o for a in command_parser._actions for o in a.option_strings if o.startswith("--")}
  )
  close = difflib.get_close_matches(extra[0].split("=")[0], flags, n=1, cutoff=0.8)
  hint = f"; did you mean {close[0]}?" if close else ""
  command_parser.error(f"unrecognized arguments: {' '.join(extra)}{hint}")


def main(argv=None) -> int:
  """Runs the command line; returns the exit status (0 ok, 1 failed check, 2 bad input)."""
  parser = build_parser()
  # A bad flag value or an unknown command: one line and exit 2 (_Parser.error).
  args, extra = parser.parse_known_args(argv)
  if extra:
    _reject_unknown(parser, args, extra)
  try:
    return int(args.run(args) or 0)
  except UsageError as e:
    return _fail(args, f"error: {e}", 2)
  except ValueError as e:  # the library's errors name a field: show its flag
    from jpatterns.cli._common import error_text

    return _fail(args, f"error: {error_text(e)}", 2)
  except KeyboardInterrupt:
    return _fail(args, "interrupted", 130, command=False)
  except Exception as e:
    if type(e).__name__ == "NonFiniteLossError":  # a run that diverged: one line, status 1
      return _fail(args, f"error: {e}", 1)
    if not _several_processes():
      raise
    if type(e).__name__ == "JaxRuntimeError":  # a collective failed: was a peer lost?
      from jpatterns.train import distributed

      distributed.wait_for_lost_peer()
    import traceback

    traceback.print_exc()  # then tell the others and stop, as for any other failure
    return _fail(args, f"error: {type(e).__name__}: {e}", 1)


def _several_processes() -> bool:
  jax = sys.modules.get("jax")
  return bool(jax is not None and jax.distributed.is_initialized() and jax.process_count() > 1)


def _fail(args, message: str, status: int, command: bool = True) -> int:
  """One line on stderr; with several processes, the others are told and this one
  exits at once (JAX's shutdown would wait for processes that are stopping)."""
  print(f"jpatterns{' ' + args.command if command else ''}: {message}", file=sys.stderr)
  if not _several_processes():
    return status
  from jpatterns.train import distributed

  if not getattr(sys.exc_info()[1], "everywhere", False):  # the others do not know it
    distributed.report_failure(message.removeprefix("error: "))
  distributed.exit_now(status)
  return status


def main_exit() -> None:
  """The console script's entry point: ``sys.exit(main())``."""
  sys.exit(main())
