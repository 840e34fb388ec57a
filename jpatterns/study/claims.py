"""Claims as data: :class:`Claim`, the registry :data:`CLAIMS`, and loading claims from files.

A claim is a record, not code: the seed documents' words (Chinese and English), a base
training configuration, its arms (field overrides), the data, the metric (a spec of
:mod:`jpatterns.study.metrics`) and the rule (:mod:`jpatterns.study.rules`). Built-in
claims are in :mod:`jpatterns.study.builtin`; a user adds one with
:func:`register_claim` (a :class:`Claim` or a dict) or from a file with
:func:`load_claims`. A JSON file holds a list of claim objects or ``{"claims": [...]}``;
a TOML file holds ``[[claims]]`` tables::

    [[claims]]
    name = "adam-beats-sgd"
    section = "002 优化算法"
    text_zh = "..."
    text_en = "Adam ends with a higher test accuracy than SGD on the digits MLP."
    base = { epochs = 5, width = 32 }
    arms = { adam = { optimizer = "adam" }, sgd = { optimizer = "sgd" } }
    metric = { kind = "final", of = "test_accuracy" }
    rule = { pairs = [["adam", "sgd"]], direction = "higher", min_effect = 0.01 }

Every problem raises ``ValueError`` naming the claim and the field, e.g.
``claim 'x': rule.pairs names arm 'adm', not one of adam, sgd``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
from typing import Any

from jpatterns.study import metrics as metrics_lib

__all__ = ["Claim", "CLAIMS", "register_claim", "load_claims", "get_claim", "DATASET_KEYS"]

DATASET_KEYS = ("dataset", "train_examples")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_RULE_KEYS = {
  "compare": ("kind", "pairs", "direction", "k", "min_effect"),
  "threshold": ("kind", "arm", "value", "direction", "k", "min_effect"),
}


@dataclasses.dataclass(frozen=True, eq=False)
class Claim:
  """One claim of the seed documents as an experiment.

  Attributes:
    name: a short identifier (``[a-z0-9][a-z0-9_-]*``), what ``jpatterns study NAME`` takes.
    section: where the claim is, e.g. ``"004 §4"`` or ``"002 梯度截断"``.
    text_zh: the documents' words (a quotation).
    text_en: the claim in English, as tested.
    base: TrainConfig fields every arm shares.
    arms: ``{label: TrainConfig field overrides}``, at least one.
    metric: a metric spec (:mod:`jpatterns.study.metrics`).
    rule: ``{"kind": "compare", "pairs": [[a, b], ...], "direction": "higher"|"lower",
      "k": 2, "min_effect": 0}`` (``a`` is claimed higher/lower than ``b``) or
      ``{"kind": "threshold", "arm": a, "value": x, "direction": ..., "k", "min_effect"}``.
    data: ``{"dataset": name, "train_examples": N}``, both optional: the dataset
      (default the base's ``dataset``) and the first ``N`` training examples only.
    seeds: seeds per arm (at least 2: the rule needs a spread).
    caveat: why the result may not transfer (scale, data), said in the report.
  """

  name: str
  section: str
  text_zh: str
  text_en: str
  base: dict
  arms: dict
  metric: dict
  rule: dict
  data: dict = dataclasses.field(default_factory=dict)
  seeds: int = 3
  caveat: str = ""

  def __post_init__(self):
    _check(self)

  @classmethod
  def from_dict(cls, d: Any) -> Claim:
    """A claim from a JSON/TOML object (unknown keys refused by name)."""
    if not isinstance(d, dict):
      raise ValueError(f"claim={d!r} must be an object/table of claim fields")
    names = [f.name for f in dataclasses.fields(cls)]
    who = f"claim {d.get('name')!r}" if isinstance(d.get("name"), str) else "claim"
    unknown = sorted(set(d) - set(names))
    if unknown:
      raise ValueError(
        f"{who}: {', '.join(unknown)} not claim fields; choose from {', '.join(names)}"
      )
    missing = [
      f.name
      for f in dataclasses.fields(cls)
      if f.name not in d
      and f.default is dataclasses.MISSING
      and f.default_factory is dataclasses.MISSING
    ]
    if missing:
      raise ValueError(f"{who}: {', '.join(missing)} missing")
    return cls(**d)

  def to_json(self) -> dict:
    return dataclasses.asdict(self)

  @property
  def metric_spec(self) -> dict:
    """The metric with its defaults filled in."""
    return metrics_lib.check_spec(self.metric)

  @property
  def rule_spec(self) -> dict:
    """The rule with its defaults filled in."""
    return _rule(self)

  def configs(self) -> dict:
    """``{arm: TrainConfig}`` (validated field by field; the data is not read)."""
    from jpatterns.train.config import TrainConfig, validate

    out = {}
    for label, over in self.arms.items():
      fields = {**self.base, **over}
      try:
        out[label] = validate(TrainConfig.from_json(fields))
      except ValueError as e:
        where = f"arms[{label!r}]" if any(k in over for k in _fields_named(e)) else "base"
        raise ValueError(f"claim {self.name!r}: {where}: {e}") from None
    return out


def _fields_named(e) -> tuple:
  name = getattr(e, "name", None)
  return (name,) if name else ()


def _fail(claim, field: str, problem: str):
  sep = "" if problem.startswith("=") else " "
  raise ValueError(f"claim {claim.name!r}: {field}{sep}{problem}")


def _check(c: Claim) -> None:
  if not isinstance(c.name, str) or not _NAME.match(c.name):
    raise ValueError(f"claim: name={c.name!r} must match [a-z0-9][a-z0-9_-]* (e.g. 'l1-sparsity')")
  for f in ("section", "text_zh", "text_en"):
    v = getattr(c, f)
    if not isinstance(v, str) or not v.strip():
      _fail(c, f, f"={v!r} must be a non-empty string")
  if not isinstance(c.caveat, str):
    _fail(c, "caveat", f"={c.caveat!r} must be a string")
  if not isinstance(c.base, dict):
    _fail(c, "base", f"={c.base!r} must be an object of TrainConfig fields")
  if not isinstance(c.arms, dict) or not c.arms:
    _fail(c, "arms", f"={c.arms!r} must be a non-empty object {{label: field overrides}}")
  for label, over in c.arms.items():
    if not isinstance(label, str) or not label:
      _fail(c, "arms", f"label {label!r} must be a non-empty string")
    if not isinstance(over, dict):
      _fail(c, f"arms[{label!r}]", f"={over!r} must be an object of TrainConfig fields")
  if not isinstance(c.data, dict):
    _fail(c, "data", f"={c.data!r} must be an object with dataset and/or train_examples")
  unknown = sorted(set(c.data) - set(DATASET_KEYS))
  if unknown:
    _fail(c, "data", f"has unknown keys {unknown}; choose from {', '.join(DATASET_KEYS)}")
  n = c.data.get("train_examples")
  if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
    _fail(c, "data.train_examples", f"={n!r} must be an integer >= 1")
  ds = c.data.get("dataset")
  if ds is not None and not isinstance(ds, str):
    _fail(c, "data.dataset", f"={ds!r} must be a dataset name or path")
  if isinstance(c.seeds, bool) or not isinstance(c.seeds, int) or c.seeds < 2:
    _fail(c, "seeds", f"={c.seeds!r} must be an integer >= 2 (the rule needs a spread)")
  try:
    metrics_lib.check_spec(c.metric)
  except ValueError as e:
    raise ValueError(f"claim {c.name!r}: {e}") from None
  _rule(c)
  c.configs()


def _number(c, where, v, low=None, strict=False):
  import math

  if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
    _fail(c, where, f"={v!r} must be a finite number")
  if low is not None and (v <= low if strict else v < low):
    _fail(c, where, f"={v!r} must be {'>' if strict else '>='} {low}")
  return float(v)


def _rule(c: Claim) -> dict:
  r = c.rule
  if not isinstance(r, dict):
    _fail(c, "rule", f"={r!r} must be an object")
  kind = r.get("kind", "compare")
  if kind not in _RULE_KEYS:
    _fail(c, "rule.kind", f"={kind!r} is not valid; choose from {', '.join(_RULE_KEYS)}")
  unknown = sorted(set(r) - set(_RULE_KEYS[kind]))
  if unknown:
    _fail(
      c,
      "rule",
      f"has unknown keys {unknown} for kind {kind!r}; it takes {', '.join(_RULE_KEYS[kind])}",
    )
  direction = r.get("direction")
  if direction not in ("higher", "lower"):
    _fail(c, "rule.direction", f"={direction!r} is not valid; choose from higher, lower")
  out = {
    "kind": kind,
    "direction": direction,
    "k": _number(c, "rule.k", r.get("k", 2.0), 0, strict=True),
    "min_effect": _number(c, "rule.min_effect", r.get("min_effect", 0.0), 0),
  }
  arms = list(c.arms)

  def arm(where, a):
    if a not in c.arms:
      close = difflib.get_close_matches(str(a), arms, n=1)
      hint = f" (did you mean {close[0]!r}?)" if close else ""
      _fail(c, where, f"names arm {a!r}{hint}, not one of {', '.join(arms)}")
    return a

  if kind == "compare":
    pairs = r.get("pairs")
    if not isinstance(pairs, (list, tuple)) or not pairs:
      _fail(c, "rule.pairs", f"={pairs!r} must be a non-empty list of [arm, arm] pairs")
    checked = []
    for p in pairs:
      if not isinstance(p, (list, tuple)) or len(p) != 2:
        _fail(c, "rule.pairs", f"entry {p!r} must be a pair [arm, arm]")
      a, b = arm("rule.pairs", p[0]), arm("rule.pairs", p[1])
      if a == b:
        _fail(c, "rule.pairs", f"entry {list(p)!r} compares an arm with itself")
      checked.append((a, b))
    out["pairs"] = checked
  else:
    out["arm"] = arm("rule.arm", r.get("arm"))
    out["value"] = _number(c, "rule.value", r.get("value"))
  return out


CLAIMS: dict[str, Claim] = {}


def register_claim(claim, *, replace: bool = False) -> Claim:
  """Adds a claim (a :class:`Claim` or its dict) to :data:`CLAIMS`; returns it.

  Args:
    claim: the claim.
    replace: allow replacing a registered claim of the same name.

  Raises:
    ValueError: a bad claim, or a name already registered (without ``replace``).
  """
  if not isinstance(claim, Claim):
    claim = Claim.from_dict(claim)
  if claim.name in CLAIMS and not replace:
    raise ValueError(
      f"register_claim: name={claim.name!r} is already registered; pass replace=True"
    )
  CLAIMS[claim.name] = claim
  return claim


def get_claim(name: str) -> Claim:
  """The registered claim ``name``, or ``ValueError`` with the closest names."""
  if name in CLAIMS:
    return CLAIMS[name]
  close = difflib.get_close_matches(name, list(CLAIMS), n=1, cutoff=0.5)
  hint = f" (did you mean {close[0]}?)" if close else ""
  raise ValueError(f"claim {name!r} is not known{hint}; `jpatterns study --list` shows them")


def load_claims(path: str | os.PathLike, *, register: bool = True) -> list[Claim]:
  """Reads claims from a ``.json`` or ``.toml`` file (see the module docstring).

  Args:
    path: the file.
    register: also add them to :data:`CLAIMS` (replacing a claim of the same name).

  Returns:
    The claims, in the file's order.

  Raises:
    ValueError: an unreadable file or a bad claim, naming the file and the field.
  """
  path = os.fspath(path)
  ext = os.path.splitext(path)[1].lower()
  if ext not in (".json", ".toml"):
    raise ValueError(f"load_claims: path={path!r} must end in .json or .toml")
  try:
    if ext == ".json":
      with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    else:
      try:
        import tomllib
      except ImportError:  # Python < 3.11
        raise ValueError("load_claims: TOML needs Python 3.11+ (tomllib); use JSON") from None
      with open(path, "rb") as f:
        doc = tomllib.load(f)
  except OSError as e:
    raise ValueError(f"load_claims: {path}: {e.strerror or e}") from None
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise ValueError(f"load_claims: {path}: not valid JSON: {e}") from None
  except Exception as e:  # tomllib.TOMLDecodeError
    if type(e).__name__ == "TOMLDecodeError":
      raise ValueError(f"load_claims: {path}: not valid TOML: {e}") from None
    raise
  items = doc.get("claims") if isinstance(doc, dict) else doc
  if not isinstance(items, list) or not items:
    raise ValueError(
      f"load_claims: {path}: claims must be a non-empty list "
      '(JSON: a list or {"claims": [...]}; TOML: [[claims]] tables)'
    )
  out = []
  for i, item in enumerate(items):
    try:
      out.append(Claim.from_dict(item))
    except ValueError as e:
      raise ValueError(f"load_claims: {path}: claims[{i}]: {e}") from None
  if register:
    for c in out:
      register_claim(c, replace=True)
  return out
