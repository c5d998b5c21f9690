"""Choosing the runner among the people in view over a whole clip."""

from __future__ import annotations

import bisect
import itertools
import statistics
from typing import Callable

import numpy as np

from formcheck.pose.series import (LEFT_ANKLE, LEFT_ELBOW, LEFT_HIP, LEFT_KNEE, LEFT_SHOULDER, LEFT_WRIST, MIRROR_INDEX,
                                   N_LANDMARKS, RIGHT_ANKLE, RIGHT_ELBOW, RIGHT_HIP, RIGHT_KNEE, RIGHT_SHOULDER,
                                   RIGHT_WRIST, PoseSeries, hip_centre, torso_length)

# Detections are linked frame to frame into short tracklets by whole-body pose, with each
# person's motion predicted, so a passer-by crossing the runner keeps their own track. The
# detector often loses one of two overlapping people for a while; tracklets split there are
# stitched back together across the gap by position, and the most runner-like person is kept.

_MAIN_JOINTS = [LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_ELBOW, RIGHT_ELBOW, LEFT_WRIST, RIGHT_WRIST,
                LEFT_HIP, RIGHT_HIP, LEFT_KNEE, RIGHT_KNEE, LEFT_ANKLE, RIGHT_ANKLE]
_VELOCITY_SPAN = 5  # detections the motion estimate looks back over
_DUPLICATE_DISTANCE = 0.5  # torso lengths: two detections of a frame this alike are one person
_ALONE_JUMP = 1.0  # torso lengths a person with nobody near may move between detections
_CROWD_RADIUS = 2.0  # torso lengths: someone else this near can be mistaken for the person
_CROWD_MEMORY = 30  # frames someone who vanished still counts as near (they may be hidden there)
_LINK_HIP_JUMP = 0.2  # torso lengths per frame the hip centre may stray from its predicted path
_MIN_STITCH_DETECTIONS = 3  # shorter tracklets (stray or mixed-up detections) are not joined to others
_STITCH_SPEED_CHANGE = 0.05  # torso lengths per frame: more change in hip velocity is another person
_STITCH_SPAN = 10  # detections each side's motion is judged over when stitching
_MAX_EXTRAPOLATION = 10  # frames a track's own motion is trusted to carry it across a gap
_STITCH_SLACK = 0.03  # torso lengths of extra tolerance per missing frame when stitching
_SIZE_RATIO_MAX = 1.5  # the same person does not grow or shrink more than this across a gap
_MIN_PERSON_FRAMES = 10  # a shorter track is detector flicker, not a person in view


def _body_center_and_size(person: np.ndarray) -> tuple[np.ndarray, float]:
    """Hip centre (pixels) and torso length (hip centre to shoulder centre)."""
    return hip_centre(person), float(torso_length(person)) + 1e-6


class _Track:
    """One person's detections: frame numbers and (33, 3) landmark rows, in time order."""

    def __init__(self, frame: int, person: np.ndarray):
        self.frames: list[int] = []
        self.people: list[np.ndarray] = []
        self._centers: list[np.ndarray] = []
        self._sizes: list[float] = []
        self._velocity: dict[tuple[bool, int, int], np.ndarray] = {}
        self.add(frame, person)

    def add(self, frame: int, person: np.ndarray) -> None:
        center, size = _body_center_and_size(person)
        self.frames.append(frame)
        self.people.append(person)
        self._centers.append(center)
        self._sizes.append(size)

    def size(self, end: bool = True) -> float:
        """Torso length in pixels near the end (or start): a median, as one bad frame is no scale."""
        return statistics.median(self._sizes[-_VELOCITY_SPAN:] if end else self._sizes[:_VELOCITY_SPAN])

    def center_at(self, i: int) -> np.ndarray:
        """Hip centre of detection number i."""
        return self._centers[i]

    def centers(self, end: bool = True, span: int = _VELOCITY_SPAN) -> tuple[np.ndarray, np.ndarray]:
        """Frames and hip centres of the last (or first) `span` detections."""
        picks = slice(-span, None) if end else slice(0, span)
        return np.asarray(self.frames[picks]), np.asarray(self._centers[picks]).reshape(-1, 2)

    def velocity(self, end: bool = True, span: int = _VELOCITY_SPAN) -> np.ndarray:
        """Hip-centre motion in pixels per frame over the last (or first) `span` detections: the
        median step, so a few detections of a half-hidden person do not throw it."""
        key = (end, span, len(self.frames))
        if key not in self._velocity:  # asked for every detection of every frame: worth keeping
            frames, centers = self.centers(end, span)
            steps = np.diff(centers, axis=0) / np.diff(frames)[:, None]
            # statistics.median: numpy's costs more than the arithmetic on four steps
            self._velocity[key] = (np.array([statistics.median(steps[:, 0]), statistics.median(steps[:, 1])])
                                   if len(steps) else np.zeros(2))
        return self._velocity[key]

    def last_center(self) -> np.ndarray:
        return self._centers[-1]

    def predicted_pose(self, frame: int) -> np.ndarray:
        """The last pose moved on to `frame` at the current velocity: (33, 2) pixels."""
        return self.people[-1][:, :2] + self.velocity() * (frame - self.frames[-1])


def _pose_distance(person: np.ndarray, expected: np.ndarray, size: float) -> float:
    """Mean distance of the main joints, in torso lengths; left/right label swaps do not count."""
    joints = person[_MAIN_JOINTS, :2]
    as_labelled = np.nanmean(np.linalg.norm(joints - expected[_MAIN_JOINTS], axis=1))
    swapped = np.nanmean(np.linalg.norm(joints - expected[MIRROR_INDEX[_MAIN_JOINTS]], axis=1))
    return float(np.nanmin([as_labelled, swapped])) / size


def _link_cost(track: _Track, frame: int, person: np.ndarray, crowded: bool, max_jump: float) -> float | None:
    """How far `person` is from where the track's person should be now (None: too far to be them).

    Alone, a person may jump (a jolted camera, a pan): only a jump of a whole torso starts a
    new track. Beside someone else the tests are strict: the whole body (loosely, limbs move
    fast) and the hip centre, whose motion barely changes from one frame to the next, so a
    detection sliding over to a passer-by shows there.
    """
    gap = frame - track.frames[-1]
    size = track.size()
    center, _ = _body_center_and_size(person)
    hip_miss = float(np.linalg.norm(center - track.last_center() - track.velocity() * gap)) / size
    if not crowded:
        return hip_miss if hip_miss <= _ALONE_JUMP else None
    if hip_miss > _LINK_HIP_JUMP * gap:
        return None
    cost = _pose_distance(person, track.predicted_pose(frame), size)
    return cost if cost <= max_jump else None


def _crowded(frame: int, person: np.ndarray, others: list[np.ndarray], recent: list[int], tracks: list[_Track],
             together: set[tuple[int, int]]) -> bool:
    """Could `person` be confused with someone else: another person near them in this frame, or
    two people (tracks once seen in the same frame) near them lately? Tracks never seen
    together may be pieces of one person's."""
    center, size = _body_center_and_size(person)
    radius = _CROWD_RADIUS * size
    if any(np.linalg.norm(_body_center_and_size(o)[0] - center) <= radius for o in others):
        return True
    near = [k for k in recent if _distance_to_path(center, tracks[k], frame) <= radius]
    return any((a, b) in together for i, a in enumerate(near) for b in near[i + 1:])


def _distance_to_path(point: np.ndarray, track: _Track, frame: int) -> float:
    """Distance from `point` to where the track's person may be by `frame`: anywhere from where
    they were last seen to where their motion would have carried them (they may be hidden)."""
    start = track.last_center()
    moved = track.velocity() * (frame - track.frames[-1])
    along = float(np.clip(np.dot(point - start, moved) / (np.dot(moved, moved) or 1.0), 0.0, 1.0))
    return float(np.linalg.norm(point - start - along * moved))


def _pairs(ids: list[int]) -> set[tuple[int, int]]:
    """Each pair of track indices, smaller first: the tracks seen together in one frame."""
    ids = sorted(ids)
    return {(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]}


def _distinct(people: np.ndarray) -> list[np.ndarray]:
    """The detections of a frame less duplicates: the detector sometimes reports one person
    twice, a little apart; the more visible copy is kept."""
    kept: list[np.ndarray] = []
    for person in sorted(people, key=lambda p: -float(np.nanmean(p[_MAIN_JOINTS, 2]))):
        size = _body_center_and_size(person)[1]
        if all(_pose_distance(person, other[:, :2], size) > _DUPLICATE_DISTANCE for other in kept):
            kept.append(person)
    return kept


def _link_tracklets(candidates: list[np.ndarray], max_jump: float, max_gap: int) -> list[_Track]:
    """Frame-to-frame linking: each detection joins the track whose predicted pose it matches best.

    Pairs are taken best first across all tracks and detections of a frame, so two people
    near each other are not assigned in whatever order the detector listed them.
    """
    tracks: list[_Track] = []
    recent: list[int] = []  # tracks seen within the crowd memory
    together: set[tuple[int, int]] = set()
    for frame, detections in enumerate(candidates):
        people = _distinct(detections)
        recent = [k for k in recent if frame - tracks[k].frames[-1] <= _CROWD_MEMORY]
        live = [k for k in recent if frame - tracks[k].frames[-1] <= max_gap]
        crowded = [_crowded(frame, person, people[:j] + people[j + 1:], recent, tracks, together)
                   for j, person in enumerate(people)]
        pairs = sorted((cost, k, j) for k in live for j, person in enumerate(people)
                       if (cost := _link_cost(tracks[k], frame, person, crowded[j], max_jump)) is not None)
        assigned: dict[int, int] = {}  # person -> track
        for _, k, j in pairs:
            if k not in assigned.values() and j not in assigned:
                tracks[k].add(frame, people[j])
                assigned[j] = k
        for j, person in enumerate(people):
            if j not in assigned:
                assigned[j] = len(tracks)
                tracks.append(_Track(frame, person))
                recent.append(assigned[j])
        together |= _pairs(list(assigned.values()))
    return tracks


class _Crowd:
    """Who was where, frame by frame, to ask whether anyone else came near a track around a time."""

    def __init__(self, tracks: list[_Track], frames: int):
        self.tracks = tracks
        self.seen: dict[int, list[tuple[int, np.ndarray]]] = {}
        for k, track in enumerate(tracks):
            for frame, person in zip(track.frames, track.people):
                self.seen.setdefault(frame, []).append((k, _body_center_and_size(person)[0]))
        self.together = set().union(*(_pairs([k for k, _ in here]) for here in self.seen.values()))
        # detections up to each frame, to count who else was in view over a span at once
        per_frame = np.bincount(np.fromiter(self.seen, int, len(self.seen)), [len(v) for v in self.seen.values()],
                                minlength=frames) if self.seen else np.zeros(frames)
        self._seen_before = np.r_[0, np.cumsum(per_frame)]

    def who_near(self, track: _Track, frame: int) -> set[int]:
        """Tracks (by index) that came within the crowd radius of `track` within the memory of `frame`."""
        frames = np.asarray(track.frames)
        radius = _CROWD_RADIUS * track.size()
        near = set()
        for other_frame in range(frame - _CROWD_MEMORY, frame + _CROWD_MEMORY + 1):
            for k, center in self.seen.get(other_frame, ()):
                mine = int(np.clip(np.searchsorted(frames, other_frame), 0, len(frames) - 1))
                if np.linalg.norm(track.center_at(mine) - center) <= radius:
                    near.add(k)
        return near

    def anyone_else_between(self, first: int, last: int, exclude: tuple[int, ...]) -> bool:
        """Was anyone but the `exclude` tracks in the picture from frame `first` to `last`?"""
        first, last = max(first, 0), min(last, len(self._seen_before) - 2)
        everyone = self._seen_before[last + 1] - self._seen_before[first]
        theirs = sum(bisect.bisect_right(self.tracks[k].frames, last) - bisect.bisect_left(self.tracks[k].frames, first)
                     for k in exclude)
        return everyone > theirs


def _split_at_speed_changes(track: _Track, crowd: _Crowd, k: int) -> list[_Track]:
    """Split a tracklet where its hip velocity changes for good while someone else is near: the
    detector drifted from one person onto another who overlapped them (too gradually for
    frame-to-frame linking to see). Alone, a change of speed is the person's (or the camera's)."""
    window = 2 * _VELOCITY_SPAN
    if len(track.frames) <= 2 * window:
        return [track]
    frames = np.asarray(track.frames)
    centers = np.array([track.center_at(i) for i in range(len(frames))])
    steps = np.diff(centers, axis=0) / np.diff(frames)[:, None]
    typical = np.median(np.lib.stride_tricks.sliding_window_view(steps, window, axis=0), axis=-1)
    change = np.linalg.norm(typical[window:] - typical[:-window], axis=1)  # the window after vs before
    at = int(np.argmax(change))
    cut = window + at + 1  # detection index where the new velocity starts
    someone_else = any(tuple(sorted((k, o))) in crowd.together for o in crowd.who_near(track, track.frames[cut]))
    if change[at] / track.size() <= _STITCH_SPEED_CHANGE or not someone_else:
        return [track]
    parts = [_Track(track.frames[0], track.people[0]), _Track(track.frames[cut], track.people[cut])]
    for frame, person in zip(track.frames[1:cut], track.people[1:cut]):
        parts[0].add(frame, person)
    for frame, person in zip(track.frames[cut + 1:], track.people[cut + 1:]):
        parts[1].add(frame, person)
    return [piece for part in parts for piece in _split_at_speed_changes(part, crowd, k)]


def _stitch_cost(before: _Track, after: _Track, others_about: Callable[[], bool], max_jump: float,
                 max_gap: int) -> float | None:
    """How well `after` continues `before` across the frames neither was seen (None: it cannot).

    With nobody else in the picture, the person who comes back is the one who left, wherever
    they reappear. Otherwise the person must move on as before (a passer-by crossing the runner's
    spot does not) and reappear where either side's motion leads; the best pair of detections
    near the gap counts, because the first or last sight of a half-hidden person is often off.
    """
    gap = after.frames[0] - before.frames[-1]
    if gap <= 0 or min(len(before.frames), len(after.frames)) < _MIN_STITCH_DETECTIONS:
        return None
    size_before, size_after = before.size(end=True), after.size(end=False)
    if max(size_before, size_after) > _SIZE_RATIO_MAX * min(size_before, size_after):
        return None
    if not others_about():  # asked last: it is the slow test
        return gap / (gap + max_gap)  # below 1, and the sooner the better
    if gap > max_gap:
        return None
    # over more detections than for linking: the last sights before a crossing are often blended
    v_before, v_after = before.velocity(end=True, span=_STITCH_SPAN), after.velocity(end=False, span=_STITCH_SPAN)
    if np.linalg.norm(v_after - v_before) / size_before > _STITCH_SPEED_CHANGE:
        return None
    end_frames, end_centers = before.centers(end=True)
    start_frames, start_centers = after.centers(end=False)
    best = np.inf
    for fa, pa in zip(end_frames, end_centers):
        for fb, pb in zip(start_frames, start_centers):
            # a velocity from a few frames says little about a second later: extrapolate briefly
            reach = min(fb - fa, _MAX_EXTRAPOLATION)
            miss = min(np.linalg.norm(pb - pa - v_before * reach), np.linalg.norm(pa - pb + v_after * reach))
            best = min(best, miss / size_before / (max_jump + _STITCH_SLACK * (fb - fa)))
    return float(best) if best <= 1.0 else None


def _stitch(tracks: list[_Track], frames: int, max_jump: float, max_gap: int) -> list[_Track]:
    """Join tracklets that continue each other across a gap, best match first."""
    crowd = _Crowd(tracks, frames)

    def others(a: int, b: int) -> bool:  # anyone else in the picture around the gap
        return crowd.anyone_else_between(tracks[a].frames[-1] - _CROWD_MEMORY, tracks[b].frames[0] + _CROWD_MEMORY,
                                         (a, b))

    pairs = sorted((cost, a, b) for a, before in enumerate(tracks) for b, after in enumerate(tracks)
                   if after.frames[0] > before.frames[-1]
                   and (cost := _stitch_cost(before, after, lambda: others(a, b), max_jump, max_gap)) is not None)
    following: dict[int, int] = {}
    preceded: set[int] = set()
    for _, a, b in pairs:
        if a not in following and b not in preceded and not _would_loop(following, a, b):
            following[a] = b
            preceded.add(b)
    people = []
    for head in (i for i in range(len(tracks)) if i not in preceded):
        person, link = tracks[head], following.get(head)
        while link is not None:
            for frame, row in zip(tracks[link].frames, tracks[link].people):
                person.add(frame, row)
            link = following.get(link)
        people.append(person)
    return people


def _would_loop(following: dict[int, int], a: int, b: int) -> bool:
    while b in following:
        b = following[b]
    return b == a


def link_tracks(candidates: list[np.ndarray], max_jump: float = 0.6, max_gap: int = 3,
                max_stitch_gap: int = 60) -> list[_Track]:
    """Link per-frame detections into one track per person.

    ``max_jump`` is in torso lengths: a detection further than that from where a track's
    person should be now starts a new track, so a bystander never continues the runner's
    track. Tracks broken for up to ``max_stitch_gap`` frames (occlusion, a crossing) are
    joined again when the person reappears where their motion leads.
    """
    linked = _link_tracklets(candidates, max_jump, max_gap)
    crowd = _Crowd(linked, len(candidates))
    tracklets = [piece for k, track in enumerate(linked) for piece in _split_at_speed_changes(track, crowd, k)]
    return _stitch(tracklets, len(candidates), max_jump, max_stitch_gap)


def _gait_score(track: _Track) -> float:
    """How much a track looks like a runner: long, large, and legs scissoring."""
    people = np.asarray(track.people)
    _, size = _body_center_and_size(np.median(people, axis=0))
    ankle_gap = (people[:, LEFT_ANKLE, 0] - people[:, RIGHT_ANKLE, 0]) / size
    scissor = float(np.std(ankle_gap)) if len(people) > 2 else 0.0
    return len(people) * size * (0.2 + scissor)


def select_runner(candidates: list[np.ndarray], t_ms, frame_index, width: int, height: int) -> PoseSeries:
    """The pose series of the most runner-like track; NaN in frames without it."""
    rows = np.full((len(candidates), N_LANDMARKS, 3), np.nan)
    tracks = link_tracks(candidates)
    if tracks:
        best = max(tracks, key=_gait_score)
        rows[best.frames] = np.asarray(best.people)
    return PoseSeries.from_frames(rows, t_ms, frame_index, width, height, people_in_view=_people_in_view(tracks))


def _people_in_view(tracks: list[_Track]) -> int:
    """How many people were in view at once, at most (at least 1).

    Counted from when tracks overlap in time, not from how many there are: a person the
    detector lost and found again may leave two tracks that could not be joined.
    """
    spans = [(t.frames[0], t.frames[-1]) for t in tracks if len(t.frames) >= _MIN_PERSON_FRAMES]
    events = sorted([(first, 1) for first, _ in spans] + [(last + 1, -1) for _, last in spans])
    return max(itertools.accumulate(change for _, change in events), default=1) or 1
