"""The one error type the command line turns into a one-line message and exit code 2."""

from __future__ import annotations

import difflib


class UsageError(Exception):
  """Bad input to the ``jpatterns`` command: printed as one line, exit status 2.

  The message names the argument, the value given and what would be valid, e.g.
  ``--optimizer: 'adamm' is not an optimizer; choose from sgd, momentum, ...``.
  """


def choose_from(what: str, value, valid) -> UsageError:
  """A UsageError for a name that is not one of ``valid``."""
  valid = [str(v) for v in valid]
  close = difflib.get_close_matches(str(value), valid, n=1)
  hint = f" (did you mean {close[0]}?)" if close else ""
  return UsageError(f"{what}: {value!r} is not valid{hint}; choose from {', '.join(valid)}")
