"""A clip's gait (pure numpy): ``analyse_gait`` joins its contacts and stride time, and classifies
it: direction of travel, treadmill or overground, run or walk, slow motion."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from formcheck.analysis.contacts import (FEET, Contact, _stance_of, _with_missed_stances, contact_times,
                                         fill_step_lengths, find_contacts, foot_point_heights, foot_reach, mid_stance,
                                         phase_locked_contacts, relative_foot_velocity, stance_mask)
from formcheck.analysis.kinematics import SIDE, fps_of
from formcheck.analysis.stride import speed_ramp_ratio, spectral_stride_time, stride_time, swing_stride_time
from formcheck.pose import PoseSeries

@dataclass(frozen=True)
class SceneryMotion:
    """How the background slid past the runner's hips over frame pairs sampled through the clip."""

    speed_px_s: float  # the pairs' median, signed image px/s
    one_way: bool  # most pairs slid that way...
    beyond_chance: bool  # ... more of them than a still scene's (pose jitter, shake) would


# (clean pose, leg length px) -> the background's motion past the hips, None if it cannot be told.
# Asked only where the runner's own motion cannot tell; reading frames is the caller's business.
SceneryProbe = Callable[[PoseSeries, float], "SceneryMotion | None"]


@dataclass
class Gait:
    facing: int  # +1 image-right, -1 image-left
    travel: int  # +1 travels toward image-right, -1 left, 0 unknown
    direction: str  # backward | forward | mixed | unknown
    setting: str  # treadmill | overground | unknown
    gait_type: str  # run | walk | stand | unknown
    leg_length_px: float
    near_side: str
    contacts: list[Contact] = field(default_factory=list)
    stance: np.ndarray | None = None  # (T, 2) bool, columns left/right
    foot_height_leg: np.ndarray | None = None  # (T, 2) lowest foot point above ground, in L
    cadence_spm: float | None = None
    slow_motion_factor: float | None = None  # set when a run is too slow for real time (see SLOW_MOTION_BELOW_SPM)
    speed_ramp_ratio: float | None = None  # set when part of the clip is slowed (see SPEED_RAMP_RATIO)
    stride_time_s: float | None = None
    duty_factor: float | None = None
    belt_speed_leg_s: float | None = None  # stance-foot speed relative to the pelvis
    step_length_leg: np.ndarray = field(default_factory=lambda: np.array([]))

    @property
    def slowed(self) -> bool:
        """Slow motion, in the whole clip or in part of it: its times are not the run's."""
        return self.slow_motion_factor is not None or self.speed_ramp_ratio is not None


def travel_sign(heights: np.ndarray, vrel: np.ndarray) -> int:
    """+1/-1 image direction of travel: the grounded foot moves opposite to it."""
    votes = []
    for col in range(2):
        h, v = heights[:, col], vrel[:, col]
        ok = np.isfinite(h) & np.isfinite(v)
        if ok.sum() < 5:
            continue
        low = ok & (h <= np.nanpercentile(h[ok], 25))
        votes.append(np.median(v[low]) * low.sum())
    total = np.sum(votes) if votes else 0.0
    return 0 if total == 0 else (-1 if total > 0 else 1)


WALK_DUTY_ABOVE = 0.55  # a foot on the ground over half the stride: double support, a walk
# Hip height at mid-stance, relative to its mean over the step, in leg lengths: a runner's
# hips are lowest there (a compressed spring), a walker's highest (an inverted pendulum), by
# about 0.025 L; a smaller rise is landmark noise, and the flight phases decide instead.
RUN_HIP_DROP_LEG = 0.005
WALK_HIP_RISE_LEG = 0.01


def is_walking(contacts: list[Contact], duty_factor: float) -> bool:
    """Walking has double support (the next foot lands before the other lifts) and a duty
    factor over one half; running has a flight phase instead. Decided by the majority of
    step transitions, so one sloppy contact does not flip the verdict."""
    transitions = [(prev, cur) for prev, cur in zip(contacts[:-1], contacts[1:]) if prev.foot != cur.foot]
    if not transitions:
        return duty_factor > WALK_DUTY_ABOVE
    overlapping = sum(cur.frame <= prev.toe_off for prev, cur in transitions)
    return overlapping > len(transitions) / 2 or duty_factor > WALK_DUTY_ABOVE


def mid_stance_hip_height(pose: PoseSeries, leg_px: float, travel: int, stride_s: float,
                          feet: tuple[str, ...] = FEET) -> float | None:
    """Median hip height, in L above its mean over the step, when one of ``feet`` passes under
    the hips moving against travel (mid-stance). Negative for a run, positive for a walk. Needs
    no contact times, so it holds where the feet are blurred or the stances cut short."""
    from scipy.ndimage import uniform_filter1d

    hip = pose.hip_centre()
    up = -hip[:, 1] / leg_px
    ok = np.isfinite(up)
    if ok.sum() < 10 or not travel:
        return None
    up = np.interp(np.arange(len(up)), np.flatnonzero(ok), up[ok])
    step_frames = max(3, int(round(stride_s / 2 * fps_of(pose.t_ms))))
    bob = up - uniform_filter1d(up, step_frames, mode="nearest")  # what is left is the step's own rise and fall
    heights = []
    for side in feet:
        ahead = (pose.xy[:, SIDE[side]["ankle"], 0] - hip[:, 0]) * travel
        passing = np.flatnonzero((ahead[:-1] > 0) & (ahead[1:] <= 0)) + 1
        heights += list(bob[passing[ok[passing]]])
    return float(np.median(heights)) if len(heights) >= 2 else None


def classify_gait(pose: PoseSeries, leg_px: float, travel: int, stride_s: float, contacts: list[Contact],
                  duty_factor: float, cadence_spm: float, near_side: str) -> str:
    """run | walk: by the hips' rise and fall through the stance where it is clear, else by
    flight phases and duty factor. Never by cadence alone: a slow-motion run has a walker's
    cadence in clip time, and its flight phases still; but where neither tells, a gait too slow
    for running in real time is taken as a walk rather than as an unflagged slow-motion run."""
    # The near foot first: the far one, often hidden behind the legs, is tracked less well; on
    # a slowed run its crossings fell in the flight phase, hips high, and read as a walk.
    hip = mid_stance_hip_height(pose, leg_px, travel, stride_s, (near_side,))
    if hip is None:
        hip = mid_stance_hip_height(pose, leg_px, travel, stride_s)
    if hip is not None and hip < -RUN_HIP_DROP_LEG:
        return "run"
    if hip is not None and hip > WALK_HIP_RISE_LEG:
        return "walk"
    if is_walking(contacts, duty_factor) or cadence_spm < SLOW_MOTION_BELOW_SPM:
        return "walk"
    return "run"


# People do not run, with flight phases, below about 140 steps/min of real time; a run slower
# than this in clip time is physically a slow-motion clip.
SLOW_MOTION_BELOW_SPM = 110.0
TYPICAL_RUN_CADENCE_SPM = 170.0  # the middle of recreational running cadences (150-190)


# Phones film slow motion at these rates and save it at the clip's own playback rate.
SLOW_MOTION_CAPTURE_FPS = (60.0, 120.0, 240.0, 480.0, 960.0)
CAPTURE_RATE_WITHIN = 1.3  # an estimate within this ratio of a capture/playback factor is that factor


def slow_motion_factor(gait_type: str, cadence_spm: float | None, clip_fps: float) -> float | None:
    """The clip's likely slow-motion factor when a run is too slow to be real time, else None.

    A typical running cadence gives the factor to within about a quarter; phones' capture rates
    are a factor of two apart, so the nearest capture/playback ratio (120/30 = 4) is the factor.
    """
    if gait_type != "run" or cadence_spm is None or cadence_spm >= SLOW_MOTION_BELOW_SPM:
        return None
    estimate = TYPICAL_RUN_CADENCE_SPM / cadence_spm
    ratio = min((capture / clip_fps for capture in SLOW_MOTION_CAPTURE_FPS if capture > clip_fps),
                key=lambda r: abs(np.log(r / estimate)), default=None)
    if ratio is not None and max(ratio / estimate, estimate / ratio) <= CAPTURE_RATE_WITHIN:
        return round(ratio, 2)
    return round(estimate, 1)


def feet_move(pose: PoseSeries, leg_px: float, min_range_leg: float = 0.2) -> bool:
    """Whether either ankle swings fore-aft relative to the pelvis by a stepping amount."""
    hx = pose.hip_centre()[:, 0]
    for side in FEET:
        rel = (pose.xy[:, SIDE[side]["ankle"], 0] - hx) / leg_px
        if np.isfinite(rel).sum() >= 5 and np.nanpercentile(rel, 95) - np.nanpercentile(rel, 5) > min_range_leg:
            return True
    return False


def classify_direction(facing: int, travel: int) -> str:
    if travel == 0:
        return "unknown"
    return "backward" if facing * travel < 0 else "forward"


def classify_setting(pose: PoseSeries, stance: np.ndarray, vrel: np.ndarray, leg_px: float, travel: int,
                     scenery: SceneryProbe | None = None) -> str:
    """Overground the runner moves through the scene; on a treadmill they stay put while the stance foot moves.

    The hips crossing the frame settle it. Hips that stay put are a treadmill unless the
    scenery slides past: a camera panning to follow an overground runner.
    """
    hx = pose.hip_centre()[:, 0]
    ok = np.isfinite(hx)
    if ok.sum() < 10 or not stance.any():
        return "unknown"
    duration = pose.t_s[ok][-1] - pose.t_s[ok][0]
    hip_speed = np.polyfit(pose.t_s[ok], hx[ok], 1)[0] / leg_px
    stance_speed = np.nanmedian(np.abs(vrel[stance]))
    if duration <= 0 or not np.isfinite(stance_speed) or stance_speed < 0.1:
        return "unknown"
    if abs(hip_speed) > 0.5 * stance_speed:
        return "overground"
    motion = scenery(pose, leg_px) if scenery is not None else None
    if motion is None or not motion.one_way:
        return "treadmill"
    # Overground the scenery passes the runner against their travel, however the camera moves;
    # on a treadmill it moves with the runner, so it does not pass. The ground passes the hips
    # as fast as the stance foot does, which no shake fakes; far scenery passes slower (parallax)
    # and must lean one way beyond chance, as a few pairs from a plain wall can by luck.
    passing = motion.speed_px_s / leg_px
    ground_fast = abs(passing) >= GROUND_PASSING_SHARE * stance_speed
    far_scenery = motion.beyond_chance and abs(passing) > SCENERY_PASSING_LEG_S
    return "overground" if np.sign(passing) == -travel and (ground_fast or far_scenery) else "treadmill"


SCENERY_PASSING_LEG_S = 0.05  # L/s: steady one-way scenery motion past the hips, above shake and drift
GROUND_PASSING_SHARE = 0.5  # of the stance foot's speed past the hips: the ground under it passing
TRAVELLED_LEG = 1.0  # scenery past the hips over the clip, in L: the runner moved through the world


# Walking vaults over a stiff leg; above a Froude number v^2 / (g L) of 1 gravity cannot hold the body
# on it, so no one walks that fast. For a short adult's leg (0.75 m) that is 3.6 L/s; half as much
# again in case the leg reads short in the image (feet cut off, limbs out of the image plane).
BEYOND_WALKING_LEG_S = 5.5


def speed_through_scene(pose: PoseSeries, leg_px: float, scenery: SceneryProbe | None) -> float | None:
    """The scenery's image speed past the runner's hips in L/s, where it passed them by a leg length
    or more, whatever the camera did: the runner's speed through the world, against their travel
    (less for far scenery: parallax). None where it did not (standing, a treadmill) or cannot be told.
    What there is to go by with no steps: a runner crossing the frame in a second, feet cut off."""
    seen = pose.t_s[pose.detected]
    motion = scenery(pose, leg_px) if scenery is not None and len(seen) >= 2 else None
    if motion is None or not motion.beyond_chance:
        return None
    passing = motion.speed_px_s / leg_px
    return passing if abs(passing) * (seen[-1] - seen[0]) >= TRAVELLED_LEG else None


MAX_STRIDE_S = 8.0  # clip time: a run filmed at 8x slow motion


def _asked_once(scenery: SceneryProbe | None) -> SceneryProbe | None:
    """The probe reads the clip's frames; the setting and the travel with no steps both ask it,
    about the same pose."""
    if scenery is None:
        return None
    answers: list = []

    def once(pose: PoseSeries, leg_px: float) -> SceneryMotion | None:
        if not answers:
            answers.append(scenery(pose, leg_px))
        return answers[0]
    return once


def analyse_gait(pose: PoseSeries, facing: int, near_side: str, leg_px: float,
                 scenery: SceneryProbe | None = None) -> Gait:
    scenery = _asked_once(scenery)
    point_heights = foot_point_heights(pose, leg_px)
    heights = np.fmin(point_heights[..., 0], point_heights[..., 1])
    vrel = relative_foot_velocity(pose, leg_px, point_heights)
    travel = travel_sign(heights, vrel)
    stance = stance_mask(heights, vrel, travel, pose.t_s)
    contacts = find_contacts(pose, stance, point_heights, facing) if travel else []
    swing = swing_stride_time(pose)
    rhythm = swing or stride_time(contacts)
    if travel and rhythm is not None:
        locked = phase_locked_contacts(pose, foot_reach(pose, leg_px, travel), vrel, travel, rhythm,
                                       point_heights, facing)
        if len(locked) >= 3:
            contacts = _with_missed_stances(locked, contacts, rhythm)
            stance = _stance_of(contacts, len(pose))
    gait = Gait(facing=facing, travel=travel, direction=classify_direction(facing, travel),
                setting=classify_setting(pose, stance, vrel, leg_px, travel, scenery), gait_type="unknown",
                leg_length_px=leg_px, near_side=near_side, contacts=contacts, stance=stance,
                foot_height_leg=heights)
    stride = stride_time(contacts)
    if swing is not None and (stride is None or abs(stride / swing - 1.0) > 0.25):
        stride = swing  # contacts missed (blur, feet at the frame's edge): the legs' swing still shows the rhythm
    if stride is not None:
        stride = spectral_stride_time(pose, stride) or stride
    if stride is None or not 0.4 < stride < MAX_STRIDE_S or not feet_move(pose, leg_px):
        # No steady stepping: contacts and travel would come from pose jitter.
        gait.gait_type = "stand" if len(contacts) < 2 or not feet_move(pose, leg_px) else "unknown"
        gait.direction, gait.travel, gait.contacts = "unknown", 0, []
        if gait.gait_type == "unknown":  # too few steps for a rhythm, but the runner may still cross the scene
            passing = speed_through_scene(pose, leg_px, scenery)
            gait.travel = 0 if passing is None else (1 if passing < 0 else -1)
            gait.direction = classify_direction(facing, gait.travel)
            if passing is not None and abs(passing) > BEYOND_WALKING_LEG_S:
                gait.gait_type = "run"  # in clip time: slow motion only makes the real run faster
        return gait
    gait.stride_time_s = stride
    gait.cadence_spm = 120.0 / stride
    times = contact_times(contacts)
    duty = float(np.median(times)) / stride if times else float("nan")
    gait.duty_factor = duty if np.isfinite(duty) else None
    gait.gait_type = classify_gait(pose, leg_px, travel, stride, contacts, duty, gait.cadence_spm, near_side)
    gait.slow_motion_factor = slow_motion_factor(gait.gait_type, gait.cadence_spm, fps_of(pose.t_ms))
    gait.speed_ramp_ratio = speed_ramp_ratio(contacts)
    gait.belt_speed_leg_s = float(np.nanmedian(np.abs(vrel[mid_stance(stance)])))
    fill_step_lengths(contacts, vrel, stance, stride)  # per step, for the step table
    # The judged value uses all stances at once, steadier than the per-step values:
    # distance per step = belt (or running) speed x step time.
    gait.step_length_leg = np.array([gait.belt_speed_leg_s * stride / 2])
    return gait
