"""Coaching: from findings to a short training plan (pure, no I/O).

* ``rank_fixes``: at most three fixes, worst first, never two for the same body part.
  A fix's priority is how far its value lies outside the pass band (normalised by the
  band's tolerance, see ``severity``), plus one for a fail, times the confidence in the
  measurement.
* ``finding_confidence``: 0..1 per finding from landmark visibility, frame rate against
  contact time, camera angle (how much the apparent leg length varies) and, for the
  look-back rate, how long the runner was seen; cues not judged get no number.
* ``capture_check``: how to film better (side on, hip height, whole body, 60 fps).
* ``session_guidance`` and ``BEGINNER_PLAN``: how often and how long to run backwards.

Drills follow the usual backward-running guidance: lunges, calf raises, hip bridges,
planks, side planks, Russian twists; hamstring, calf and hip-flexor stretches after.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from formcheck import pose as P
from formcheck.analysis.contacts import contact_times
from formcheck.analysis.kinematics import SIDE, fps_of
from formcheck.analysis.rules import CAUTION, FAIL, Evidence, Finding
from formcheck.config import Thresholds
from formcheck.cues import CUES

MAX_FIXES = 3

STRETCHES = ["hamstrings", "calves", "hip flexors"]
STRETCH_NOTE = "After the run, stretch hamstrings, calves and hip flexors, about 30 s each side."

@dataclass
class Fix:
    rule_id: str
    title: str
    status: str
    body_part: str
    severity: float  # distance outside the pass band / tolerance
    confidence: float  # 0..1
    priority: float
    value: float | None
    unit: str
    target: str
    cue: str
    why: str
    drill: str
    frames: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("severity", "confidence", "priority"):
            d[k] = round(float(d[k]), 3)
        if d["value"] is not None:
            d["value"] = round(float(d["value"]), 3) if np.isfinite(d["value"]) else None
        return d


@dataclass
class CaptureCheck:
    ok: bool
    tips: list[str]
    measures: dict

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Coaching:
    fixes: list[Fix]
    confidence: dict  # rule id -> 0..1
    capture: CaptureCheck
    sessions: dict
    plan: dict
    stretches: str = STRETCH_NOTE
    notes: list[str] = field(default_factory=list)
    not_judged: list[dict] = field(default_factory=list)  # [{id, title, reason}]

    def to_dict(self) -> dict:
        return {"fixes": [f.to_dict() for f in self.fixes],
                "confidence": {k: round(float(v), 3) for k, v in self.confidence.items()},
                "capture": self.capture.to_dict(), "sessions": self.sessions, "plan": self.plan,
                "stretches": self.stretches, "notes": self.notes, "not_judged": self.not_judged}


# ---------------------------------------------------------------------------
# Ranking


def severity(f: Finding, th: Thresholds) -> float:
    """How far outside the pass band (cues.Cue.outside), and at least a little for a status
    outside pass (e.g. trunk SD, look-back fraction)."""
    v, spec = f.value, CUES.get(f.id)
    s = 0.0 if v is None or not np.isfinite(v) or spec is None or spec.outside is None else spec.outside(v, th)
    floor = {FAIL: 1.0, CAUTION: 0.25}.get(f.status, 0.0)
    return float(max(s, floor))


def rank_fixes(findings: list[Finding], th: Thresholds | None = None, confidence: dict | None = None,
               limit: int = MAX_FIXES) -> list[Fix]:
    """At most ``limit`` fixes, worst first, one per body part. Only caution/fail findings count."""
    th = th or Thresholds()
    confidence = confidence or {}
    candidates = []
    for f in findings:
        spec = CUES.get(f.id)
        if spec is None or spec.body_part is None or f.status not in (CAUTION, FAIL):
            continue
        sev = severity(f, th)
        conf = float(confidence.get(f.id, 1.0))
        priority = (sev + (1.0 if f.status == FAIL else 0.0)) * conf
        candidates.append(Fix(f.id, f.title, f.status, spec.body_part, sev, conf, priority, f.value, f.unit,
                              f.target, f.cue, spec.why, spec.drill, list(f.frames)))
    candidates.sort(key=lambda x: -x.priority)
    fixes, parts = [], set()
    for fix in candidates:
        if fix.body_part in parts:
            continue
        parts.add(fix.body_part)
        fixes.append(fix)
        if len(fixes) == limit:
            break
    return fixes


# ---------------------------------------------------------------------------
# Confidence and capture quality


def _landmark_ids(names, near: str) -> list[int]:
    ids = []
    for n in names:
        if n == "shoulders":
            ids += [P.LEFT_SHOULDER, P.RIGHT_SHOULDER]
        elif n == "hips":
            ids += [P.LEFT_HIP, P.RIGHT_HIP]
        elif n == "head":
            ids += [P.NOSE, P.LEFT_EAR, P.RIGHT_EAR]
        else:
            ids.append(SIDE[near][n])
    return ids


def leg_length_variation(ev: Evidence) -> float:
    """Coefficient of variation of the near leg's apparent length (thigh + shank).

    Side on, the segments keep their length in the image; filmed at an angle, or with
    the runner moving toward the camera, they shrink and grow with foreshortening."""
    s = SIDE[ev.gait.near_side]
    xy = ev.pose.xy
    legs = (np.linalg.norm(xy[:, s["hip"]] - xy[:, s["knee"]], axis=1)
            + np.linalg.norm(xy[:, s["knee"]] - xy[:, s["ankle"]], axis=1))
    legs = legs[np.isfinite(legs)]
    if len(legs) < 5 or np.median(legs) <= 0:
        return float("nan")
    # robust spread: 10-90 % range over the median, scaled to a SD-like number
    return float((np.percentile(legs, 90) - np.percentile(legs, 10)) / np.median(legs) / 2.56)


def _clip01(x: float, lo: float = 0.0) -> float:
    return float(min(1.0, max(lo, x)))


def confidence_factors(ev: Evidence) -> dict:
    """The per-clip ingredients of confidence (each 0..1, 1 = no doubt)."""
    pose = ev.pose
    fps = fps_of(pose.t_ms) if len(pose) > 1 else 0.0
    times = contact_times(ev.gait.contacts)
    contact = np.median(times) if times else 0.25
    frame_share = (1.0 / fps) / max(contact, 0.05) if fps > 0 else 1.0
    cv = leg_length_variation(ev)
    return {
        "fps": round(float(fps), 2),
        "frame_share_of_contact": round(float(frame_share), 3),
        "timing": _clip01(1.0 - (frame_share - 0.05) / 0.25, lo=0.3),
        "leg_length_cv": None if not np.isfinite(cv) else round(cv, 4),
        "camera": 0.5 if not np.isfinite(cv) else _clip01(1.0 - (cv - 0.04) / 0.16, lo=0.2),
        "detected": float(pose.detected.mean()) if len(pose) else 0.0,
    }


def seen_seconds(ev: Evidence) -> float:
    """How long the runner was in view, first to last detected frame."""
    seen = ev.pose.detected
    return float(ev.pose.t_s[seen][-1] - ev.pose.t_s[seen][0]) if seen.sum() > 1 else 0.0


def observation_factor(rule_id: str, seen_s: float, th: Thresholds) -> float:
    """Rate cues need time: a look back every 20 s is only a fair guess after a few such periods
    (0.5 at one period, 1 from two on). Other cues are judged per step and need no more than the clip."""
    if rule_id == "head_check":
        return _clip01(seen_s / (2.0 * th.head_check_every_s))
    return 1.0


def finding_confidence(ev: Evidence, findings: list[Finding], factors: dict | None = None,
                       th: Thresholds | None = None) -> dict:
    """rule id -> 0..1 confidence from landmark visibility, frame rate vs contact time, camera angle and,
    for rate cues, how long the runner was seen. Findings that were not judged (status unknown) get no
    entry: "not judged" is not the same as "judged with 0 % confidence"."""
    factors = factors or confidence_factors(ev)
    th = th or Thresholds()
    seen = ev.pose.detected
    seen_s = seen_seconds(ev)
    out = {}
    for f in findings:
        if f.status == "unknown":
            continue
        spec = CUES[f.id]
        ids = _landmark_ids(spec.landmarks, ev.gait.near_side)
        vis = float(np.mean(ev.pose.visibility[seen][:, ids])) if seen.any() else 0.0
        c = _clip01((vis - 0.3) / 0.6)
        if spec.timing:
            c *= factors["timing"]
        c *= factors["camera"]
        c *= _clip01(factors["detected"] / 0.8, lo=0.2)
        c *= observation_factor(f.id, seen_s, th)
        out[f.id] = round(c, 3)
    return out


def not_judged(findings: list[Finding]) -> list[dict]:
    """The cues this clip could not judge, each with the reason (the finding's cue says why)."""
    return [{"id": f.id, "title": f.title, "reason": f.cue} for f in findings if f.status == "unknown"]


def _ground_offset_leg(ev: Evidence) -> float:
    """Height difference of the two feet's ground lines, in L: near zero from hip height,
    larger when the camera looks down (the far foot lands higher in the image)."""
    levels = []
    for side in ("left", "right"):
        s = SIDE[side]
        y = np.fmax(ev.pose.xy[:, s["heel"], 1], ev.pose.xy[:, s["toe"], 1])  # lowest point: largest y
        if np.isfinite(y).sum() < 5:
            return float("nan")
        levels.append(np.nanpercentile(y, 95))
    return float(abs(levels[0] - levels[1]) / ev.gait.leg_length_px)


def capture_check(ev: Evidence, factors: dict | None = None) -> CaptureCheck:
    """How good the footage is for judging form, and how to film better."""
    factors = factors or confidence_factors(ev)
    pose = ev.pose
    tips = []
    cv = factors["leg_length_cv"]
    if cv is not None and cv > 0.08:
        tips.append("Film side on: stand square to the running line so the runner crosses the frame, "
                    "not toward or away from the camera.")
    offset = _ground_offset_leg(ev)
    if np.isfinite(offset) and offset > 0.08:
        tips.append("Put the camera at hip height (about 1 m), level, not looking down on the runner.")
    near = SIDE[ev.gait.near_side]
    key = [P.NOSE, near["heel"], near["toe"], near["wrist"]]  # far-side points are often hidden side on
    seen = pose.detected
    inside = np.zeros(0)
    if seen.any():
        xy = pose.xy[seen][:, key]
        inside = ((xy[..., 0] >= 0) & (xy[..., 0] <= pose.width) & (xy[..., 1] >= 0) & (xy[..., 1] <= pose.height)
                  & (pose.visibility[seen][:, key] > 0.5)).all(axis=1)
    whole = float(inside.mean()) if len(inside) else 0.0
    if whole < 0.9:
        tips.append("Keep the whole body in the frame, head to toes, with a little space around the feet.")
    leg_share = ev.gait.leg_length_px / pose.height if pose.height and np.isfinite(ev.gait.leg_length_px) else float("nan")
    if np.isfinite(leg_share) and leg_share < 0.15:
        tips.append("Move the camera closer (or zoom): the runner should fill at least half the frame height.")
    fps = factors["fps"]
    if 0 < fps < 50:
        tips.append(f"Film at 60 fps or more (this clip is {fps:.0f} fps; one frame is {1000 / fps:.0f} ms of "
                    "a ~250 ms ground contact).")
    if factors["detected"] < 0.8:
        tips.append("The runner was lost in some frames: film in good light against a plain background.")
    measures = {"leg_length_cv": cv, "ground_offset_leg": None if not np.isfinite(offset) else round(offset, 3),
                "whole_body_fraction": round(whole, 3), "fps": fps,
                "leg_share_of_frame": None if not np.isfinite(leg_share) else round(float(leg_share), 3),
                "detected_fraction": round(factors["detected"], 3)}
    return CaptureCheck(ok=not tips, tips=tips, measures=measures)


# ---------------------------------------------------------------------------
# Sessions


BEGINNER_PLAN = {
    "title": "Beginner interval plan",
    "steps": [("walk backwards", 300), ("jog backwards", 30), ("walk forwards", 60),
              ("run backwards", 20), ("walk forwards", 60)],
    "repeat_from": 1,  # the steps from here on form one round
    "rounds": [4, 5],
    "note": "Walk backwards 5 min to warm up, then 4-5 rounds of: jog backwards 30 s, walk forwards 1 min, "
            "run backwards 20 s, walk forwards 1 min.",
}


def plan_minutes(plan: dict = BEGINNER_PLAN) -> tuple[float, float]:
    """Total length of the plan in minutes, for the fewest and most rounds."""
    steps = plan["steps"]
    warm = sum(s for _, s in steps[:plan["repeat_from"]])
    rnd = sum(s for _, s in steps[plan["repeat_from"]:])
    return tuple(round((warm + r * rnd) / 60, 1) for r in plan["rounds"])


def session_guidance(session_minutes: float | None = None, sessions_per_week: float | None = None,
                     level: str = "beginner") -> dict:
    """How often and how long: 1-2 sessions a week of 10-15 min for beginners, building to 20."""
    lo, hi = (10, 15) if level == "beginner" else (15, 20)
    lines = [f"Run backwards 1-2 times a week for {lo}-{hi} minutes"
             + (", building up to 20 minutes over the weeks." if level == "beginner" else "."),
             "Backward running works the muscles differently: stop while your form still feels good."]
    notes = []
    if session_minutes is not None and session_minutes > 30:
        notes.append(f"This session was about {session_minutes:.0f} minutes: that is a lot of backward running. "
                     "Consider shorter sessions (up to 20 minutes) and add time gradually.")
    if sessions_per_week is not None and sessions_per_week > 3:
        notes.append(f"{sessions_per_week:.0f} sessions a week is more than the 1-2 suggested: "
                     "leave rest days between sessions while you adapt.")
    return {"level": level, "sessions_per_week": [1, 2], "minutes": [lo, hi], "build_to_minutes": 20,
            "advice": lines, "notes": notes}


def coach(findings: list[Finding], ev: Evidence | None = None, th: Thresholds | None = None,
          session_minutes: float | None = None) -> Coaching:
    """Everything coaching for one analysed clip."""
    if ev is not None:
        factors = confidence_factors(ev)
        conf = finding_confidence(ev, findings, factors, th)
        capture = capture_check(ev, factors)
    else:
        conf, capture = {}, CaptureCheck(ok=True, tips=[], measures={})
    plan = dict(BEGINNER_PLAN, steps=[list(s) for s in BEGINNER_PLAN["steps"]], minutes=list(plan_minutes()))
    notes = []
    direction = next((f for f in findings if f.id == "direction"), None)
    if direction is not None and direction.status != "pass":
        notes.append(direction.cue + " The fixes are for backward running.")
    return Coaching(fixes=rank_fixes(findings, th, conf), confidence=conf, capture=capture,
                    sessions=session_guidance(session_minutes), plan=plan, notes=notes,
                    not_judged=not_judged(findings))
