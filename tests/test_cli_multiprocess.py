"""Several processes on 127.0.0.1 (JAX's distributed runtime, gloo collectives on CPU).

Each test starts real processes of the command (``jpatterns launch`` or the processes
by hand), under a timeout, and ends only those it started. The reference is one
process with 4 CPU devices running the same mesh: the curves and the final parameters
must agree to 1e-6 (the collectives sum in another order across processes).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jpatterns import datasets
from jpatterns.train import ConfigError, load_checkpoint
from jpatterns.train import distributed as dist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = ["--norm", "batch", "--dropout", "dropout", "--width", "16", "--batch-size", "64"]
TRAIN += ["--quiet", "--no-compile-cache"]


def _env(devices: int) -> dict:
  env = dict(os.environ)
  flags = re.sub(r"--xla_force_host_platform_device_count=\d+", "", env.get("XLA_FLAGS", ""))
  env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={devices}".strip()
  env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
  return env


def _jpatterns(*argv, devices=4, timeout=240):
  proc = subprocess.run(
    [sys.executable, "-m", "jpatterns", *argv],
    env=_env(devices),
    capture_output=True,
    text=True,
    timeout=timeout,
    cwd=ROOT,
  )
  return proc


def _launch(*argv, timeout=240):
  return _jpatterns("launch", "-n", "2", "--devices-per-process", "2", "--", *argv, timeout=timeout)


def _ok(proc):
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


def _start(argv, process_id, port, devices=2):
  """One process by hand (not through launch), in its own session so it alone is killed."""
  return subprocess.Popen(
    [sys.executable, "-m", "jpatterns", *argv]
    + [
      "--coordinator",
      f"127.0.0.1:{port}",
      "--num-processes",
      "2",
      "--process-id",
      str(process_id),
    ],
    env=_env(devices),
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
    cwd=ROOT,
    start_new_session=True,
  )


def _finish(procs, timeout):
  out = []
  for p in procs:
    try:
      _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
      os.killpg(p.pid, signal.SIGKILL)
      _, err = p.communicate()
    out.append((p.returncode, err))
  return out


def _leaves(path):
  _, layout, leaves = load_checkpoint(path)
  return {name: a for (name, _, _), a in zip(layout, leaves)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """The 2-epoch train, once with one process × 4 devices and once with 2 × 2."""
  base = tmp_path_factory.mktemp("mp")
  one, two = str(base / "one"), str(base / "two")
  _ok(_jpatterns("train", *TRAIN, "--epochs", "2", "--out", one))
  _ok(_launch("train", *TRAIN, "--epochs", "2", "--out", two))
  return base, one, two


def test_train_on_two_processes_equals_one_process_on_four_devices(runs):
  _, one, two = runs
  a = json.load(open(os.path.join(one, "metrics.json")))
  b = json.load(open(os.path.join(two, "metrics.json")))
  assert b["devices"] == "4 x cpu (cpu) over 2 processes" and a["devices"] == "4 x cpu (cpu)"
  for m, curve in a["curves"].items():
    np.testing.assert_allclose(b["curves"][m], curve, atol=1e-6, err_msg=m)
  la, lb = (
    _leaves(os.path.join(one, "checkpoint.npz")),
    _leaves(os.path.join(two, "checkpoint.npz")),
  )
  assert la.keys() == lb.keys()
  for k in la:
    np.testing.assert_allclose(lb[k], la[k], atol=1e-6, err_msg=k)
  # exactly one set of outputs, no temp files left behind
  assert sorted(os.listdir(two)) == ["checkpoint.npz", "metrics.json", "metrics.jsonl"]


def test_each_process_holds_its_share_of_the_data(runs):
  """Bytes on a device: a quarter of each epoch's batches and of the (padded) test set."""
  _, _, two = runs
  per_device = json.load(open(os.path.join(two, "metrics.json")))["data_bytes_per_device"]
  d = datasets.load("digits")
  row = 4 * (int(np.prod(d.x_train.shape[1:])) + d.num_classes)  # float32 features + one-hot label
  whole = row * (len(d.x_train) + len(d.x_test))  # what one device holds alone
  per_process = 2 * per_device
  print(
    f"\ndata bytes: one device alone {whole}; with 2 processes x 2 devices {per_device} "
    f"per device, {per_process} per process ({per_process / whole:.0%} of the data set)"
  )
  assert 0.4 < per_process / whole < 0.55


def test_resume_on_two_processes_equals_the_uninterrupted_run(runs):
  base, _, two = runs
  part = str(base / "part")
  _ok(_launch("train", *TRAIN, "--epochs", "1", "--out", part))
  _ok(
    _launch(
      "train",
      "--resume",
      os.path.join(part, "checkpoint.npz"),
      "--epochs",
      "2",
      "--quiet",
      "--no-compile-cache",
      "--out",
      part,
    )
  )
  a = json.load(open(os.path.join(two, "metrics.json")))
  b = json.load(open(os.path.join(part, "metrics.json")))
  assert b["resumed_from_epoch"] == 1
  for m, curve in a["curves"].items():
    np.testing.assert_allclose(b["curves"][m], curve, atol=1e-6, err_msg=m)


def test_resume_from_different_checkpoints_is_refused_on_every_process(runs, tmp_path):
  _, _, two = runs
  good = os.path.join(two, "checkpoint.npz")
  other = str(tmp_path / "other.npz")
  with np.load(good, allow_pickle=False) as z:
    arrays = {k: z[k] for k in z.files}
  arrays["leaf_00000"] = arrays["leaf_00000"] + np.float32(1e-3)  # still a valid checkpoint
  np.savez(other, **arrays)
  port = dist.free_port()
  tail = ["--epochs", "3", "--quiet", "--no-compile-cache", "--out", str(tmp_path / "o")]
  procs = [
    _start(["train", "--resume", good, *tail], 0, port),
    _start(["train", "--resume", other, *tail], 1, port),
  ]
  for status, err in _finish(procs, timeout=120):
    assert status == 2, err[-2000:]
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1 and "differs between processes 0 and 1" in lines[0], err[-2000:]
    assert "Traceback" not in err


def test_compare_on_two_processes_equals_one_process(tmp_path):
  argv = [
    "compare",
    "--vary",
    "optimizer=sgd,adam",
    "--seeds",
    "2",
    "--epochs",
    "2",
    "--width",
    "16",
    "--no-plot",
    "--quiet",
    "--no-compile-cache",
  ]
  one, two = str(tmp_path / "one"), str(tmp_path / "two")
  _ok(_jpatterns(*argv, "--out", one))
  proc = _ok(_launch(*argv, "--out", two))
  assert proc.stdout.count("configurations x 2 seeds") == 1  # process 0 alone reports
  a = json.load(open(os.path.join(one, "compare.json")))
  b = json.load(open(os.path.join(two, "compare.json")))
  for ra, rb in zip(a["results"], b["results"], strict=True):
    assert rb["devices"] == "4 x cpu (cpu) over 2 processes"
    for m, curve in ra["curves"].items():
      np.testing.assert_allclose(rb["curves"][m], curve, atol=1e-6, err_msg=f"{ra['label']} {m}")
  assert sorted(os.listdir(two)) == ["compare.json", "curves.csv"]


def test_a_usage_error_on_one_process_ends_every_process(tmp_path):
  port = dist.free_port()
  t0 = time.monotonic()
  common = ["train", "--epochs", "2", "--width", "16", "--quiet", "--out", str(tmp_path / "o")]
  procs = [
    _start(common, 0, port),
    _start([*common, "--dataset", str(tmp_path / "nope.npz")], 1, port),
  ]
  results = _finish(procs, timeout=60)
  elapsed = time.monotonic() - t0
  for status, err in results:
    assert status == 2, err[-2000:]
    lines = [
      ln for ln in err.splitlines() if ln.strip() and "WARNING" not in ln and "Gloo" not in ln
    ]
    assert len(lines) == 1 and "process 1: --dataset" in lines[0], err[-2000:]
  assert elapsed < 10 + 5, elapsed  # 10 s, plus two interpreter start-ups on a busy machine
  assert not os.path.exists(tmp_path / "o")


def _lose_process_one(tmp_path, sig):
  """Two processes train until process 0 wrote a checkpoint; then process 1 gets ``sig``.
  Returns process 0's status, stderr and seconds from the signal to its end."""
  port = dist.free_port()
  out = tmp_path / "o"
  argv = ["train", "--epochs", "100000", "--width", "8", "--quiet", "--no-compile-cache"]
  argv += ["--heartbeat-timeout", "4", "--out", str(out)]
  procs = [_start(argv, 0, port), _start(argv, 1, port)]
  try:
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.npz").exists():  # both are training
      assert time.monotonic() < deadline and procs[0].poll() is None, procs[0].stderr.read()
      time.sleep(0.2)
    os.killpg(procs[1].pid, sig)
    sent = time.monotonic()
    ((status, err),) = _finish(procs[:1], timeout=30)
    waited = time.monotonic() - sent
  finally:
    for p in procs:
      if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
      p.communicate()
  print(f"\nprocess 0 ended {waited:.1f} s after process 1 got {sig!r} (bound 4 + 2 s)")
  return status, err, waited


def test_a_process_that_stops_responding_ends_the_other_with_a_line_naming_it(tmp_path):
  """heartbeat_timeout 4 s: process 1 frozen (SIGSTOP: its sockets stay open, so only the
  heartbeat can tell), the watchdog names it after 0.6 x 4 s."""
  status, err, waited = _lose_process_one(tmp_path, signal.SIGSTOP)
  assert status == 1, err[-2000:]
  assert "process 1 of 2 stopped responding" in err and "plugin" not in err, err[-2000:]
  assert waited < 4 + 2


def test_a_killed_process_ends_the_other_within_the_heartbeat_bound(tmp_path):
  """A killed peer is noticed by the collective (connection closed) or the heartbeat; the
  watchdog then names it. XLA:CPU may instead abort process 0 from gloo's own thread
  (SIGABRT, "collective mismatch": device programs dispatched ahead meet a failed
  collective), which no Python code can intercept: that ending is accepted, still within
  the bound, and named in the test output."""
  status, err, waited = _lose_process_one(tmp_path, signal.SIGKILL)
  assert status != 0
  if status == -signal.SIGABRT and "gloo::EnforceNotMet" in err:
    print("process 0 was aborted by gloo before the watchdog spoke")
  else:
    assert "process 1 of 2 stopped responding" in err and "plugin" not in err, err[-2000:]
  assert waited < 4 + 2


def test_launch_forwards_the_exit_status(tmp_path):
  proc = _launch(
    "train",
    "--epochs",
    "1",
    "--quiet",
    "--dataset",
    str(tmp_path / "nope.csv"),
    "--out",
    str(tmp_path / "o"),
    timeout=120,
  )
  assert proc.returncode == 2
  assert re.search(r"jpatterns launch: process [01] of 2 exited with status 2", proc.stderr)


# --- the set-up's arguments, without processes ---------------------------------------


def test_resolve_reads_the_flags_then_the_environment():
  env = {
    "JPATTERNS_COORDINATOR": "10.0.0.1:99",
    "JPATTERNS_NUM_PROCESSES": "4",
    "JPATTERNS_PROCESS_ID": "3",
  }
  assert dist.resolve(environ=env) == dist.Spec("10.0.0.1:99", 4, 3)
  assert dist.resolve("h:1", 2, 0, environ=env) == dist.Spec("h:1", 2, 0)
  assert dist.resolve(environ={}) is None  # one process
  assert dist.resolve(auto=True, environ={}) == dist.Spec(None, None, None)  # cluster's own


@pytest.mark.parametrize(
  "kwargs,env,name",
  [
    ({"coordinator": "nohost"}, {}, "coordinator"),
    ({"coordinator": "h:0"}, {}, "coordinator"),
    ({"coordinator": "h:1", "num_processes": 2}, {}, "process_id"),
    ({"coordinator": "h:1", "process_id": 0}, {}, "num_processes"),
    ({"coordinator": "h:1", "num_processes": 2, "process_id": 2}, {}, "process_id"),
    ({"coordinator": "h:1", "num_processes": 0, "process_id": 0}, {}, "num_processes"),
    (
      {},
      {
        "JPATTERNS_COORDINATOR": "h:1",
        "JPATTERNS_NUM_PROCESSES": "two",
        "JPATTERNS_PROCESS_ID": "0",
      },
      "num_processes",
    ),
    ({"num_processes": 2, "process_id": 0}, {}, "num_processes"),
    (
      {"coordinator": "h:1", "num_processes": 2, "process_id": 0, "heartbeat_timeout": 0},
      {},
      "heartbeat_timeout",
    ),
    (
      {"coordinator": "h:1", "num_processes": 2, "process_id": 0, "initialization_timeout": True},
      {},
      "initialization_timeout",
    ),
  ],
)
def test_resolve_names_the_bad_argument(kwargs, env, name):
  with pytest.raises(ConfigError) as e:
    dist.resolve(**kwargs, environ=env)
  assert e.value.name == name


def test_launch_splits_the_cpu_devices():
  envs = dist.local_environments(
    2, None, {"XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
  )
  assert [e["XLA_FLAGS"] for e in envs] == ["--xla_force_host_platform_device_count=4"] * 2
  envs = dist.local_environments(3, 2, {"JAX_PLATFORMS": "cpu"})
  assert envs[2]["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2"
  envs = dist.local_environments(2, None, {"CUDA_VISIBLE_DEVICES": "0,1,2,3"})
  assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0,1", "2,3"]


def test_devices_split_evenly_over_the_processes(monkeypatch):
  """--devices N with 2 processes x 2 devices: N/2 of each, or a ConfigError naming it."""
  from jpatterns.train import engine

  groups = [["a0", "a1"], ["b0", "b1"]]
  monkeypatch.setattr(engine, "_devices_by_process", lambda: groups)
  assert engine.check_devices(None, 64) == 4 and engine.check_devices(2, 64) == 2
  assert engine.mesh_devices(2) == ["a0", "b0"] and engine.mesh_devices(4) == [
    "a0",
    "a1",
    "b0",
    "b1",
  ]
  for bad in (1, 3, 5):  # 1 would train the same thing twice
    with pytest.raises(ConfigError) as e:
      engine.check_devices(bad, 64)
    assert e.value.name == "devices"


PYTHON_API = """
import os, sys
from jpatterns import train
assert train.init_distributed(f"127.0.0.1:{sys.argv[1]}", 2, int(sys.argv[2]))
h = train.fit(train.TrainConfig(epochs=1, width=8), out=sys.argv[3])
print(h.devices, h.final["test_accuracy"][0], h.data_bytes_per_device)
"""


def test_the_python_api_on_two_processes(tmp_path):
  """init_distributed + fit, as the README shows: one mesh, process 0 alone writes."""
  port = dist.free_port()
  procs = [
    subprocess.Popen(
      [sys.executable, "-c", PYTHON_API, str(port), str(i), str(tmp_path / f"out{i}")],
      env=_env(2),
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
      cwd=ROOT,
      start_new_session=True,
    )
    for i in range(2)
  ]
  outs = []
  for p in procs:
    try:
      out, err = p.communicate(timeout=180)
    except subprocess.TimeoutExpired:
      os.killpg(p.pid, signal.SIGKILL)
      out, err = p.communicate()
    assert p.returncode == 0, err[-2000:]
    outs.append(out.strip().splitlines()[-1].split())  # gloo prints its own lines first
  assert outs[0] == outs[1] and " ".join(outs[0][:7]) == "4 x cpu (cpu) over 2 processes"
  assert (tmp_path / "out0" / "metrics.json").exists() and not (tmp_path / "out1").exists()
