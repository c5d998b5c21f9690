"""One small function per coaching cue (RULES.md, cues.py), each returning a Finding.

Rules read an ``Evidence`` bundle (clean pose, gait events, per-frame angles) and
the ``Thresholds``; they never touch video or UI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from formcheck import pose as P
from formcheck.analysis.contacts import FEET, contact_times
from formcheck.analysis.gait import Gait
from formcheck.analysis.kinematics import SIDE, _runs
from formcheck.config import Thresholds
from formcheck.cues import CUES
from formcheck.pose import PoseSeries

PASS, CAUTION, FAIL, UNKNOWN = "pass", "caution", "fail", "unknown"


@dataclass
class Finding:
    id: str
    title: str
    status: str
    value: float | None
    unit: str
    target: str
    cue: str
    frames: list[int] = field(default_factory=list)  # decode indices that show it

    def to_dict(self) -> dict:
        value = None if self.value is None or not np.isfinite(self.value) else round(float(self.value), 3)
        return {"id": self.id, "title": self.title, "status": self.status, "value": value, "unit": self.unit,
                "target": self.target, "cue": self.cue, "frames": [int(f) for f in self.frames]}


@dataclass
class Evidence:
    pose: PoseSeries  # cleaned
    gait: Gait
    trunk_lean: np.ndarray  # (T,) deg
    elbow: np.ndarray  # (T,) deg, near arm

    @property
    def strides(self) -> list[tuple[int, int]]:
        """[start, stop) series indices of each stride of the near foot (fallback: any foot)."""
        for foot in (self.gait.near_side, *FEET):
            starts = [c.frame for c in self.gait.contacts if c.foot == foot]
            if len(starts) >= 2:
                return list(zip(starts[:-1], starts[1:]))
        return []

    def frames(self, series_idx) -> list[int]:
        return [int(self.pose.frame_index[i]) for i in series_idx]


def _label(cue_id: str) -> tuple[str, str]:
    return CUES[cue_id].title, CUES[cue_id].unit


def unknown(id_: str, title: str, unit: str, target: str, why: str) -> Finding:
    return Finding(id_, title, UNKNOWN, None, unit, target, why)


def _band(value: float, pass_band, caution_band) -> str:
    if pass_band[0] <= value <= pass_band[1]:
        return PASS
    if caution_band[0] <= value <= caution_band[1]:
        return CAUTION
    return FAIL


def _per_stride(ev: Evidence, series: np.ndarray, stat) -> np.ndarray:
    return np.array([stat(series[a:b]) for a, b in ev.strides if np.isfinite(series[a:b]).sum() >= 2])


def _median_of_stride_means(ev: Evidence, series: np.ndarray) -> float | None:
    """RULES.md judges per-stride means; without full strides, all frames stand in."""
    values = _per_stride(ev, series, np.nanmean)
    if not len(values):
        values = series[np.isfinite(series)]
    return float(np.median(values)) if len(values) else None


def _worst_frames(ev: Evidence, series: np.ndarray, target: float, n: int = 3) -> list[int]:
    finite = np.flatnonzero(np.isfinite(series))
    if not len(finite):
        return []
    worst = finite[np.argsort(-np.abs(series[finite] - target))][:n]
    return ev.frames(sorted(worst))


def _not_running(ev: Evidence) -> bool:
    return ev.gait.gait_type != "run"


def slow_motion_note(gait: Gait) -> str:
    """What the report says about a clip that is physically slow motion (gait.slowed)."""
    if gait.slow_motion_factor is None:
        return (f"Part of this clip looks slowed: some steps take about {gait.speed_ramp_ratio:g}x as long as "
                "others, which no runner's rhythm does (phones save slow motion with real-time ends). Cadence and "
                "contact times are not judged. Trim the clip to its slowed part and give the factor with --slowmo "
                "(or in the app's sidebar), or export it in real time.")
    return (f"This looks like a slow-motion clip: a run (with flight phases) at {gait.cadence_spm:.0f} "
            f"steps/min of clip time, which no one runs in real time; about {gait.slow_motion_factor:g}x "
            "slowed. Cadence and contact times are not judged. Give the factor (capture fps / playback "
            "fps, e.g. 120/30 = 4) with --slowmo, or set it in the app's sidebar.")


# ---------------------------------------------------------------------------
# The rules


def direction(ev: Evidence, th: Thresholds) -> Finding:
    g = ev.gait
    title, unit = _label("direction")
    target = "facing opposite to travel, flight phase (duty < 0.5)"
    if g.direction == "unknown" or g.gait_type == "stand":
        why = "Standing still: no steps to judge." if g.gait_type == "stand" else \
            "Could not tell which way the runner travels (too few clear steps)."
        return unknown("direction", title, unit, target, why)
    value = g.duty_factor
    if g.direction == "forward":  # known from the scenery passing even where the steps are not
        return Finding("direction", title, FAIL, value, unit, target,
                       "This clip shows forward motion: the form cues are for backward running.")
    if g.direction == "mixed":
        return Finding("direction", title, CAUTION, value, unit, target,
                       "The clip mixes backward and forward sections; only the backward parts are judged.")
    if g.gait_type not in ("run", "walk"):
        return unknown("direction", title, unit, target,
                       "Travelling backward, but too few clear steps to tell a jog from a walk.")
    if g.gait_type == "walk":
        return Finding("direction", title, CAUTION, value, unit, target,
                       "Walking backward (no flight phase): fine for warm-up, the running cues apply once you jog.")
    return Finding("direction", title, PASS, value, unit, target, "Backward running detected.")


def trunk_lean(ev: Evidence, th: Thresholds) -> Finding:
    title, unit = _label("trunk_lean")
    lo, hi = th.trunk_lean_pass
    target = f"{lo:g}-{hi:g}° toward the chest"
    value = _median_of_stride_means(ev, ev.trunk_lean)
    if value is None:
        return unknown("trunk_lean", title, unit, target, "The shoulders and hips were not visible.")
    status = _band(value, th.trunk_lean_pass, th.trunk_lean_caution)
    if value < th.trunk_lean_pass[0]:
        cue = "Lean slightly toward your chest: shoulders a little ahead of the hips, not upright or leaning back."
    elif value > th.trunk_lean_pass[1]:
        cue = "You are bent too far forward: stand taller, chest up, lean only slightly."
    else:
        cue = "Good slight forward lean; keep the chest up and shoulders back."
    return Finding("trunk_lean", title, status, value, unit, target, cue,
                   _worst_frames(ev, ev.trunk_lean, sum(th.trunk_lean_pass) / 2))


def trunk_stability(ev: Evidence, th: Thresholds) -> Finding:
    title, unit = _label("trunk_stability")
    target = f"lean range ≤ {th.trunk_range_pass:g}° per stride, SD ≤ {th.trunk_sd_pass:g}°"
    ranges = _per_stride(ev, ev.trunk_lean, lambda x: np.nanmax(x) - np.nanmin(x))
    sds = _per_stride(ev, ev.trunk_lean, np.nanstd)
    if not len(ranges):
        return unknown("trunk_stability", title, unit, target, "Not enough full strides to judge.")
    value, sd = float(np.median(ranges)), float(np.median(sds))
    if value <= th.trunk_range_pass and sd <= th.trunk_sd_pass:
        status, cue = PASS, "Steady upper body: keep the core engaged."
    elif value > th.trunk_range_fail:
        status, cue = FAIL, "Your trunk rocks a lot each stride: brace your core and keep the shoulders quiet."
    else:
        status, cue = CAUTION, "Some trunk rocking: brace your core a little more."
    return Finding("trunk_stability", title, status, value, unit, target, cue,
                   _worst_frames(ev, ev.trunk_lean, float(np.nanmedian(ev.trunk_lean))))


def elbow_angle(ev: Evidence, th: Thresholds) -> Finding:
    title, unit = _label("elbow_angle")
    lo, hi = th.elbow_pass
    target = f"{lo:g}-{hi:g}°"
    value = _median_of_stride_means(ev, ev.elbow)
    if value is None:
        return unknown("elbow_angle", title, unit, target, "The arm nearest the camera was not visible.")
    status = _band(value, th.elbow_pass, th.elbow_caution)
    if value > hi:
        cue = "Bend your elbows more, to about 90°: arms relaxed, not straight."
    elif value < lo:
        cue = "Open your elbows a little, to about 90°: relax the arms and hands."
    else:
        cue = "Elbows bent near 90°: good."
    return Finding("elbow_angle", title, status, value, unit, target, cue, _worst_frames(ev, ev.elbow, 90.0))


def _swing(pose: PoseSeries, facing: int, a: int, b: int) -> np.ndarray:
    """Horizontal offset of point a from point b along the facing direction."""
    return facing * (pose.xy[:, a, 0] - pose.xy[:, b, 0])


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 10 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def arm_leg_opposition(ev: Evidence, th: Thresholds) -> Finding:
    title, unit = _label("arm_leg_opposition")
    target = f"contralateral r ≥ {th.opposition_r_pass:g}"
    pose, f = ev.pose, ev.gait.facing
    if ev.gait.gait_type not in ("run", "walk") or ev.gait.cadence_spm is None:
        return unknown("arm_leg_opposition", title, unit, target, "Needs a clip with steady steps.")
    arm_side = ev.gait.near_side
    other = "right" if arm_side == "left" else "left"
    # The upper arm (elbow about shoulder) tracks the swing; the wrist also moves with elbow flexion.
    arm = _swing(pose, f, SIDE[arm_side]["elbow"], SIDE[arm_side]["shoulder"])
    r_other = _corr(arm, _swing(pose, f, SIDE[other]["ankle"], SIDE[other]["hip"]))
    r_same = _corr(arm, _swing(pose, f, SIDE[arm_side]["ankle"], SIDE[arm_side]["hip"]))
    # The legs swing in anti-phase, so -r_same is a second estimate; the far leg is often hidden.
    r_contra = float(np.nanmean([r_other, -r_same])) if np.isfinite([r_other, r_same]).any() else float("nan")
    if not np.isfinite(r_contra):
        return unknown("arm_leg_opposition", title, unit, target, "Arms or legs were not visible enough.")
    if r_contra >= th.opposition_r_pass:
        status, cue = PASS, "Arms swing opposite to the legs: good rhythm."
    elif r_same > th.same_side_r_fail:
        status, cue = FAIL, "Your arms swing with the same-side leg: swing each arm with the opposite leg."
    else:
        status, cue = CAUTION, "Arm swing is weakly coordinated with the legs: let the arms swing opposite to the legs."
    return Finding("arm_leg_opposition", title, status, r_contra, unit, target, cue)


def cadence(ev: Evidence, th: Thresholds) -> Finding:
    title, unit = _label("cadence")
    target = f"≥ {th.cadence_pass:g} steps/min"
    value = ev.gait.cadence_spm
    if value is None:
        return unknown("cadence", title, unit, target, "Too few foot contacts to measure cadence.")
    if _not_running(ev):
        return Finding("cadence", title, UNKNOWN, value, unit, target,
                       "Not running (walking or standing): the cadence target applies to running.")
    if ev.gait.slowed:
        return Finding("cadence", title, UNKNOWN, value, unit, target, slow_motion_note(ev.gait))
    if value >= th.cadence_pass:
        status, cue = PASS, "Quick, light steps: good cadence."
    elif value >= th.cadence_caution:
        status, cue = CAUTION, "Take slightly quicker, shorter steps."
    else:
        status, cue = FAIL, "Shorter, quicker steps: aim for about 170-180 steps per minute."
    return Finding("cadence", title, status, value, unit, target, cue)


def step_length(ev: Evidence, th: Thresholds) -> Finding:
    title, unit = _label("step_length")
    target = f"≤ {th.step_length_pass:.2f} L"
    steps = ev.gait.step_length_leg
    if not len(steps) or _not_running(ev):
        return unknown("step_length", title, unit, target, "Step length needs a running clip with clear foot contacts.")
    value = float(np.median(steps))
    if value <= th.step_length_pass:
        status, cue = PASS, "Short steps: good control."
    elif value <= th.step_length_caution:
        status, cue = CAUTION, "Steps are getting long: shorten them a little."
    else:
        status, cue = FAIL, "Steps are too long for backward running: take shorter, quicker steps."
    return Finding("step_length", title, status, value, unit, target, cue)


def overreach(ev: Evidence, th: Thresholds) -> Finding:
    title, unit = _label("overreach")
    target = f"≤ {th.overreach_pass:.2f} L behind the hips"
    g = ev.gait
    if not g.contacts or not g.travel:
        return unknown("overreach", title, unit, target, "No clear foot contacts.")
    hips = ev.pose.hip_centre()[:, 0]
    reach = np.array([g.travel * (c.x_px - hips[c.frame]) / g.leg_length_px for c in g.contacts])
    value = float(np.nanmedian(reach))
    if not np.isfinite(value):
        return unknown("overreach", title, unit, target, "The feet were not visible at contact.")
    if value <= th.overreach_pass:
        status, cue = PASS, "Feet land close under you: good."
    elif value <= th.overreach_caution:
        status, cue = CAUTION, "Your foot reaches back a bit far: land closer under your hips."
    else:
        status, cue = FAIL, "Don't reach back with your foot: land closer under your hips."
    order = np.argsort(-np.nan_to_num(reach, nan=-np.inf))[:3]
    return Finding("overreach", title, status, value, unit, target, cue,
                   ev.frames(sorted(g.contacts[i].frame for i in order)))


def forefoot_contact(ev: Evidence, th: Thresholds) -> Finding:
    title, unit = _label("forefoot_contact")
    target = f"toes first: foot pitch > +{th.forefoot_pitch_pass:g}° at touch-down"
    near = [c for c in ev.gait.contacts if c.foot == ev.gait.near_side and c.foot_pitch_deg is not None]
    if not near:
        return unknown("forefoot_contact", title, unit, target, "The near foot's contacts were not visible.")
    # Each touch-down is classed by pitch and by which of heel and toe lands first;
    # the verdict follows the majority, the value is the median pitch.
    value = float(np.median([c.foot_pitch_deg for c in near]))
    strikes = [c.strike for c in near]
    if strikes.count("forefoot") > len(strikes) / 2:
        status, cue = PASS, "Landing on the forefoot, toes first: good."
    elif strikes.count("heel") > len(strikes) / 2:
        status, cue = FAIL, "You land heel first: touch down with the toes and front of the foot."
    else:
        status, cue = CAUTION, "Landing flat-footed: let the toes touch first."
    heel_first = [c.frame for c in near if c.strike == "heel"] or [c.frame for c in near]
    return Finding("forefoot_contact", title, status, value, unit, target, cue, ev.frames(heel_first[:3]))


def _swing_windows(ev: Evidence, foot: str) -> list[tuple[int, int]]:
    """The middle 60 % of each swing (toe-off to next contact) of one foot."""
    own = [c for c in ev.gait.contacts if c.foot == foot]
    windows = []
    for prev, nxt in zip(own[:-1], own[1:]):
        a, b = prev.toe_off + 1, nxt.frame
        trim = int(round(0.2 * (b - a)))
        if b - a - 2 * trim >= 2:
            windows.append((a + trim, b - trim))
    return windows


def heel_drag(ev: Evidence, th: Thresholds) -> Finding:
    title, unit = _label("heel_drag")
    target = f"foot ≥ {th.drag_clearance_leg:g} L above ground for ≥ {1 - th.drag_fraction_fail:.0%} of swing"
    col = FEET.index(ev.gait.near_side)
    heights = ev.gait.foot_height_leg[:, col] if ev.gait.foot_height_leg is not None else None
    windows = _swing_windows(ev, ev.gait.near_side)
    if heights is None or not windows:
        return unknown("heel_drag", title, unit, target, "Not enough swing phases of the near foot were seen.")
    idx = np.concatenate([np.arange(a, b) for a, b in windows])
    low = heights[idx] < th.drag_clearance_leg
    value = float(np.mean(low))
    if value > th.drag_fraction_fail:
        status, cue = FAIL, "Your feet drag along the ground: lift them a little as they swing back."
    else:
        status, cue = PASS, "Feet clear the ground in swing: no dragging."
    return Finding("heel_drag", title, status, value, unit, target, cue, ev.frames(idx[low][:3]))


def vertical_oscillation(ev: Evidence, th: Thresholds) -> Finding:
    title, unit = _label("vertical_oscillation")
    target = f"hip bounce ≤ {th.oscillation_pass:.2f} L per step"
    contacts = ev.gait.contacts
    y = -ev.pose.hip_centre()[:, 1] / ev.gait.leg_length_px
    ranges = [np.nanmax(y[a.frame:b.frame]) - np.nanmin(y[a.frame:b.frame])
              for a, b in zip(contacts[:-1], contacts[1:]) if np.isfinite(y[a.frame:b.frame]).sum() >= 2]
    if not ranges or _not_running(ev):
        return unknown("vertical_oscillation", title, unit, target, "Needs a running clip with clear steps.")
    value = float(np.median(ranges))
    if value <= th.oscillation_pass:
        status, cue = PASS, "Smooth, low bounce: good."
    elif value <= th.oscillation_caution:
        status, cue = CAUTION, "A little bouncy: stay low and quick."
    else:
        status, cue = FAIL, "Too much bounce: push back along the ground, not up."
    return Finding("vertical_oscillation", title, status, value, unit, target, cue)


def head_turns(pose: PoseSeries, facing: int, min_s: float = 0.25) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Runs of frames where the head turns back (nose pulled toward the ears), and the turn mask.

    In a side view the nose sits ahead of the ears; looking over the shoulder brings
    it level with (or behind) them.
    """
    ahead = facing * (pose.xy[:, P.NOSE, 0] - P.midpoint(pose.xy, P.LEFT_EAR, P.RIGHT_EAR)[:, 0])
    typical = np.nanmedian(ahead)
    if not np.isfinite(typical) or typical <= 0:
        return [], np.zeros(len(pose), bool)
    with np.errstate(invalid="ignore"):
        turned = ahead < 0.3 * typical
    fps = 1000.0 / max(np.median(np.diff(pose.t_ms)), 1e-3) if len(pose) > 1 else 30.0
    runs = [(a, b) for a, b in _runs(turned) if (b - a) / fps >= min_s]
    return runs, turned


def head_check(ev: Evidence, th: Thresholds) -> Finding:
    title, unit = _label("head_check")
    target = f"≥ 1 look back per {th.head_check_every_s:g} s"
    runs, turned = head_turns(ev.pose, ev.gait.facing)
    seen = ev.pose.detected
    duration = float(ev.pose.t_s[seen][-1] - ev.pose.t_s[seen][0]) if seen.sum() > 1 else 0.0
    if duration <= 0:
        return unknown("head_check", title, unit, target, "The head was not visible.")
    rate = len(runs) / duration * th.head_check_every_s
    back_fraction = float(np.mean(turned[seen]))
    frames = ev.frames([a for a, _ in runs])
    if back_fraction > th.head_back_fraction_fail:
        return Finding("head_check", title, FAIL, rate, unit, target,
                       "You look back most of the time: glance over the shoulder briefly, then face forward.", frames)
    if runs:
        return Finding("head_check", title, PASS if rate >= 1 else CAUTION, rate, unit, target,
                       "Glancing over the shoulder: good for safety.", frames)
    if duration < th.head_check_every_s:  # too short to expect a look back: no value, not a measured zero
        return unknown("head_check", title, unit, target,
                       f"Not enough time to judge: {duration:.0f} s seen, and a look back is expected every "
                       f"{th.head_check_every_s:g} s. On longer runs glance over a shoulder every 20 s or so.")
    status = FAIL if duration > th.head_check_fail_after_s else CAUTION
    return Finding("head_check", title, status, 0.0, unit, target,
                   "Glance over your shoulder now and then to check your path.")


def contact_time(ev: Evidence, th: Thresholds) -> Finding:
    title, unit = _label("contact_time")
    fps = 1000.0 / max(np.median(np.diff(ev.pose.t_ms)), 1e-3) if len(ev.pose) > 1 else 30.0
    target = f"descriptive (±{1 / fps:.3f} s at {fps:.0f} fps)"
    times = contact_times(ev.gait.contacts)
    if not times:
        return unknown("contact_time", title, unit, target, "No foot contacts found.")
    value = float(np.median(times))
    if ev.gait.slowed:
        return Finding("contact_time", title, UNKNOWN, value, unit, target, slow_motion_note(ev.gait))
    lo, hi = th.contact_time_range
    if lo <= value <= hi:
        return Finding("contact_time", title, PASS, value, unit, target, f"Feet on the ground {value:.2f} s per step.")
    return Finding("contact_time", title, UNKNOWN, value, unit, target,
                   f"Contact time {value:.2f} s is outside the usual {lo:g}-{hi:g} s: film at a higher frame rate to check.")


RULES = [direction, trunk_lean, trunk_stability, elbow_angle, arm_leg_opposition, cadence, step_length,
         overreach, forefoot_contact, heel_drag, vertical_oscillation, head_check, contact_time]


def judge(ev: Evidence, th: Thresholds) -> list[Finding]:
    return [rule(ev, th) for rule in RULES]


MIN_SCORED_SHARE = 0.5  # with fewer of the scored cues judged, a score would mostly reflect what was missed


def score(findings: list[Finding]) -> int | None:
    """0-100 over the judged cues; None ("not enough to score") when too few could be judged:
    an unknown is not a pass."""
    points = {PASS: 1.0, CAUTION: 0.5, FAIL: 0.0}
    scored = [f for f in findings if CUES[f.id].scored]
    judged = [points[f.status] for f in scored if f.status in points]
    if not judged or len(judged) < MIN_SCORED_SHARE * len(scored):
        return None
    return int(round(100 * np.mean(judged)))
