"""Pose series in, Report out: kinematics -> gait -> rules -> coaching -> report (pure, no I/O)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from formcheck import __version__
from formcheck.analysis import kinematics as K
from formcheck.analysis.contacts import FEET, contact_times
from formcheck.analysis.gait import SceneryProbe, analyse_gait
from formcheck.analysis.rules import Evidence, judge, score, slow_motion_note
from formcheck.coaching.coach import coach
from formcheck.config import Thresholds
from formcheck.outputs.report import ContactRecord, Metrics, Report, RunnerRecord, VideoRecord, metric_summary
from formcheck.pose import PoseSeries

FOOT_POINTS = [[K.SIDE[foot][point] for point in ("ankle", "heel", "toe")] for foot in FEET]
MISSING_NOTED_S = 0.5  # a stretch this long without the runner is named even when most frames have them
FEET_SEEN_MIN = 0.5  # with a foot in fewer of the runner's frames, steps cannot be told from standing


def analyse_pose(raw: PoseSeries, video: VideoRecord, thresholds: Thresholds | None = None,
                 scenery: SceneryProbe | None = None) -> tuple[Report, Evidence]:
    """Judge one runner's pose series. Returns the report and the evidence behind it
    (clean pose, gait events, angle series) for drawing. ``scenery`` tells a panning
    camera from a treadmill (see gait.classify_setting)."""
    thresholds = thresholds or Thresholds()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # frames or landmarks with no data (a short or empty live window too) give all-NaN slices;
        # they are handled as unknown
        warnings.simplefilter("ignore", RuntimeWarning)
        return _analyse(raw, video, thresholds, scenery)


def _analyse(raw: PoseSeries, video: VideoRecord, thresholds: Thresholds,
             scenery: SceneryProbe | None) -> tuple[Report, Evidence]:
    pose = K.clean(raw)
    facing = pose.facing_sign()
    near = K.near_side(pose, facing)
    leg_px = K.leg_length_px(pose, near)
    gait = analyse_gait(pose, facing, near, leg_px, scenery)
    if video.live:
        gait.speed_ramp_ratio = None  # a camera streams in real time
    feet_seen = _feet_seen_fraction(raw)
    if feet_seen < FEET_SEEN_MIN and gait.gait_type == "stand":
        gait.gait_type = "unknown"  # with the feet out of the picture, standing and running look alike
    ev = Evidence(pose=pose, gait=gait, trunk_lean=K.trunk_lean_deg(pose, facing),
                  elbow=K.elbow_angle_deg(pose, near))
    findings = judge(ev, thresholds)
    position = _position(raw)
    video = dataclasses.replace(video, slow_motion_suspected=gait.slowed, slow_motion_factor_estimate=gait.slow_motion_factor,
                                speed_ramp_suspected=gait.speed_ramp_ratio is not None)
    report = Report(
        formcheck_version=__version__,
        video=video,
        runner=RunnerRecord(facing="right" if facing > 0 else "left", near_side=near,
                            leg_length_px=None if not np.isfinite(leg_px) else round(leg_px, 2),
                            detected_fraction=round(float(raw.detected.mean()), 3) if len(raw) else 0.0,
                            people_in_view=raw.people_in_view, position=position),
        direction=gait.direction,
        setting=gait.setting,
        gait_type=gait.gait_type,
        cadence_spm=gait.cadence_spm,
        contacts=[_contact_record(c, pose) for c in gait.contacts],
        metrics=_metrics(ev),
        rules=findings,
        score=score(findings),
        warnings=_warnings(raw, video, gait, feet_seen, findings, position),
        per_frame=_per_frame(ev),
    )
    report.coaching = coach(findings, ev, thresholds)
    return report, ev


def _contact_record(c, pose: PoseSeries) -> ContactRecord:
    return ContactRecord(foot=c.foot, frame=int(pose.frame_index[c.frame]), time_s=round(c.time_s, 4),
                         strike=c.strike, foot_pitch_deg=_rounded(c.foot_pitch_deg, 2),
                         contact_time_s=_rounded(c.contact_time_s, 4), step_length_leg=_rounded(c.step_length_leg, 3))


def _rounded(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def _metrics(ev: Evidence) -> Metrics:
    g = ev.gait
    hips_up = -ev.pose.hip_centre()[:, 1] / g.leg_length_px
    bounce = [np.nanmax(hips_up[a.frame:b.frame]) - np.nanmin(hips_up[a.frame:b.frame])
              for a, b in zip(g.contacts[:-1], g.contacts[1:]) if b.frame - a.frame >= 2]
    return Metrics(
        trunk_lean_deg=metric_summary(ev.trunk_lean, "deg"),
        elbow_angle_deg=metric_summary(ev.elbow, "deg"),
        step_length_leg=metric_summary(g.step_length_leg, "leg lengths"),
        contact_time_s=metric_summary(contact_times(g.contacts), "s"),
        vertical_oscillation_leg=metric_summary(bounce, "leg lengths"),
        duty_factor=_rounded(g.duty_factor, 3),
    )


def _warnings(raw: PoseSeries, video: VideoRecord, gait, feet_seen: float, findings: list, position: str) -> list[str]:
    notes = []
    if gait.slowed:
        notes.append(slow_motion_note(gait))
    if video.fps_source == "assumed":
        # every time, cadence and contact time scales with this guess
        notes.append(f"The frame rate is missing or implausible in the file, so {video.fps:g} fps was assumed "
                     "and times and cadence may be off; set the real rate with --fps.")
    if raw.people_in_view > 1:
        notes.append(f"{raw.people_in_view} people were in view at once; the one analysed, drawn with the skeleton, "
                     f"is the person {position}.")
    missing = _missing_spans(raw)
    if len(raw) and (raw.detected.mean() < 0.8 or any(t1 - t0 >= MISSING_NOTED_S for t0, t1 in missing)):
        notes.append(f"The runner was found in only {raw.detected.mean():.0%} of frames{_times(missing)}; "
                     "the rest of the clip was judged.")
    if raw.detected.any() and feet_seen < FEET_SEEN_MIN:
        unjudged = ", ".join(f.title for f in findings if f.status == "unknown")
        notes.append(f"The feet were in the picture in only {feet_seen:.0%} of the frames with the runner; "
                     f"not judged: {unjudged}. Film with the whole body in view.")
    return notes


def _missing_spans(raw: PoseSeries) -> list[tuple[float, float]]:
    """(first, last) clip time in s of each stretch of frames without the runner, longest first."""
    found = np.r_[True, raw.detected, True]
    starts = np.flatnonzero(found[:-1] & ~found[1:])  # first missing frame of each stretch
    ends = np.flatnonzero(~found[:-1] & found[1:])  # one past its last
    t = raw.t_s
    return sorted(((float(t[a]), float(t[b - 1])) for a, b in zip(starts, ends)), key=lambda s: s[0] - s[1])


def _times(spans: list[tuple[float, float]], shown: int = 3) -> str:
    """' (not at 1.3-2.7 s, ...)': the longest stretches, in clip order."""
    listed = ", ".join(f"{t0:.1f}-{t1:.1f} s" if t1 > t0 else f"{t0:.1f} s" for t0, t1 in sorted(spans[:shown]))
    return f" (not at {listed}{', ...' if len(spans) > shown else ''})" if spans else ""


def _feet_seen_fraction(raw: PoseSeries) -> float:
    """Share of the frames with the runner in which at least one foot is wholly in the picture."""
    if not raw.detected.any():
        return 0.0
    inside = ((raw.xy[..., 0] >= 0) & (raw.xy[..., 0] < raw.width) & (raw.xy[..., 1] >= 0)
              & (raw.xy[..., 1] < raw.height) & (raw.visibility >= 0.5))
    foot_seen = [inside[:, points].all(axis=1) for points in FOOT_POINTS]
    return float(np.logical_or.reduce(foot_seen)[raw.detected].mean())


def _position(raw: PoseSeries) -> str:
    """Where the analysed person is in the picture, in words a user can match to the video."""
    hips_x = raw.hip_centre()[raw.detected, 0]
    if not hips_x.size:
        return "nowhere in the frame"
    if np.ptp(hips_x) > raw.width / 3:
        return "moving across the frame"
    third = ("on the left", "in the middle", "on the right")[min(int(3 * np.median(hips_x) / raw.width), 2)]
    return f"{third} of the frame"


def _per_frame(ev: Evidence) -> dict:
    pose, g = ev.pose, ev.gait
    hips = pose.hip_centre()
    table = {"frame": pose.frame_index, "time_s": np.round(pose.t_s, 4), "detected": pose.detected.astype(int),
             "trunk_lean_deg": ev.trunk_lean, "elbow_angle_deg": ev.elbow, "hip_x_px": hips[:, 0],
             "hip_y_px": hips[:, 1]}
    for col, foot in enumerate(FEET):
        table[f"{foot}_foot_height_leg"] = g.foot_height_leg[:, col]
        table[f"{foot}_stance"] = g.stance[:, col].astype(int)
    return table
