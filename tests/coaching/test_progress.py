"""Progress: two sessions side by side, and backward running against the runner's forward baseline.

Reports come from the real analysis of analytic runners (pose series in, report out), so the
assertions are about behaviour (which cue improved, which check passes), not stored numbers."""

from __future__ import annotations

import pytest
from support.landmark_gait import Gait2D, make_series
from support.paths import SAMPLES

from formcheck.analysis.rules import Finding
from formcheck.coaching.progress import (BETTER, NOT_COMPARABLE, SAME, WORSE, baseline_checks, compare_sessions,
                                         cue_verdict, improvement_summary, step_length_leg)
from formcheck.outputs.report import VideoRecord
from formcheck.pipeline import analyse_pose


def analysed(**kw) -> dict:
    return analyse_pose(make_series(Gait2D(fps=30.0, **kw)), VideoRecord(path="synthetic.mp4"))[0].to_dict()


@pytest.fixture(scope="module")
def sessions():
    return {"sloppy": analysed(cadence=150.0, step_length_leg=1.2, elbow_deg=160.0),
            "good": analysed(cadence=180.0, step_length_leg=0.7),
            "forward": analysed(backward=False, cadence=165.0, step_length_leg=1.0)}


def by_id(changes):
    return {c.rule_id: c for c in changes}


def test_fixed_faults_show_as_better_and_unchanged_cues_as_the_same(sessions):
    changes = by_id(compare_sessions(sessions["sloppy"], sessions["good"]))
    for rid in ("elbow_angle", "cadence", "step_length"):
        assert changes[rid].verdict == BETTER, rid
        assert changes[rid].before_status == "fail" and changes[rid].after_status == "pass"
    assert changes["cadence"].change == pytest.approx(30.0, abs=3.0)
    assert changes["elbow_angle"].change < -40  # straight arms bent to about 90°
    assert changes["trunk_lean"].verdict == SAME  # the same 8° lean in both
    assert changes["head_check"].verdict == NOT_COMPARABLE  # short clips: never judged
    assert int(improvement_summary(list(changes.values())).split()[0]) >= 3


def test_the_other_way_round_is_worse(sessions):
    changes = by_id(compare_sessions(sessions["good"], sessions["sloppy"]))
    assert {changes[r].verdict for r in ("elbow_angle", "cadence", "step_length")} == {WORSE}


def f(rule_id, status, value):
    return Finding(rule_id, rule_id, status, value, "", "", "")


@pytest.mark.parametrize("before, after, verdict", [
    (f("cadence", "pass", 172.0), f("cadence", "pass", 185.0), BETTER),  # quicker, even inside the band
    (f("cadence", "pass", 172.0), f("cadence", "pass", 173.0), SAME),  # within measurement wobble
    (f("elbow_angle", "fail", 150.0), f("elbow_angle", "fail", 125.0), BETTER),  # still fail, but closer
    (f("trunk_lean", "pass", 14.0), f("trunk_lean", "pass", 8.0), BETTER),  # to the band's middle
    (f("step_length", "caution", 0.95), f("step_length", "fail", 1.3), WORSE),
    (f("forefoot_contact", "unknown", None), f("forefoot_contact", "pass", 9.0), NOT_COMPARABLE),
])
def test_cue_verdicts(before, after, verdict):
    assert cue_verdict(before, after) == verdict


def test_a_cue_only_one_session_has_is_listed_as_not_comparable(sessions):
    older = dict(sessions["good"], rules=[r for r in sessions["good"]["rules"] if r["id"] != "head_check"])
    changes = by_id(compare_sessions(older, sessions["good"]))
    assert changes["head_check"].verdict == NOT_COMPARABLE and changes["head_check"].before is None


def test_backward_running_against_the_forward_baseline(sessions):
    fwd = sessions["forward"]
    assert fwd["direction"] == "forward"
    good = {c.id: c for c in baseline_checks(sessions["good"], fwd)}
    assert good["cadence"].ok and good["step_length"].ok
    assert good["cadence"].backward >= good["cadence"].forward
    assert step_length_leg(sessions["good"]) < step_length_leg(fwd)
    assert "%" in good["step_length"].message
    bad = {c.id: c for c in baseline_checks(sessions["sloppy"], fwd)}
    assert bad["cadence"].ok is False and "quicker" in bad["cadence"].message
    assert bad["step_length"].ok is False and "shorten" in bad["step_length"].message


def test_no_baseline_verdict_for_a_forward_session_or_missing_numbers(sessions):
    assert baseline_checks(sessions["forward"], sessions["forward"]) == []
    no_cadence = dict(sessions["good"], cadence_spm=None)
    checks = {c.id: c for c in baseline_checks(no_cadence, sessions["forward"])}
    assert checks["cadence"].ok is None and "not measured" in checks["cadence"].message
    assert checks["step_length"].ok is True


@pytest.mark.slow
def test_real_clips_forward_sample_as_baseline_for_the_backward_samples(tmp_path):
    """The bundled forward treadmill clip as the baseline; the backward samples judged against it.
    Expectations come from each sample's truth file, not from stored output."""
    import json

    import formcheck
    from formcheck.errors import InputError
    from formcheck.outputs.history import History

    forward = formcheck.analyze(SAMPLES / "treadmill_forward_male_side.mp4")
    assert forward.direction == "forward"
    store = History(tmp_path / "h.sqlite")
    store.set_baseline(store.save(forward, "treadmill_forward_male_side.mp4"))
    base = store.baseline()["report"]
    for name in ("good_backward_jog", "long_steps"):
        truth = json.loads((SAMPLES / f"{name}.truth.json").read_text())
        report = formcheck.analyze(SAMPLES / f"{name}.mp4").to_dict()
        checks = {c.id: c for c in baseline_checks(report, base)}
        # what the truth says the runner did, against what was measured forwards
        assert checks["cadence"].ok is (truth["cadence_spm"] >= base["cadence_spm"]), name
        assert checks["step_length"].ok is (truth["step_length_leg"] < step_length_leg(base)), name
        with pytest.raises(InputError, match="backward running"):
            store.set_baseline(store.save(report, f"{name}.mp4"))
