"""Foot contacts, direction-free (pure numpy): foot heights and sliding, stance, touch-down and take-off.

Each step is anchored on the legs' fore-aft swing, the clearest signal a side view has of
the feet: a foot lands just after it is farthest ahead of the pelvis in the direction of
travel, once it slides back against travel at the running (or belt) speed, and lifts just
before it is farthest behind. Sliding back, not height, separates a planted foot from a
dragging swing foot, and it holds on a treadmill and overground alike. Stances seen from
height and sliding together fill in the steps the swing misses, and stand in where the legs
show no steady rhythm. Nothing here assumes forward running.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from formcheck.analysis.kinematics import SIDE, _runs, foot_pitch_deg, fps_of
from formcheck.pose import PoseSeries

FEET = ("left", "right")


@dataclass
class Contact:
    foot: str
    frame: int  # index into the pose series
    toe_off: int  # last stance frame (estimated from the typical stance when not seen)
    time_s: float
    contact_time_s: float | None  # None: the take-off was not seen clearly (clip end, landmarks lost)
    strike: str  # forefoot | flat | heel | uncertain
    foot_pitch_deg: float | None
    x_px: float  # lowest foot point at contact, image x
    step_length_leg: float | None = None  # distance travelled until the next contact, in L


def _velocity(x: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    return np.gradient(x, t_s, axis=0) if len(x) > 2 else np.zeros_like(x)


def ground_level(y_up: np.ndarray, t_s: np.ndarray, window_s: float = 1.5) -> np.ndarray:
    """(T,) a point's ground level over time: a low running envelope of its height.

    Local in time because the ground is rarely level in the image: a camera that
    is slightly tilted or a runner crossing in perspective moves it by 0.1 L or more.
    """
    from scipy.ndimage import median_filter, minimum_filter1d

    fps = fps_of(t_s * 1000.0)
    width = max(3, int(round(window_s * fps)) | 1)
    finite = np.isfinite(y_up)
    filled = np.where(finite, y_up, np.nanmax(y_up))
    low = minimum_filter1d(filled, width, mode="nearest")
    # the median of the running minimum ignores single noisy low points
    return median_filter(low, size=width, mode="nearest")


def foot_point_heights(pose: PoseSeries, leg_px: float) -> np.ndarray:
    """(T, 2 feet, 2 points: heel, toe) height above each point's own ground level, in L.

    Heel and toe landmarks sit at different heights above the sole, so each
    point gets its own ground level.
    """
    out = np.full((len(pose), 2, 2), np.nan)
    for col, side in enumerate(FEET):
        for k, point in enumerate((SIDE[side]["heel"], SIDE[side]["toe"])):
            y_up = -pose.xy[:, point, 1]
            if np.isfinite(y_up).sum() >= 3:
                out[:, col, k] = (y_up - ground_level(y_up, pose.t_s)) / leg_px
    return out


def relative_foot_velocity(pose: PoseSeries, leg_px: float, point_heights: np.ndarray) -> np.ndarray:
    """(T, 2) horizontal velocity, relative to the pelvis, of each foot's lower point
    (heel or toe), in L/s. The lower point is the one on the ground in stance, so its
    speed is the belt speed (treadmill) or the running speed (overground)."""
    hx = pose.hip_centre()[:, 0]
    out = np.full((len(pose), 2), np.nan)
    for col, side in enumerate(FEET):
        s = SIDE[side]
        v = _velocity(pose.xy[:, [s["heel"], s["toe"]], 0] - hx[:, None], pose.t_s) / leg_px
        toe_lower = np.nan_to_num(point_heights[:, col, 1], nan=np.inf) < np.nan_to_num(point_heights[:, col, 0], nan=np.inf)
        out[:, col] = np.where(toe_lower, v[:, 1], v[:, 0])
    return out


def _grow(core: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Extend each run of ``core`` outwards through contiguous ``allowed`` frames (per column)."""
    out = core.copy()
    for col in range(core.shape[1]):
        for a, b in _runs(core[:, col]):
            while a > 0 and allowed[a - 1, col] and not out[a - 1, col]:
                a -= 1
            while b < len(out) and allowed[b, col] and not out[b, col]:
                b += 1
            out[a:b, col] = True
    return out


GROUND_GATE_LEG = (0.05, 0.15)  # how far above its ground level a planted foot may read, in L
GROUND_GATE_SPREAD = 1.5  # times the height a sliding-back foot reads at (its landmark noise)


def stance_mask(heights: np.ndarray, vrel: np.ndarray, travel: int, t_s: np.ndarray,
                moving_leg_s: float = 0.6) -> np.ndarray:
    """(T, 2) True while a foot is planted: on the ground and moving against travel
    relative to the pelvis. Each stance is then trimmed of frames where the foot is
    still coming down or already lifting (vertical speed above ``moving_leg_s``)."""
    fps = fps_of(t_s * 1000.0)
    vertical = _velocity(heights, t_s)
    # A planted foot moves against travel at about the belt (or running) speed; a
    # foot skimming the ground at the end of swing is still slowing down.
    with np.errstate(invalid="ignore"):
        low = heights <= np.nanpercentile(heights, 25, axis=0)
        belt = np.nanmedian(np.abs(vrel[low])) if low.any() else 0.0
        on_ground = heights < _ground_gate(heights, vrel * travel < -0.5 * belt)
        core = on_ground & (vrel * travel < -0.25 * belt)
        loose = on_ground & (vrel * travel < -0.2 * belt)
    mask = _grow(core, loose)
    bridge = max(1, int(round(0.07 * fps)))
    min_len = max(3, int(round(0.1 * fps)))  # real contacts last >= 0.12 s
    for col in range(2):
        m = mask[:, col]
        # bridge short dropouts, then drop blips too short to be a stance
        for start, stop in _runs(~m):
            if 0 < start and stop < len(m) and stop - start <= bridge:
                m[start:stop] = True
        for start, stop in _runs(m):
            while stop - start > min_len and vertical[start, col] < -moving_leg_s:
                m[start] = False
                start += 1
            while stop - start > min_len and vertical[stop - 1, col] > moving_leg_s:
                m[stop - 1] = False
                stop -= 1
            if stop - start < min_len:
                m[start:stop] = False
    return mask


def _ground_gate(heights: np.ndarray, sliding: np.ndarray) -> float:
    """Height below which a foot counts as on the ground: a few times what a foot that is
    surely planted (sliding back fast) reads at. Phone footage (blur, compression, a camera
    that bobs) puts the foot landmarks' noise well above a crisp picture's."""
    if not sliding.any():
        return GROUND_GATE_LEG[0]
    return float(np.clip(GROUND_GATE_SPREAD * np.nanpercentile(heights[sliding], 75), *GROUND_GATE_LEG))


def mid_stance(stance: np.ndarray) -> np.ndarray:
    """The middle half of each stance, away from touch-down and take-off transients."""
    mid = np.zeros_like(stance)
    for col in range(stance.shape[1]):
        for a, b in _runs(stance[:, col]):
            q = (b - a) // 4
            mid[a + q:b - q, col] = True
    return mid


TOE_FIRST_PITCH, HEEL_FIRST_PITCH = 5.0, -10.0  # RULES.md forefoot_contact
FIRST_TOUCH_LEG = 0.025  # heel-toe height gap that says which touched first, in L


def _strike(pitch: np.ndarray, point_heights: np.ndarray, start: int, flat_pitch: float,
            visible: bool) -> tuple[str, float | None]:
    """Strike class at touch-down (RULES.md): the foot pitch in the last airborne
    frame (the landing posture) relative to the runner's own flat foot, and which
    of heel and toe is lower then. MediaPipe understates foot pitch, so a clear
    heel-toe gap confirms a moderate pitch."""
    at = start - 1 if start > 0 and np.isfinite(pitch[start - 1]) else start
    if not np.isfinite(pitch[at]) or not np.isfinite(flat_pitch):
        return "uncertain", None
    rel = float(pitch[at] - flat_pitch)
    if not visible:
        return "uncertain", rel
    toe_above_heel = point_heights[at, 1] - point_heights[at, 0]
    if rel > TOE_FIRST_PITCH or (toe_above_heel < -FIRST_TOUCH_LEG and rel > 0):
        return "forefoot", rel
    if rel < HEEL_FIRST_PITCH or (toe_above_heel > FIRST_TOUCH_LEG and rel < HEEL_FIRST_PITCH / 2):
        return "heel", rel
    return "flat", rel


def find_contacts(pose: PoseSeries, stance: np.ndarray, point_heights: np.ndarray, facing: int) -> list[Contact]:
    """One contact per run of the stance mask: the contacts where the legs show no steady rhythm,
    and the steps the swing anchor misses where they do."""
    runs = [[(a, b) for a, b in _runs(stance[:, col]) if a > 0] for col in range(2)]  # a run at frame 0 has no touch-down
    return _drop_double_contacts(_contacts(pose, runs, point_heights, facing))


def _contacts(pose: PoseSeries, stances: list[list[tuple[int, int]]], point_heights: np.ndarray,
              facing: int, unseen_lift: set[int] = frozenset()) -> list[Contact]:
    """Contacts from each foot's (touch-down, first airborne frame) pairs, with the strike judged.
    Touch-downs in ``unseen_lift`` get no contact time."""
    t = pose.t_s
    contacts = []
    for col, side in enumerate(FEET):
        runs = stances[col]
        pitch = foot_pitch_deg(pose, side, facing)
        mids = [pitch[a + (b - a) // 3: b - (b - a) // 3] for a, b in runs]
        flat = float(np.nanmedian(np.concatenate(mids))) if mids else float("nan")
        s = SIDE[side]
        vis = pose.visibility[:, [s["heel"], s["toe"]]].min(axis=1)
        for a, b in runs:
            # a stance of n frames lasts n frame intervals: up to the first airborne frame
            duration = t[b] - t[a] if b < len(t) else (b - a) * np.median(np.diff(t))
            strike, rel = _strike(pitch, point_heights[:, col], a, flat, vis[a] > 0.5)
            contacts.append(Contact(side, a, b - 1, float(t[a]), None if a in unseen_lift else float(duration),
                                    strike, rel,
                                    float(np.nanmean(pose.xy[a, [s["heel"], s["toe"]], 0]))))
    contacts.sort(key=lambda c: c.frame)
    return contacts


def foot_reach(pose: PoseSeries, leg_px: float, travel: int) -> np.ndarray:
    """(T, 2) how far each foot is ahead of the pelvis in the direction of travel, in L.

    The legs' fore-aft swing is the strongest, steadiest signal a side view has of the
    feet (half a leg length or more each way, against landmark noise of a few hundredths),
    so it anchors every step even where the foot's height is lost in blur.
    """
    hx = pose.hip_centre()[:, 0]
    out = np.full((len(pose), 2), np.nan)
    for col, side in enumerate(FEET):
        s = SIDE[side]
        out[:, col] = (np.nanmean(pose.xy[:, [s["heel"], s["toe"]], 0], axis=1) - hx) * travel / leg_px
    return out


REACH_PROMINENCE = 0.3  # of the foot's fore-aft range: a swing, not landmark jitter
PLANT_SPEED = 0.4  # of the stance's top sliding-back speed: the foot has stopped over the ground
ONE_STEP_APART = 0.35  # of the stride (a step is half of it): no two touch-downs closer
SAME_FOOT_APART = 0.6  # of the stride: no foot lands twice closer
SHORTEST_STANCE = 0.4  # of the clip's typical stance


def phase_locked_contacts(pose: PoseSeries, reach: np.ndarray, vrel: np.ndarray, travel: int,
                          stride_s: float, point_heights: np.ndarray, facing: int) -> list[Contact]:
    """Contacts anchored on the legs' swing: each foot lands just after it is farthest ahead
    and lifts just before it is farthest behind.

    In late swing the foot swings back under the body; at touch-down it stops over the ground,
    so relative to the pelvis it slides back at the running (or belt) speed. Touch-down is the
    first frame after the forward extreme at which it slides back at a good part of that
    stance's top speed; toe-off, the same seen backward in time. Speeds and spacings are the
    stance's own, so a speed ramp (slow motion in the middle of a clip) keeps its contacts.
    """
    landings = []
    for col in range(2):
        landings += _landings(reach[:, col], vrel[:, col] * travel, col, stride_s * fps_of(pose.t_ms))
    lowest = np.fmin(point_heights[..., 0], point_heights[..., 1])
    kept = _one_per_step(sorted(c for c in landings if _reaches_ground(lowest[:, c.col], c)))
    typical = int(np.median([c.up - c.down for c in kept if c.up is not None] or [1]))
    # a stance far shorter than the others is a take-off lost in a landmark swap, not a hop
    unseen = {c.down for c in kept if c.up is None or c.up - c.down < SHORTEST_STANCE * typical}
    stances = [[(c.down, min(len(pose), c.down + typical) if c.down in unseen else c.up)
                for c in kept if c.col == col] for col in range(2)]
    return _contacts(pose, stances, point_heights, facing, unseen)


class _Landing(NamedTuple):
    down: int  # touch-down frame
    prominence: float  # of the forward extreme it follows, in L: how clear the swing is
    col: int  # foot
    up: int | None  # first airborne frame, None if the clip ends first
    stride_frames: float  # the foot's own stride here


def _landings(reach: np.ndarray, back_speed: np.ndarray, col: int, stride_frames: float) -> list[_Landing]:
    """One foot's touch-downs and take-offs. ``back_speed`` is negative while it slides back."""
    if np.isfinite(reach).sum() < 5:
        return []
    r = np.where(np.isfinite(reach), reach, np.nanmedian(reach))
    prominence = REACH_PROMINENCE * (np.percentile(r, 95) - np.percentile(r, 5))
    spacing = max(1, int(0.1 * stride_frames))
    ahead, prominences = _extremes(r, spacing, prominence)
    gaps = np.diff(ahead)
    out = []
    for i, (p, prom) in enumerate(zip(ahead, prominences)):
        local = float(np.median(gaps[max(0, i - 2):i + 2])) if len(gaps) >= 3 else stride_frames
        # the stance ends before the foot is farthest behind, on its way to the next forward extreme
        stop = ahead[i + 1] if i + 1 < len(ahead) else min(len(r), p + int(round(local)))
        end = p + int(np.argmin(r[p:stop])) + 1
        landing = _first_planted(back_speed[p:end])
        if landing is None or (p == 0 and landing == 0):  # the latter: planted when the clip starts
            continue
        down = p + landing
        seen_lift = end < len(r)  # the clip may end with the foot still sliding back
        up = end - _first_planted(back_speed[down:end][::-1]) if seen_lift else None
        out.append(_Landing(down, float(prom), col, up, local))
    return out


AIRBORNE_LEG = 0.25  # of the leg: far beyond the landmarks' noise about a planted foot's ground level


def _reaches_ground(lowest: np.ndarray, landing: _Landing) -> bool:
    """Whether the foot's lowest point comes down to the ground at some time in the stance: a swing
    whose foot stays high all through it (a landmark jump) is not a landing."""
    end = len(lowest) if landing.up is None else max(landing.down + 1, landing.up)
    stance = lowest[landing.down:end]
    seen = stance[np.isfinite(stance)]
    return seen.size == 0 or float(seen.min()) < AIRBORNE_LEG


def _extremes(r: np.ndarray, spacing: int, prominence: float) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of ``r`` and their prominences, the clip's first and last frames included: mirrored
    at its ends, a swing cut by the clip's start still shows its extreme."""
    from scipy.signal import find_peaks

    pad = min(len(r) - 1, 6 * spacing)  # past the next extreme the other way, half a stride on
    peaks, props = find_peaks(np.pad(r, pad, mode="reflect"), distance=spacing, prominence=prominence)
    inside = (peaks >= pad) & (peaks < len(r) + pad)
    return peaks[inside] - pad, props["prominences"][inside]


ANCHORED_WITHIN = 0.25  # of the stride: a stance-mask contact this close to a swing-anchored one is the same step


def _with_missed_stances(anchored: list[Contact], stance_contacts: list[Contact], stride_s: float) -> list[Contact]:
    """The swing-anchored contacts, plus each stance that the foot's height and sliding show where
    no anchored contact is near: a step whose swing the clip cut off at its start or end, or that a
    left/right swap of the landmarks hid.

    No foot lands twice within most of a stride, so a stance that close to the same foot's anchored
    contact is that step seen twice (a wobble of the landmarks made one of them). The one nearer
    midway between the other foot's landings is kept (the feet alternate); when those do not say
    which, both stay."""
    kept = list(anchored)
    for c in stance_contacts:
        if any(abs(c.time_s - k.time_s) <= ANCHORED_WITHIN * stride_s for k in anchored):
            continue
        same_step = [i for i, k in enumerate(kept)
                     if k.foot == c.foot and abs(c.time_s - k.time_s) < SAME_FOOT_APART * stride_s]
        if not same_step:
            kept.append(c)
            continue
        off_c, off_k = (_off_midway(x, kept, stride_s) for x in (c, kept[same_step[0]]))
        if off_c is None or off_k is None:
            kept.append(c)  # the other foot's landings do not say which: both stay
        elif off_c < off_k:
            kept[same_step[0]] = c
    return sorted(kept, key=lambda c: c.frame)


def _off_midway(c: Contact, contacts: list[Contact], stride_s: float) -> float | None:
    """How far (s) a contact is from midway between the other foot's landings before and after
    it; None if those are not about one stride apart (one of them missed, or the clip's end)."""
    other = [k.time_s for k in contacts if k.foot != c.foot]
    before = max((t for t in other if t < c.time_s), default=None)
    after = min((t for t in other if t > c.time_s), default=None)
    if before is None or after is None or after - before > 1.5 * stride_s:
        return None
    return abs(c.time_s - (before + after) / 2)


def _one_per_step(landings: list[_Landing]) -> list[_Landing]:
    """Of touch-downs too close to both be real, the one with the clearer swing: a left/right
    swap of the landmarks shows one landing on both feet, a wobble in late swing two on one."""
    kept: list[_Landing] = []
    for c in landings:
        prior = [kept[-1]] if kept else []
        prior += [k for k in reversed(kept) if k.col == c.col][:1]
        clash = [k for k in prior if c.down - k.down
                 < (SAME_FOOT_APART if k.col == c.col else ONE_STEP_APART) * min(c.stride_frames, k.stride_frames)]
        if not clash:
            kept.append(c)
        elif all(c.prominence > k.prominence for k in clash):
            kept = [k for k in kept if k not in clash] + [c]
    return kept


STEADIEST_SLIDE = 2.5  # times the segment's median sliding-back speed: a faster top is a landmark jump


def _first_planted(v: np.ndarray) -> int | None:
    """Index of the first frame sliding back at PLANT_SPEED of the segment's top speed. The body
    carries a planted foot back at a steady speed, so the top is capped at a few times the median:
    a landmark jump in mid-stance would otherwise raise the bar and put the touch-down late."""
    back = v[v < 0]
    if back.size == 0:
        return None
    top = max(float(back.min()), STEADIEST_SLIDE * float(np.median(back)))
    return int(np.flatnonzero(v < PLANT_SPEED * top)[0])


def _drop_double_contacts(contacts: list[Contact]) -> list[Contact]:
    """Keep one contact per foot per stride: of two too close together, the longer stance."""
    kept = []
    for foot in FEET:
        own = [c for c in contacts if c.foot == foot]
        if len(own) < 3:
            kept += own
            continue
        min_gap = 0.6 * np.median(np.diff([c.time_s for c in own]))
        for c in own:
            if kept and kept[-1].foot == foot and c.time_s - kept[-1].time_s < min_gap:
                if (c.contact_time_s or 0.0) > (kept[-1].contact_time_s or 0.0):
                    kept[-1] = c
                continue
            kept.append(c)
    return sorted(kept, key=lambda c: c.frame)


def contact_times(contacts: list[Contact]) -> list[float]:
    """The contact times that were measured."""
    return [c.contact_time_s for c in contacts if c.contact_time_s is not None]


def _stance_of(contacts: list[Contact], frames: int) -> np.ndarray:
    """(T, 2) the stance mask the contacts span."""
    stance = np.zeros((frames, 2), bool)
    for c in contacts:
        stance[c.frame:c.toe_off + 1, FEET.index(c.foot)] = True
    return stance


def fill_step_lengths(contacts: list[Contact], vrel: np.ndarray, stance: np.ndarray, stride: float) -> None:
    """Per step: distance travelled = this stance's belt (or running) speed x time to the
    next contact of the other foot. Holds on a treadmill and overground alike.
    Steps with a missed contact in between (longer than 0.75 stride) are skipped."""
    mid = mid_stance(stance)
    for cur, nxt in zip(contacts[:-1], contacts[1:]):
        step_time = nxt.time_s - cur.time_s
        col = FEET.index(cur.foot)
        frames = np.arange(cur.frame, cur.toe_off + 1)
        speeds = np.abs(vrel[frames[mid[frames, col]], col])
        if nxt.foot == cur.foot or step_time > 0.75 * stride or not np.isfinite(speeds).any():
            continue
        cur.step_length_leg = float(np.nanmedian(speeds) * step_time)
