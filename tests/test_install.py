"""A fresh install as a user gets it: the locked set, one OpenCV, the model inside, a quiet terminal."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name
from support.paths import ROOT, SAMPLES

import formcheck
from formcheck.io.native_logs import is_native_line
from formcheck.pose.model import MODEL_SHA256, find_model

LOCK = ROOT / "requirements" / "test.txt"
SAMPLE = SAMPLES / "good_backward_jog.mp4"


def locked_versions(lock: Path) -> dict[str, str]:
    """name -> version of every pin in a lock that applies to this interpreter and platform."""
    pins = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^ ;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", line)
        if match and (match[3] is None or Marker(match[3]).evaluate()):
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def installed_versions() -> dict[str, str]:
    return {canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}


def test_the_environment_is_exactly_the_lock():
    locked, installed = locked_versions(LOCK), installed_versions()
    assert "mediapipe" in locked and "numpy" in locked
    wrong = {name: (version, installed.get(name)) for name, version in locked.items()
             if installed.get(name) != version}
    assert not wrong, f"installed differs from {LOCK.name} (locked, installed): {wrong}"


def test_exactly_one_opencv_distribution():
    opencvs = sorted(name for name in installed_versions() if name.startswith("opencv"))
    assert len(opencvs) == 1, f"several OpenCV distributions write the same cv2 package: {opencvs}"


def test_pip_check_is_clean():
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pose_model_ships_inside_formcheck():
    model = find_model()  # verified by its SHA-256 on the way
    assert model.is_relative_to(Path(formcheck.__file__).parent), f"{model} is not formcheck's own copy"
    assert (model.parent / "LICENSE-Apache-2.0.txt").is_file()
    assert MODEL_SHA256 in (model.parent / "NOTICE.md").read_text()


def test_native_log_lines_are_told_from_real_messages():
    native = [b"INFO: [accelerator_registry.cc:43] DestroyAccelerator: ptr=0x7f11280030b0, name=CpuAccelerator",
              b"W0000 00:00:1796158802.591525   17709 inference_runner_litert.cc:1433] Input tensor memory",
              b"I0000 00:00:1700000000.123456  123 gl_context.cc:357] GL version: 3.2",
              b"WARNING: Logging before InitGoogle() is written to STDERR",
              b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
              b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU."]
    real = [b"formcheck: No person was found in clip.mp4.", b"Traceback (most recent call last):",
            b"  File \"app.py\", line 3, in <module>", b"ValueError: bad value",
            b"2026-12-01 20:00:00.000 Uncaught app exception", b"\ranalysing: 42%",
            b"F0000 00:00:1700000000.1 1 check.cc:1] Check failed: fatal native errors are kept"]
    assert all(is_native_line(line) for line in native)
    assert not any(is_native_line(line) for line in real)


def test_filter_drops_native_lines_from_any_thread_and_keeps_the_rest():
    child = (
        "import os, sys, threading\n"
        "from formcheck.io.native_logs import filter_native_logs\n"
        "filter_native_logs()\n"
        "os.write(2, b'W0000 00:00:1.5  7 x.cc:1] native chatter\\n')\n"
        "t = threading.Thread(target=lambda: os.write(2, b'INFO: [y.cc:2] from a thread\\nkept from a thread\\n'))\n"
        "t.start(); t.join()\n"
        "print('\\rprogress 50%', end='', file=sys.stderr, flush=True)\n"
        "print(file=sys.stderr)\n"
        "print('formcheck: the last line before exit', file=sys.stderr)\n"
        "os.write(2, b'INFO: [accelerator_registry.cc:43] DestroyAccelerator at teardown\\n')\n"
    )
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b"kept from a thread\n\rprogress 50%\nformcheck: the last line before exit\n"


@pytest.mark.slow
def test_a_real_analysis_prints_nothing_on_stderr(tmp_path):
    result = subprocess.run([sys.executable, "-m", "formcheck.cli", "analyze", str(SAMPLE), "--no-video",
                             "--out-dir", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "native library chatter reached the terminal"
    assert result.stdout.startswith("good_backward_jog.mp4: backward run")
