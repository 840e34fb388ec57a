"""``jpatterns verify`` through the command line (jpatterns.cli.main, in process).

The checks themselves compare jpatterns with optax, flax, jax.nn and torch (the registry
jpatterns.conformance); tests/test_conformance.py runs every one of them. Here, the
command: its output (table and JSON) says what was compared with what and how closely,
--family, --filter, --dtype and --list select, a broken check makes it fail with exit
status 1, torch checks run (or are reported skipped without torch), bad input exits 2.
"""

from __future__ import annotations

import dataclasses
import json

import jax
import numpy as np
import pytest

from jpatterns import cli
from jpatterns import conformance as _checks
from jpatterns.cli import verify_cmd


def _run(capsys, *argv):
  rc = cli.main(["verify", *argv])
  out, err = capsys.readouterr()
  return rc, out, err


def _index(pattern, reference_prefix=""):
  for i, c in enumerate(_checks.CHECKS):
    if c.pattern == pattern and c.reference.startswith(reference_prefix):
      return i
  raise KeyError(pattern)


def _replace_check(monkeypatch, i, **changes):
  """CHECKS with entry i replaced (dataclasses.replace), undone after the test."""
  checks = list(_checks.CHECKS)
  checks[i] = dataclasses.replace(checks[i], **changes)
  monkeypatch.setattr(_checks, "CHECKS", checks)


def _table_rows(out):
  """The table's body rows as lists of cells."""
  lines = [ln for ln in out.splitlines() if ln.startswith("| ")]
  return [[cell.strip() for cell in ln.strip("|").split("|")] for ln in lines[1:]]


# ---------------------------------------------------------------------------- passing


def test_filter_subset_passes_and_table_says_what_was_compared(capsys):
  rc, out, err = _run(capsys, "--filter", "softmax")
  assert rc == 0, out + err
  header = next(ln for ln in out.splitlines() if ln.startswith("| "))
  assert [h.strip() for h in header.strip("|").split("|")] == [
    "pattern",
    "reference",
    "dtype",
    "max error",
    "tolerance",
    "pass",
  ]
  rows = _table_rows(out)
  got = {(r[0], r[2]) for r in rows}
  assert got == {
    ("softmax", "f32"),
    ("softmax", "bf16"),
    ("log_softmax", "f32"),
    ("log_softmax", "bf16"),
    ("softmax_cross_entropy", "f32"),
  }
  for _, _, _, error, tol, status in rows:
    assert status == "pass"
    assert float(error) <= float(tol)
  assert ("softmax", "jax.nn.softmax", "f32", "1e-05") in {tuple(r[:3]) + (r[4],) for r in rows}
  assert "backend cpu" in out and f"jax {jax.__version__}" in out
  assert "max |ours - ref| / max(1, |ref|)" in out
  assert "5/5 passed" in out


def test_json_output_parses_and_matches_tolerances(capsys):
  rc, out, _ = _run(capsys, "--filter", "relu", "--format", "json")
  assert rc == 0
  doc = json.loads(out)
  assert doc["passed"] is True
  assert doc["header"]["backend"] == "cpu"
  assert doc["header"]["device_count"] == jax.device_count()
  results = doc["results"]
  assert {(r["pattern"], r["dtype"]) for r in results} == {
    ("relu", "f32"),
    ("relu", "bf16"),
    ("leaky_relu", "f32"),
    ("leaky_relu", "bf16"),
  }
  for r in results:
    assert r["passed"] and r["error"] is None
    assert r["max_error"] <= r["tolerance"]
    assert r["tolerance"] == doc["tolerances"]["elementwise"][r["dtype"]]["cpu"]


def test_dtype_and_family_select(capsys):
  rc, out, _ = _run(capsys, "--family", "schedules", "--dtype", "bf16", "--format", "json")
  assert rc == 0
  assert json.loads(out)["results"] == []  # schedules are f32-only checks
  rc, out, _ = _run(capsys, "--family", "dropout", "--dtype", "bf16")
  assert rc == 0
  assert [(r[0], r[2], r[3], r[4]) for r in _table_rows(out)] == [
    ("dropout", "bf16", "0", "0 (exact)")
  ]


def test_family_takes_catalogue_names_and_aliases(capsys):
  rc, out, _ = _run(capsys, "--family", "optim", "--list", "--format", "json")
  assert rc == 0
  checks = json.loads(out)["checks"]
  assert checks and {c["family"] for c in checks} == {"optimizers"}
  assert {c["pattern"] for c in checks} >= {"sgd", "adam", "lion"}
  # A catalogue family without checks is valid and selects none.
  rc, out, err = _run(capsys, "--family", "augmentation")
  assert rc == 0 and out == "" and "no conformance check in family 'augmentation'" in err


def test_list_does_not_run(capsys, monkeypatch):
  def boom(*a, **k):
    raise AssertionError("--list must not run checks")

  monkeypatch.setattr(verify_cmd, "run_checks", boom)
  rc, out, _ = _run(capsys, "--list", "--format", "json")
  assert rc == 0
  listed = json.loads(out)["checks"]
  assert len(listed) == len(_checks.CHECKS)
  patterns = {c["pattern"] for c in listed}
  # The catalogue families the brief names are all covered.
  for name in (
    "gelu (exact)",
    "gelu (tanh)",
    "glorot_normal",
    "orthogonal",
    "batch_norm",
    "batch_norm_analytic",
    "dropout",
    "sgd",
    "nesterov",
    "adagrad",
    "adadelta",
    "lion",
    "cosine_decay",
    "warmup",
    "clip_by_value",
    "label_smoothing",
    "huber",
    "multi_head_attention",
    "max_pool",
    "check_grads",
  ):
    assert name in patterns


# ---------------------------------------------------------------------------- failing


def test_perturbed_check_fails_with_exit_1(capsys, monkeypatch):
  i = _index("huber")
  check = _checks.CHECKS[i]

  def perturbed(key, dtype):
    ours, theirs = check.fn(key, dtype)
    return ours + 1e-3, theirs  # 100x the f32 tolerance

  _replace_check(monkeypatch, i, fn=perturbed)
  rc, out, _ = _run(capsys, "--filter", "huber")
  assert rc == 1
  (row,) = _table_rows(out)
  assert row[0] == "huber" and row[-1] == "FAIL"
  assert float(row[3]) == pytest.approx(1e-3, rel=1e-2)
  assert "1 FAILED" in out


def test_zero_tolerance_with_nonzero_error_fails(capsys, monkeypatch):
  i = _index("softplus")

  def fn(key, dtype):  # a relative error of 1e-6: far inside 1e-5, but not 0
    x = jax.random.normal(key, (64,)) * 3
    return jax.nn.softplus(x) * (1 + 1e-6), jax.nn.softplus(x)

  _replace_check(monkeypatch, i, fn=fn, tol="exact")
  rc, out, _ = _run(capsys, "--filter", "softplus", "--dtype", "f32")
  assert rc == 1
  (row,) = _table_rows(out)
  assert row[-1] == "FAIL" and row[4] == "0 (exact)" and 0 < float(row[3]) < 1e-4


def test_raising_check_fails_alone_and_its_group_still_runs(capsys, monkeypatch):
  i = _index("relu")

  def broken(key, dtype):
    raise RuntimeError("deliberately broken")

  _replace_check(monkeypatch, i, fn=broken)
  rc, out, err = _run(capsys, "--filter", "relu", "--dtype", "f32")
  assert rc == 1
  rows = {r[0]: r for r in _table_rows(out)}
  assert rows["relu"][3] == "error" and rows["relu"][-1] == "FAIL"
  assert rows["leaky_relu"][-1] == "pass"  # same group: rerun one by one
  assert "deliberately broken" in err and "Traceback" not in err


def test_max_error_formula():
  ours = {"a": np.array([0.2, 10.5, -0.2]), "b": np.array(3.0)}
  theirs = {"a": np.array([0.3, 10.0, -0.25]), "b": np.array(3.0)}
  # max(0.1 / max(1, 0.3), 0.5 / 10, 0.05 / 1, 0) = 0.1
  assert _checks.max_error(ours, theirs) == pytest.approx(0.1)
  assert _checks.max_error(np.array([np.nan]), np.array([0.0])) == float("inf")
  with pytest.raises(ValueError, match="shape"):
    _checks.max_error(np.zeros(2), np.zeros(3))


def test_tolerances_follow_the_backend(capsys, monkeypatch):
  """On a TPU the table uses the TPU column of TOLERANCES (looser float32)."""
  monkeypatch.setattr(_checks, "backend_name", lambda: "tpu")
  rc, out, _ = _run(capsys, "--filter", "dropout", "--format", "json")
  assert rc == 0
  tols = {r["dtype"]: r["tolerance"] for r in json.loads(out)["results"]}
  assert tols == {d: _checks.TOLERANCES["exact"][d]["tpu"] for d in ("f32", "bf16")}
  assert tols["f32"] > 0  # CPU: 0


# ------------------------------------------------------------------------------- torch


def test_torch_checks_run_when_torch_is_installed(capsys):
  torch_checks = [c for c in _checks.CHECKS if c.torch]
  assert {c.reference.split(",")[0] for c in torch_checks} >= {
    "torch.optim.Adagrad",
    "torch.optim.RMSprop",
    "torch.optim.Adam",
    "torch.nn.functional.gelu",
    "torch.nn.functional.layer_norm",
  }
  rc, out, _ = _run(capsys, "--filter", "local_response_norm")
  assert rc == 0
  (row,) = _table_rows(out)
  assert row[1].startswith("torch") and row[-1] == "pass"
  assert "torch 2." in out and "skipped" not in out


def test_torch_checks_skipped_without_torch(capsys, monkeypatch):
  monkeypatch.setattr(verify_cmd, "torch_available", lambda: False)
  rc, out, _ = _run(capsys, "--filter", "gelu", "--dtype", "f32")
  assert rc == 0
  assert "torch not installed" in out
  assert "skipped: torch not installed (gelu (exact) vs torch.nn.functional.gelu)" in out
  assert all(not r[1].startswith("torch") for r in _table_rows(out))


# --------------------------------------------------------------------------- bad input


def test_unknown_dtype_exits_2_with_valid_names(capsys):
  rc, out, err = _run(capsys, "--dtype", "f32,f16")
  assert rc == 2
  assert "--dtype: 'f16' is not valid" in err and "choose from f32, bf16" in err
  assert "Traceback" not in err + out and err.count("\n") == 1


@pytest.mark.parametrize(
  "argv, message",
  [
    (["--family", "optimisers"], "--family: 'optimisers' is not valid (did you mean optimizers?)"),
    (["--filter", "no-such-pattern"], "--filter: 'no-such-pattern' matches no check"),
  ],
)
def test_bad_selection_exits_2(capsys, argv, message):
  rc, out, err = _run(capsys, *argv)
  assert rc == 2 and message in err and "Traceback" not in err
  assert "choose" in err


def test_unknown_flag_exits_2(capsys):
  with pytest.raises(SystemExit) as e:
    cli.main(["verify", "--dtypes", "f32"])
  assert e.value.code == 2
  assert "unrecognized arguments: --dtypes" in capsys.readouterr().err
