"""``formcheck batch --scheduler``: a real Dask scheduler and two worker processes on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from formcheck.batch.summary import read_csv
from formcheck.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "sample_videos"
CLIPS = ("good_backward_jog.mp4", "heel_strike.mp4", "long_steps.mp4")
DASK = Path(sys.executable).with_name("dask")


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([str(DASK), *args], stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two single-threaded workers without nannies (a killed worker stays dead)."""
    info = tmp_path / "scheduler.json"
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(info)], tmp_path / "scheduler.log")]
    deadline = time.monotonic() + 60
    while not info.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    import json

    address = json.loads(info.read_text())["address"]
    for i in range(2):
        procs.append(_start(["worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                             "--host", "127.0.0.1", "--name", f"w{i}"], tmp_path / f"worker{i}.log"))
    yield address, procs[1:]
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def _rows(out: Path) -> dict[str, dict[str, str]]:
    return {Path(r["clip"]).name: r for r in read_csv(out / "summary.csv")}


@pytest.mark.slow
def test_a_cluster_batch_equals_a_local_one_even_when_a_worker_dies_mid_clip(tmp_path, cluster):
    from distributed import Client

    address, workers = cluster
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in CLIPS:
        shutil.copy(SAMPLES / name, clips / name)
    local, remote = tmp_path / "local", tmp_path / "remote"
    assert main(["batch", str(clips), "--out-dir", str(local), "--no-video", "--quiet"]) == 0

    killed = []

    def kill_a_busy_worker() -> None:
        with Client(address) as client:
            client.wait_for_workers(2, timeout=60)
            pids = client.run(os.getpid)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                busy = [w for w, tasks in client.processing().items() if tasks]
                if busy:
                    time.sleep(2)  # into the clip's pose
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed.append(busy[0])
                    return
                time.sleep(0.1)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    status = main(["batch", str(clips), "--out-dir", str(remote), "--no-video", "--quiet", "--scheduler", address])
    killer.join()
    assert killed, "a worker was killed while it analysed a clip"
    assert sum(p.poll() is not None for p in workers) == 1
    assert status == 0
    here, there = _rows(local), _rows(remote)
    assert set(here) == set(there) == set(CLIPS)
    for name in CLIPS:
        same = {k: v for k, v in here[name].items() if k != "clip"}
        assert same == {k: v for k, v in there[name].items() if k != "clip"}, name
        assert (remote / Path(name).with_suffix(".formcheck.json").name).is_file()
        assert (remote / Path(name).with_suffix(".formcheck.csv").name).is_file()


@pytest.mark.slow
def test_clips_the_workers_cannot_see_are_sent_as_bytes(tmp_path, cluster, monkeypatch):
    import formcheck.batch.cluster as cluster_runner

    address, _ = cluster
    clip = tmp_path / "clips" / CLIPS[0]
    clip.parent.mkdir()
    shutil.copy(SAMPLES / CLIPS[0], clip)
    monkeypatch.setattr(cluster_runner, "_sees", lambda wanted: [False] * len(wanted))
    assert main(["batch", str(clip), "--out-dir", str(tmp_path / "out"), "--no-video", "--quiet",
                 "--scheduler", address]) == 0
    row = _rows(tmp_path / "out")[CLIPS[0]]
    assert row["status"] == "analysed" and row["direction"] == "backward"


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path, capsys):
    clip = tmp_path / "a.mp4"
    shutil.copy(SAMPLES / CLIPS[0], clip)
    assert main(["batch", str(clip), "--out-dir", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "Cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err and "Traceback" not in err
