"""Interval segmentation on a stitched analytic session with known boundaries."""

from __future__ import annotations

import numpy as np
import pytest
from landmark_gait import Gait2D, make_series

from formcheck import pose as P
from formcheck.intervals import segment
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
