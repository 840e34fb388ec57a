"""``jpatterns list`` and the embedded catalogue (jpatterns/cli/list_cmd.py, catalogue.py).

Through the entry point ``jpatterns.cli.main`` (capsys) and once through a real
``python -m jpatterns list`` subprocess. The catalogue is checked against the package
itself, so it cannot go stale: every row resolves to a callable in its module's
``__all__``, every pattern of every module's ``__all__`` has a row (a short, explicit
list names the helpers and types that are not patterns), and the seed column is the
section the target's own docstring names.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys

import pytest

from jpatterns.catalogue import BEYOND, FAMILIES, PATTERNS, Pattern, by_name, resolve
from jpatterns.cli import main

MODULES = (
  "activations",
  "initializers",
  "normalization",
  "stochastic",
  "optim",
  "regularization",
  "losses",
  "augment",
  "preprocessing",
  "layers",
  "gradcheck",
)

# Public names that are not patterns: state/parameter types, their initializers and
# the flat-buffer training machinery. Anything else in an ``__all__`` needs a row.
NOT_PATTERNS = {
  "normalization": {"BatchNormStats", "init_batch_norm_stats"},
  "optim": {"FlatLayout", "flatten_params", "flat_train_step"},
  "preprocessing": {"MinMaxStats", "StandardizationStats", "WhiteningStats"},
  "layers": {
    "init_multi_head_attention",
    "init_transformer_block",
    "init_lstm_params",
    "init_lstm_carry",
  },
  "gradcheck": {"GradCheckResult"},
}

# The families whose rows are exactly one module's ``__all__`` (minus NOT_PATTERNS).
FAMILY_MODULE = {
  "activations": "activations",
  "initializers": "initializers",
  "normalization": "normalization",
  "dropout": "stochastic",
  "losses": "losses",
  "augmentation": "augment",
  "layers": "layers",
  "preprocessing": "preprocessing",
  "regularization": "regularization",
  "tools": "gradcheck",
}


def _module(name):
  return importlib.import_module(f"jpatterns.{name}")


def _patterns_of(module_name):
  mod = _module(module_name)
  return set(mod.__all__) - NOT_PATTERNS.get(module_name, set())


def _list(capsys, *argv):
  status = main(["list", *argv])
  out, err = capsys.readouterr()
  return status, out, err


# -- the catalogue against the package ---------------------------------------------


def test_rows_are_well_formed():
  names = [p.name for p in PATTERNS]
  assert len(names) == len(set(names)), "duplicate names"
  assert [f for f in FAMILIES if any(p.family == f for p in PATTERNS)] == list(FAMILIES)
  families_in_order = [p.family for p in PATTERNS]
  assert families_in_order == sorted(families_in_order, key=FAMILIES.index)
  for p in PATTERNS:
    assert isinstance(p, Pattern) and p.family in FAMILIES, p
    for field in ("name", "formula", "seed", "reference", "target"):
      value = getattr(p, field)
      assert value and value == value.strip() and "\n" not in value, (p.name, field)
    assert "\\" not in p.formula and "$" not in p.formula, f"{p.name}: LaTeX in formula"


def test_every_target_resolves_to_a_public_callable():
  for p in PATTERNS:
    obj = resolve(p)
    assert callable(obj), p.target
    module, _, attr = p.target.rpartition(".")
    assert attr == p.name, p.target
    assert p.name in importlib.import_module(module).__all__, p.target
    assert module.removeprefix("jpatterns.") in MODULES, p.target


def test_every_public_pattern_has_a_row():
  listed = {(p.target.rpartition(".")[0], p.name) for p in PATTERNS}
  for m in MODULES:
    mod = _module(m)
    assert NOT_PATTERNS.get(m, set()) <= set(mod.__all__), f"stale exclusions for {m}"
    missing = {n for n in _patterns_of(m) if (f"jpatterns.{m}", n) not in listed}
    assert not missing, f"jpatterns.{m} exports patterns with no catalogue row: {missing}"


def _seed_parts(seed):
  """'002 批量归一化, BN算法; 001 (gloss)' -> ['002 批量归一化, BN算法', '001']."""
  return [s.strip() for s in re.sub(r"\s*\([^()]*\)$", "", seed).split(";")]


def test_seed_column_is_the_docstrings():
  """Each seed section listed is named in the target's docstring: not invented."""
  for p in PATTERNS:
    doc = inspect.getdoc(resolve(p)) or ""
    summary = doc.split("\n\n")[0]
    if p.seed == BEYOND:
      assert not re.search(r"\(seed \d{3}", summary), (
        f"{p.name}: docstring names a seed section, the catalogue says {BEYOND!r}"
      )
      continue
    for part in _seed_parts(p.seed):
      number, _, section = part.partition(" ")
      assert re.fullmatch(r"00[0-4]", number), (p.name, part)
      assert re.search(rf"[Ss]eeds?\b[^.]*\b{number}\b", doc), (p.name, number)
      assert section in doc, f"{p.name}: {section!r} not in its docstring"


@pytest.mark.parametrize(
  "name,doc_latex,formula_text",
  [
    # the formula column transcribes the docstring's .. math:: line
    ("momentum", r"\rho\,\Delta\theta_{t-1}", "ρ Δθ_{t−1} − α_t g_t"),
    ("glorot_uniform", r"\sqrt{\frac{6}{n_{in} + n_{out}}}", "√(6 / (n_in + n_out))"),
    ("inverse_time_decay", r"\frac{\alpha_0}{1 + \beta\, t / T}", "α₀ / (1 + β t/T)"),
    ("clip_by_value", r"\max(\min(g_t, b), a)", "max(min(g_t, b), a)"),
    ("l1_penalty", r"\mathrm{sgn}(0) = 0", "sgn(0) = 0"),
    (
      "gaussian_dropout",
      r"N\!\left(1, \tfrac{\text{rate}}{1 - \text{rate}}\right)",
      "N(1, rate/(1 − rate))",
    ),
    ("residual", r"y = f(x) + x", "y = f(x) + x"),
  ],
  ids=lambda v: v if re.fullmatch(r"[a-z_]+", v) else "",
)
def test_formula_column_matches_the_docstring(name, doc_latex, formula_text):
  p = by_name(name)
  assert doc_latex in inspect.getdoc(resolve(p))
  assert formula_text in p.formula


def test_catalogue_import_is_light():
  """catalogue and list_cmd import no jax themselves (the package may, they may not)."""
  for mod in ("jpatterns.catalogue", "jpatterns.cli.list_cmd"):
    src = inspect.getsource(importlib.import_module(mod))
    assert not re.search(r"^\s*(import|from) (jax|flax|optax|numpy|torch)\b", src, re.M), mod


# -- the command --------------------------------------------------------------------


def test_default_table_lists_everything(capsys):
  status, out, err = _list(capsys, "--width", "200")
  assert status == 0 and not err
  lines = out.splitlines()
  assert lines[0].split() == ["name", "family", "formula", "seed", "verified", "against"]
  first_words = {ln.split()[0] for ln in lines[2:] if ln and not ln.startswith(" ")}
  assert {p.name for p in PATTERNS} <= first_words
  assert lines[-1] == f"{len(PATTERNS)} patterns in {len(FAMILIES)} families"
  assert "Δθ_t = ρ Δθ_{t−1} − α_t g_t" in out and "002 动量法" in out


@pytest.mark.parametrize("width", [60, 80, 120])
def test_table_fits_the_width_and_wraps_without_losing_text(capsys, width):
  from jpatterns.cli.list_cmd import _width

  status, out, _ = _list(capsys, "optimizers", "schedules", "--width", str(width))
  assert status == 0
  lines = out.splitlines()
  # name (18) + 3 gaps + the minimum widths of formula, seed, reference fit in 60
  assert max(_width(ln) for ln in lines) <= width
  words = set(out.split())
  for p in PATTERNS:
    if p.family in ("optimizers", "schedules") and width >= 120:
      assert set(p.formula.split()) <= words, p.name


@pytest.mark.parametrize("family", ["dropout", "tools", "augmentation", "regularization"])
def test_family_filter_returns_all_of_that_family_only(capsys, family):
  status, out, _ = _list(capsys, family, "--format", "json")
  assert status == 0
  names = {row["name"] for row in json.loads(out)}
  assert names == _patterns_of(FAMILY_MODULE[family])  # from the package, not the table
  assert {row["family"] for row in json.loads(out)} == {family}


def test_optim_splits_into_three_families(capsys):
  _, out, _ = _list(
    capsys, "--family", "optimizers", "--family", "schedules", "transforms", "--format", "json"
  )
  rows = json.loads(out)
  assert {r["name"] for r in rows} == _patterns_of("optim")
  assert {r["family"] for r in rows} == {"optimizers", "schedules", "transforms"}
  assert {r["name"] for r in rows if r["family"] == "schedules"} >= {
    "exponential_decay",
    "cosine_decay",
    "warmup",
  }


def test_json_has_every_field(capsys):
  status, out, _ = _list(capsys, "--format", "json")
  assert status == 0
  rows = json.loads(out)
  assert len(rows) == len(PATTERNS)
  fields = {"name", "family", "formula", "seed", "reference", "target"}
  assert all(set(r) == fields for r in rows)
  adam = next(r for r in rows if r["name"] == "adam")
  assert adam["target"] == "jpatterns.optim.adam" and adam["seed"] == "002 Adam算法"
  # json never wraps: the full formula survives
  assert adam["formula"] == by_name("adam").formula


def test_markdown_has_a_header_row_and_escapes_pipes(capsys):
  status, out, _ = _list(capsys, "losses", "--format", "markdown")
  assert status == 0
  lines = out.splitlines()
  assert lines[0] == "| name | family | formula | seed | verified against |"
  assert lines[1] == "|---|---|---|---|---|"
  assert len(lines) == 2 + len(_patterns_of("losses"))
  huber = next(ln for ln in lines if ln.startswith("| `huber`"))
  assert r"\|e\| ≤ δ" in huber  # the formula's |e| does not break the table
  assert len(re.findall(r"(?<!\\)\|", huber)) == 6


def test_search_filters_on_name_and_formula(capsys):
  _, out, _ = _list(capsys, "--search", "ADAM", "--format", "json")
  assert {r["name"] for r in json.loads(out)} == {"adam", "adamw", "adamax", "nadam"}
  _, out, _ = _list(capsys, "--search", "sgn(", "--format", "json")
  assert {r["name"] for r in json.loads(out)} == {"add_l1", "l1_penalty"}
  status, out, err = _list(capsys, "tools", "--search", "no such text")
  assert status == 0 and out == "" and "no pattern matches" in err


@pytest.mark.parametrize("argv", [["optimisers"], ["dropout", "--family", "nope"]])
def test_unknown_family_exits_2_listing_the_families(capsys, argv):
  status, out, err = _list(capsys, *argv)
  assert status == 2 and out == ""
  assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
  assert "not valid" in err and ", ".join(FAMILIES) in err


def test_bad_format_is_an_argparse_error(capsys):
  with pytest.raises(SystemExit) as e:
    main(["list", "--format", "yaml"])
  assert e.value.code == 2
  assert "invalid choice: 'yaml'" in capsys.readouterr().err


def test_python_dash_m_subprocess():
  """The real command line: ``python -m jpatterns list optimizers``."""
  env = dict(os.environ, COLUMNS="200", PYTHONIOENCODING="utf-8")
  proc = subprocess.run(
    [sys.executable, "-m", "jpatterns", "list", "optimizers"],
    capture_output=True,
    text=True,
    encoding="utf-8",
    env=env,
    timeout=120,
    check=False,
  )
  assert proc.returncode == 0, proc.stderr
  rows = [ln.split()[0] for ln in proc.stdout.splitlines()[2:] if ln and ln[0] != " "]
  optimizers = [p.name for p in PATTERNS if p.family == "optimizers"]
  assert rows[: len(optimizers)] == optimizers
  assert rows[-1] == str(len(optimizers))  # "12 patterns in 1 family"
  assert "batch_norm" not in proc.stdout and "002 Adam算法" in proc.stdout


def test_too_narrow_width_exits_2(capsys):
  status, out, err = _list(capsys, "--width", "5")
  assert status == 2 and out == "" and "--width: 5 is too narrow" in err


# -- one taxonomy: list and verify --family take the same names ----------------------


def test_list_and_verify_accept_the_same_family_names(capsys):
  """Every family and alias of the catalogue works for ``list`` and for ``verify
  --family`` (``--list``: nothing runs), selecting the same family; the families of
  the conformance checks are catalogue families that ``list`` takes."""
  from jpatterns import catalogue

  assert set(catalogue.FAMILY_NAMES) == set(FAMILIES) | set(catalogue.ALIASES)
  assert set(catalogue.ALIASES.values()) <= set(FAMILIES)
  assert {"optim", "norm"} <= set(catalogue.ALIASES)
  for name in catalogue.FAMILY_NAMES:
    family = catalogue.family(name)
    status, out, err = _list(capsys, name, "--format", "json")
    assert status == 0, err
    assert {r["family"] for r in json.loads(out)} == {family}, name
    assert main(["verify", "--family", name, "--list", "--format", "json"]) == 0, name
    out, err = capsys.readouterr()
    assert {c["family"] for c in json.loads(out)["checks"]} <= {family}, name
  # vice versa: every family verify reports is one list takes
  assert main(["verify", "--list", "--format", "json"]) == 0
  verify_families = {c["family"] for c in json.loads(capsys.readouterr().out)["checks"]}
  assert verify_families <= set(FAMILIES)
  for name in verify_families:
    assert _list(capsys, name, "--format", "json")[0] == 0


@pytest.mark.parametrize("name", ["optimisers", "optimizer ", "NORM"])
def test_family_resolution_is_the_catalogues(name):
  from jpatterns import catalogue

  if name == "optimisers":
    with pytest.raises(ValueError, match=r"did you mean optimizers\?"):
      catalogue.family(name)
  else:
    assert catalogue.family(name) in FAMILIES


def test_unknown_family_is_refused_alike_by_list_and_verify(capsys):
  status, _, list_err = _list(capsys, "optimisers")
  assert status == 2
  assert main(["verify", "--family", "optimisers", "--list"]) == 2
  verify_err = capsys.readouterr().err
  for err, what in ((list_err, "FAMILY"), (verify_err, "--family")):
    assert f"{what}: 'optimisers' is not valid (did you mean optimizers?)" in err
    assert ", ".join(FAMILIES) in err and "optim = optimizers" in err


def test_help_lists_the_catalogue_names(capsys):
  from jpatterns import catalogue

  for argv in (["list", "--help"], ["verify", "--help"]):
    with pytest.raises(SystemExit):
      main(argv)
    text = " ".join(capsys.readouterr().out.split())
    for name in catalogue.FAMILY_NAMES:
      assert name in text, (argv, name)
