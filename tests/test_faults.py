"""Faults while an analysis runs: a worker killed or stopped, a full disk. The user gets the
same result (or one clear line) and nothing earlier is lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from support.paths import TREADMILL, TREADMILL_CADENCE
from support.processes import fork_servers, pose_workers, still_running

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")]


def _analyze(out_dir, *extra):
    return subprocess.Popen([sys.executable, "-m", "formcheck.cli", "analyze", str(TREADMILL), "--no-video",
                             "--json", "--quiet", "--out-dir", str(out_dir), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _signal_a_worker(proc, sig, cpu_s: float = 1.5) -> int:
    """Once a worker has used ``cpu_s`` of CPU (its start-up done, the model running on its frames:
    mid-analysis), send it ``sig``. Not by the clock: on a fast machine the workers can be done within
    a few seconds of the start, and a worker signalled a second after it appears may still be starting."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        busy = [pid for pid in pose_workers(proc.pid) if _cpu_seconds(pid) >= cpu_s]
        if busy:
            os.kill(busy[0], sig)
            return busy[0]
    pytest.fail("the analysis ended, or ran 2 minutes, without a worker process to signal")


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory):
    proc = _analyze(tmp_path_factory.mktemp("calm"))
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    return json.loads(out)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "stopped"])
def test_a_worker_that_dies_or_hangs_mid_analysis_costs_time_not_the_result(tmp_path, undisturbed, sig):
    """A stopped worker used to hold the command (and the app's analysis turn) for ever."""
    proc = _analyze(tmp_path)
    _signal_a_worker(proc, sig)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["cadence_spm"] == pytest.approx(TREADMILL_CADENCE, rel=0.03)
    assert [c["frame"] for c in report["contacts"]] == [c["frame"] for c in undisturbed["contacts"]]
    assert still_running(proc.pid, grace_s=3.0) == []  # the stopped worker was ended too


def test_a_fork_server_stopped_while_starting_costs_time_not_the_result(tmp_path, undisturbed):
    """The workers' fork server stopped before it has started one worker (it imports MediaPipe
    first): the command used to wait for the pool for ever, then for the server at exit."""
    proc = _analyze(tmp_path)
    deadline = time.monotonic() + 60
    while not (servers := fork_servers(proc.pid)) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert servers, "the analysis started no fork server"
    os.kill(servers[0], signal.SIGSTOP)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert [c["frame"] for c in report["contacts"]] == [c["frame"] for c in undisturbed["contacts"]]
    assert still_running(proc.pid, grace_s=3.0) == []


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux's unshare")
def test_a_full_disk_is_one_line_and_the_previous_outputs_stay(tmp_path):
    """On a 3 MB disk (a tmpfs in a private mount namespace): a first run's outputs fit; the disk is
    then filled, and a second run with the video fails with one line, leaving the first run's files."""
    disk = tmp_path / "disk"
    disk.mkdir()
    script = textwrap.dedent(f"""
        import hashlib, json, os, subprocess, sys
        disk = {str(disk)!r}
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", disk], check=True)
        run = [sys.executable, "-m", "formcheck.cli", "analyze", {str(TREADMILL)!r}, "--quiet", "--out-dir", disk]
        first = subprocess.run(run + ["--no-video"], capture_output=True, text=True)
        before = {{n: hashlib.sha256(open(os.path.join(disk, n), "rb").read()).hexdigest() for n in os.listdir(disk)}}
        with open(os.path.join(disk, "filler"), "wb") as f:
            try:
                while True:
                    f.write(b"x" * 65536)
                    f.flush()
            except OSError:
                pass
        second = subprocess.run(run, capture_output=True, text=True)
        os.remove(os.path.join(disk, "filler"))
        after = {{n: hashlib.sha256(open(os.path.join(disk, n), "rb").read()).hexdigest() for n in os.listdir(disk)}}
        print(json.dumps({{"first": first.returncode, "second": second.returncode, "stderr": second.stderr,
                          "before": before, "after": after}}))
    """)
    out = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", sys.executable, "-c", script],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["first"] == 0 and sorted(seen["before"]) == ["treadmill_forward_male_side.formcheck.csv",
                                                              "treadmill_forward_male_side.formcheck.json"]
    lines = [line for line in seen["stderr"].splitlines() if line.strip()]
    assert seen["second"] == 1 and len(lines) == 1 and "disk is full" in lines[0], seen["stderr"]
    assert seen["after"] == seen["before"]  # not one byte of the earlier result lost, no part files left
