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

from . import kinematics as K
from .gait import FEET, analyse_gait
from .kinematics import SIDE, hip_mid
from .pose import PoseSeries

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
    hips = hip_mid(pose)
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
    facing = K.facing_sign(pose)
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
        facing = K.facing_sign(pose)
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

    from .gait import foot_point_heights, relative_foot_velocity

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
    fps = 1.0 / float(np.median(np.diff(pose.t_s))) if len(pose) > 1 else 30.0
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
        near = K.near_side(pose, K.facing_sign(pose))
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
