"""Pose on every core: one PoseLandmarker per process over parts of a clip, stitched into one series.

The pose model is the cost of a clip (about 20 ms a frame here) and one landmarker keeps
one core busy, so the clip is cut into frame ranges and each process runs its own
landmarker over its ranges. The result is the series a sequential run gives.

Sharing the work (range stealing, no guessing):

* The calling process starts at frame 0 owning the whole clip and never waits for anyone
  to start: it runs the sequential loop, so a clip whose workers start late, or never,
  costs what a sequential run costs.
* A worker process, once its landmarker is ready (it starts while the caller takes its
  first look at the clip, which decides the model's view), *steals* the second half of the
  largest range still left. A small shared board (one lock) holds each participant's next
  frame and end, and that view. Whoever runs out of work steals again, until what is left is too small to pay
  for a warm-up. A slow start-up costs only the worker's own time.

Seams (why the stitched series equals the sequential one):

MediaPipe's VIDEO mode carries state from frame to frame: it tracks the people it found
and stops running its detector once ``num_poses`` people are tracked, so a fresh
landmarker can see fewer people than one that has run since frame 0 (a bystander the
detector alone misses). A stolen range therefore starts with a few warm-up frames, and
each frame's candidates are fingerprinted on the board. When a participant reaches the
end of its range, it compares its last frames with the next range's warm-up: if the two
landmarkers gave identical candidates on ``LOCK_FRAMES`` consecutive frames, their states
agree and the next range continues the sequential series exactly. If not, it keeps going
past its end (an *extension*), comparing frame by frame with the next range, until they
agree; its own frames win up to there. In the worst case (the two never agree) it runs
to the end of the clip: slower, never different. With one person in view the detector
runs on every frame and seams agree at once.

The per-frame candidates are then joined along that chain and ``select_runner`` links them
once, as after a sequential run. How the workers start and report: see ``processes``.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from formcheck.io.video import VideoFile
from formcheck.parallel.board import _PEER_TIMEOUT_S, LOCK_FRAMES, OPEN, _Aborted, _Board, _fingerprint, _solo_board
from formcheck.parallel.processes import (MIN_PARALLEL_FRAMES, Progress, _context, _orphan_check, _peak_rss_kb, _Pool,
                                          _refuse_while_bootstrapping, _Reporter, worker_board, worker_count)
from formcheck.parallel.seeks import _Seeks, key_frames
from formcheck.pose import PoseEstimator, PoseSeries, select_runner
from formcheck.pose.model import find_model

OVERLAP_FRAMES = 5  # warm-up frames before a stolen range (detected, compared, dropped)
MAX_EXTENSION = 45  # frames past a seam that never agreed: from there on one landmarker runs alone
LOOK_FRAMES = 15  # half a second: the caller's frames a worker waits for before its first steal (crowded?)
DECODE_SHARE_POSE = 0.12  # decoding a frame / decoding + converting + detecting one (measured ~0.09-0.15)


# ---------------------------------------------------------------------------
# Running one range


@dataclass
class _Segment:
    """What one participant produced for one range: frames kept, in order."""

    participant: int
    start: int  # first frame kept (the range's first frame)
    candidates: list = field(default_factory=list)
    t_ms: list = field(default_factory=list)
    index: list = field(default_factory=list)
    main_end: int = OPEN  # frames [start, main_end) were its own; later ones are an extension
    exhausted: bool = False  # the file ended inside this range
    # where the series continues: the range of participant ``lock_with`` that agreed with
    # this one on the frames up to ``lock_at`` (a warm-up agreement when lock_warm)
    lock_with: int = -1
    lock_at: int = -1
    lock_warm: bool = False


class _Clock:
    """Feeds a landmarker strictly increasing timestamps across ranges.

    Within a range the timestamps are the frames' own (offset by a whole number of ms),
    so the landmarker sees the same frame spacing as in a sequential run.
    """

    def __init__(self, estimator: PoseEstimator):
        self.estimator = estimator
        self.last = None  # last timestamp given, ms
        self.offset = 0
        self._new_range = False

    def new_range(self) -> None:
        self._new_range = True

    def detect(self, bgr: np.ndarray, t_ms: float) -> np.ndarray:
        if self._new_range and self.last is not None:
            # jump one second past everything this landmarker has seen
            self.offset = max(0, math.ceil(self.last + 1000.0 - t_ms))
        self._new_range = False
        t = t_ms + self.offset
        self.last = t if self.last is None else max(self.last + 1, t)
        return self.estimator.detect(bgr, t)


_WARM, _MAIN, _EXT = 0, 1, 2  # a warm-up frame before the range, one of its own, one past its end


class _RangeWalk:
    """One participant's pass over one range: what ``_run_frames`` carries from frame to frame."""

    def __init__(self, board: _Board, seg: _Segment, patience: list, on_frame, on_wait):
        self.board, self.seg, self.patience = board, seg, patience
        self.on_frame, self.on_wait = on_frame, on_wait
        self.mine: dict[int, int] = {}  # fingerprints of the frames kept, the last few
        self.mode, self.agree, self.partner = _MAIN, 0, 0

    def finished_before(self, index: int) -> bool:
        """Set the mode for frame ``index``; True if the range is over and joined before it."""
        if index < self.seg.start:
            self.mode = _WARM
        elif self.mode != _EXT:
            self.mode = _MAIN
            if not self.board.claim(self.seg.participant, index):
                return self._own_frames_ended(index)
        return False

    def _own_frames_ended(self, index: int) -> bool:
        """Frame ``index`` is the next range's: stop if its warm-up reproduced ours, else extend."""
        board, seg = self.board, self.seg
        if board.aborted:
            raise _Aborted
        seg.main_end = index
        if index >= board.horizon.value:
            return True  # someone else runs alone from here: nothing to join
        self.agree, self.partner = board.warm_agreement(index, self.mine, self.patience, self.on_wait)
        if self.agree >= LOCK_FRAMES:
            seg.lock_with, seg.lock_at, seg.lock_warm = self.partner - 1, index - 1, True
            return True
        self.mode = _EXT
        return False

    def take(self, index: int, people: np.ndarray, t_ms: float) -> bool:
        """Use frame ``index``'s candidates; True once an extension meets the next range."""
        fp = _fingerprint(people)
        if self.mode == _WARM:
            self.board.put_warm(self.seg.participant, index, fp)
            if self.board.aborted:
                raise _Aborted
            return False
        self._keep(index, people, fp, t_ms)
        if self.mode == _MAIN:
            self._own_frame(index, people, fp)
            return False
        return self._extension_frame(index, fp)

    def _keep(self, index: int, people: np.ndarray, fp: int, t_ms: float) -> None:
        seg = self.seg
        seg.candidates.append(people)
        seg.t_ms.append(t_ms)
        seg.index.append(index)
        self.mine[index] = fp
        self.mine.pop(index - LOCK_FRAMES - 1, None)

    def _own_frame(self, index: int, people: np.ndarray, fp: int) -> None:
        if len(people) > 1:
            # With several people MediaPipe tracks rather than detects, so a fresh landmarker
            # rarely agrees at a seam (the two-people clip: 43-107 frames of extension, 1.4x
            # slower than one landmarker): ranges already taken run on, no new ones.
            self.board.crowded.value = 1
        self.board.put_main(index, fp)
        self._delivered()

    def _extension_frame(self, index: int, fp: int) -> bool:
        """Past our range our state is the true one: True once the owner of these frames agrees."""
        board, seg = self.board, self.seg
        if index >= board.horizon.value:
            self._delivered()  # running alone: nobody else does these frames
            return False
        if index - seg.main_end >= MAX_EXTENSION:
            # the landmarkers do not converge (tracking that a fresh one cannot reproduce):
            # rather than keep doing everyone's frames twice, take the rest of the clip alone
            board.go_solo(seg.participant, index)
            self._delivered()
            return False
        who, theirs = board.main_of(index, self.patience, self.on_wait)
        if who != self.partner:
            self.partner, self.agree = who, 0
        self.agree = self.agree + 1 if who and theirs == fp else 0
        if self.agree >= LOCK_FRAMES:
            seg.lock_with, seg.lock_at = self.partner - 1, index
            return True
        return False

    def _delivered(self) -> None:
        self.board.done[self.seg.participant] += 1
        if self.on_frame is not None:
            self.on_frame()


def _run_frames(frames, clock: _Clock, board: _Board, seg: _Segment, patience: list,
                on_frame=None, on_wait=None) -> _Segment:
    """Detect frames from ``frames`` (starting at or before ``seg.start``) until the range is
    over and the next range is known to continue it."""
    walk = _RangeWalk(board, seg, patience, on_frame, on_wait)
    index = seg.start - 1
    for frame in frames:
        index = frame.index
        if walk.finished_before(index):
            return seg
        if walk.take(index, clock.detect(frame.bgr, frame.t_ms), frame.t_ms):
            return seg
    seg.exhausted = True
    if walk.mode != _EXT:
        seg.main_end = index + 1
    return seg


def _run_range(path, slowmo: float, clock: _Clock, board: _Board, p: int, lo: int, overlap: int,
               patience: list, on_frame=None, on_wait=None) -> _Segment:
    clock.new_range()
    with VideoFile(path, slowmo=slowmo, start=max(0, lo - overlap)) as video:
        return _run_frames(video, clock, board, _Segment(p, lo), patience, on_frame, on_wait)


# ---------------------------------------------------------------------------
# A worker's share


@dataclass(frozen=True)
class _Job:
    path: str
    slowmo: float
    model_path: str
    num_poses: int
    min_confidence: float
    n_est: int
    overlap: int
    min_left: int
    seeks: _Seeks | None = None


def _work(job: _Job, p: int) -> tuple[list[_Segment], dict]:
    """A worker: get a landmarker ready, then steal ranges until none is worth it."""
    board = worker_board()
    t0 = time.monotonic()
    segments: list[_Segment] = []
    stats = {"participant": p, "pid": os.getpid(), "ranges": [], "ready_s": None, "peak_rss_kb": 0}
    if board is None or board.state.value != board.RUNNING:
        return segments, stats
    patience = [_PEER_TIMEOUT_S]
    alive = _orphan_check()
    with PoseEstimator(job.model_path, num_poses=job.num_poses, min_confidence=job.min_confidence) as est:
        stats["ready_s"] = round(time.monotonic() - t0, 3)
        clock = _Clock(est)
        try:
            mirror = board.wait_for_mirror(alive)  # the caller may still be deciding (_people_parallel)
            if mirror is None:
                return segments, stats
            est.mirror = mirror
            got = board.assigned(p)  # a range given before start-up (see find_people's split)
            if got is None:
                board.wait_for_caller(LOOK_FRAMES, alive)
            while True:
                got = got or board.steal(p, job.n_est, job.overlap, job.min_left, job.seeks)
                if got is None:
                    break
                seg = _run_range(job.path, job.slowmo, clock, board, p, got[0], job.overlap, patience,
                                 on_frame=alive, on_wait=alive)
                segments.append(seg)
                stats["ranges"].append(_describe(seg))
                got = None
        except _Aborted:
            segments = []
    stats["peak_rss_kb"] = _peak_rss_kb()
    return segments, stats


def _describe(seg: _Segment) -> tuple[int, int, int]:
    """(first frame, end of own frames, end of frames kept incl. extension)"""
    main_end = seg.main_end if seg.main_end != OPEN else seg.start + len(seg.index)
    return seg.start, main_end, (seg.index[-1] + 1) if seg.index else seg.start


# ---------------------------------------------------------------------------
# Stitching


def _chain(segments: list[_Segment]) -> tuple[list[np.ndarray], list[float], list[int], int | None]:
    """Join the segments along their agreements, from frame 0.

    Returns candidates, t_ms, index and, if the chain breaks (a worker died after agreeing),
    the first frame still missing.
    """
    candidates, t_ms, index = [], [], []
    seg = next((s for s in segments if s.participant == 0 and s.start == 0), None)
    after = -1  # frames up to here are taken
    while seg is not None:
        for people, t, i in zip(seg.candidates, seg.t_ms, seg.index):
            if i > after:
                candidates.append(people)
                t_ms.append(t)
                index.append(i)
                after = i
        if seg.exhausted:
            return candidates, t_ms, index, None
        if seg.lock_with < 0:
            break
        at, who = seg.lock_at, seg.lock_with
        if seg.lock_warm:  # agreed on the warm-up of the range starting right after
            nxt = next((s for s in segments if s.participant == who and s.start == at + 1), None)
        else:
            nxt = next((s for s in segments if s.participant == who and s.start <= at < s.main_end), None)
        after = at
        seg = nxt
    return candidates, t_ms, index, after + 1


# ---------------------------------------------------------------------------
# The entry point


class People(NamedTuple):
    """Everyone the pose model found in each frame of a clip, in frame order."""

    found: list[np.ndarray]  # per frame, (K, 33, 3) pixel x, pixel y, visibility
    t_ms: list[float]
    index: list[int]
    width: int
    height: int


def estimate_clip(video: VideoFile, model=None, progress: Progress | None = None, **kw) -> PoseSeries:
    """The runner's pose series over an opened clip (see ``find_people``), tracked over the whole clip."""
    return select_runner(*find_people(video, model, progress, **kw))


def find_people(video: VideoFile, model=None, progress: Progress | None = None, *, workers: int | None = None,
                overlap: int = OVERLAP_FRAMES, min_frames: int = MIN_PARALLEL_FRAMES,
                split: int | None = None, stats: dict | None = None,
                mirror: bool | Callable[[], bool] = False) -> People:
    """Everyone in every frame of an opened clip, using all cores when it pays.

    Same result as one landmarker over the whole clip; sequential (exactly that loop) on one
    core, with ``workers=1`` or for clips of fewer than ``min_frames`` frames. ``split``
    (tests) hands frames ``split``.. to the first worker up front instead of letting it
    steal, so there is always a seam there.
    ``stats``, if given, is filled with how the work was shared. ``mirror``: see PoseEstimator;
    a callable (``facing.faces_right``, say) is asked while the workers start up.
    """
    n = _participants(video, workers, min_frames)
    if n > 1:
        _refuse_while_bootstrapping()
    model_path = find_model(model)  # a ModelError here, before any process starts
    if stats is not None:
        stats.update(participants=n, parallel=n > 1, workers=[])
    if n == 1:
        return _people_sequential(video, model_path, progress, _decided(mirror))
    return _people_parallel(video, model_path, progress, n, max(LOCK_FRAMES, overlap), split, stats, mirror)


def _participants(video: VideoFile, workers: int | None, min_frames: int) -> int:
    """How many landmarkers to run over this clip; 1 where workers would not pay or cannot help."""
    info = video.info
    n = worker_count(workers)
    if info.frames < min_frames or video.start or video.stop is not None or video.max_frames is not None:
        return 1  # short, or only part of the file (workers read whole files)
    return n


def _pose_job(video: VideoFile, model_path, overlap: int) -> _Job:
    """What a worker needs to run ranges of this clip with the caller's landmarker settings."""
    defaults = PoseEstimator(model_path)  # not entered: only its settings, for the workers
    return _Job(str(video.path), video.slowmo, str(model_path), defaults.num_poses, defaults.min_confidence,
                n_est=video.info.frames, overlap=overlap, min_left=3 * overlap + 10,
                seeks=_Seeks(key_frames(video.path), DECODE_SHARE_POSE))


def _people_parallel(video: VideoFile, model_path, progress: Progress | None, n: int, overlap: int,
                     split: int | None, stats: dict | None, mirror: bool | Callable[[], bool]) -> People:
    """``find_people`` on ``n`` landmarkers: this process and ``n - 1`` workers."""
    info = video.info
    ctx = _context()
    board = _Board(ctx, n, info.frames)
    job = _pose_job(video, model_path, overlap)
    if split is not None and 0 < split < info.frames:
        board.assign(1, split)
    # the workers start up (about a second) while this process decides the model's view
    pool = _Pool(ctx, board, job, n - 1, fn=_work)
    reporter = _Reporter("pose", info.frames, progress, board, pool)
    ok = False
    try:
        board.mirror.value = int(_decided(mirror))  # and the workers go
        segments, worker_stats, found = _caller_share(video, ctx, board, job, pool, reporter)
        ok = True
    finally:
        if not ok:
            board.close(aborted=True)
        pool.shutdown()  # workers that took work are done; idle ones exit by themselves
    reporter.report(final=True)
    if stats is not None:
        stats.update(workers=worker_stats, pool_error=repr(pool.error) if pool.error else None,
                     **_segment_stats(segments))
    return People(*found, info.width, info.height)


def _caller_share(video: VideoFile, ctx, board: _Board, job: _Job, pool: _Pool,
                  reporter: _Reporter) -> tuple[list[_Segment], list[dict], tuple[list, list, list]]:
    """The caller's part of a parallel run: frames from 0 on, then help whoever has the most
    left, then wait for the workers and stitch everything (segments, worker stats, series)."""
    patience = [_PEER_TIMEOUT_S]
    with PoseEstimator(job.model_path, num_poses=job.num_poses, min_confidence=job.min_confidence,
                       mirror=bool(board.mirror.value)) as estimator:
        clock = _Clock(estimator)
        segments = [_run_frames(video, clock, board, _Segment(0, 0), patience, reporter.on_frame,
                                reporter.check)]
        # help whoever still has the most left
        while (got := board.steal(0, job.n_est, job.overlap, job.min_left, job.seeks)) is not None:
            segments.append(_run_range(video.path, video.slowmo, clock, board, 0, got[0], job.overlap,
                                       patience, reporter.on_frame, reporter.check))
        busy = board.close()
        worker_segments, worker_stats = pool.results([p for p in busy if p != 0], reporter.report)
        segments.extend(worker_segments)
        found = _stitch(segments, video, clock, ctx, job.overlap)
    return segments, worker_stats, found


def _stitch(segments: list[_Segment], video: VideoFile, clock: _Clock, ctx,
            overlap: int) -> tuple[list, list, list]:
    """Candidates, t_ms and index along the seams' agreements. Frames a dead worker never
    delivered are run here, and their segment is added to ``segments``."""
    candidates, t_ms, index, missing = _chain(segments)
    if missing is not None:  # a worker died after its seam agreed: run the rest here
        seg = _run_range(video.path, video.slowmo, clock, _solo_board(ctx, missing), 0, missing, overlap, [0.0])
        segments.append(seg)
        candidates += seg.candidates
        t_ms += seg.t_ms
        index += seg.index
    return candidates, t_ms, index


def _decided(choice: bool | Callable[[], bool]) -> bool:
    return bool(choice() if callable(choice) else choice)


def _people_sequential(video: VideoFile, model_path, progress: Progress | None, mirror: bool) -> People:
    """One landmarker over the whole clip, in this process."""
    info = video.info
    found, t_ms, index = [], [], []
    with PoseEstimator(model_path, mirror=mirror) as estimator:
        for frame in video:
            found.append(estimator.detect(frame.bgr, frame.t_ms))
            t_ms.append(frame.t_ms)
            index.append(frame.index)
            if progress is not None:
                progress("pose", frame.index + 1, info.frames)
    return People(found, t_ms, index, info.width, info.height)


def _segment_stats(segments: list[_Segment]) -> dict:
    return {"segments": sorted((s.participant, *_describe(s)) for s in segments),
            "extension_frames": sum(max(0, len(s.index) - (s.main_end - s.start)) for s in segments
                                    if s.main_end != OPEN)}
