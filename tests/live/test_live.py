"""Live form check without a browser: frames of the real clip through LiveSession, as a webcam would send them."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest
from support.paths import TREADMILL, TREADMILL_CADENCE

from formcheck.errors import CameraError, InputError, NoPersonError
from formcheck.live.session import MIN_WINDOW_S, LiveSession
from formcheck.live.stream import LatestFrame, StreamClock
from formcheck.live.window import run_camera_window


@dataclass
class Fed:
    cadence_at: dict  # seconds fed -> rolling cadence
    buffered: list  # rolling-window size after each frame
    recorded: list
    limits: tuple
    annotated_changed: bool
    stats: object
    summary: object
    panel_lines: list


@pytest.fixture(scope="module")
def fed_session() -> Fed:
    """The whole 12 s clip through one LiveSession at exact 30 fps timestamps (analysis inline)."""
    if not TREADMILL.exists():
        pytest.fail(f"missing test clip {TREADMILL}: ../shared/videos must sit beside the repo")
    from formcheck.io.video import VideoFile

    cadence_at, buffered, recorded = {}, [], []
    changed = False
    with VideoFile(TREADMILL) as video, LiveSession(max_session_s=5.0) as session:
        for frame in video:
            original = frame.bgr.copy()
            out = session.process(frame.bgr, frame.index * 1000.0 / 30.0)
            # the skeleton on the picture, the cue panel beside it
            assert out.shape[0] == original.shape[0] and out.shape[1] > original.shape[1]
            changed = changed or not np.array_equal(out[:, :original.shape[1]], original)
            buffered.append(session.buffered)
            recorded.append(session.recorded)
            if (frame.index + 1) % 15 == 0:
                cadence_at[(frame.index + 1) / 30.0] = session.snapshot().cadence_spm
        stats = session.snapshot()
        summary = session.summary()
        limits = session.buffer_limits
    return Fed(cadence_at, buffered, recorded, limits, changed, stats, summary, stats.lines())


@pytest.mark.slow
def test_rolling_cadence_appears_and_is_right_after_8_s(fed_session):
    early = {t: c for t, c in fed_session.cadence_at.items() if t < MIN_WINDOW_S}
    assert all(c is None for c in early.values()), "no verdicts before the warm-up window is full"
    late = {t: c for t, c in fed_session.cadence_at.items() if t >= 8.0}
    assert late and all(c is not None for c in late.values())
    for t, cadence in late.items():
        assert cadence == pytest.approx(TREADMILL_CADENCE, rel=0.05), f"rolling cadence at {t:.1f} s"


@pytest.mark.slow
def test_buffers_stay_bounded(fed_session):
    window_max, record_max = fed_session.limits
    # The rolling window holds the last 10 s (300 frames at 30 fps) however long the stream runs.
    assert max(fed_session.buffered) <= 10 * 30 + 1 <= window_max
    assert fed_session.buffered[-1] == fed_session.buffered[-60]  # flat once full
    # The session record is capped too (5 s here, at most 60 fps).
    assert max(fed_session.recorded) <= record_max == 5 * 60 + 1
    assert fed_session.recorded[-1] == record_max  # full, and no longer growing


@pytest.mark.slow
def test_frames_are_annotated_with_stats(fed_session):
    assert fed_session.annotated_changed
    s = fed_session.stats
    assert s.frames == 360 and s.detected
    assert s.fps > 0 and s.latency_ms > 0
    assert s.trunk_lean_deg is not None and s.elbow_angle_deg is not None
    assert s.strikes and all(x.split()[0] in "LR" for x in s.strikes)
    assert any(line.startswith("cadence ") for line in fed_session.panel_lines)


@pytest.mark.slow
def test_summary_judges_the_session_with_the_same_rules(fed_session):
    report = fed_session.summary
    assert report.video.live is True and report.video.frames <= 301
    assert report.cadence_spm == pytest.approx(TREADMILL_CADENCE, rel=0.05)
    assert report.direction == "forward"  # the clip is forward running, live or not
    assert {f.id for f in report.rules} >= {"cadence", "trunk_lean", "elbow_angle", "direction"}
    assert set(report.to_dict()) >= {"formcheck_version", "video", "rules", "score", "contacts"}


@pytest.mark.slow
def test_a_runner_facing_right_is_shown_to_the_model_mirrored_as_in_clip_analysis(fed_session):
    """The pose model is not mirror-symmetric (7 degrees of elbow on this runner): live, like a clip,
    shows it every runner facing left, so filming from either side gives the same numbers."""
    import cv2

    from formcheck.io.video import VideoFile

    with VideoFile(TREADMILL) as video, LiveSession(max_session_s=5.0) as session:
        for frame in video:
            session.process(cv2.flip(frame.bgr, 1), frame.index * 1000.0 / 30.0, draw=False)
        mirrored = session.summary()
    assert mirrored.runner.facing == "right" and fed_session.summary.runner.facing == "left"
    elbow, elbow_m = (r.metrics.elbow_angle_deg.median for r in (fed_session.summary, mirrored))
    assert abs(elbow - elbow_m) <= 1.5
    assert mirrored.cadence_spm == pytest.approx(fed_session.summary.cadence_spm, rel=0.02)


@pytest.mark.slow
def test_rolling_cadence_survives_dropped_frames():
    """A busy machine processes only the newest frame: about 15 of 30 fps, irregularly spaced."""
    from formcheck.io.video import VideoFile

    steps = [1, 2, 3, 2, 1, 3, 2, 2]  # camera frames between processed ones: mean 2 -> 15 fps
    cadences = []
    with VideoFile(TREADMILL) as video, LiveSession() as session:
        next_index, k = 0, 0
        for frame in video:
            if frame.index != next_index:
                continue  # dropped: a newer frame arrived while the last one was processed
            next_index += steps[k % len(steps)]
            k += 1
            session.process(frame.bgr, frame.index * 1000.0 / 30.0)
            if frame.index >= 8 * 30:
                cadences.append(session.snapshot().cadence_spm)
    assert 0.45 < k / 360 < 0.55
    assert cadences and all(c is not None for c in cadences)
    assert np.median(cadences) == pytest.approx(TREADMILL_CADENCE, rel=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("every", [2, 3])
def test_pose_on_every_nth_frame_only_for_a_slow_computer(every):
    """``pose_every=N`` runs the pose model on one frame in N: every frame is still shown (with
    the last pose drawn), the panel says so, and the rolling cadence stays right."""
    from formcheck.io.video import VideoFile
    from formcheck.pose import PoseEstimator

    calls = []

    class CountingEstimator(PoseEstimator):
        def detect(self, bgr, t_ms):
            calls.append(t_ms)
            return super().detect(bgr, t_ms)

    cadences, shown = [], 0
    with CountingEstimator(live=True, num_poses=1) as estimator, VideoFile(TREADMILL) as video, \
            LiveSession(estimator=estimator, pose_every=every) as session:
        for frame in video:
            out = session.process(frame.bgr, frame.index * 1000.0 / 30.0)
            shown += out.shape[1] > frame.bgr.shape[1]  # the panel beside every frame
            if frame.index >= 8 * 30:
                cadences.append(session.snapshot().cadence_spm)
        lines = session.snapshot().lines()
    assert shown == 360
    assert len(calls) == -(-360 // every)  # one frame in N, from the first
    assert f"pose 1 frame in {every}" in lines[0]
    assert cadences and all(c is not None for c in cadences)
    assert np.median(cadences) == pytest.approx(TREADMILL_CADENCE, rel=0.05)


def test_pose_every_must_be_a_small_whole_number():
    for bad in (0, 4, 1.5):
        with pytest.raises(ValueError, match="pose_every"):
            LiveSession(pose_every=bad)


def test_resampling_keeps_a_regular_series_and_fills_short_gaps_only():
    from formcheck.engine import resample_uniform
    from formcheck.pose import PoseSeries

    t = np.array([0, 33.3, 100, 133.3, 166.7, 600, 633.3])  # one 67 ms gap, one 433 ms gap
    xy = np.repeat(t[:, None, None], 33, axis=1).repeat(2, axis=2) * 0.1
    series = PoseSeries(xy, np.ones((len(t), 33)), t, np.arange(len(t)), 64, 48)
    out = resample_uniform(series)
    assert np.allclose(np.diff(out.t_ms), 1000 / 30)
    assert np.allclose(out.xy[:6, 0, 0], out.t_ms[:6] * 0.1)  # linear across the short gap
    inside_long_gap = (out.t_ms > 200) & (out.t_ms < 590)
    assert inside_long_gap.any() and not out.detected[inside_long_gap].any()


@pytest.mark.slow
def test_no_runner_means_no_verdicts_and_a_clear_summary_error():
    blank = np.zeros((240, 320, 3), np.uint8)
    with LiveSession() as session:
        for i in range(30):
            out = session.process(blank.copy(), i * 33.3)
        assert session.rolling is None
        assert not session.snapshot().detected
        assert out.any()  # the panel is still drawn ("no runner in view")
        with pytest.raises(NoPersonError, match="side-on"):
            session.summary()


def test_stream_clock_is_monotonic_and_measures_lag():
    clock = StreamClock()
    t0, lag0 = clock.stamp(100.0, now=50.0)
    t1, lag1 = clock.stamp(100.5, now=50.5)
    assert (t0, t1) == (0.0, 500.0) and lag0 == 0.0 and lag1 == 0.0
    t2, lag2 = clock.stamp(101.0, now=51.3)  # processed 300 ms later than the camera clock says
    assert t2 == 1000.0 and lag2 == pytest.approx(300.0)
    t3, _ = clock.stamp(5.0, now=51.4)  # stream restarted: time still goes forward
    assert t3 > t2
    t4, lag4 = clock.stamp(None, now=51.5)
    assert t4 > t3 and lag4 is None


def test_latest_frame_drops_stale_frames():
    def fast_source():
        for i in range(50):
            time.sleep(0.002)
            yield i

    grabber = LatestFrame(fast_source())
    got = []
    while True:
        item = grabber.get(timeout=1.0)
        if item is None:
            break
        got.append(item)
        time.sleep(0.03)  # a slow consumer, like pose estimation
    grabber.stop()
    assert got[-1] == 49  # the newest frame always gets through
    assert got == sorted(got) and len(got) < 50
    assert grabber.dropped == 50 - len(got)


def test_camera_window_without_camera_is_a_camera_error():
    with pytest.raises(CameraError, match="No camera found at index 97"):
        run_camera_window(97, show=False, save_history=False)


def test_camera_window_needs_a_display(monkeypatch):
    import sys

    from formcheck.io.video import Frame

    if not sys.platform.startswith("linux"):
        pytest.skip("display detection is Linux-only")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    closed = []

    class OneFrameCamera:
        def __init__(self, index, width, height):
            pass

        def __iter__(self):
            yield Frame(index=0, t_ms=0.0, bgr=np.zeros((48, 64, 3), np.uint8))

        def close(self):
            closed.append(True)

    with pytest.raises(InputError, match="display"):
        run_camera_window(0, show=True, camera_factory=OneFrameCamera)
    assert closed, "the camera is released"


@pytest.mark.slow
def test_camera_window_runs_a_fake_camera_and_returns_none_without_runner(tmp_path):
    from formcheck.io.video import Frame

    class FakeCamera:
        def __init__(self, index, width, height):
            self.closed = False

        def __iter__(self):
            for i in range(20):
                yield Frame(index=i, t_ms=i * 33.3, bgr=np.full((240, 320, 3), 40, np.uint8))

        def close(self):
            self.closed = True

    seen = []
    report = run_camera_window(0, show=False, camera_factory=FakeCamera, history_path=tmp_path / "h.sqlite",
                               on_frame=lambda bgr, stats: seen.append(stats.frames))
    assert report is None  # nobody in view: nothing to judge, nothing saved
    assert seen and seen == sorted(seen)
    assert not (tmp_path / "h.sqlite").exists()


def test_live_checks_are_bounded_and_a_closed_tab_still_saves_and_closes(tmp_path):
    """One slot: a second live check is told the server is busy; the camera track ending (STOP or a
    closed tab, which never runs the page again) saves the summary and frees the landmarker and the slot."""
    from formcheck.app.turns import Slots
    from formcheck.app.webrtc import LiveHolder
    from formcheck.io.video import VideoFile
    from formcheck.outputs.history import History

    slots, history = Slots(1), History(tmp_path / "h.sqlite")
    first, second = LiveHolder(), LiveHolder()
    for holder in (first, second):
        holder.slots, holder.history = slots, history
    session = first.ensure()
    assert session is not None and second.ensure() is None
    assert "already running 1 live check" in second.error
    with VideoFile(TREADMILL, max_frames=180) as video:
        for frame in video:
            session.process(frame.bgr, frame.t_ms)
    first.on_ended()  # the tab was closed: no page run follows
    report, message = first.last
    assert report is not None and message.startswith("Saved to history as session")
    assert [s["kind"] for s in history.list_sessions()] == ["live"]
    assert session.closed and session._estimator._landmarker is None  # the model is freed now
    second.accepting = True  # START again
    assert second.ensure() is not None  # the slot is free again
    second.finish()
