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
once, as after a sequential run.

Workers start with ``forkserver`` where available (MediaPipe is not fork-safe once a
landmarker exists; the fork server only imports it), else ``spawn``. A ``FormcheckError``
in a worker is raised in the caller unchanged; if the pool itself breaks, the caller
runs what is missing itself.
"""

from __future__ import annotations

import bisect
import concurrent.futures as cf
import hashlib
import json
import math
import multiprocessing as mp
import os
import secrets
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import av
import numpy as np

from formcheck.errors import FormcheckError, OutputError
from formcheck.io.video import H264Writer, VideoFile, _output_error
from formcheck.outputs.render import ANNOTATED_VIDEO, Annotator
from formcheck.pose import PoseEstimator, PoseSeries, select_runner
from formcheck.pose.model import find_model

# progress(stage, done, total), as in formcheck.api
Progress = Callable[[str, int, int], None]

MIN_PARALLEL_FRAMES = 120  # ~4 s at 30 fps: on shorter clips a worker's start-up costs more than it saves
OVERLAP_FRAMES = 5  # warm-up frames before a stolen range (detected, compared, dropped)
LOCK_FRAMES = 2  # consecutive identical frames that prove two landmarkers are in the same state
MAX_EXTENSION = 45  # frames past a seam that never agreed: from there on one landmarker runs alone
MIN_GAIN_FRAMES = 8  # a steal must shorten the remaining work by at least this many frames
LOOK_FRAMES = 15  # half a second: the caller's frames a worker waits for before its first steal (crowded?)
DECODE_SHARE_POSE = 0.12  # decoding a frame / decoding + converting + detecting one (measured ~0.09-0.15)
DECODE_SHARE_RENDER = 0.2  # decoding a frame / decoding + drawing + encoding one
MAX_WORKERS = 8  # each landmarker process holds ~300 MB
OPEN = 2**62  # "to the end of the file": frame counts in metadata can be wrong
_POLL_S = 0.002
_PEER_TIMEOUT_S = 20.0  # a peer that publishes nothing for this long is taken for dead


def available_cpus() -> int:
    """Cores this process may run on (affinity/cgroup-aware where the OS tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worker_count(requested: int | None = None) -> int:
    """How many landmarkers to run at once (the caller included).

    ``requested`` wins, then the ``FORMCHECK_WORKERS`` environment variable, then one per
    available core. 1 means the plain sequential loop.
    """
    if requested is None:
        env = os.environ.get("FORMCHECK_WORKERS", "").strip()
        if env:
            try:
                requested = int(env)
            except ValueError:
                requested = None
    n = available_cpus() if requested is None else requested
    return max(1, min(int(n), MAX_WORKERS))


def _fingerprint(people: np.ndarray) -> int:
    """A non-zero 56-bit digest of one frame's candidates, equal across processes."""
    data = np.round(people, 3).tobytes() + len(people).to_bytes(2, "little")
    return int.from_bytes(hashlib.blake2b(data, digest_size=7).digest(), "little") + 1


# ---------------------------------------------------------------------------
# The shared board: who owns which frames, and what each frame gave


class _Board:
    """Per participant: the next frame it will take and the end (exclusive) of its range;
    per frame: who processed it and the fingerprint of its candidates.

    Participant 0 is the calling process. Ranges change only under the lock, so a frame is
    claimed by exactly one participant; each per-frame slot has a single writer.
    """

    RUNNING, CLOSED, ABORTED = 0, 1, 2

    def __init__(self, ctx, participants: int, frames: int):
        self.n = participants
        self.size = frames + 2  # frames past this (a short frame count) are simply not compared
        self.lock = ctx.Lock()
        self.cur = ctx.RawArray("q", participants)
        self.end = ctx.RawArray("q", participants)
        self.done = ctx.RawArray("q", participants)  # frames delivered, for progress
        self.stole = ctx.RawArray("b", participants)  # took at least one range
        self.state = ctx.RawValue("b", self.RUNNING)
        self.horizon = ctx.RawValue("q", OPEN)  # frames from here on belong to one participant alone
        self.crowded = ctx.RawValue("b", 0)  # someone saw several people: no more steals (see _run_frames)
        self.mirror = ctx.RawValue("b", -1)  # the model's view, set by the caller before its first frame
        self.owner = ctx.RawArray("b", self.size)  # participant + 1 that claimed the frame
        self.main_fp = ctx.RawArray("q", self.size)  # that participant's fingerprint
        self.warm_by = ctx.RawArray("b", self.size)  # participant + 1 that warmed up on the frame
        self.warm_fp = ctx.RawArray("q", self.size)
        self.end[0] = OPEN  # the caller starts owning everything

    # ranges
    def claim(self, p: int, index: int) -> bool:
        """May participant ``p`` process frame ``index``? (It must be inside its range.)"""
        with self.lock:
            if index < min(self.end[p], self.horizon.value) and self.state.value != self.ABORTED:
                self.cur[p] = index + 1
                if index < self.size:
                    self.owner[index] = p + 1
                return True
            return False

    def steal(self, p: int, n_est: int, overlap: int, min_left: int,
              seeks: "_Seeks | None" = None) -> tuple[int, int] | None:
        """Give ``p`` the second half of the largest range left, or None if none is worth it.

        The split balances the work: the victim keeps (mid - cur) frames, the thief does the
        rest plus its warm-up and the decoding its seek needs (``seeks``), and a split on a
        key frame is preferred when it is as good.
        """
        with self.lock:
            if self.state.value != self.RUNNING or self.crowded.value:
                return None
            horizon = min(n_est, self.horizon.value)
            victim, most = None, min_left - 1
            for v in range(self.n):
                left = min(self.end[v], horizon) - self.cur[v]
                if v != p and left > most:
                    victim, most = v, left
            if victim is None:
                return None
            cur, stop = self.cur[victim], min(self.end[victim], horizon)

            def span(mid: int) -> float:
                extra = seeks.cost(mid, overlap) if seeks is not None else 0.0
                return max(mid - cur, extra + overlap + stop - mid)

            mid = (cur + stop + overlap + 1) // 2
            if seeks is not None:
                mid = (cur + stop + overlap + int(seeks.cost(mid, overlap)) + 1) // 2
                choices = [mid] + [m for m in seeks.aligned(overlap) if cur + 1 < m < stop - 1]
                mid = min(choices, key=lambda m: (span(m), abs(m - mid)))
            if not cur < mid < stop or stop - cur - span(mid) < MIN_GAIN_FRAMES:
                return None  # the thief's start-up would eat what it saves
            lo, hi = mid, self.end[victim]
            self.end[victim] = mid
            self.cur[p], self.end[p] = lo, hi
            self.stole[p] = 1
            return lo, hi

    def wait_for_caller(self, frames: int, alive: Callable[[], None]) -> None:
        """Until the caller has done ``frames`` frames (or stopped): whether several people are in
        view is known by then."""
        while self.cur[0] < frames and self.state.value == self.RUNNING:
            alive()
            time.sleep(_POLL_S)

    def wait_for_mirror(self, alive: Callable[[], None]) -> bool | None:
        """The caller's choice of the model's view (see PoseEstimator); None if it stopped first."""
        while self.mirror.value < 0:
            if self.state.value != self.RUNNING:
                return None
            alive()
            time.sleep(_POLL_S)
        return bool(self.mirror.value)

    def assign(self, p: int, lo: int) -> None:
        """Before any worker starts: give ``p`` everything from frame ``lo`` on."""
        with self.lock:
            self.end[p], self.cur[p] = self.end[0], lo
            self.end[0] = lo
            self.stole[p] = 1

    def assigned(self, p: int) -> tuple[int, int] | None:
        with self.lock:
            if self.state.value != self.ABORTED and self.cur[p] < self.end[p]:
                return self.cur[p], self.end[p]
            return None

    def close(self, aborted: bool = False) -> list[int]:
        """No more stealing; returns the participants that took work and must be waited for."""
        with self.lock:
            if self.state.value == self.RUNNING or aborted:
                self.state.value = self.ABORTED if aborted else self.CLOSED
            return [p for p in range(self.n) if self.stole[p]]

    def go_solo(self, p: int, index: int) -> None:
        """``p`` keeps everything from frame ``index`` on: the others stop there, their frames
        past it no longer count as done."""
        with self.lock:
            if index >= self.horizon.value:
                return
            self.horizon.value = index
            for q in range(self.n):
                if q != p and self.cur[q] > index:
                    self.done[q] = max(0, self.done[q] - (self.cur[q] - index))

    @property
    def aborted(self) -> bool:
        return self.state.value == self.ABORTED

    def total_done(self) -> int:
        return int(sum(self.done))

    # fingerprints
    def put_main(self, index: int, fp: int) -> None:
        if index < self.size:
            self.main_fp[index] = fp

    def put_warm(self, p: int, index: int, fp: int) -> None:
        if index < self.size:
            self.warm_fp[index] = fp
            self.warm_by[index] = p + 1

    def _wait(self, ready: Callable[[], bool], patience: list, on_wait) -> bool:
        """Poll until ``ready()``; False on abort or once a peer has been silent too long."""
        if ready():
            return True
        if patience[0] <= 0:
            return False
        deadline = time.monotonic() + patience[0]
        while not ready():
            if self.aborted:
                raise _Aborted
            if time.monotonic() > deadline:
                patience[0] = 0.0  # a peer died: stop waiting for anyone from now on
                return False
            if on_wait is not None:
                on_wait()
            time.sleep(_POLL_S)
        return True

    def warm_agreement(self, end: int, mine: dict[int, int], patience: list, on_wait) -> tuple[int, int]:
        """How many of our last frames before ``end`` the next range's warm-up reproduced,
        and who that is (participant + 1, 0 if unknown)."""
        last = end - 1
        if not 0 <= last < self.size or last not in mine:
            return 0, 0
        if not self._wait(lambda: self.warm_by[last] != 0, patience, on_wait):
            return 0, 0
        who, agree = self.warm_by[last], 0
        for i in range(last, last - LOCK_FRAMES, -1):
            if i in mine and i >= 0 and self.warm_by[i] == who and self.warm_fp[i] == mine[i]:
                agree += 1
            else:
                break
        return agree, who

    def main_of(self, index: int, patience: list, on_wait) -> tuple[int, int]:
        """(participant + 1, fingerprint) of whoever owns frame ``index``, waiting for it; (0, 0) if unknown."""
        if index >= self.size:
            return 0, 0
        if not self._wait(lambda: self.main_fp[index] != 0, patience, on_wait):
            return 0, 0
        return self.owner[index], self.main_fp[index]


def _solo_board(ctx, lo: int, hi: int = OPEN) -> _Board:
    """A board on which the caller alone owns frames [lo, hi): to redo what a dead worker left."""
    board = _Board(ctx, 1, 0)
    board.cur[0], board.end[0] = lo, hi
    return board


class _Seeks:
    """What starting a range costs: OpenCV seeks to the key frame before it and decodes forward.

    ``keys`` are the key frames' indices (from the container, no decoding); ``decode`` is
    what decoding one frame costs relative to processing one (model or encoder included).
    """

    def __init__(self, keys: list[int] | None, decode: float):
        self.keys = sorted(keys or [])
        self.decode = decode

    def cost(self, lo: int, overlap: int) -> float:
        start = max(0, lo - overlap)
        i = bisect.bisect_right(self.keys, start) - 1
        return (start - self.keys[i]) * self.decode if i >= 0 else 0.0

    def aligned(self, overlap: int) -> list[int]:
        """Range starts whose warm-up begins exactly on a key frame."""
        return [k + overlap for k in self.keys]


def key_frames(path) -> list[int] | None:
    """Indices (display order) of the key frames of a file, read from its packets; None if unknown."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            packets = sorted((pkt.pts, pkt.is_keyframe) for pkt in container.demux(stream)
                             if pkt.pts is not None and pkt.size)
    except (av.FFmpegError, OSError, IndexError, ValueError):
        return None
    return [i for i, (_, key) in enumerate(packets) if key]


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


class _Aborted(Exception):
    pass


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


_WARM, _MAIN, _EXT = 0, 1, 2


def _run_frames(frames, clock: _Clock, board: _Board, seg: _Segment, patience: list,
                on_frame=None, on_wait=None) -> _Segment:
    """Detect frames from ``frames`` (starting at or before ``seg.start``) until the range is
    over and the next range is known to continue it."""
    p, lo = seg.participant, seg.start
    mine: dict[int, int] = {}  # fingerprints of the frames kept, the last few
    mode, agree, partner = _MAIN, 0, 0
    index = lo - 1
    for frame in frames:
        index = frame.index
        if index < lo:
            mode = _WARM
        elif mode != _EXT:
            mode = _MAIN
            if not board.claim(p, index):
                if board.aborted:
                    raise _Aborted
                seg.main_end = index
                if index >= board.horizon.value:
                    return seg  # someone else runs alone from here: nothing to join
                agree, partner = board.warm_agreement(index, mine, patience, on_wait)
                if agree >= LOCK_FRAMES:
                    seg.lock_with, seg.lock_at, seg.lock_warm = partner - 1, index - 1, True
                    return seg
                mode = _EXT
        people = clock.detect(frame.bgr, frame.t_ms)
        fp = _fingerprint(people)
        if mode == _WARM:
            board.put_warm(p, index, fp)
            if board.aborted:
                raise _Aborted
            continue
        seg.candidates.append(people)
        seg.t_ms.append(frame.t_ms)
        seg.index.append(index)
        mine[index] = fp
        mine.pop(index - LOCK_FRAMES - 1, None)
        if mode == _MAIN:
            if len(people) > 1:
                # With several people MediaPipe tracks rather than detects, so a fresh landmarker
                # rarely agrees at a seam (the two-people clip: 43-107 frames of extension, 1.4x
                # slower than one landmarker): ranges already taken run on, no new ones.
                board.crowded.value = 1
            board.put_main(index, fp)
            board.done[p] += 1
            if on_frame is not None:
                on_frame()
            continue
        # extension: our state is the true one; stop once the owner of these frames agrees
        if index >= board.horizon.value:
            board.done[p] += 1  # running alone: nobody else does these frames
            if on_frame is not None:
                on_frame()
            continue
        if index - seg.main_end >= MAX_EXTENSION:
            # the landmarkers do not converge (tracking that a fresh one cannot reproduce):
            # rather than keep doing everyone's frames twice, take the rest of the clip alone
            board.go_solo(p, index)
            board.done[p] += 1
            if on_frame is not None:
                on_frame()
            continue
        who, theirs = board.main_of(index, patience, on_wait)
        if who != partner:
            partner, agree = who, 0
        agree = agree + 1 if who and theirs == fp else 0
        if agree >= LOCK_FRAMES:
            seg.lock_with, seg.lock_at = partner - 1, index
            return seg
    seg.exhausted = True
    if mode != _EXT:
        seg.main_end = index + 1
    return seg


def _run_range(path, slowmo: float, clock: _Clock, board: _Board, p: int, lo: int, overlap: int,
               patience: list, on_frame=None, on_wait=None) -> _Segment:
    clock.new_range()
    with VideoFile(path, slowmo=slowmo, start=max(0, lo - overlap)) as video:
        return _run_frames(video, clock, board, _Segment(p, lo), patience, on_frame, on_wait)


# ---------------------------------------------------------------------------
# Worker processes


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


_BOARD: _Board | None = None


def _init_worker(board: _Board) -> None:
    global _BOARD
    _BOARD = board
    parent = mp.parent_process()
    if parent is not None:
        # A killed caller must not leave workers behind, busy or idle (an idle pool worker
        # would wait for tasks forever): exit as soon as the caller's process is gone.
        def watch() -> None:
            parent.join()
            os._exit(1)

        threading.Thread(target=watch, name="formcheck-orphan-watch", daemon=True).start()


def _peak_rss_kb() -> int:
    """This process's peak resident set size (VmHWM), in kB; 0 where unknown."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    except (ImportError, OSError):
        return 0


def _orphan_check():
    """In a worker: a callable that stops the work once the process that asked for it is gone
    (killed callers must not leave workers computing)."""
    parent = mp.parent_process()

    def check() -> None:
        if parent is not None and not parent.is_alive():
            raise _Aborted

    return check


def _work(job: _Job, p: int) -> tuple[list[_Segment], dict]:
    """A worker: get a landmarker ready, then steal ranges until none is worth it."""
    board = _BOARD
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
            mirror = board.wait_for_mirror(alive)  # the caller may still be deciding (estimate_clip)
            if mirror is None:
                return segments, stats
            est.mirror = mirror
            got = board.assigned(p)  # a range given before start-up (see estimate_clip's split)
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


_MAIN_ENV = "_FORMCHECK_PARENT_MAIN"


def _context():
    methods = mp.get_all_start_methods()
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        # The fork server imports these once; every later worker forks from it ready to go.
        ctx.set_forkserver_preload(["formcheck.parallel", "mediapipe", "cv2", "av"])
        # ...and tells its children that the caller's main module is already in place (see
        # _adopt_parent_main), so they never re-run the caller's script.
        from multiprocessing import spawn

        prep = spawn.get_preparation_data("formcheck")
        os.environ[_MAIN_ENV] = json.dumps([prep.get("init_main_from_name"), prep.get("init_main_from_path")])
        return ctx
    return mp.get_context("spawn")


def _adopt_parent_main() -> None:
    """In the fork server, while it preloads this module: make ``__main__`` look like the
    caller's main module, so that the workers forked from it skip importing the caller's
    script (multiprocessing does that unless ``__main__`` already matches).

    Workers only run formcheck code, so they never need the script; importing it would run
    any unguarded top-level code (a second analysis, say) or fail (``python - <<EOF``).
    """
    value = os.environ.get(_MAIN_ENV)
    if not value:
        return
    frame = sys._getframe()
    while frame is not None:  # only when imported by multiprocessing.forkserver.main
        code = frame.f_code
        if code.co_name == "main" and code.co_filename.endswith(os.path.join("multiprocessing", "forkserver.py")):
            break
        frame = frame.f_back
    else:
        return
    import importlib.machinery

    try:
        name, path = json.loads(value)
    except (ValueError, TypeError):
        return
    main = sys.modules["__main__"]
    if name:
        main.__spec__ = importlib.machinery.ModuleSpec(name, None)
    elif path:
        main.__file__ = path


_adopt_parent_main()


class _Pool:
    """Worker processes started from a background thread, so the caller never waits on them."""

    def __init__(self, ctx, board: _Board, job, workers: int, fn=None):
        self.executor: cf.ProcessPoolExecutor | None = None
        self.futures: dict[int, cf.Future] = {}
        self.error: BaseException | None = None
        self._started = threading.Event()
        threading.Thread(target=self._start, args=(ctx, board, job, workers, fn or _work),
                         name="formcheck-pool", daemon=True).start()

    def _start(self, ctx, board, job, workers, fn) -> None:
        try:
            self.executor = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                                   initializer=_init_worker, initargs=(board,))
            for p in range(1, workers + 1):
                self.futures[p] = self.executor.submit(fn, job, p)
        except BaseException as exc:  # no pool: the caller simply does all the work
            self.error = exc
        finally:
            self._started.set()

    def failed_early(self) -> BaseException | None:
        """A FormcheckError a worker already raised (so the caller can stop at once)."""
        for fut in list(self.futures.values()):
            if fut.done() and not fut.cancelled():
                exc = fut.exception()
                if isinstance(exc, FormcheckError):
                    return exc
        return None

    def results(self, participants: list[int], report) -> tuple[list[_Segment], list[dict]]:
        """Wait for the workers that took work; the others are not waited for."""
        self._started.wait()
        segments, stats = [], []
        for p in participants:
            fut = self.futures.get(p)
            if fut is None:
                continue
            while True:
                try:
                    segs, st = fut.result(timeout=0.05)
                    break
                except cf.TimeoutError:
                    report()
                except FormcheckError:
                    raise
                except (BrokenProcessPool, cf.CancelledError, OSError, EOFError):
                    segs, st = [], {"participant": p, "broken": True}  # the caller runs what is missing
                    break
            segments.extend(segs)
            stats.append(st)
        return segments, stats

    def wait(self, participants: list[int], timeout_s: float = _PEER_TIMEOUT_S) -> None:
        """Wait until these workers have finished, whatever the outcome."""
        self._started.wait()
        futures = [self.futures[p] for p in participants if p in self.futures]
        cf.wait(futures, timeout=timeout_s)

    def shutdown(self) -> None:
        """Let the workers exit in the background; the caller does not wait for idle ones.

        The thread keeps the executor (and with it the board's shared lock) alive until the
        last worker has exited, so a worker still starting up never finds it gone.
        """

        def finish() -> None:
            self._started.wait()
            if self.executor is not None:
                self.executor.shutdown(wait=True, cancel_futures=True)

        threading.Thread(target=finish, name="formcheck-pool-exit", daemon=True).start()


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


def _refuse_while_bootstrapping() -> None:
    """Stop a worker that is re-running the user's unguarded script (spawn/forkserver import it).

    Without this the worker would run the user's whole script, analyses included, before
    it ever serves its range; failing fast makes the caller do the work itself and says why.
    """
    if getattr(mp.current_process(), "_inheriting", False):
        raise RuntimeError(
            "formcheck.analyze() was called while a formcheck worker process was importing the main "
            "script. Put the script's top-level code under `if __name__ == \"__main__\":` so the "
            "worker processes can import it without running it (the analysis itself still completes)."
        )


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
    core, with ``workers=1`` or for clips of fewer than ``min_frames`` frames. ``split`` (tests) hands frames ``split``.. to the first worker
    up front instead of letting it steal, so there is always a seam there.
    ``stats``, if given, is filled with how the work was shared. ``mirror``: see PoseEstimator;
    a callable (``facing.faces_right``, say) is asked while the workers start up.
    """
    info = video.info
    total = info.frames
    n = worker_count(workers)
    if total < min_frames or video.start or video.stop is not None or video.max_frames is not None:
        n = 1  # short, or only part of the file (workers read whole files)
    if n > 1:
        _refuse_while_bootstrapping()
    model_path = find_model(model)  # a ModelError here, before any process starts
    if stats is not None:
        stats.update(participants=n, parallel=n > 1, workers=[])

    if n == 1:
        return _people_sequential(video, model_path, progress, _decided(mirror))

    ctx = _context()
    board = _Board(ctx, n, total)
    defaults = PoseEstimator(model_path)  # not entered: only its settings, for the workers
    overlap = max(LOCK_FRAMES, overlap)
    job = _Job(str(video.path), video.slowmo, str(model_path), defaults.num_poses, defaults.min_confidence,
               n_est=total, overlap=overlap, min_left=3 * overlap + 10,
               seeks=_Seeks(key_frames(video.path), DECODE_SHARE_POSE))
    if split is not None and 0 < split < total:
        board.assign(1, split)
    # the workers start up (about a second) while this process decides the model's view
    pool = _Pool(ctx, board, job, n - 1)
    reporter = _Reporter("pose", total, progress, board, pool)
    report, on_wait = reporter.report, reporter.check
    patience = [_PEER_TIMEOUT_S]
    ok = False
    try:
        board.mirror.value = int(_decided(mirror))  # and the workers go
        with PoseEstimator(model_path, num_poses=job.num_poses, min_confidence=job.min_confidence,
                           mirror=bool(board.mirror.value)) as estimator:
            clock = _Clock(estimator)
            segments = [_run_frames(video, clock, board, _Segment(0, 0), patience, reporter.on_frame,
                                    on_wait)]
            while True:  # help whoever still has the most left
                got = board.steal(0, total, overlap, job.min_left, job.seeks)
                if got is None:
                    break
                segments.append(_run_range(video.path, video.slowmo, clock, board, 0, got[0], overlap,
                                           patience, reporter.on_frame, on_wait))
            busy = board.close()
            worker_segments, worker_stats = pool.results([p for p in busy if p != 0], report)
            segments.extend(worker_segments)
            candidates, t_ms, index, missing = _chain(segments)
            if missing is not None:  # a worker died after its seam agreed: run the rest here
                seg = _run_range(video.path, video.slowmo, clock, _solo_board(ctx, missing), 0, missing, overlap,
                                 [0.0])
                segments.append(seg)
                candidates += seg.candidates
                t_ms += seg.t_ms
                index += seg.index
        ok = True
    finally:
        if not ok:
            board.close(aborted=True)
        pool.shutdown()  # workers that took work are done; idle ones exit by themselves
    report(final=True)
    if stats is not None:
        stats.update(workers=worker_stats, pool_error=repr(pool.error) if pool.error else None,
                     **_segment_stats(segments))
    return People(candidates, t_ms, index, info.width, info.height)


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


class _Reporter:
    """The caller's side of a parallel run: progress over all participants (never backwards,
    see _Board.go_solo) and a worker's FormcheckError raised here as soon as it happens."""

    CHECK_EVERY = 10  # frames between looks at the workers' futures

    def __init__(self, stage: str, total: int, progress: Progress | None, board: _Board, pool: _Pool):
        self.stage, self.total, self.progress = stage, total, progress
        self.board, self.pool = board, pool
        self.reported = -1
        self.frames = 0

    def report(self, final: bool = False) -> None:
        if self.progress is None:
            return
        done = self.total if final else min(self.board.total_done(), self.total)
        if done > self.reported:
            self.reported = done
            self.progress(self.stage, done, self.total)

    def on_frame(self) -> None:
        self.report()
        self.frames += 1
        if self.frames % self.CHECK_EVERY == 0:
            self.check()

    def check(self) -> None:
        self.report()
        exc = self.pool.failed_early()
        if exc is not None:
            raise exc


# ---------------------------------------------------------------------------
# The annotated video on every core
#
# Drawing and H.264 encoding have no state that crosses frames except the encoder's own,
# so each participant encodes its ranges into part files (each starting on a key frame)
# and the parts are joined by copying their packets into one MP4: no second encode.

MIN_RENDER_STEAL = 30  # frames: a new part costs an encoder start and a key frame


@dataclass(frozen=True)
class _RenderJob:
    src: str
    slowmo: float
    dst: str  # the user's output: errors name it, never a part file
    prefix: str  # part files are f"{prefix}.{first_frame}.mp4", next to the output
    fps: float
    width: int
    height: int
    n_est: int
    evidence: object  # rules.Evidence
    findings: list
    title: str
    seeks: _Seeks | None = None


@dataclass
class _Part:
    start: int
    frames: int
    path: str
    exhausted: bool


class _Incompatible(Exception):
    """The parts' encoder settings differ, so they cannot be joined without re-encoding."""


def _annotator(job: _RenderJob):
    position = {int(f): i for i, f in enumerate(job.evidence.pose.frame_index)}
    return Annotator(job.evidence, job.findings, title=job.title), position


def _render_range(job: _RenderJob, drawing, board: _Board, p: int, lo: int, on_frame=None) -> _Part:
    annotator, position = drawing
    path = f"{job.prefix}.{lo}.mp4"
    frames, exhausted = 0, True
    try:
        with VideoFile(job.src, slowmo=job.slowmo, start=lo) as video, \
                H264Writer(path, fps=job.fps, width=job.width, height=job.height, threads=1,
                           **ANNOTATED_VIDEO) as writer:
            for frame in video:
                if not board.claim(p, frame.index):
                    if board.aborted:
                        raise _Aborted
                    exhausted = False
                    break
                i = position.get(frame.index)
                if i is not None:
                    annotator.draw(frame.bgr, i)
                writer.write(frame.bgr)
                frames += 1
                board.done[p] += 1
                if on_frame is not None:
                    on_frame()
    except OutputError as exc:  # a full disk, say: the user knows their output, not our part files
        raise _output_error(Path(job.dst), exc.__cause__ or exc) from exc
    return _Part(lo, frames, path if frames else "", exhausted)


def _remove_parts(prefix: str) -> None:
    """Delete every file of this render next to the output: parts and their writers' temp files."""
    folder, tag = os.path.split(prefix)
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return
    for name in names:
        if tag + "." in name:
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


def _render_work(job: _RenderJob, p: int) -> tuple[list[_Part], dict]:
    """A worker: encode ranges of the annotated video into part files until none is worth it."""
    board = _BOARD
    parts: list[_Part] = []
    stats = {"participant": p, "pid": os.getpid(), "ranges": []}
    if board is None or board.state.value != board.RUNNING:
        return parts, stats
    drawing = _annotator(job)
    alive = _orphan_check()
    got = board.assigned(p)
    while True:  # on failure the caller removes our part files (it waits for us first)
        got = got or board.steal(p, job.n_est, 0, MIN_RENDER_STEAL, job.seeks)
        if got is None:
            break
        parts.append(_render_range(job, drawing, board, p, got[0], on_frame=alive))
        stats["ranges"].append((parts[-1].start, parts[-1].start + parts[-1].frames))
        got = None
    stats["peak_rss_kb"] = _peak_rss_kb()
    return parts, stats


def _join(parts: list[_Part], dst: Path, fps: float) -> None:
    """Copy the parts' packets, shifted to their place in time, into one faststart MP4 at ``dst``."""
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.part{dst.suffix}")
    try:
        with av.open(parts[0].path) as first:
            template = first.streams.video[0]
            extradata = template.codec_context.extradata
            fmt = "mov" if dst.suffix.lower() == ".mov" else "mp4"
            with av.open(str(tmp), "w", format=fmt, options={"movflags": "+faststart"}) as out:
                ost = out.add_stream_from_template(template)
                for part in parts:
                    with av.open(part.path) as inp:
                        ist = inp.streams.video[0]
                        if ist.codec_context.extradata != extradata:
                            raise _Incompatible(part.path)
                        # the same arithmetic as H264Writer's own timestamps
                        shift = round(part.start * (1 / float(ist.time_base)) / fps)
                        for packet in inp.demux(ist):
                            if packet.dts is None:
                                continue  # the demuxer's end-of-stream marker
                            packet.pts += shift
                            packet.dts += shift
                            packet.stream = ost
                            out.mux(packet)
        os.replace(tmp, dst)
    except (OSError, av.FFmpegError) as exc:
        raise _output_error(dst, exc) from exc
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass


def render_video(src, dst, evidence, findings: list, title: str, slowmo: float = 1.0,
                 progress: Progress | None = None, *, workers: int | None = None,
                 min_frames: int = MIN_PARALLEL_FRAMES, stats: dict | None = None) -> bool:
    """Write the annotated video of ``src`` to ``dst`` on all cores.

    Returns False, having written nothing, when it does not pay (one core, a short clip) or
    the parts could not be joined; the caller then runs its sequential loop.
    """
    src, dst = Path(src), Path(dst)
    with VideoFile(src, slowmo=slowmo) as video:
        info = video.info
    total = info.frames
    n = worker_count(workers)
    if n == 1 or total < min_frames:
        return False
    _refuse_while_bootstrapping()
    ctx = _context()
    board = _Board(ctx, n, 0)
    job = _RenderJob(str(src), slowmo, str(dst), str(dst.parent / f".{dst.name}.{secrets.token_hex(4)}"), info.fps,
                     info.width, info.height, total, evidence, list(findings), title,
                     _Seeks(key_frames(src), DECODE_SHARE_RENDER))
    pool = _Pool(ctx, board, job, n - 1, fn=_render_work)
    reporter = _Reporter("video", total, progress, board, pool)
    on_frame = reporter.on_frame
    parts: list[_Part] = []
    ok = False
    try:
        drawing = _annotator(job)
        parts.append(_render_range(job, drawing, board, 0, 0, on_frame))
        while (got := board.steal(0, total, 0, MIN_RENDER_STEAL, job.seeks)) is not None:
            parts.append(_render_range(job, drawing, board, 0, got[0], on_frame))
        busy = board.close()
        more, worker_stats = pool.results([p for p in busy if p != 0], reporter.report)
        parts += more
        # frames nobody delivered (a worker process died): render them here
        parts += [_render_gap(ctx, job, drawing, lo, hi) for lo, hi in _gaps(parts)]
        joined = sorted((q for q in parts if q.frames), key=lambda q: q.start)
        try:
            _join(joined, dst, info.fps)
        except _Incompatible:
            return False
        ok = True
    finally:
        if not ok:  # stop the workers at their next frame and wait, so none writes after the clean-up
            pool.wait([p for p in board.close(aborted=True) if p != 0])
        pool.shutdown()
        _remove_parts(job.prefix)
    reporter.report(final=True)
    if stats is not None:
        stats.update(participants=n, parts=[(q.start, q.frames) for q in joined], workers=worker_stats)
    return True


def _gaps(parts: list[_Part]) -> list[tuple[int, int]]:
    """Frame ranges [lo, hi) no part covers (hi is OPEN after the last part if none reached the end)."""
    gaps, nxt, ended = [], 0, False
    for q in sorted((q for q in parts if q.frames or q.exhausted), key=lambda q: q.start):
        if q.start > nxt:
            gaps.append((nxt, q.start))
        nxt = max(nxt, q.start + q.frames)
        ended = ended or q.exhausted
    if not ended:
        gaps.append((nxt, OPEN))
    return gaps


def _render_gap(ctx, job: _RenderJob, drawing, lo: int, hi: int) -> _Part:
    return _render_range(job, drawing, _solo_board(ctx, lo, hi), 0, lo)
