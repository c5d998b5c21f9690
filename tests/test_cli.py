"""The command line as a user meets it: exit codes and one readable line on failure."""

from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from formcheck.config import Thresholds, load_thresholds
from formcheck.errors import ConfigError, ModelError
from formcheck.pose.model import find_model
from support.paths import SAMPLES

SAMPLE = SAMPLES / "heel_strike.mp4"


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "formcheck.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=env)


def assert_one_clean_line(stderr: str):
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("formcheck: ") and "Traceback" not in stderr
    return lines[0]


def test_not_a_video_exits_2_with_one_line(tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("this is not a video")
    result = run_cli("analyze", bogus, "--out-dir", tmp_path / "out")
    assert result.returncode == 2
    assert_one_clean_line(result.stderr)
    assert "notes.mp4" in result.stderr
    assert not any((tmp_path / "out").iterdir())  # nothing half-written


def test_missing_file_exits_2(tmp_path):
    result = run_cli("analyze", tmp_path / "nope.mp4")
    assert result.returncode == 2
    assert_one_clean_line(result.stderr)


def test_corrupt_model_is_named_with_the_fix(tmp_path, monkeypatch):
    corrupt = tmp_path / "pose_landmarker_full.task"
    corrupt.write_bytes(b"\0" * 1000)
    with pytest.raises(ModelError, match="corrupt.*Point --model to a valid"):
        find_model(corrupt)


def test_corrupt_model_via_env_exits_1_with_one_line(tmp_path):
    import os

    corrupt = tmp_path / "model.task"
    corrupt.write_bytes(b"garbage")
    env = dict(os.environ, FORMCHECK_MODEL=str(corrupt))
    from support.paths import TREADMILL
    result = run_cli("analyze", TREADMILL, "--no-video", "--out-dir", tmp_path, env=env)
    assert result.returncode == 1
    assert_one_clean_line(result.stderr)
    assert "corrupt" in result.stderr


def test_installed_model_is_found_offline_and_verified():
    path = find_model()
    assert path.name == "pose_landmarker_full.task" and path.stat().st_size == 9_398_198


def test_config_file_overrides_thresholds(tmp_path):
    cfg = tmp_path / "coach.toml"
    cfg.write_text("[thresholds]\ncadence_pass = 175\nelbow_pass = [75, 105]\n")
    th = load_thresholds(cfg)
    assert th.cadence_pass == 175 and th.elbow_pass == (75.0, 105.0)


BAD_CONFIGS = [("[thresholds]\nno_such = 1\n", "Unknown threshold"),
               ("[thresholds]\ncadence_pass = 'fast'\n", "must be a number"),
               ("[thresholds]\ncadence_pass = '175'\n", "must be a number"),  # no silent string to number
               ("[thresholds]\ncadence_pass = true\n", "must be a number"),
               ("cadence_pass = = 3", "not valid TOML"),
               ("thresholds = 5\n", "must be a table"),
               ("thresholds = [1, 2]\n", "must be a table"),
               ("[thresholds]\ncadence_pass = nan\n", "must be finite"),
               ("[thresholds]\ntrunk_range_pass = inf\n", "must be finite"),
               ("[thresholds]\nelbow_pass = [110, 70]\n", "low <= high"),
               ("[thresholds]\nelbow_pass = [70, 90, 110]\n", "number pair"),
               ("[thresholds]\nelbow_pass = [[70], [110]]\n", "number pair"),
               ("[thresholds]\ncadence_pass = 5000\n", "between 100 and 240"),  # beyond the app's widget
               ("[thresholds.cadence_pass]\nx = 1\n", "must be a number"),
               ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply|not valid TOML"),
               ("# " + "x" * 70_000 + "\n", "larger than")]


@pytest.mark.parametrize("text, message", BAD_CONFIGS)
def test_bad_config_gives_a_clear_error(tmp_path, text, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_thresholds(cfg)


@pytest.mark.parametrize("text, message", [BAD_CONFIGS[5], BAD_CONFIGS[7], BAD_CONFIGS[12]])
def test_bad_config_exits_2_with_one_line(tmp_path, text, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    result = run_cli("analyze", SAMPLE, "--config", cfg, "--no-video", "--out-dir", tmp_path)
    assert result.returncode == 2 and re.search(message, assert_one_clean_line(result.stderr))


@pytest.mark.parametrize("option, value", [("--slowmo", "nan"), ("--slowmo", "inf"), ("--slowmo", "0"),
                                           ("--slowmo", "-2")])
def test_impossible_slow_motion_factor_exits_2_with_one_line(tmp_path, option, value):
    for command in (["analyze", SAMPLE, "--no-video"], ["report", SAMPLE]):
        result = run_cli(*command, option, value, "--out-dir", tmp_path)
        assert result.returncode == 2 and "--slowmo must be a positive number" in assert_one_clean_line(result.stderr)


def test_live_without_a_camera_exits_2_with_one_line():
    result = run_cli("live", "--camera", "97", "--no-history")
    assert result.returncode == 2
    assert_one_clean_line(result.stderr)
    assert "camera" in result.stderr.lower()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_nothing_of_an_analysis_is_left_running_when_the_command_returns(tmp_path):
    """The clip is long enough for worker processes (pose and video): they and their fork server are gone too."""
    from support.paths import TREADMILL
    from support.processes import still_running

    proc = subprocess.Popen([sys.executable, "-m", "formcheck.cli", "analyze", str(TREADMILL),
                             "--out-dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert still_running(proc.pid) == []


def _listening(port: int) -> list[str]:
    """The local addresses a TCP socket listens on at ``port`` (from /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.append("loopback" if address in ("0100007F", "00000000000000000000000001000000") else
                             "any" if set(address) == {"0"} else address)
    return found


def _serve(tmp_path, *args):
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "formcheck.cli", "app", "--port", str(port), *args],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail(f"the app did not start: {proc.communicate()[0]}")


def _stop(proc) -> str:
    import os
    import signal

    os.killpg(proc.pid, signal.SIGTERM)
    return proc.communicate(timeout=30)[0]


def test_the_app_listens_on_this_computer_only_by_default(tmp_path):
    proc, port = _serve(tmp_path)
    try:
        assert _listening(port) and set(_listening(port)) == {"loopback"}
    finally:
        _stop(proc)


def test_the_app_on_the_lan_makes_a_private_access_key_first(tmp_path):
    proc, port = _serve(tmp_path, "--lan")
    try:
        assert "any" in _listening(port)
        keys = tmp_path / "formcheck-keys.toml"
        assert keys.stat().st_mode & 0o077 == 0  # the owner's only
    finally:
        out = _stop(proc)
    import tomllib

    key = tomllib.loads(keys.read_text())["team"]
    assert f"one access key for the team: {key}" in out


def test_the_app_refuses_a_bad_keys_file_with_one_line(tmp_path):
    bad = tmp_path / "keys.toml"
    bad.write_text('ann = "short"\n')
    result = run_cli("app", "--lan", "--keys", bad)
    assert result.returncode == 2 and "at least 12" in assert_one_clean_line(result.stderr)


_TOML_VALUES = ("nan", "inf", "-inf", "'fast'", "true", "{ a = 1 }", "[]", "[1, 2]", "[2, 1]", "[[1]]", "1979-05-27")


@given(names=st.lists(st.sampled_from([f.name for f in dataclasses.fields(Thresholds)] + ["nope"]), min_size=1,
                      max_size=4),
       values=st.lists(st.one_of(st.sampled_from(_TOML_VALUES),
                                 st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
                                 st.integers(-10**6, 10**6).map(str)), min_size=4, max_size=4))
@settings(max_examples=300, deadline=None)
def test_any_thresholds_file_gives_thresholds_or_a_config_error(tmp_path_factory, names, values):
    """Property: whatever a [thresholds] table holds, the result is valid thresholds (every value finite,
    pairs ordered, inside the app's ranges) or one ConfigError naming the file, never another exception."""
    from formcheck.config import _widget_range

    cfg = tmp_path_factory.mktemp("toml") / "coach.toml"
    cfg.write_text("[thresholds]\n" + "".join(f"{n} = {v}\n" for n, v in zip(dict.fromkeys(names), values)))
    try:
        th = load_thresholds(cfg)
    except ConfigError as exc:
        assert "coach.toml" in str(exc)
        return
    for field in dataclasses.fields(th):
        value = getattr(th, field.name)
        numbers = value if isinstance(value, tuple) else (value,)
        assert all(isinstance(v, float) and math.isfinite(v) for v in numbers)
        assert not isinstance(value, tuple) or value[0] <= value[1]
        limits = _widget_range(field.name)
        assert limits is None or all(limits[0] <= v <= limits[1] for v in numbers)
