"""What the command prints: one line for a bad flag (usage only with --help), a
``compiling …`` status, and plain per-epoch lines when stderr is not a terminal."""

from __future__ import annotations

import pytest

from jpatterns.cli import main


def _run(capsys, *argv):
  with pytest.raises(SystemExit) as e:
    main(list(argv))
  captured = capsys.readouterr()
  return e.value.code, captured.out, captured.err


@pytest.mark.parametrize(
  "argv,expect,absent",
  [
    (["train", "--colour", "red"], "unrecognized arguments: --colour red", "did you mean"),
    (["train", "--optimzer", "adam"], "did you mean --optimizer?", "usage:"),
    (["train", "--epochs", "abc"], "argument --epochs: invalid int value: 'abc'", "usage:"),
    (["compare", "--seed-axis", "batched"], "argument --seed-axis: invalid choice", "usage:"),
    (["trian"], "invalid choice: 'trian'", "usage:"),
  ],
)
def test_a_bad_flag_is_one_line(capsys, argv, expect, absent):
  code, out, err = _run(capsys, *argv)
  lines = err.strip().splitlines()
  assert code == 2 and len(lines) == 1 and expect in lines[0], err
  assert absent not in err and "--help" in lines[0] and not out


def test_plain_lines_per_epoch_when_stderr_is_no_terminal(capsys, tmp_path):
  code = main(
    [
      "train",
      "--epochs",
      "3",
      "--width",
      "8",
      "--devices",
      "1",
      "--log-every",
      "2",
      "--no-compile-cache",
      "--out",
      str(tmp_path),
    ]
  )
  captured = capsys.readouterr()
  assert code == 0, captured.err
  lines = captured.err.strip().splitlines()
  assert lines[0] == "mlp on digits: compiling …"
  assert lines[1].startswith("mlp on digits: compiled in ") and lines[1].endswith(" s")
  assert [ln.split("  ")[0] for ln in lines[2:]] == [
    "mlp on digits: epoch 2/3",
    "mlp on digits: epoch 3/3",
  ]
  assert "test acc" in lines[-1]
  assert "1 seed(s) (loop)" in captured.out


def test_quiet_prints_no_progress(capsys, tmp_path):
  code = main(
    [
      "train",
      "--epochs",
      "1",
      "--width",
      "8",
      "--devices",
      "1",
      "--quiet",
      "--no-compile-cache",
      "--out",
      str(tmp_path),
    ]
  )
  captured = capsys.readouterr()
  assert code == 0 and captured.err == ""
