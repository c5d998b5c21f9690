"""The shared-memory board: who owns which frames, and what each frame gave.

Every participant (the caller is participant 0) claims frames, steals ranges and publishes
each frame's fingerprint here, so the seams between ranges can be compared across processes.
"""

from __future__ import annotations

import hashlib
import time
from typing import Callable

import numpy as np

from formcheck.parallel.seeks import _Seeks

LOCK_FRAMES = 2  # consecutive identical frames that prove two landmarkers are in the same state
MIN_GAIN_FRAMES = 8  # a steal must shorten the remaining work by at least this many frames
OPEN = 2**62  # "to the end of the file": frame counts in metadata can be wrong
_POLL_S = 0.002
_PEER_TIMEOUT_S = 20.0  # a peer that publishes nothing for this long is taken for dead


def _fingerprint(people: np.ndarray) -> int:
    """A non-zero 56-bit digest of one frame's candidates, equal across processes."""
    data = np.round(people, 3).tobytes() + len(people).to_bytes(2, "little")
    return int.from_bytes(hashlib.blake2b(data, digest_size=7).digest(), "little") + 1


class _Aborted(Exception):
    """The board was aborted (an error elsewhere, or the caller is gone): stop at the next frame."""


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
        self.crowded = ctx.RawValue("b", 0)  # someone saw several people: no more steals (see pose_ranges)
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
