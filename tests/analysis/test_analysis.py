"""Kinematics, gait events and rules on analytic landmark series with exact truth."""

from __future__ import annotations

import numpy as np
import pytest
from support.landmark_gait import Gait2D, make_series

from formcheck.analysis import kinematics as K
from formcheck.analysis.gait import SceneryMotion
from formcheck.config import Thresholds
from formcheck.outputs.report import VideoRecord
from formcheck.pipeline import analyse_pose


def analyse(**kw):
    g = Gait2D(**kw)
    report, evidence = analyse_pose(make_series(g), VideoRecord(path="synthetic"))
    return g, report, evidence


# --- geometry -------------------------------------------------------------

def test_interior_angle_of_a_right_angle_and_a_straight_line():
    a, b = np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([[1.0, 0.0], [1.0, 0.0]])
    c = np.array([[1.0, 1.0], [2.0, 0.0]])
    assert K.interior_angle(a, b, c) == pytest.approx([90.0, 180.0])


@pytest.mark.parametrize("facing", [1, -1])
def test_trunk_lean_is_positive_when_shoulders_are_ahead_in_the_facing_direction(facing):
    g, _, ev = analyse(facing=facing, lean_deg=12.0)
    assert np.nanmedian(ev.trunk_lean) == pytest.approx(12.0, abs=0.5)
    _, _, ev_back = analyse(facing=facing, lean_deg=-6.0)
    assert np.nanmedian(ev_back.trunk_lean) == pytest.approx(-6.0, abs=0.5)


def test_fill_gaps_fills_short_interior_gaps_only():
    x = np.array([0.0, np.nan, 2.0, np.nan, np.nan, np.nan, 6.0, np.nan])
    filled = K.fill_gaps(x, max_gap=2)
    assert filled[1] == pytest.approx(1.0)
    assert np.isnan(filled[3:6]).all() and np.isnan(filled[7])


def test_swapped_legs_are_repaired():
    pose = make_series(Gait2D())
    xy = pose.xy.copy()
    swapped = xy.copy()
    legs_l, legs_r = K.LEG_POINTS["left"], K.LEG_POINTS["right"]
    swapped[100:103, legs_l], swapped[100:103, legs_r] = xy[100:103, legs_r], xy[100:103, legs_l]  # a brief flicker, as the model does
    repaired = K.repair_swaps(swapped)
    assert np.allclose(repaired[95:115], xy[95:115], equal_nan=True)


# --- gait events ----------------------------------------------------------

@pytest.mark.parametrize("facing", [1, -1])
@pytest.mark.parametrize("backward", [True, False])
@pytest.mark.parametrize("treadmill", [True, False])
def test_direction_setting_and_facing(facing, backward, treadmill):
    _, report, _ = analyse(facing=facing, backward=backward, treadmill=treadmill)
    assert report.direction == ("backward" if backward else "forward")
    assert report.setting == ("treadmill" if treadmill else "overground")
    assert report.runner.facing == ("right" if facing > 0 else "left")


def _beyond_chance(speed_px_s: float) -> SceneryMotion:
    return SceneryMotion(speed_px_s, one_way=True, beyond_chance=True)


@pytest.mark.parametrize("backward", [True, False])
@pytest.mark.parametrize("passing_leg_s, setting", [(-1.0, "overground"), (1.0, "treadmill"), (0.0, "treadmill")])
def test_only_scenery_passing_against_travel_makes_a_still_runner_overground(backward, passing_leg_s, setting):
    """Hips still in the picture: a camera following an overground runner sees the scenery pass
    against the travel; scenery moving along the travel is a camera wandering beside a treadmill."""
    g = Gait2D(backward=backward, treadmill=True)
    report, _ = analyse_pose(make_series(g), VideoRecord(path="synthetic"),
                             scenery=lambda pose, leg: _beyond_chance(passing_leg_s * g.travel * g.leg_px))
    assert report.setting == setting


@pytest.mark.parametrize("passing_leg_s, beyond_chance, setting", [
    (2.0, False, "overground"),  # the ground slides by as fast as the stance foot (2.1 L/s): a pan
    (0.2, False, "treadmill"),  # a few pairs off a plain wall, leaning one way by luck
    (0.2, True, "overground"),  # far scenery past a camera travelling alongside
])
def test_a_few_pairs_make_a_still_runner_overground_only_with_the_ground_passing(passing_leg_s, beyond_chance,
                                                                                 setting):
    g = Gait2D(treadmill=True)
    motion = SceneryMotion(-passing_leg_s * g.travel * g.leg_px, one_way=True, beyond_chance=beyond_chance)
    report, _ = analyse_pose(make_series(g), VideoRecord(path="synthetic"), scenery=lambda pose, leg: motion)
    assert report.setting == setting


@pytest.mark.parametrize("speed_leg_s, gait_type", [(7.0, "run"), (3.0, "unknown")])
def test_too_few_steps_for_a_rhythm_but_too_fast_through_the_scene_to_walk_is_a_run(speed_leg_s, gait_type):
    """A runner crossing the frame in under a stride: no cadence, but at 7 leg lengths a second
    through the world no one walks (a Froude number far above 1); 3 L/s could be a brisk walk."""
    g = Gait2D(duration_s=0.7, treadmill=False)
    report, _ = analyse_pose(make_series(g), VideoRecord(path="synthetic"),
                             scenery=lambda pose, leg: _beyond_chance(-speed_leg_s * g.travel * g.leg_px))
    assert report.direction == "backward" and report.cadence_spm is None
    assert report.gait_type == gait_type
    assert report.rule("arm_leg_opposition").status == "unknown", "no steady steps to compare the arms with"
    assert report.score is None


@pytest.mark.parametrize("fps", [30, 60, 120])
@pytest.mark.parametrize("cadence", [150, 180, 200])
def test_contacts_match_truth_within_one_frame(fps, cadence):
    g, report, _ = analyse(fps=fps, cadence=cadence)
    for foot in ("left", "right"):
        truth = g.contact_times(foot)
        truth = truth[(truth > 0.05) & (truth < g.duration_s - 0.12)]  # a stance needs a few frames to be seen
        found = np.array([c.time_s for c in report.contacts if c.foot == foot])
        assert len(found) == len(truth), foot
        assert np.abs(found - truth).max() <= 1.0 / fps + 1e-3  # times are rounded to 0.1 ms


@pytest.mark.parametrize("cadence", [150, 172, 200])
def test_cadence_and_step_length(cadence):
    g, report, _ = analyse(cadence=cadence, step_length_leg=0.8)
    assert report.cadence_spm == pytest.approx(cadence, rel=0.01)
    assert report.metrics.step_length_leg.median == pytest.approx(0.8, rel=0.1)


def test_walking_is_reported_as_walking_and_not_judged_on_cadence():
    _, report, _ = analyse(duty=0.62, cadence=110, step_length_leg=0.6)
    assert report.gait_type == "walk"
    assert report.rule("cadence").status == "unknown"


# --- rules ----------------------------------------------------------------

@pytest.mark.parametrize("strike_pitch, expected", [(15.0, "pass"), (-18.0, "fail")])
def test_forefoot_versus_heel_strike(strike_pitch, expected):
    _, report, _ = analyse(strike_pitch_deg=strike_pitch, fps=60)
    assert report.rule("forefoot_contact").status == expected


@pytest.mark.parametrize("elbow, expected", [(90.0, "pass"), (120.0, "caution"), (160.0, "fail")])
def test_elbow_angle_verdicts(elbow, expected):
    _, report, _ = analyse(elbow_deg=elbow)
    finding = report.rule("elbow_angle")
    assert finding.value == pytest.approx(elbow, abs=3.0)
    assert finding.status == expected


@pytest.mark.parametrize("lean, expected", [(8.0, "pass"), (1.0, "caution"), (-5.0, "fail"), (25.0, "fail")])
def test_trunk_lean_verdicts(lean, expected):
    _, report, _ = analyse(lean_deg=lean)
    assert report.rule("trunk_lean").status == expected


def test_long_slow_steps_fail_step_length_and_cadence():
    _, report, _ = analyse(cadence=150, step_length_leg=1.25)
    assert report.rule("step_length").status == "fail"
    assert report.rule("cadence").status == "fail"


def test_good_backward_jog_scores_well_and_passes_the_core_cues():
    _, report, _ = analyse()
    for rule_id in ("direction", "trunk_lean", "elbow_angle", "arm_leg_opposition", "cadence", "step_length",
                    "forefoot_contact", "heel_drag"):
        assert report.rule(rule_id).status == "pass", rule_id
    assert report.score >= 80


def test_threshold_overrides_change_the_verdict():
    g = Gait2D(cadence=172)
    strict = Thresholds(cadence_pass=180.0, cadence_caution=175.0)
    report, _ = analyse_pose(make_series(g), VideoRecord(path="x"), strict)
    assert report.rule("cadence").status == "fail"


def test_findings_point_at_frames_that_show_them():
    _, report, _ = analyse(elbow_deg=160.0)
    frames = report.rule("elbow_angle").frames
    assert frames and all(0 <= f < 360 for f in frames)


# --- slow motion, walk or run, and what can be scored ----------------------

@pytest.mark.parametrize("factor", [2.0, 4.0])
def test_a_slow_motion_run_is_flagged_never_called_a_walk(factor):
    # a 170 steps/min run filmed at factor x the playback rate: slow in clip time, flight phases intact
    _, report, _ = analyse(cadence=170.0 / factor, fps=240.0 / factor, duration_s=4.0 * factor,
                           step_length_leg=0.7, duty=0.38)
    assert report.gait_type == "run"
    assert report.video.slow_motion_suspected is True
    assert report.video.slow_motion_factor_estimate == pytest.approx(factor, rel=0.15)
    assert report.rule("cadence").status == "unknown" and "--slowmo" in report.rule("cadence").cue
    assert report.rule("contact_time").status == "unknown"
    assert any("slow-motion" in note and "--slowmo" in note for note in report.warnings)


@pytest.mark.parametrize("playback_fps, real_cadence, factor", [(30, 190, 4), (24, 150, 5), (50, 180, 2.4),
                                                               (30, 200, 8), (30, 160, 2)])
def test_the_slow_motion_factor_is_a_phone_capture_rate_over_the_playback_rate(playback_fps, real_cadence, factor):
    # 60-960 fps capture saved at 24-50 fps; any recreational running cadence gives the same factor
    from formcheck.analysis.gait import slow_motion_factor

    assert slow_motion_factor("run", real_cadence / factor, playback_fps) == factor


def _contacts_every(step_s: list[float]):
    from formcheck.analysis.contacts import Contact

    times = np.concatenate([[0.0], np.cumsum(step_s)])
    return [Contact("left" if i % 2 else "right", i, i, float(t), 0.3 * step_s[0], "flat", 0.0, 0.0)
            for i, t in enumerate(times)]


@pytest.mark.parametrize("steps, ramp", [
    ([0.35] * 6 + [1.4] * 8 + [0.35] * 6, 4.0),  # 120 fps saved at 30, real time at both ends
    ([0.3] * 6 + [2.4] * 6, 8.0),  # 240 fps
    ([0.6] * 8 + [0.33] * 8, None),  # a backward walk at 100 steps/min, then a jog at 180
    (list(0.35 + 0.04 * np.random.default_rng(1).standard_normal(20)), None),  # a steady run, jitter and all
    ([0.35] * 6 + [0.7] + [0.35] * 6, None),  # one contact missed
])
def test_a_speed_ramp_is_told_from_a_change_of_pace(steps, ramp):
    from formcheck.analysis.stride import speed_ramp_ratio

    assert speed_ramp_ratio(_contacts_every(steps)) == (None if ramp is None else pytest.approx(ramp, rel=0.1))


@pytest.mark.parametrize("lift_leg, reported", [(0.1, True), (0.35, False)])
def test_no_landing_is_reported_with_the_foot_in_the_air(lift_leg, reported):
    """A pose model that holds a foot well off the ground through a whole stance (a landmark jump
    at the frame's edge) gets no landing drawn in mid-air; a foot read a little high still lands,
    and the rhythm holds either way."""
    g = Gait2D(fps=30.0)
    pose = make_series(g)
    touch_down = g.contact_times("left")[4]
    stance = (pose.t_s >= touch_down - 0.05) & (pose.t_s <= touch_down + g.duty * 120.0 / g.cadence + 0.05)
    foot = [K.SIDE["left"]["heel"], K.SIDE["left"]["toe"]]
    pose.xy[np.ix_(np.flatnonzero(stance), foot, [1])] -= lift_leg * g.leg_px  # image y points down
    report, _ = analyse_pose(pose, VideoRecord(path="synthetic"))
    landed = [c for c in report.contacts if c.foot == "left" and abs(c.time_s - touch_down) < 0.1]
    assert bool(landed) is reported
    assert report.cadence_spm == pytest.approx(g.cadence, rel=0.01)


@pytest.mark.parametrize("jump_leg", [0.0, 0.3])
def test_a_landmark_jump_in_mid_stance_does_not_make_the_touch_down_late(jump_leg):
    """The pose model now and then throws a planted foot back for a frame or two (real footage: a
    walker's foot sliding at three times the walking speed). The touch-down is still found where
    the foot stopped, not where the jump was."""
    g = Gait2D(fps=60.0)
    pose = make_series(g)
    touch_down = g.contact_times("left")[4]
    jump = np.argmin(np.abs(pose.t_s - (touch_down + 0.6 * g.duty * 120.0 / g.cadence)))
    foot = [K.SIDE["left"]["heel"], K.SIDE["left"]["toe"]]
    pose.xy[np.ix_([jump, jump + 1], foot, [0])] -= g.travel * jump_leg * g.leg_px  # back, against travel
    report, _ = analyse_pose(pose, VideoRecord(path="synthetic"))
    landed = [c.time_s for c in report.contacts if c.foot == "left" and abs(c.time_s - touch_down) < 0.15]
    assert len(landed) == 1 and abs(landed[0] - touch_down) <= 2 / g.fps + 1e-3


def _contact(foot: str, t: float):
    from formcheck.analysis.contacts import Contact

    frame = int(round(t * 30))
    return Contact(foot, frame, frame + 6, t, 0.2, "flat", 0.0, 0.0)


@pytest.mark.parametrize("anchored_left_s, stance_left_s, kept_s", [
    (0.15, 0.42, 0.42),  # the stance, midway between the right foot's landings, is the step
    (0.35, 0.58, 0.35),  # the anchored landing is the nearer midway: it stays
])
def test_one_step_seen_twice_counts_once(anchored_left_s, stance_left_s, kept_s):
    """A stance within most of a stride of the same foot's anchored landing is that step seen
    again (a landmark wobble made one of them), never a second landing: one step counts once."""
    from formcheck.analysis.contacts import _with_missed_stances

    anchored = [_contact("right", 0.0), _contact("left", anchored_left_s), _contact("right", 0.8)]
    stances = [_contact("left", stance_left_s), _contact("left", 1.2)]  # 1.2: a step the swing missed
    lefts = [c.time_s for c in _with_missed_stances(anchored, stances, stride_s=0.8) if c.foot == "left"]
    assert lefts == [kept_s, 1.2]


def test_a_real_time_run_and_a_walk_are_not_slow_motion():
    _, run, _ = analyse(cadence=150.0, duty=0.4)
    assert run.gait_type == "run" and run.video.slow_motion_suspected is False
    _, walk, _ = analyse(cadence=105.0, duty=0.62, step_length_leg=0.5, bounce_leg=0.03)
    assert walk.gait_type == "walk" and walk.video.slow_motion_suspected is False


def test_too_little_judged_is_not_scored():
    from formcheck.analysis.rules import Finding, score

    judged = [Finding("trunk_lean", "Lean", "pass", 8.0, "deg", "2-15", "ok"),
              Finding("elbow_angle", "Elbows", "pass", 90.0, "deg", "70-110", "ok")]
    unknowns = [Finding(i, i, "unknown", None, "", "", "not measured")
                for i in ("cadence", "step_length", "overreach", "forefoot_contact", "heel_drag",
                          "vertical_oscillation", "trunk_stability", "arm_leg_opposition", "head_check")]
    assert score(judged + unknowns) is None, "two passes and nine unknowns are not 100/100"
    assert score(judged) == 100
