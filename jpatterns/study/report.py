"""The Markdown report of a study: the rule, a summary of verdicts, one section per claim."""

from __future__ import annotations

import os

from jpatterns.study import rules

__all__ = ["RULE_TEXT", "format_table", "format_tests", "write_report", "setup_text"]

RULE_TEXT = """\
**The rule.** For each claimed comparison "arm *a* is higher (lower) than arm *b*", with
per-seed values of the claim's metric: *d* = mean(*a*) − mean(*b*) (negated for "lower";
positive supports the claim) and *s* = √(var(*a*)/*n_a* + var(*b*)/*n_b*), the Welch standard
error with sample variances (ddof = 1). With *k* = 2 and the claim's minimum effect *m*
(fixed before it was run, in the metric's units):

* **supported** if *d* > *k·s* and *d* ≥ *m*;
* **not supported** if *d* < −*k·s* (clearly the other way) or *d* + *k·s* < *m* (even the top
  of the interval is smaller than the minimum effect);
* **inconclusive** otherwise.

A claim with several comparisons is supported if all are, not supported if any is, and
inconclusive otherwise. A diverged run's loss (NaN or ∞) counts as the worst outcome: it
is replaced by the worst finite loss of the claim, and at least ln(classes), a uniform
guess's; other non-finite values make a comparison inconclusive."""


def _fmt(x: float) -> str:
  if x != x:
    return "nan"
  return f"{x:.4g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def format_table(result) -> list[tuple[str, ...]]:
  """Rows (header first) of arm, mean ± std, seeds, per-seed values."""
  rows = [("arm", f"{result.metric_name}: mean ± std", "seeds", "per seed")]
  for arm, mean, std, n, bad in result.rows():
    note = f" ({bad} non-finite → worst)" if bad else ""
    per = ", ".join(_fmt(float(v)) for v in result.values[arm])
    rows.append((arm, f"{_fmt(mean)} ± {_fmt(std)}", str(n), per + note))
  return rows


def format_tests(result) -> list[str]:
  """One line per test: ``relu < sigmoid: d = 0.31, s = 0.02, k·s = 0.04, m = 0.05 → supported``."""
  return [
    f"{o.label}: d = {_fmt(o.d)}, s = {_fmt(o.s)}, k·s = {_fmt(o.k * o.s)}, "
    f"min effect = {_fmt(o.min_effect)} → {o.verdict} ({o.reason})"
    for o in result.outcomes
  ]


def setup_text(claim) -> str:
  def fields(d):
    return (
      ", ".join(f"{k}={'+'.join(v) if isinstance(v, (list, tuple)) else v}" for k, v in d.items())
      or "defaults"
    )

  arms = "; ".join(f"**{a}**: {fields(o)}" for a, o in claim.arms.items())
  data = claim.data.get("dataset") or claim.base.get("dataset") or "digits"
  if claim.data.get("train_examples"):
    data += f", first {claim.data['train_examples']} training examples"
  return f"base {fields(claim.base)}; data {data}; arms: {arms}"


def _md_table(rows) -> str:
  def cells(r):
    return "| " + " | ".join(c.replace("|", "\\|") for c in r) + " |"  # |w| in a cell

  lines = [cells(rows[0]), "|" + "---|" * len(rows[0])]
  lines += [cells(r) for r in rows[1:]]
  return "\n".join(lines)


_BADGE = {
  rules.SUPPORTED: "✅ supported",
  rules.NOT_SUPPORTED: "❌ not supported",
  rules.INCONCLUSIVE: "❔ inconclusive",
}


def write_report(results, path: str, *, header: str = "") -> str:
  """Writes the Markdown report of ``results`` to ``path`` (figures linked relative to it)."""
  from jpatterns.train._files import atomic_open

  base = os.path.dirname(os.path.abspath(path))
  quick = any(r.quick for r in results)
  out = ["# jpatterns study: the documents' claims as experiments", ""]
  if quick:
    out += [
      "> **quick mode**: epochs, widths and data were shrunk for a smoke test; "
      "these verdicts are not results.",
      "",
    ]
  if header:
    out += [header, ""]
  out += [RULE_TEXT, "", "## Summary", ""]
  rows = [("claim", "section", "metric", "verdict")]
  for r in results:
    rows.append(
      (f"[{r.claim.name}](#{r.claim.name})", r.claim.section, r.metric_name, _BADGE[r.verdict])
    )
  out += [_md_table(rows), ""]
  counts = {v: sum(r.verdict == v for r in results) for v in _BADGE}
  out += [", ".join(f"{n} {v}" for v, n in counts.items()) + f" of {len(results)} claims.", ""]
  for r in results:
    c = r.claim
    out += [f'<a id="{c.name}"></a>', f"## {c.name}: {r.verdict}", ""]
    out += [f"**{c.section}** — “{c.text_zh}”", "", f"**Claim.** {c.text_en}", ""]
    if r.shared and len(r.shared) == len(r.values):
      took = "its runs were trained for an earlier claim"
    else:
      took = f"{r.seconds:.1f} s" + (
        f" ({', '.join(r.shared)} shared with another claim)" if r.shared else ""
      )
    out += [f"**Setup.** {setup_text(c)}; {len(r.seeds)} seeds; {took}.", ""]
    out += [_md_table(format_table(r)), ""]
    if r.diverged:
      what = ", ".join(f"{a} {n} of {len(r.seeds)} seeds" for a, n in r.diverged.items())
      out += [f"**Diverged** (loss not finite at the end): {what}.", ""]
    out += ["**Tests.**", ""] + [f"* {t}" for t in format_tests(r)] + [""]
    out += [
      f"**Verdict: {r.verdict}.**"
      + (f" *Why it may not transfer:* {c.caveat}" if c.caveat else ""),
      "",
    ]
    if r.plot:
      rel = os.path.relpath(os.path.abspath(r.plot), base).replace(os.sep, "/")
      out += [f"![{c.name}]({rel})", ""]
  with atomic_open(path, "w", encoding="utf-8") as f:
    f.write("\n".join(out))
  return path
