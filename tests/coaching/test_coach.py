"""Coaching: ranked fixes, confidence, capture check and session guidance on analytic runners."""

from __future__ import annotations

import numpy as np
import pytest
from support.landmark_gait import Gait2D, make_series

from formcheck.analysis.rules import RULES, Finding
from formcheck.coaching.coach import MAX_FIXES, coach, plan_minutes, rank_fixes, session_guidance
from formcheck.cues import CUES
from formcheck.outputs.report import VideoRecord
from formcheck.pipeline import analyse_pose


def analysed(**kw):
    return analyse_pose(make_series(Gait2D(**kw)), VideoRecord(path="synthetic"))


@pytest.mark.parametrize("kw, expected", [
    (dict(lean_deg=-6.0), {"trunk_lean"}),
    (dict(elbow_deg=160.0), {"elbow_angle"}),
    (dict(strike_pitch_deg=-20.0), {"forefoot_contact"}),
    (dict(cadence=150.0, step_length_leg=1.3), {"cadence", "step_length"}),
])
def test_the_deliberate_fault_is_ranked_first(kw, expected):
    report, _ = analysed(**kw)
    fixes = report.coaching.fixes
    assert fixes and fixes[0].rule_id in expected
    assert fixes[0].status == "fail"
    assert fixes[0].why and fixes[0].drill and fixes[0].cue


def test_a_good_jog_has_no_fail_level_fixes():
    report, _ = analysed()
    assert not [f for f in report.coaching.fixes if f.status == "fail"]
    assert report.coaching.capture.ok


def _finding(rule_id, status, value):
    return Finding(rule_id, rule_id, status, value, "", "", "cue")


def test_at_most_three_fixes_one_per_body_part_and_no_descriptive_rules():
    findings = [_finding("trunk_lean", "fail", -10.0), _finding("trunk_stability", "fail", 20.0),
                _finding("elbow_angle", "fail", 165.0), _finding("arm_leg_opposition", "caution", 0.2),
                _finding("cadence", "fail", 140.0), _finding("step_length", "fail", 1.4),
                _finding("head_check", "fail", 0.0), _finding("direction", "fail", 0.4),
                _finding("contact_time", "caution", 0.5)]
    fixes = rank_fixes(findings)
    assert len(fixes) == MAX_FIXES
    parts = [f.body_part for f in fixes]
    assert len(set(parts)) == len(parts)
    assert all(CUES[f.rule_id].body_part for f in fixes)  # never a descriptive cue
    assert [f.priority for f in fixes] == sorted([f.priority for f in fixes], reverse=True)


def test_farther_outside_the_band_ranks_higher_and_low_confidence_ranks_lower():
    mild, bad = _finding("elbow_angle", "caution", 115.0), _finding("trunk_lean", "caution", 19.0)
    assert [f.rule_id for f in rank_fixes([mild, bad])] == ["trunk_lean", "elbow_angle"]
    ranked = rank_fixes([mild, bad], confidence={"trunk_lean": 0.1, "elbow_angle": 1.0})
    assert ranked[0].rule_id == "elbow_angle"


def test_every_rule_has_one_cue_description_and_every_fix_has_advice():
    assert [rule.__name__ for rule in RULES] == list(CUES)
    fixable = [c for c in CUES.values() if c.body_part]
    assert all(c.why and c.drill and c.outside for c in fixable)
    drills = " ".join(c.drill for c in fixable).lower()
    for word in ["lunges", "calf raises", "hip bridges", "planks", "side planks", "russian twists"]:
        assert word in drills


def test_confidence_drops_with_low_visibility_and_low_frame_rate():
    _, ev60 = analysed()
    report30, _ = analysed(fps=30.0)
    base = coach([], ev60).to_dict()
    assert base["capture"]["ok"]
    pose = ev60.pose
    dim = pose.visibility.copy()
    dim[:, 29:33] = 0.4  # heels and toes hard to see
    from dataclasses import replace
    ev_dim = replace(ev60, pose=replace(pose, visibility=dim))
    rep60, _ = analysed()
    c60 = rep60.coaching.confidence
    c_dim = coach(rep60.rules, ev_dim).confidence
    assert c_dim["forefoot_contact"] < 0.5 * c60["forefoot_contact"]
    assert c_dim["trunk_lean"] == pytest.approx(c60["trunk_lean"])
    assert report30.coaching.confidence["forefoot_contact"] < c60["forefoot_contact"]
    assert any("60 fps" in tip for tip in report30.coaching.capture.tips)


def test_capture_check_flags_an_oblique_camera():
    from dataclasses import replace
    _, ev = analysed()
    xy = ev.pose.xy.copy()
    # runner coming toward the camera: the image grows over the clip about the hips
    scale = np.linspace(0.7, 1.3, len(xy))[:, None, None]
    centre = np.nanmean(xy[:, [23, 24]], axis=1, keepdims=True)
    oblique = replace(ev, pose=replace(ev.pose, xy=centre + (xy - centre) * scale))
    tips = coach([], oblique).capture.tips
    assert any("side on" in t for t in tips)


def test_session_guidance_and_the_beginner_plan():
    g = session_guidance()
    assert g["sessions_per_week"] == [1, 2] and g["minutes"] == [10, 15] and g["build_to_minutes"] == 20
    assert not g["notes"]
    assert session_guidance(session_minutes=45)["notes"]
    lo, hi = plan_minutes()
    assert 10 <= lo < hi <= 20
    report, _ = analysed()
    assert report.coaching.plan["rounds"] == [4, 5]
    assert "hamstrings" in report.coaching.stretches


def test_a_forward_clip_gets_a_note_that_the_fixes_are_for_backward_running():
    report, _ = analysed(backward=False)
    assert any("backward running" in n for n in report.coaching.notes)
    good, _ = analysed()
    assert not good.coaching.notes


def test_a_short_clip_says_the_look_back_was_not_judged_rather_than_a_confident_zero():
    short, _ = analysed(duration_s=6.0, fps=30.0)
    head = short.rule("head_check")
    assert head.status == "unknown" and head.value is None
    assert "Not enough time to judge" in head.cue
    assert "head_check" not in short.coaching.confidence  # no number at all, not 0 %
    assert [n["id"] for n in short.coaching.not_judged] == ["head_check"]
    assert "head_check" not in {f.rule_id for f in short.coaching.fixes}


def test_the_look_back_rate_gains_confidence_with_observation_time():
    from formcheck.coaching.coach import observation_factor
    from formcheck.config import Thresholds

    th = Thresholds()
    assert observation_factor("head_check", 20.0, th) < observation_factor("head_check", 30.0, th) < 1.0
    assert observation_factor("head_check", 40.0, th) == 1.0
    assert observation_factor("cadence", 3.0, th) == 1.0  # per-step cues need no long clip
    long_run, _ = analysed(duration_s=45.0, fps=30.0)  # no look back in 45 s: judged, and fairly sure
    assert long_run.rule("head_check").status == "fail" and long_run.rule("head_check").value == 0.0
    assert long_run.coaching.confidence["head_check"] > 0.5
    assert not long_run.coaching.not_judged
