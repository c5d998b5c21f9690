"""Split a session's pose series into intervals: walking / running, backwards / forwards, standing.

Each sliding window of a few seconds is classified with the same gait code as a whole
clip (facing, travel, stance, walk-vs-run from ``gait.py``); the label is placed at the
window's centre, runs of equal labels are merged, segments too short to be an interval
are absorbed by their neighbours, and each boundary first sits midway between the last
window centre of one label and the first of the next. Windows switch label only once the
new activity holds their majority (walking, with its long stances, wins sooner than
running; standing needs a nearly still window), which biases that estimate by up to
~0.8 s; ``refine`` then moves each boundary to the change point of smoothed per-frame
gait features within 2 s of it (typically within 0.3 s of the truth).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np

from formcheck.analysis import kinematics as K
from formcheck.analysis.contacts import FEET
from formcheck.analysis.gait import analyse_gait
from formcheck.analysis.kinematics import SIDE, fps_of
from formcheck.coaching.coach import BEGINNER_PLAN
from formcheck.pose import PoseSeries

LABELS = {
    "walk_backward": "walking backwards",
    "run_backward": "jogging/running backwards",
    "walk_forward": "walking forwards",
    "run_forward": "running forwards",
    "stand": "standing",
    "unknown": "unclear",
}


@dataclass
class Segment:
    kind: str  # a key of LABELS
    start_s: float
    end_s: float
    start_frame: int  # series index, inclusive
    end_frame: int  # series index, exclusive
    cadence_spm: float | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(label=self.label, duration_s=round(self.duration_s, 3), start_s=round(self.start_s, 3),
                 end_s=round(self.end_s, 3))
        if d["cadence_spm"] is not None:
            d["cadence_spm"] = round(d["cadence_spm"], 1)
        return d


def _slice(pose: PoseSeries, a: int, b: int) -> PoseSeries:
    return PoseSeries(pose.xy[a:b], pose.visibility[a:b], pose.t_ms[a:b], pose.frame_index[a:b],
                      pose.width, pose.height)


def _is_standing(pose: PoseSeries, leg_px: float, still_leg: float = 0.15) -> bool:
    """Standing: neither the hips nor the feet (relative to the hips) move more than a little."""
    hips = pose.hip_centre()
    if np.isfinite(hips[:, 0]).sum() < 5:
        return False
    spans = [np.nanpercentile(hips[:, 0], 95) - np.nanpercentile(hips[:, 0], 5)]
    for side in FEET:
        x = pose.xy[:, SIDE[side]["ankle"], 0] - hips[:, 0]
        if np.isfinite(x).sum() >= 5:
            spans.append(np.nanpercentile(x, 95) - np.nanpercentile(x, 5))
    return max(spans) / leg_px < still_leg


def classify_window(pose: PoseSeries, near: str, leg_px: float) -> tuple[str, float | None]:
    """(kind, cadence) of one window of a cleaned pose series."""
    if pose.detected.mean() < 0.5:
        return "unknown", None
    if _is_standing(pose, leg_px):
        return "stand", None
    facing = pose.facing_sign()
    gait = analyse_gait(pose, facing, near, leg_px)
    if gait.direction not in ("backward", "forward") or gait.gait_type not in ("walk", "run"):
        return "unknown", None
    return f"{gait.gait_type}_{gait.direction}", gait.cadence_spm


def window_labels(pose: PoseSeries, window_s: float = 4.0, step_s: float = 0.5,
                  clean: bool = True) -> list[tuple[float, str, float | None]]:
    """[(centre time s, kind, cadence)] for sliding windows over the series."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if clean:
            pose = K.clean(pose)
        t = pose.t_s
        if len(t) < 2:
            return []
        facing = pose.facing_sign()
        near = K.near_side(pose, facing)
        leg_px = K.leg_length_px(pose, near)
        if not np.isfinite(leg_px) or leg_px <= 0:
            return []
        span = t[-1] - t[0]
        window_s = min(window_s, span)
        out = []
        for start in np.arange(t[0], t[-1] - window_s + 1e-9, step_s):
            a, b = np.searchsorted(t, [start, start + window_s])
            if b - a < 10:
                continue
            kind, cad = classify_window(_slice(pose, a, b), near, leg_px)
            out.append((float(start + window_s / 2), kind, cad))
        return out


def segment(pose: PoseSeries, window_s: float = 4.0, step_s: float = 0.5, min_segment_s: float = 3.0,
            clean: bool = True, refine_boundaries: bool = True) -> list[Segment]:
    """Split a pose series into intervals of one kind each (see the module doc)."""
    labels = window_labels(pose, window_s, step_s, clean)
    t = pose.t_s
    if not labels:
        return [Segment("unknown", float(t[0]), float(t[-1]), 0, len(t))] if len(t) else []
    centres = np.array([c for c, _, _ in labels])
    kinds = [k for _, k, _ in labels]
    runs = _runs_of(kinds)
    runs = _absorb_short(runs, centres, kinds, min_segment_s, step_s)
    segments = []
    for i, (kind, a, b) in enumerate(runs):
        start = float(t[0]) if i == 0 else (centres[a - 1] + centres[a]) / 2
        end = float(t[-1]) if i == len(runs) - 1 else (centres[b - 1] + centres[b]) / 2
        cads = [labels[j][2] for j in range(a, b) if labels[j][1] == kind and labels[j][2] is not None]
        segments.append(Segment(kind, float(start), float(end), int(np.searchsorted(t, start)),
                                int(np.searchsorted(t, end)) if i < len(runs) - 1 else len(t),
                                float(np.median(cads)) if cads else None))
    return refine(pose, segments, clean=clean) if refine_boundaries else segments


def _runs_of(kinds: list[str]) -> list[list]:
    runs = []
    for i, k in enumerate(kinds):
        if runs and runs[-1][0] == k:
            runs[-1][2] = i + 1
        else:
            runs.append([k, i, i + 1])
    return runs


def _absorb_short(runs: list[list], centres: np.ndarray, kinds: list[str], min_s: float, step_s: float) -> list[list]:
    """Give runs shorter than ``min_s`` (and unclear ones between two equal neighbours) to their
    neighbours, split at the middle; then merge equal neighbours."""
    min_windows = max(1, int(round(min_s / step_s)))
    changed = True
    while changed and len(runs) > 1:
        changed = False
        # the shortest offending run first, so real short intervals survive their noisy edges
        order = sorted(range(len(runs)), key=lambda i: runs[i][2] - runs[i][1])
        for i in order:
            kind, a, b = runs[i]
            short = b - a < min_windows or kind == "unknown" and b - a < 2 * min_windows
            if not short:
                continue
            prev = runs[i - 1] if i > 0 else None
            nxt = runs[i + 1] if i + 1 < len(runs) else None
            if prev and nxt:
                mid = (a + b) // 2
                prev[2], nxt[1] = mid, mid
            elif prev:
                prev[2] = b
            elif nxt:
                nxt[1] = a
            del runs[i]
            runs = _merge(runs)
            changed = True
            break
    return runs


def _merge(runs: list[list]) -> list[list]:
    out = []
    for r in runs:
        if r[2] <= r[1]:
            continue
        if out and out[-1][0] == r[0]:
            out[-1][2] = r[2]
        else:
            out.append(list(r))
    return out


def summary(segments: list[Segment]) -> str:
    return "\n".join(f"{s.start_s:7.1f}-{s.end_s:7.1f} s  {s.label}"
                     + (f" ({s.cadence_spm:.0f} steps/min)" if s.cadence_spm else "") for s in segments)


# ---------------------------------------------------------------------------
# Boundary refinement: a change point in per-frame gait features near each coarse boundary


def frame_features(pose: PoseSeries, leg_px: float, smooth_s: float = 1.0) -> np.ndarray:
    """(T, 3) per-frame features, smoothed over ``smooth_s``: signed stance-foot speed along the
    facing direction (+ backward, - forward, 0 standing), feet on the ground (0-2), foot speed."""
    from scipy.ndimage import uniform_filter1d

    from formcheck.analysis.contacts import foot_point_heights, relative_foot_velocity

    points = foot_point_heights(pose, leg_px)
    heights = np.fmin(points[..., 0], points[..., 1])
    vrel = relative_foot_velocity(pose, leg_px, points)
    lower = np.argmin(np.nan_to_num(heights, nan=np.inf), axis=1)
    rows = np.arange(len(pose))
    heel = np.stack([pose.xy[:, SIDE[s]["heel"], 0] for s in FEET], axis=1)[rows, lower]
    toe = np.stack([pose.xy[:, SIDE[s]["toe"], 0] for s in FEET], axis=1)[rows, lower]
    with np.errstate(invalid="ignore"):
        signed = np.sign(toe - heel) * vrel[rows, lower]
        grounded = (heights < 0.05).sum(axis=1).astype(float)
    speed = np.nanmean(np.abs(vrel), axis=1)
    feats = np.stack([signed, grounded, speed], axis=1)
    feats = np.where(np.isfinite(feats), feats, 0.0)
    fps = fps_of(pose.t_ms)
    return uniform_filter1d(feats, max(1, int(round(smooth_s * fps))), axis=0, mode="nearest")


def change_point(feats: np.ndarray) -> int:
    """Index splitting ``feats`` into two parts of least total squared deviation (features standardised)."""
    x = feats / np.maximum(feats.std(axis=0), 1e-6)
    n = len(x)
    c1, c2 = np.cumsum(x, axis=0), np.cumsum(x ** 2, axis=0)
    best, best_k = np.inf, n // 2
    for k in range(2, n - 1):
        left = (c2[k - 1] - c1[k - 1] ** 2 / k).sum()
        rs1, rs2 = c1[-1] - c1[k - 1], c2[-1] - c2[k - 1]
        right = (rs2 - rs1 ** 2 / (n - k)).sum()
        if left + right < best:
            best, best_k = left + right, k
    return best_k


def refine(pose: PoseSeries, segments: list[Segment], search_s: float = 2.0, clean: bool = True) -> list[Segment]:
    """Move each boundary to the change point of the per-frame features within ``search_s`` of it
    (never past the middle of a neighbouring segment)."""
    if len(segments) < 2:
        return segments
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if clean:
            pose = K.clean(pose)
        near = K.near_side(pose, pose.facing_sign())
        leg_px = K.leg_length_px(pose, near)
        if not np.isfinite(leg_px):
            return segments
        feats = frame_features(pose, leg_px)
    t = pose.t_s
    out = [Segment(**{k: getattr(s, k) for k in ("kind", "start_s", "end_s", "start_frame", "end_frame",
                                                  "cadence_spm")}) for s in segments]
    for left, right in zip(out[:-1], out[1:]):
        b = right.start_s
        lo = max(b - search_s, (left.start_s + left.end_s) / 2)
        hi = min(b + search_s, (right.start_s + right.end_s) / 2)
        a, z = np.searchsorted(t, [lo, hi])
        if z - a < 6:
            continue
        k = a + change_point(feats[a:z])
        new = float((t[k - 1] + t[k]) / 2)
        left.end_s = right.start_s = new
        left.end_frame = right.start_frame = int(k)
    return out


# ---------------------------------------------------------------------------
# The beginner plan as a live interval timer: pure functions of elapsed seconds, so the
# same code runs on the camera's clock, the wall clock or a test's fake clock.

# plan step (coach.BEGINNER_PLAN) -> interval kind; jogging and running backwards are both "run"
STEP_KIND = {"walk backwards": "walk_backward", "jog backwards": "run_backward", "run backwards": "run_backward",
             "walk forwards": "walk_forward", "run forwards": "run_forward"}
ANNOUNCE_S = 4.0  # a change stays announced this long
WARN_S = 5.0  # the next change is counted down this long before it
CHECK_GRACE_S = 8.0  # the rolling analysis needs this long in a phase before it can tell what the runner does


@dataclass(frozen=True)
class Phase:
    activity: str  # the plan's words, e.g. "jog backwards"
    kind: str  # a key of LABELS
    start_s: float
    duration_s: float
    round_no: int  # 0 = warm-up, then 1..rounds

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def plan_phases(plan: dict | None = None, rounds: int | None = None) -> list[Phase]:
    """The plan laid out in time: the warm-up steps once, then ``rounds`` rounds (default: the fewest)."""
    plan = plan or BEGINNER_PLAN
    rounds = int(rounds or plan["rounds"][0])
    warm_up, one_round = plan["steps"][:plan["repeat_from"]], plan["steps"][plan["repeat_from"]:]
    steps = [(a, d, 0) for a, d in warm_up] + [(a, d, r) for r in range(1, rounds + 1) for a, d in one_round]
    phases, t = [], 0.0
    for activity, duration, round_no in steps:
        phases.append(Phase(activity, STEP_KIND[activity], t, float(duration), round_no))
        t += float(duration)
    return phases


@dataclass(frozen=True)
class TimerState:
    elapsed_s: float
    index: int  # into the phases; len(phases) once the plan is done
    phase: Phase | None  # None once done
    next_phase: Phase | None
    time_left_s: float  # in this phase
    since_change_s: float  # since this phase (or the end of the plan) began
    rounds: int
    total_s: float

    @property
    def finished(self) -> bool:
        return self.phase is None

    @property
    def announcing(self) -> bool:
        """Just changed: the front end shows the change loudly."""
        return self.since_change_s < ANNOUNCE_S

    @property
    def counting_down(self) -> bool:
        return self.phase is not None and self.next_phase is not None and self.time_left_s <= WARN_S

    def headline(self) -> str:
        if self.phase is None:
            return "PLAN DONE"
        return self.phase.activity.upper()

    def clock(self) -> str:
        """Time left in this phase as m:ss (rounded up, so 0:00 only at the change)."""
        left = int(np.ceil(max(self.time_left_s, 0.0) - 1e-9))
        return f"{left // 60}:{left % 60:02d}"

    def detail(self) -> str:
        """The second line: what comes next (counted down near the change), and where in the plan."""
        if self.phase is None:
            return "Walk easy for a few minutes, then stretch hamstrings, calves and hip flexors."
        where = "warm-up" if self.phase.round_no == 0 else f"round {self.phase.round_no} of {self.rounds}"
        if self.next_phase is None:
            return f"last interval · {where}"
        length = _duration_words(self.next_phase.duration_s)
        if self.counting_down:
            return f"in {int(np.ceil(self.time_left_s - 1e-9))} s: {self.next_phase.activity.upper()} {length} · {where}"
        return f"next: {self.next_phase.activity} {length} · {where}"


def _duration_words(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def timer_state(phases: list[Phase], elapsed_s: float) -> TimerState:
    """Where the plan is after ``elapsed_s`` seconds (negative times count as 0)."""
    elapsed_s = max(0.0, float(elapsed_s))
    rounds = max((p.round_no for p in phases), default=0)
    total = phases[-1].end_s if phases else 0.0
    index = next((i for i, p in enumerate(phases) if elapsed_s < p.end_s), len(phases))
    if index == len(phases):
        return TimerState(elapsed_s, index, None, None, 0.0, elapsed_s - total, rounds, total)
    phase = phases[index]
    nxt = phases[index + 1] if index + 1 < len(phases) else None
    return TimerState(elapsed_s, index, phase, nxt, phase.end_s - elapsed_s, elapsed_s - phase.start_s, rounds, total)


class IntervalTimer:
    """The plan on a clock. ``state(now)`` starts the timer at its first call (or at ``start(now)``);
    ``now`` defaults to ``clock()`` (seconds), so a test passes a fake clock or explicit times."""

    def __init__(self, rounds: int | None = None, plan: dict | None = None, clock=None):
        import time

        self.phases = plan_phases(plan, rounds)
        self.rounds = max(p.round_no for p in self.phases)
        self._clock = clock or time.monotonic
        self._started: float | None = None

    def start(self, now: float | None = None) -> None:
        self._started = self._clock() if now is None else float(now)

    @property
    def started(self) -> bool:
        return self._started is not None

    def state(self, now: float | None = None) -> TimerState:
        now = self._clock() if now is None else float(now)
        if self._started is None:
            self._started = now
        return timer_state(self.phases, now - self._started)


def activity_check(state: TimerState, direction: str | None, gait_type: str | None,
                   grace_s: float = CHECK_GRACE_S) -> tuple[bool | None, str]:
    """Does what the runner does (the rolling analysis' direction and walk/run) match the phase?
    (None, "") while it cannot be told: plan done, too early in the phase, or gait unclear."""
    if state.phase is None or state.since_change_s < grace_s:
        return None, ""
    if direction not in ("backward", "forward") or gait_type not in ("walk", "run"):
        return None, ""
    doing = f"{gait_type}_{direction}"
    if doing == state.phase.kind:
        return True, f"on plan: {LABELS[doing]}"
    return False, f"the plan says {state.phase.activity}; you are {LABELS[doing]}"
