"""The persistent compilation cache: on by default in the commands, off on request.

Real processes (the cache matters across runs), each under a timeout, on the CPU.
"""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from jpatterns import train
from jpatterns.cli import main
from jpatterns.train import compile_cache, engine

TRAIN = ["train", "--epochs", "1", "--width", "16", "--devices", "1", "--quiet"]


def _jpatterns(args, cache, tmp_path):
  env = dict(os.environ, JPATTERNS_COMPILE_CACHE=str(cache))
  out = subprocess.run(
    [sys.executable, "-m", "jpatterns", *args],
    env=env,
    cwd=tmp_path,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert out.returncode == 0, out.stderr
  return out.stdout


def _counts(text):
  m = re.search(r"compile cache: (\d+) hit\(s\), (\d+) miss\(es\)", text)
  assert m, text
  return int(m.group(1)), int(m.group(2))


@pytest.mark.slow
def test_a_second_identical_run_reads_every_program_from_the_cache(tmp_path):
  cache = tmp_path / "xla"
  first = _jpatterns([*TRAIN, "--out", "a"], cache, tmp_path)
  second = _jpatterns([*TRAIN, "--out", "b"], cache, tmp_path)
  hits1, misses1 = _counts(first)
  hits2, misses2 = _counts(second)
  assert misses1 >= 2 and misses2 == 0 and hits2 == hits1 + misses1, (first, second)
  assert any(cache.iterdir())
  a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in "ab")
  assert b["compile_cache"] == {"directory": str(cache), "hits": hits2, "misses": 0}
  for m in train.METRICS:  # a cached executable computes the same run
    np.testing.assert_array_equal(a["curves"][m], b["curves"][m])
  # compile seconds fall (XLA skipped); generous: the machine is shared
  assert b["compile_seconds"] < a["compile_seconds"], (a["compile_seconds"], b["compile_seconds"])


@pytest.mark.slow
def test_no_compile_cache_and_off_write_nothing(tmp_path):
  cache = tmp_path / "xla"
  text = _jpatterns([*TRAIN, "--out", "a", "--no-compile-cache"], cache, tmp_path)
  assert "compile cache: off" in text and not cache.exists()
  text = _jpatterns([*TRAIN, "--out", "b"], "off", tmp_path)
  assert "compile cache: off" in text


def test_cache_command_shows_and_clears(tmp_path, monkeypatch, capsys):
  cache = tmp_path / "xla"
  (cache / "sub").mkdir(parents=True)
  (cache / "sub" / "entry").write_bytes(b"x" * 2048)
  monkeypatch.setenv("JPATTERNS_COMPILE_CACHE", str(cache))
  assert main(["cache"]) == 0
  assert f"{cache}: 0.0 MiB of at most 2048.0 MiB" in capsys.readouterr().out
  assert compile_cache.size_bytes() == 2048
  assert main(["cache", "--clear"]) == 0
  assert "cleared" in capsys.readouterr().out and not cache.exists()
  monkeypatch.setenv("JPATTERNS_COMPILE_CACHE", "off")
  assert main(["cache", "--clear"]) == 0
  assert "compile cache off" in capsys.readouterr().out


def test_default_dir_follows_the_environment(monkeypatch, tmp_path):
  monkeypatch.delenv("JPATTERNS_COMPILE_CACHE")
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
  assert compile_cache.default_dir() == str(tmp_path / "jpatterns" / "xla")
  for off in ("off", "0", "", "None"):
    monkeypatch.setenv("JPATTERNS_COMPILE_CACHE", off)
    assert compile_cache.default_dir() is None


def test_fit_takes_the_option_in_process(tmp_path):
  """fit(compile_cache=DIR): the second identical fit hits, misses nothing; History says so."""
  config = train.TrainConfig(epochs=1, width=8, depth=1)
  try:
    h1 = train.fit(config, devices=1, compile_cache=tmp_path / "xla")
    h2 = train.fit(config, devices=1, compile_cache=tmp_path / "xla")  # the program in memory
    engine._PROGRAMS.clear()  # as in a new process: compiled again, read from the disk
    h3 = train.fit(config, devices=1, compile_cache=tmp_path / "xla")
  finally:
    compile_cache.disable()
  assert h1.compile_cache["directory"] == str(tmp_path / "xla")
  assert h1.compile_cache["misses"] >= 1
  assert h2.compile_seconds == 0.0 and h2.compile_cache["misses"] == 0
  # The small programs come from JAX's in-memory caches; the epoch program from the disk.
  assert h3.compile_cache["hits"] >= 1 and h3.compile_cache["misses"] == 0
  for m in train.METRICS:
    np.testing.assert_array_equal(h1.metrics[m], h2.metrics[m])
    np.testing.assert_array_equal(h1.metrics[m], h3.metrics[m])


@pytest.mark.parametrize(
  "kwargs,message",
  [
    ({"compile_cache": 3}, "compile_cache=3 is not valid; give True, False, None or a directory"),
    ({"compile_cache": "FILE"}, "is a file, not a directory"),
  ],
)
def test_bad_compile_cache_is_a_value_error(kwargs, message, tmp_path):
  if kwargs["compile_cache"] == "FILE":
    (tmp_path / "f").write_text("")
    kwargs = {"compile_cache": str(tmp_path / "f")}
  with pytest.raises(ValueError, match=re.escape(message)):
    train.fit(train.TrainConfig(epochs=1, width=8), devices=1, **kwargs)


@pytest.mark.parametrize("max_size", [0, -1, 1.5, True])
def test_bad_max_size(max_size):
  with pytest.raises(ValueError, match=f"max_size={max_size!r} must be an integer >= 1"):
    compile_cache.enable("/tmp/unused", max_size=max_size)


def test_an_unwritable_cache_directory_warns_and_trains_without(tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("")
  try:
    with pytest.warns(UserWarning, match="compile cache off: cannot create"):
      assert compile_cache.enable(blocker / "xla") is None
    assert compile_cache.counts().directory is None
  finally:
    compile_cache.disable()
