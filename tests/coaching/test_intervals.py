"""Interval segmentation on a stitched analytic session with known boundaries."""

from __future__ import annotations

import numpy as np
import pytest
from support.landmark_gait import Gait2D, make_series

from formcheck import pose as P
from formcheck.coaching.coach import plan_minutes
from formcheck.coaching.intervals import IntervalTimer, activity_check, plan_phases, segment, timer_state
from formcheck.pose import PoseSeries

FPS = 30.0
WALK = dict(cadence=110.0, duty=0.62, step_length_leg=0.45, bounce_leg=0.03)


def standing(duration_s: float) -> PoseSeries:
    """A runner standing still: both feet flat under the hips, tiny sway."""
    s = make_series(Gait2D(fps=FPS, duration_s=duration_s))
    xy = s.xy.copy()
    hip_x = xy[:, P.LEFT_HIP, 0]
    for hip_i, knee_i, ankle_i, heel_i, toe_i in [
            (P.LEFT_HIP, P.LEFT_KNEE, P.LEFT_ANKLE, P.LEFT_HEEL, P.LEFT_TOE),
            (P.RIGHT_HIP, P.RIGHT_KNEE, P.RIGHT_ANKLE, P.RIGHT_HEEL, P.RIGHT_TOE)]:
        ground = 900.0 - 0.06 * 200
        xy[:, ankle_i] = np.stack([hip_x, np.full(len(xy), ground)], axis=1)
        xy[:, hip_i, 1] = ground - 200.0
        xy[:, knee_i] = np.stack([hip_x - 0.02 * 200, np.full(len(xy), ground - 100.0)], axis=1)
        xy[:, heel_i] = xy[:, ankle_i] + [0.08 * 200, 0.02 * 200]  # facing -1: heel to the right
        xy[:, toe_i] = xy[:, ankle_i] + [-0.22 * 200, 0.05 * 200]
    rng = np.random.default_rng(0)
    xy += rng.normal(0, 0.5, xy.shape)
    return PoseSeries(xy, s.visibility, s.t_ms, s.frame_index, s.width, s.height)


def stitch(parts: list[PoseSeries]) -> tuple[PoseSeries, list[float]]:
    """Concatenate series end to end with continuous timestamps; returns the true boundaries (s)."""
    xy, vis, t, bounds, offset = [], [], [], [], 0.0
    for p in parts:
        xy.append(p.xy)
        vis.append(p.visibility)
        t.append(p.t_ms - p.t_ms[0] + offset)
        offset = t[-1][-1] + 1000.0 / FPS
        bounds.append(offset / 1000.0)
    n = sum(len(p) for p in parts)
    return (PoseSeries(np.concatenate(xy), np.concatenate(vis), np.concatenate(t), np.arange(n),
                       parts[0].width, parts[0].height), bounds[:-1])


@pytest.fixture(scope="module")
def session():
    parts = [make_series(Gait2D(fps=FPS, duration_s=12.0, **WALK)),  # walk backwards
             make_series(Gait2D(fps=FPS, duration_s=10.0)),  # jog backwards
             make_series(Gait2D(fps=FPS, duration_s=12.0, backward=False, **WALK)),  # walk forwards
             standing(8.0)]
    return stitch(parts)


def test_each_boundary_is_found_within_one_second(session):
    pose, bounds = session
    segs = segment(pose)
    kinds = [s.kind for s in segs]
    assert kinds == ["walk_backward", "run_backward", "walk_forward", "stand"], kinds
    for seg, truth in zip(segs[1:], bounds):
        assert seg.start_s == pytest.approx(truth, abs=1.0)
    assert segs[0].start_s == pytest.approx(0.0) and segs[-1].end_s == pytest.approx(pose.t_s[-1])
    assert segs[1].cadence_spm == pytest.approx(180, abs=10)


def test_turning_round_to_walk_forwards_and_standing_in_between():
    pose, bounds = stitch([make_series(Gait2D(fps=FPS, duration_s=9.0)),
                           make_series(Gait2D(fps=FPS, duration_s=15.0, **WALK)),
                           standing(6.0),
                           make_series(Gait2D(fps=FPS, duration_s=8.0, facing=1, backward=False, **WALK))])
    segs = segment(pose)
    assert [s.kind for s in segs] == ["run_backward", "walk_backward", "stand", "walk_forward"]
    for seg, truth in zip(segs[1:], bounds):
        assert seg.start_s == pytest.approx(truth, abs=1.0)
    for a, b in zip(segs[:-1], segs[1:]):
        assert a.end_s == b.start_s and a.end_frame == b.start_frame


def test_a_single_activity_is_one_segment():
    segs = segment(make_series(Gait2D(fps=FPS, duration_s=8.0)))
    assert [s.kind for s in segs] == ["run_backward"]


# ---------------------------------------------------------------------------
# The live interval timer: the beginner plan as a function of elapsed time (fake clock)


class FakeClock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_the_timer_follows_the_beginner_plan():
    phases = plan_phases(rounds=4)
    assert [p.activity for p in phases[:5]] == ["walk backwards", "jog backwards", "walk forwards",
                                                "run backwards", "walk forwards"]
    assert [p.duration_s for p in phases[:5]] == [300, 30, 60, 20, 60]
    assert len(phases) == 1 + 4 * 4 and len(plan_phases(rounds=5)) == 1 + 4 * 5
    assert phases[-1].end_s == pytest.approx(300 + 4 * 170)  # warm-up + 4 rounds of 170 s
    assert phases[-1].end_s / 60 == pytest.approx(plan_minutes()[0], abs=0.05)  # the plan the report shows
    assert {p.kind for p in phases} == {"walk_backward", "run_backward", "walk_forward"}


def test_the_timer_on_a_fake_clock_announces_each_change_and_counts_down_to_it():
    clock = FakeClock()
    timer = IntervalTimer(rounds=4, clock=clock)
    timer.start()
    s = timer.state()
    assert s.headline() == "WALK BACKWARDS" and s.clock() == "5:00" and s.announcing
    assert "next: jog backwards 30 s" in s.detail()
    clock.t += 10.0
    s = timer.state()
    assert not s.announcing and s.clock() == "4:50"
    clock.t += 287.0  # 3 s before the first change: the next phase is counted down
    s = timer.state()
    assert s.counting_down and s.detail().startswith("in 3 s: JOG BACKWARDS")
    clock.t += 3.0  # the change itself
    s = timer.state()
    assert s.headline() == "JOG BACKWARDS" and s.announcing and s.clock() == "0:30"
    assert "round 1 of 4" in s.detail() and "next: walk forwards 1 min" in s.detail()
    clock.t += 30.5
    s = timer.state()
    assert s.headline() == "WALK FORWARDS" and s.announcing and s.time_left_s == pytest.approx(59.5)
    clock.t += 10_000
    s = timer.state()
    assert s.finished and s.headline() == "PLAN DONE" and "stretch" in s.detail()


def test_every_phase_change_is_announced_once_in_time_order():
    """Sampled every 0.5 s like a slow camera: each change shows up, at the right second."""
    phases = plan_phases(rounds=5)
    changes, last = [], None
    for t in np.arange(0, phases[-1].end_s + 5, 0.5):
        s = timer_state(phases, t)
        if s.index != last:
            changes.append((float(t), s.headline()))
            last = s.index
    assert [t for t, _ in changes] == [p.start_s for p in phases] + [phases[-1].end_s]
    assert changes[-1][1] == "PLAN DONE"


def test_the_timer_starts_at_its_first_reading_when_not_started():
    timer = IntervalTimer(clock=FakeClock(50.0))
    assert timer.state(now=120.0).elapsed_s == 0.0  # the first frame starts it
    assert timer.state(now=125.5).elapsed_s == pytest.approx(5.5)


def test_activity_check_compares_what_the_runner_does_with_the_phase():
    phases = plan_phases()
    early = timer_state(phases, 302.0)  # 2 s into "jog backwards": the rolling window still sees the walk
    assert activity_check(early, "backward", "walk") == (None, "")
    s = timer_state(phases, 315.0)
    assert activity_check(s, "backward", "run")[0] is True
    ok, words = activity_check(s, "backward", "walk")
    assert ok is False and "jog backwards" in words and "walking backwards" in words
    assert activity_check(s, "unclear", "run") == (None, "")
