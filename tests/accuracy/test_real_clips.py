"""End to end on real footage: a forward treadmill runner, played backward and mirrored.

Truth: cadence 168.9 steps/min measured from raw pixels without a pose model
(treadmill_forward_male_side.groundtruth.json); playing the clip backward turns it
into backward running with the same cadence; mirroring flips facing only.
"""

from __future__ import annotations

import csv
import json

import av
import jsonschema
import pytest
from support import real_truth as RT
from support.paths import TREADMILL_CADENCE

import formcheck
from formcheck import Outputs
from formcheck.outputs.report import SCHEMA_PATH

pytestmark = pytest.mark.slow

RULE_IDS = {"direction", "trunk_lean", "trunk_stability", "elbow_angle", "arm_leg_opposition", "cadence",
            "step_length", "overreach", "forefoot_contact", "heel_drag", "vertical_oscillation", "head_check",
            "contact_time"}


@pytest.fixture(scope="module")
def forward(treadmill_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("fwd")
    return formcheck.analyze(treadmill_clip, out, outputs=Outputs()), out


@pytest.fixture(scope="module")
def backward(reversed_treadmill_clip):
    return formcheck.analyze(reversed_treadmill_clip)


@pytest.fixture(scope="module")
def mirrored(mirrored_treadmill_clip):
    return formcheck.analyze(mirrored_treadmill_clip)


def test_forward_clip_is_forward_treadmill_running_at_true_cadence(forward):
    report, _ = forward
    assert report.direction == "forward"
    assert report.setting == "treadmill"
    assert report.gait_type == "run"
    assert report.runner.facing == "left"
    assert report.cadence_spm == pytest.approx(TREADMILL_CADENCE, rel=0.01)


def test_reversed_clip_is_backward_running_with_the_same_cadence(backward):
    assert backward.direction == "backward"
    assert backward.runner.facing == "left"
    assert backward.cadence_spm == pytest.approx(TREADMILL_CADENCE, rel=0.01)
    assert backward.rule("direction").status == "pass"


def test_reversed_heel_striker_lands_toe_first(forward, backward):
    # A forward heel-striker played backward touches down with the toes.
    assert forward[0].rule("forefoot_contact").status == "fail"
    assert backward.rule("forefoot_contact").status == "pass"


def test_mirrored_clip_flips_facing_and_keeps_the_numbers(forward, mirrored):
    report, _ = forward
    assert mirrored.runner.facing == "right"
    assert mirrored.direction == "forward"
    assert mirrored.cadence_spm == pytest.approx(report.cadence_spm, rel=0.01)
    lean, lean_m = (r.metrics.trunk_lean_deg.median for r in (report, mirrored))
    assert abs(lean - lean_m) <= 1.5
    # the pose model is not mirror-symmetric (7 degrees here); formcheck shows it one side only
    elbow, elbow_m = (r.metrics.elbow_angle_deg.median for r in (report, mirrored))
    assert abs(elbow - elbow_m) <= 2.0


def test_contacts_are_plausible(forward):
    report, _ = forward
    contacts = report.contacts
    # 12 s at ~169 steps/min is ~34 steps; the far foot is partly hidden by the console
    assert len(contacts) >= 20
    # a take-off lost in a left/right swap of the landmarks gives no contact time, not a wrong one
    times = [c.contact_time_s for c in contacts if c.contact_time_s is not None]
    assert len(times) >= 0.8 * len(contacts)
    assert all(0.1 <= t <= 0.45 for t in times)
    assert {c.foot for c in contacts} == {"left", "right"}


@pytest.mark.parametrize("variant", ["filmed", "reversed"])
def test_every_step_is_found_once_and_judged_as_annotated(forward, backward, variant):
    # a static camera beside a treadmill, the setting formcheck is built for: every target of the
    # hand annotation (tests/truth) is met, run forward and played backward as a backward run
    report = forward[0] if variant == "filmed" else backward
    result = RT.judge_report(report, RT.load(RT.TRUTH_DIR / "treadmill_forward_male_side.json", variant))
    assert result.misses() == []


def test_report_json_keeps_the_contract(forward):
    report, out = forward
    data = json.loads((out / "treadmill_forward_male_side.formcheck.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))  # the published contract
    assert data["video"]["frames"] == 360 and data["video"]["width"] == 720 and data["video"]["height"] == 1280
    assert {r["id"] for r in data["rules"]} == RULE_IDS
    assert all(r["status"] in {"pass", "caution", "fail", "unknown"} for r in data["rules"])
    assert set(data["metrics"]) >= {"trunk_lean_deg", "elbow_angle_deg", "step_length_leg", "contact_time_s",
                                    "vertical_oscillation_leg"}
    assert 0 <= data["score"] <= 100
    first = data["contacts"][0]
    assert first["time_s"] == pytest.approx(first["frame"] / 30.0, abs=0.002)


def test_annotated_video_is_browser_playable_h264_with_every_frame(forward):
    _, out = forward
    with av.open(str(out / "treadmill_forward_male_side.formcheck.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert sum(1 for _ in container.decode(stream)) == 360


def test_per_frame_csv_has_a_row_per_frame(forward):
    _, out = forward
    with open(out / "treadmill_forward_male_side.formcheck.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 360
    assert {"frame", "time_s", "trunk_lean_deg", "elbow_angle_deg", "left_stance", "right_stance"} <= set(rows[0])


def test_two_people_clip_analyses_the_walking_woman_not_the_man_on_the_box():
    import numpy as np
    from support.paths import TWO_PEOPLE

    report = formcheck.analyze(TWO_PEOPLE)
    # the woman walks along the grass (lower part of the frame); the man jumps on a box above her
    hip_y = np.asarray(report.per_frame["hip_y_px"], float)
    assert np.nanmedian(hip_y) > 0.6 * report.video.height
    assert report.direction == "forward"
    assert report.gait_type == "walk"
    assert report.setting == "overground"
    assert report.rule("cadence").status == "unknown"  # the running cadence target is not applied to walking
