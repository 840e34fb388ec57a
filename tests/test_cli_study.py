"""`jpatterns study` through the command line: --list, bad names, a claim end to end.

The end-to-end runs use ``--quick`` (2 epochs, width 16, depth 3, 256 training
examples, 2 seeds): they check the pipeline (train → metric → rule → table, plot,
JSON, report), not the verdicts.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from jpatterns import study
from jpatterns.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(capsys, *argv):
  code = main(list(argv))
  out, err = capsys.readouterr()
  return code, out, err


def test_list_shows_every_claim_with_its_section(capsys):
  code, out, _ = _run(capsys, "study", "--list")
  assert code == 0
  assert len(study.CLAIMS) >= 12
  lines = out.splitlines()
  for c in study.CLAIMS.values():
    (line,) = [ln for ln in lines if ln.startswith(c.name + " ")]
    assert c.section in line and c.text_en[:30] in line
  assert f"{len(study.CLAIMS)} claims" in out


@pytest.mark.parametrize(
  "argv, message",
  [
    (["l1-sparsty"], "unknown claim 'l1-sparsty'; did you mean l1-sparsity?"),
    ([], "name a claim, or give --all or --list"),
    (["l1-sparsity", "--all"], "not both"),
    (["l1-sparsity", "--seeds", "1"], "--seeds: 1 is not valid"),
  ],
)
def test_bad_input_is_one_line_exit_2(capsys, argv, message):
  code, out, err = _run(capsys, "study", *argv)
  assert code == 2
  assert message in err and len(err.strip().splitlines()) == 1


def test_claims_file_is_listed_and_bad_file_is_one_line(capsys, tmp_path):
  saved = dict(study.CLAIMS)
  try:
    f = tmp_path / "mine.json"
    f.write_text(
      json.dumps(
        [
          {
            "name": "mine",
            "section": "002 优化算法",
            "text_zh": "梯度下降",
            "text_en": "My own claim.",
            "base": {"epochs": 1},
            "arms": {"a": {"optimizer": "adam"}, "b": {"optimizer": "sgd"}},
            "metric": {"kind": "final", "of": "test_accuracy"},
            "rule": {"pairs": [["a", "b"]], "direction": "higher"},
          }
        ]
      ),
      encoding="utf-8",
    )
    code, out, _ = _run(capsys, "study", "--list", "--claims", str(f))
    assert code == 0 and "mine" in out and "My own claim." in out
    f.write_text('[{"name": "x"}]', encoding="utf-8")
    code, _, err = _run(capsys, "study", "--list", "--claims", str(f))
    assert code == 2 and "claims[0]" in err and "missing" in err
  finally:
    study.CLAIMS.clear()
    study.CLAIMS.update(saved)


@pytest.mark.slow
def test_one_claim_end_to_end_as_a_process(tmp_path):
  """The real command on one claim in quick mode: table, verdict, plot and JSON."""
  out = tmp_path / "st"
  proc = subprocess.run(
    [
      sys.executable,
      "-m",
      "jpatterns",
      "study",
      "l1-sparsity",
      "--quick",
      "--out",
      str(out),
      "--devices",
      "1",
      "--no-compile-cache",
      "--report",
      str(tmp_path / "r.md"),
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=600,
    env={**os.environ, "PYTHONPATH": ROOT},
  )
  assert proc.returncode == 0, proc.stderr
  assert "l1 > l2: d = " in proc.stdout and "verdict: " in proc.stdout
  assert "quick mode: not a result" in proc.stdout
  assert (out / "l1-sparsity.png").stat().st_size > 10_000
  record = json.loads((out / "study.json").read_text(encoding="utf-8"))
  (r,) = record["results"]
  assert r["claim"] == "l1-sparsity" and r["quick"] is True
  assert set(r["values"]) == {"none", "l1", "l2"} and all(len(v) == 2 for v in r["values"].values())
  text = (tmp_path / "r.md").read_text(encoding="utf-8")
  assert "quick mode" in text and "](st/l1-sparsity.png)" in text


# One claim of each diagnostic metric kind (l1-sparsity, the sparsity kind, runs in the
# process test above; the other kinds read History.metrics and are checked on synthetic
# histories in test_study.py). Every claim running end to end is the committed report,
# docs/study.md (`jpatterns study --all`); in quick mode all 20 take ~115 s here, too much
# for the suite's budget.
REPRESENTATIVE = (
  "elu-mean-zero",  # act_mean_abs
  "he-for-relu",  # act_std_ratio, at init
  "adagrad-lr-decays",  # effective_lr_ratio
  "residual-gradients",  # grad_norm_ratio, the resmlp model
  "augment-gap",  # gap, augmentation on a training subset
)


@pytest.mark.slow
def test_claims_of_every_diagnostic_kind_end_to_end_in_quick_mode(capsys, tmp_path):
  """Claims of every diagnostic metric run (train → metric → rule → plot → report)."""
  t0 = time.perf_counter()
  code, out, _ = _run(
    capsys,
    "study",
    *REPRESENTATIVE,
    "--quick",
    "--out",
    str(tmp_path),
    "--report",
    str(tmp_path / "study.md"),
    "--devices",
    "1",
    "--quiet",
  )
  seconds = time.perf_counter() - t0
  assert code == 0
  for name in REPRESENTATIVE:
    assert (tmp_path / f"{name}.png").exists(), name
  record = json.loads((tmp_path / "study.json").read_text(encoding="utf-8"))
  assert sorted(r["claim"] for r in record["results"]) == sorted(REPRESENTATIVE)
  assert all(
    r["verdict"] in ("supported", "not supported", "inconclusive") for r in record["results"]
  )
  assert f"{len(REPRESENTATIVE)} claim(s) in" in out and "[quick: not results]" in out
  assert (tmp_path / "study.md").exists()
  print(f"{len(REPRESENTATIVE)} claims, quick mode: {seconds:.0f} s")
