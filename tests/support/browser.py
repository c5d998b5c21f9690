"""A real Streamlit server for the browser tests, inside their loopback-only network namespace."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.paths import ROOT

CHROMIUM = Path("/usr/bin/chromium")
PORT = 8599  # the namespace has its own port space: nothing else listens there


@contextlib.contextmanager
def streamlit_server(netns: str, work: Path, samples: Path):
    """`streamlit run app.py` inside the namespace, with its own history file and sample folder."""
    env = dict(os.environ, FORMCHECK_HISTORY=str(work / "history.sqlite"), FORMCHECK_SAMPLE_DIR=str(samples),
               FORMCHECK_ICE_LOOPBACK="1",  # test-only: aioice offers 127.0.0.1 (see formcheck/app/webrtc.py)
               PYTHONUNBUFFERED="1")
    log = open(work / "server.log", "w")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-m", "streamlit", "run", "app.py",
         "--server.headless", "true", "--server.port", str(PORT), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{PORT}"
    try:
        _wait_until_healthy(netns, url, proc, work / "server.log")
        yield {"url": url, "history": work / "history.sqlite", "log": work / "server.log", "pid": proc.pid,
               "healthy": lambda: _healthy(netns, url)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _healthy(netns: str, url: str) -> bool:
    probe = (f"import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('{url}/_stcore/health', "
             "timeout=5).read() == b'ok' else 1)")
    return subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", probe], capture_output=True).returncode == 0


def _wait_until_healthy(netns: str, url: str, proc, log: Path) -> None:
    deadline = time.monotonic() + 90
    while not _healthy(netns, url):
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited early:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            proc.terminate()
            pytest.fail(f"streamlit did not answer in 90 s:\n{log.read_text()[-3000:]}")
        time.sleep(1)


def make_y4m(src: Path, dst: Path, frames: int = 128, width: int = 360, height: int = 640) -> Path:
    """Raw Y4M (4:2:0) for Chromium's fake camera, from part of a clip.

    Chromium loops the file; 128 frames are 6.00 strides at the clip's 168.9 steps/min
    (21.3 frames a stride), so the loop joins nearly in step and the rolling cadence stays true.
    """
    import cv2

    from formcheck.io.video import VideoFile

    with VideoFile(src, start=30, max_frames=frames) as video, open(dst, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for frame in video:
            small = cv2.resize(frame.bgr, (width, height), interpolation=cv2.INTER_AREA)
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(small, cv2.COLOR_BGR2YUV_I420).tobytes())
    return dst
