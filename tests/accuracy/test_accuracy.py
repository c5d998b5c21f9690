"""A CI-sized subset of benchmarks/accuracy.py: the bundled synthetic samples against their truth.

Each sample is a rendered mannequin with exact truth (sample_videos/*.truth.json);
the pipeline runs from pixels to verdicts, as a user's clip would.
"""

from __future__ import annotations

import json
import sys

import pytest
from support.paths import ROOT, SAMPLES

import formcheck
from formcheck.config import Thresholds

sys.path.insert(0, str(ROOT / "benchmarks"))
from accuracy import compare, expected_status  # noqa: E402
from support.clips import transformed_clip  # noqa: E402
from support.synthetic import SLOW_MOTION_RUN, render_clip  # noqa: E402

# sample -> the rule its deliberate fault must fail (None: a good jog)
FAULTS = {"good_backward_jog": None, "upright_lean_back": "trunk_lean", "straight_arms": "elbow_angle",
          "heel_strike": "forefoot_contact", "long_steps": "step_length", "heel_drag": "heel_drag"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def analysed():
    out = {}
    for name in sorted(FAULTS):
        truth = json.loads((SAMPLES / f"{name}.truth.json").read_text())
        report = formcheck.analyze(SAMPLES / f"{name}.mp4")
        out[name] = (name, report, truth, compare(report, truth, Thresholds()))
    return out


@pytest.fixture(params=sorted(FAULTS))
def sample(request, analysed):
    return analysed[request.param]


def test_direction_setting_and_facing_are_right(sample):
    _, _, _, row = sample
    assert row["direction_ok"] and row["setting_ok"] and row["facing_ok"]


def test_contacts_are_found_within_two_frames_with_few_spurious(analysed):
    rows = [row["contacts"] for *_, row in analysed.values()]
    hits, truth = sum(c["hits"] for c in rows), sum(c["truth"] for c in rows)
    spurious, found = sum(c["spurious"] for c in rows), sum(c["found"] for c in rows)
    # the targets: >= 95 % found, <= 5 % spurious
    assert hits >= 0.95 * truth
    assert spurious <= 0.05 * found


def test_cadence_and_angles_are_within_target(sample):
    _, _, _, row = sample
    assert abs(row["cadence_err_pct"]) <= 2.0
    assert abs(row["lean_err_deg"]) <= 3.0
    assert abs(row["elbow_err_deg"]) <= 10.0
    assert abs(row["step_err_pct"]) <= 10.0


def test_filming_from_the_other_side_gives_the_same_numbers(tmp_path):
    # The mirrored clip is the same run filmed from the runner's other side. The pose
    # model alone put the near elbow 10 degrees off there; it must not show.
    name = "good_backward_jog"
    truth = json.loads((SAMPLES / f"{name}.truth.json").read_text())
    clip = transformed_clip(SAMPLES / f"{name}.mp4", tmp_path / "mirrored.mp4", mirror=True)
    report = formcheck.analyze(clip)
    assert report.runner.facing == "right"
    assert report.rule("elbow_angle").value == pytest.approx(truth["elbow_angle_deg"], abs=5.0)
    assert report.metrics.trunk_lean_deg.median == pytest.approx(truth["trunk_lean_deg"], abs=2.0)
    assert report.cadence_spm == pytest.approx(truth["cadence_spm"], rel=0.01)


def test_a_phone_slow_motion_clip_given_its_factor_reads_in_real_time(tmp_path):
    # filmed at 120 fps, saved at 30 (a phone's slow-motion mode): 4x slowed
    clip = tmp_path / "slowmo.mp4"
    truth = render_clip(SLOW_MOTION_RUN, clip, playback_fps=30.0)
    flagged = formcheck.analyze(clip)
    assert flagged.video.slow_motion_suspected and flagged.video.slow_motion_factor_estimate == 4.0
    given = formcheck.analyze(clip, slowmo=4.0)
    assert not given.video.slow_motion_suspected
    assert given.cadence_spm == pytest.approx(truth["cadence_spm"], rel=0.02)
    assert given.metrics.contact_time_s.median == pytest.approx(truth["contact_time_s"], rel=0.15)
    assert given.metrics.step_length_leg.median == pytest.approx(truth["step_length_leg"], rel=0.10)
    assert "unknown" not in (given.rule("cadence").status, given.rule("contact_time").status)


def test_the_deliberate_fault_is_flagged(sample):
    name, report, truth, _ = sample
    rule_id = FAULTS[name]
    if rule_id is None:
        failing = [f.id for f in report.rules if f.status == "fail"]
        assert failing == [], failing
    else:
        assert report.rule(rule_id).status == expected_status(rule_id, truth, Thresholds()) == "fail"


def test_the_deliberate_fault_is_the_top_fix(sample):
    name, report, _, _ = sample
    fixes = report.coaching.fixes
    if FAULTS[name] is None:
        assert all(fix.status != "fail" for fix in fixes)
    elif name == "long_steps":  # long, slow steps: cadence and step length are one fix (legs)
        assert fixes[0].rule_id in {"step_length", "cadence"}
    else:
        assert fixes[0].rule_id == FAULTS[name]
