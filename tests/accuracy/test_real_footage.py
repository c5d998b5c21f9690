"""Real phone footage against hand-annotated truth (tests/truth): a CI-sized subset of
benchmarks/accuracy.py's real-clip section, as filmed and played backward."""

from __future__ import annotations

import pytest
from support import real_truth as RT
from support.clips import transformed_clip
from support.paths import SHARED_VIDEOS

import formcheck

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    cache = {}

    def run(stem: str, variant: str = "filmed"):
        if (stem, variant) not in cache:
            clip = SHARED_VIDEOS / f"{stem}.mp4"
            if variant != "filmed":
                clip = transformed_clip(clip, tmp_path_factory.mktemp(variant) / clip.name,
                                        reverse=variant == "reversed", mirror=variant == "mirrored")
            truth = RT.load(RT.TRUTH_DIR / f"{stem}.json", variant)
            report = formcheck.analyze(clip)
            cache[stem, variant] = report, truth, RT.judge_report(report, truth)
        return cache[stem, variant]
    return run


GYM = "treadmill_gym_phone_facing_left_30fps"  # real time, slowed 4x in the middle; a coach beside the treadmill
PARK = "overground_park_static_facing_left_30fps"  # static camera, slow motion (about 2x)
BEACH = "overground_beach_tracking_facing_right_25fps"  # real time, a camera tracking alongside
SILHOUETTE = "slowmo_silhouette_grass_panning_facing_right_24fps"  # a pan that starts late, about 5x slowed
WALKER = "overground_two_people_sports2d_demo"  # a woman walking past a man on a box


@pytest.mark.parametrize("variant", ["filmed", "reversed"])
def test_a_slow_motion_run_is_flagged_and_its_times_not_judged(analysed, variant):
    report, truth, result = analysed(PARK, variant)
    assert (result.direction, result.facing, result.gait) == (truth.direction, truth.facing, "run")
    assert report.video.slow_motion_suspected is True
    assert report.video.slow_motion_factor_estimate == pytest.approx(truth.slowmo_factor, rel=0.3)
    assert report.rule("cadence").status == "unknown" and report.rule("contact_time").status == "unknown"
    assert any("--slowmo" in note for note in report.warnings)
    assert result.cadence_error == pytest.approx(0.0, abs=0.05), "the clip-time rhythm itself is measured"


def test_a_slow_motion_run_given_its_factor_reads_in_real_time():
    # what the note tells the user to do: with --slowmo the run is timed as it was run
    truth = RT.load(RT.TRUTH_DIR / f"{PARK}.json")
    report = formcheck.analyze(SHARED_VIDEOS / truth.clip, slowmo=truth.slowmo_factor)
    assert report.gait_type == "run" and report.video.slow_motion_suspected is False
    assert report.cadence_spm == pytest.approx(truth.cadence_clip_spm * truth.slowmo_factor, rel=RT.CADENCE_TOLERANCE)
    assert report.rule("cadence").status != "unknown"
    assert not any("--slowmo" in note for note in report.warnings)


@pytest.mark.parametrize("variant", ["filmed", "reversed", "mirrored"])
def test_a_speed_ramp_is_flagged_and_its_times_not_judged(analysed, variant):
    # a phone's slow-motion video: real time, then 4x slowed, then real time again
    report, truth, result = analysed(GYM, variant)
    assert (result.direction, result.facing, result.setting, result.gait) == \
        (truth.direction, truth.facing, truth.setting, truth.gait)
    assert report.video.slow_motion_suspected and report.video.speed_ramp_suspected
    assert report.video.slow_motion_factor_estimate is None, "no one factor fits the whole clip"
    assert report.rule("cadence").status == "unknown" and report.rule("contact_time").status == "unknown"
    assert any("Part of this clip looks slowed" in note for note in report.warnings)


def test_a_panning_camera_is_not_a_treadmill(analysed):
    report, truth, result = analysed(SILHOUETTE)
    assert result.setting == "overground" == truth.setting
    assert result.gait == "run" and result.slow_motion_suspected
    assert result.cadence_error == pytest.approx(0.0, abs=0.05)


# played backward, the close-up start's landmarks jump (README: two to four times the error) and
# leave phantom steps above the 5 % target
@pytest.mark.parametrize("variant, spurious", [("filmed", RT.SPURIOUS_TARGET), ("reversed", 0.15)])
def test_a_tracking_shot_is_overground_with_the_annotated_cadence_and_steps(analysed, variant, spurious):
    # sky, sea and their reflections stay put past a camera travelling alongside; the sand slides by
    _, truth, result = analysed(BEACH, variant)
    assert (result.direction, result.facing, result.gait) == (truth.direction, truth.facing, truth.gait)
    assert result.setting == "overground" == truth.setting
    assert not result.slow_motion_suspected
    assert abs(result.cadence_error) <= RT.CADENCE_TOLERANCE
    assert result.contacts.recall >= RT.CONTACT_RECALL_TARGET
    assert result.contacts.spurious_rate <= spurious


def test_a_walker_is_a_walk_and_not_slow_motion(analysed):
    report, truth, result = analysed(WALKER)
    assert result.gait == "walk" == truth.gait
    assert result.direction == truth.direction and result.facing == truth.facing
    assert report.video.slow_motion_suspected is False


def test_filmed_from_the_other_side_with_a_bystander_in_view_first_the_same_steps_are_found(analysed):
    # the pose model is shown every runner facing the same way; the man on the box, facing the
    # camera from frame 0 while she is not yet in view, must not decide which way that is
    filmed, _, _ = analysed(WALKER)
    mirrored, _, result = analysed(WALKER, "mirrored")
    assert mirrored.runner.facing == "right" == result.facing
    found = [c.frame for c in mirrored.contacts]
    assert all(min(abs(f - c.frame) for f in found) <= 1 for c in filmed.contacts)


@pytest.mark.parametrize("variant", ["filmed", "reversed"])
def test_a_clip_with_too_little_in_view_is_not_scored_but_its_direction_is_told(analysed, variant):
    # the runner crosses the frame in about a second and a half, feet cut off at the bottom edge:
    # too few steps to judge, but the street passing behind him says which way he goes, and at a
    # speed no one walks
    report, truth, result = analysed("overground_street_static_phone_facing_right_30fps", variant)
    assert report.score is None, "unknown cues are not passes"
    assert "not enough to score" in report.summary()
    assert (result.direction, result.facing, result.setting) == (truth.direction, truth.facing, truth.setting)
    assert report.gait_type == "run" == truth.gait and f"{truth.direction} run" in report.summary()
    assert report.cadence_spm is None and report.rule("arm_leg_opposition").status == "unknown"
