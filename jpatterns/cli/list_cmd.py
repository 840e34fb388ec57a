"""``jpatterns list``: every catalogue pattern with its formula, seed section and reference.

    jpatterns list                          # all patterns, an aligned table
    jpatterns list optimizers schedules     # only these families
    jpatterns list --family dropout --format markdown
    jpatterns list --search adam --format json

The table wraps its long cells to the terminal width (``--width`` overrides it);
markdown and json never wrap or truncate. A family may be named by an alias (``optim``,
``norm``, ...): :func:`jpatterns.catalogue.family` resolves it, as for ``jpatterns
verify --family``. An unknown family is a usage error (exit 2) that lists the valid
ones. The rows are :data:`jpatterns.catalogue.PATTERNS`.
"""

from __future__ import annotations

import json
import shutil
import sys
import unicodedata

from jpatterns import catalogue
from jpatterns.catalogue import FAMILIES, PATTERNS
from jpatterns.cli._errors import UsageError

__all__ = ["add_parser", "run", "select", "render_table", "render_markdown", "render_json"]

FORMATS = ("table", "markdown", "json")
# (header, Pattern attribute) of the columns shown by table and markdown.
COLUMNS = (
  ("name", "name"),
  ("family", "family"),
  ("formula", "formula"),
  ("seed", "seed"),
  ("verified against", "reference"),
)
_JSON_FIELDS = ("name", "family", "formula", "seed", "reference", "target")
_GAP = "  "  # between table columns
_MIN_WIDTH = 10  # narrowest a wrapped column gets
_NARROW = 60  # below this room for formula/seed/reference, family -> headings
_DEFAULT_WIDTH = 120  # when the output is not a terminal and COLUMNS is unset


def add_parser(subparsers) -> None:
  p = subparsers.add_parser(
    "list",
    help="list the catalogue's patterns: formula, seed section, reference",
    description="List every jpatterns pattern: name, family, formula, seed section "
    "and what it is verified against. Families: " + ", ".join(FAMILIES) + ".",
  )
  p.add_argument(
    "families",
    nargs="*",
    metavar="FAMILY",
    help="show only these families (default: all): " + family_help(),
  )
  p.add_argument(
    "--family",
    action="append",
    default=[],
    dest="family_opt",
    metavar="FAMILY",
    help="same as a positional FAMILY; may be repeated",
  )
  p.add_argument(
    "--format",
    choices=FORMATS,
    default="table",
    help="table (default; wraps to the terminal), markdown or json",
  )
  p.add_argument(
    "--search",
    metavar="TEXT",
    default=None,
    help="only patterns whose name, formula or seed contains TEXT (case-insensitive)",
  )
  p.add_argument(
    "--width",
    type=int,
    default=None,
    metavar="COLUMNS",
    help="table width in characters (default: the terminal's)",
  )
  p.set_defaults(run=run)


def family_help() -> str:
  """The family names and aliases for ``--help`` (shared with ``jpatterns verify``)."""
  aliases = ", ".join(f"{a} = {f}" for a, f in catalogue.ALIASES.items())
  return f"{', '.join(FAMILIES)} (aliases: {aliases})"


def resolve_family(what: str, name: str) -> str:
  """:func:`jpatterns.catalogue.family`, its ValueError as a UsageError naming ``what``."""
  try:
    return catalogue.family(name)
  except ValueError as e:
    raise UsageError(f"{what}: {e}") from None


def select(families=(), search=None):
  """The rows of the given families (all when empty) matching ``search``, in order.

  A family may be an alias of :data:`jpatterns.catalogue.ALIASES`.

  Raises:
    UsageError: a name that is neither a family nor an alias.
  """
  wanted = {resolve_family("FAMILY", f) for f in families}
  rows = [p for p in PATTERNS if not wanted or p.family in wanted]
  if search:
    needle = search.lower()
    rows = [
      p
      for p in rows
      if needle in p.name.lower() or needle in p.formula.lower() or needle in p.seed.lower()
    ]
  return rows


def run(args) -> int:
  if args.width is not None and args.width < 20:
    raise UsageError(f"--width: {args.width} is too narrow; choose at least 20")
  rows = select(list(args.families) + list(args.family_opt), args.search)
  if args.format == "json":
    text = render_json(rows)
    if not _encodable(sys.stdout, text):
      text = render_json(rows, ensure_ascii=True)  # \u escapes keep it exact
  elif not rows:
    print("jpatterns list: no pattern matches", file=sys.stderr)
    return 0
  elif args.format == "markdown":
    text = render_markdown(rows)
  else:
    width = args.width or shutil.get_terminal_size((_DEFAULT_WIDTH, 24)).columns
    text = render_table(rows, width)
  _write(sys.stdout, text + "\n")
  return 0


# ---------------------------------------------------------------------------- renderers


def render_json(rows, *, ensure_ascii=False) -> str:
  """A JSON list of objects with the fields name, family, formula, seed, reference, target."""
  return json.dumps(
    [{k: getattr(p, k) for k in _JSON_FIELDS} for p in rows], ensure_ascii=ensure_ascii, indent=2
  )


def render_markdown(rows) -> str:
  """A GitHub-flavoured Markdown table; cells are never wrapped or truncated."""

  def cell(s):
    return s.replace("\\", "\\\\").replace("|", "\\|")

  lines = ["| " + " | ".join(h for h, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
  for p in rows:
    cells = [f"`{p.name}`"] + [cell(getattr(p, a)) for _, a in COLUMNS[1:]]
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def render_table(rows, width: int) -> str:
  """An aligned plain-text table at most ``width`` display columns wide where possible.

  Name and family keep their full width; formula, seed and reference share the rest
  and wrap (at spaces where possible) onto continuation lines. On a narrow terminal
  the family column becomes a heading line above each family's rows. East Asian wide
  characters count as two columns.
  """
  columns = list(COLUMNS)
  natural = _natural(rows, columns)
  headings = width - sum(natural[:2]) - _width(_GAP) * 4 < _NARROW
  if headings:
    del columns[1]
    natural = _natural(rows, columns)
  fixed = 1 if headings else 2
  least = [max(_MIN_WIDTH, _width(h)) for h, _ in columns]
  widths = _fit(natural, width - _width(_GAP) * (len(columns) - 1), fixed, least)
  out = [_line([h for h, _ in columns], widths), _line(["-" * w for w in widths], widths)]
  family = None
  for p in rows:
    if p.family != family:
      if family is not None:
        out.append("")  # a blank line between families
      if headings:
        out.append(f"[{p.family}]")
      family = p.family
    wrapped = [_wrap(getattr(p, a), w) for (_, a), w in zip(columns, widths)]
    for k in range(max(len(w) for w in wrapped)):
      out.append(_line([w[k] if k < len(w) else "" for w in wrapped], widths))
  n_families = len({p.family for p in rows})
  out.append("")
  out.append(
    f"{len(rows)} pattern{'s' * (len(rows) != 1)} in {n_families} "
    f"famil{'ies' if n_families != 1 else 'y'}"
  )
  return "\n".join(out)


def _natural(rows, columns):
  return [max([_width(h)] + [_width(getattr(p, a)) for p in rows]) for h, a in columns]


def _fit(natural, budget, n_fixed, least):
  """Widths: the first ``n_fixed`` columns natural, the last three share the rest.

  A shared column gets at least ``least`` (its header fits), at most its natural width.
  """
  fixed = natural[:n_fixed]
  flexible = natural[n_fixed:]
  room = budget - sum(fixed)
  if sum(flexible) <= room:
    return list(natural)
  weights = [0.45, 0.25, 0.30]  # formula, seed, reference
  widths = [None] * len(flexible)
  # Water-filling: a column narrower than its share keeps its natural width and the
  # others split what it leaves.
  while True:
    open_ = [i for i, w in enumerate(widths) if w is None]
    left = room - sum(w for w in widths if w is not None)
    total = sum(weights[i] for i in open_)
    done = False
    for i in open_:
      if flexible[i] <= left * weights[i] / total:
        widths[i] = flexible[i]
        done = True
    if not done:
      for i in open_:
        widths[i] = max(least[n_fixed + i], int(left * weights[i] / total))
      # The minimums may overshoot: take it back from the widest columns.
      excess = sum(widths[i] for i in open_) - left
      while excess > 0:
        i = max(open_, key=lambda j: widths[j] - least[n_fixed + j])
        if widths[i] <= least[n_fixed + i]:
          break
        widths[i] -= 1
        excess -= 1
      break
  return fixed + widths


def _line(cells, widths) -> str:
  return _GAP.join(c + " " * (w - _width(c)) for c, w in zip(cells, widths)).rstrip()


def _width(s: str) -> int:
  """Display width: East Asian wide/fullwidth characters take two columns."""
  return sum(
    2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1
    for ch in s
  )


def _wrap(text: str, width: int) -> list[str]:
  """Greedy word wrap by display width; a word longer than ``width`` is split."""
  lines, cur = [], ""
  for word in text.split(" "):
    while _width(word) > width:  # hard-split an over-long word
      room = width - _width(cur) - (1 if cur else 0)
      if room < width // 2:  # start the long word on a line of its own
        lines.append(cur)
        cur = ""
        continue
      head = _take(word, room)
      lines.append(f"{cur} {head}" if cur else head)
      cur, word = "", word[len(head) :]
    if not cur:
      cur = word
    elif _width(cur) + 1 + _width(word) <= width:
      cur = f"{cur} {word}"
    else:
      lines.append(cur)
      cur = word
  lines.append(cur)
  return lines


def _take(word: str, room: int) -> str:
  """A prefix of ``word`` at most ``room`` columns wide (at least one character).

  Cut after the last ``_ / , .`` or before the last ``(`` in it when that keeps at
  least half of what fits, else as long as fits.
  """
  n = 1
  while n < len(word) and _width(word[: n + 1]) <= room:
    n += 1
  cut = max([word.rfind(c, 0, n) + 1 for c in "_/,."] + [word.rfind("(", 0, n + 1)])
  if n // 2 <= cut < n:
    return word[:cut]
  return word[:n]


def _encodable(stream, text: str) -> bool:
  try:
    text.encode(getattr(stream, "encoding", None) or "utf-8")
  except (UnicodeEncodeError, LookupError):
    return False
  return True


def _write(stream, text: str) -> None:
  """Writes text, replacing what the stream's encoding cannot show (e.g. ASCII)."""
  if not _encodable(stream, text):
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
      text = text.encode(encoding, errors="replace").decode(encoding, errors="replace")
    except LookupError:
      text = text.encode("ascii", errors="replace").decode("ascii")
  stream.write(text)
  stream.flush()
