"""The live interval timer inside LiveSession: drawn on the picture, following stream time,
and checked against what the runner does (fake pose estimator, analytic runners, no model)."""

from __future__ import annotations

import numpy as np
import pytest
from support.landmark_gait import Gait2D, make_series

from formcheck.coaching.intervals import IntervalTimer
from formcheck.live.session import TIMER_BAND_SHARE, LiveSession

W, H = 320, 500


class ScriptedEstimator:
    """Stands in for PoseEstimator: returns the analytic runner's pose for each frame in turn."""

    def __init__(self, series=None):
        self.rows = None
        if series is not None:  # fit the 10000 px analytic stage into a small frame
            xy = (series.xy - [4850.0, 400.0]) * 0.5
            self.rows = np.concatenate([xy, series.visibility[..., None]], axis=2)
        self.i = 0

    def detect(self, bgr, t_ms):
        if self.rows is None or self.i >= len(self.rows):
            return np.zeros((0, 33, 3))
        row = self.rows[self.i]
        self.i += 1
        return row[None]


def feed(session: LiveSession, seconds: list[float]) -> list[np.ndarray]:
    return [session.process(np.full((H, W, 3), 90, np.uint8), t * 1000.0) for t in seconds]


def test_the_timer_band_sits_above_the_picture_and_changes_with_the_phase():
    timer = IntervalTimer(rounds=4)
    with LiveSession(estimator=ScriptedEstimator(), interval_timer=timer) as session:
        outs = feed(session, [1000.0, 1100.0, 1298.0, 1300.5])  # stream time starts anywhere
    band = int(TIMER_BAND_SHARE * H)
    for out in outs:
        assert out.shape[0] == H + band  # above the picture: it never hides the runner
    _, mid, before, after = outs
    s = session.snapshot().timer
    assert s.headline() == "JOG BACKWARDS" and s.announcing
    # the band's colour and text change at the phase change; the picture below is untouched
    assert not np.array_equal(before[:band], after[:band])
    assert np.array_equal(before[band:, :W], after[band:, :W])
    # announcing: the band lights up (brighter than the steady band of the same phase later)
    assert after[:band].mean() > mid[:band].mean()


def test_timer_text_is_big_enough_to_read_from_a_treadmill():
    """The phase name's letters are at least a tenth of the picture height tall."""
    with LiveSession(estimator=ScriptedEstimator(), interval_timer=IntervalTimer()) as session:
        out = feed(session, [0.0, 20.0])[-1]
    band = out[: int(TIMER_BAND_SHARE * H)]
    white = (band.min(axis=2) > 235)
    rows = np.flatnonzero(white[:, : band.shape[1] // 2].any(axis=1))  # the headline, left half
    first_line = rows[rows < 0.6 * len(band)]
    assert first_line.max() - first_line.min() >= 0.1 * H
    assert (band.max(axis=2) < 20).sum() > white.sum() * 0.3  # dark rims keep the letters readable


def test_overlay_panel_draws_the_timer_over_the_top_of_the_frame():
    with LiveSession(estimator=ScriptedEstimator(), interval_timer=IntervalTimer(), panel="overlay") as session:
        out = feed(session, [0.0])[0]
    assert out.shape == (H, W, 3)
    assert not (out[: int(TIMER_BAND_SHARE * H)] == 90).all()


def test_the_timer_can_be_switched_on_and_off_during_a_session():
    with LiveSession(estimator=ScriptedEstimator()) as session:
        assert feed(session, [0.0])[0].shape[0] == H
        session.set_interval_timer(IntervalTimer(rounds=5))
        feed(session, [10.0, 40.0])
        assert session.snapshot().timer.elapsed_s == pytest.approx(30.0)  # started with its first frame
        assert session.snapshot().timer.rounds == 5
        session.set_interval_timer(None)
        assert feed(session, [41.0])[0].shape[0] == H and session.snapshot().timer is None


@pytest.mark.parametrize("gait, expected", [
    (dict(cadence=110.0, duty=0.62, step_length_leg=0.45, bounce_leg=0.03), True),  # walks backwards: on plan
    (dict(), False),  # jogs backwards during the walk-backwards warm-up
])
def test_live_gait_is_compared_with_what_the_phase_asks(gait, expected):
    series = make_series(Gait2D(fps=30.0, duration_s=12.0, **gait))
    with LiveSession(estimator=ScriptedEstimator(series), interval_timer=IntervalTimer()) as session:
        feed(session, list(series.t_s))
        s = session.snapshot()
    assert s.timer.headline() == "WALK BACKWARDS"
    assert s.on_plan is expected
    assert ("on plan" in s.plan_check) if expected else ("the plan says walk backwards" in s.plan_check)


def test_cli_live_intervals_flag_reaches_the_camera_window(monkeypatch):
    from formcheck.cli import main
    from formcheck.live import window

    seen = {}
    monkeypatch.setattr(window, "run_camera_window", lambda *a, **kw: seen.update(kw))
    assert main(["live", "--intervals", "--no-history"]) == 0
    assert seen["interval_rounds"] == 4
    assert main(["live", "--intervals", "5"]) == 0 and seen["interval_rounds"] == 5
    assert main(["live"]) == 0 and seen["interval_rounds"] is None


def test_a_live_session_keeps_small_skeleton_stills_for_the_history(tmp_path):
    import cv2

    from formcheck.outputs.history import History
    from formcheck.outputs.render import KEY_NEAR_BGR

    series = make_series(Gait2D(fps=30.0, duration_s=12.0))
    with LiveSession(estimator=ScriptedEstimator(series)) as session:
        feed(session, list(series.t_s))
        frames = session.key_frames()
        report = session.summary()
    assert 1 <= len(frames) <= 3  # one while judging, then one every 30 s
    caption, jpeg = frames[0]
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[1] == W and len(jpeg) < 60_000
    assert (np.abs(img.astype(int) - KEY_NEAR_BGR).sum(axis=2) < 80).sum() > 200  # the skeleton is on it
    sid = History(tmp_path / "h.sqlite").save(report, "camera 0", kind="live", key_frames=frames)
    assert History(tmp_path / "h.sqlite").key_frames(sid)[0][0] == caption
