"""The analysis progress bar: frames done, frames per second and time left."""

from __future__ import annotations

import time

import streamlit as st

from formcheck.errors import BusyError

# An analysis that takes longer than this gives its turn up: a clip is refused rather than the server held.
DEADLINE_BASE_S = 120.0
DEADLINE_PER_FRAME_S = 0.5  # ten times a slow machine's cost of a frame


class ProgressDisplay:
    """analyze()'s progress(stage, done, total) -> a progress bar with frames, fps and time left."""

    POSE_SHARE = 0.8  # finding the pose is most of the work; drawing the video is the rest

    def __init__(self, container=None):
        self.bar = (container or st).progress(0.0, text="Opening the clip…")
        self.opened: float | None = None  # the first report: the analysis has its turn (waiting is not counted)
        self.started: dict[str, float] = {}
        self.last_update = 0.0
        self.pose_fps: float | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        self._check_deadline(now, total)
        self.started.setdefault(stage, now)
        if now - self.last_update < 0.25 and done < total:
            return
        self.last_update = now
        total = max(total, done, 1)
        elapsed = now - self.started[stage]
        fps = done / elapsed if elapsed > 0 else 0.0
        if stage == "pose":
            self.pose_fps = fps or None
            fraction = self.POSE_SHARE * done / total
            # the video pass re-reads and draws every frame: about 3x faster than pose finding here
            left = (total - done) / fps + total / (3 * fps) if fps else None
            label = "Finding the runner's pose"
        else:
            fraction = self.POSE_SHARE + (1 - self.POSE_SHARE) * done / total
            left = (total - done) / fps if fps else None
            label = "Drawing the annotated video"
        eta = f"about {left:.0f} s left" if left is not None else "estimating time left"
        self.bar.progress(min(fraction, 1.0), text=f"{label}: frame {done} of {total} · {fps:.1f} fps · {eta}")

    def _check_deadline(self, now: float, frames: int) -> None:
        """Raising here stops the analysis (its workers are told to stop too) and frees the turn."""
        if self.opened is None:
            self.opened = now
        allowed = DEADLINE_BASE_S + DEADLINE_PER_FRAME_S * max(frames, 0)
        if now - self.opened > allowed:
            raise BusyError(f"The analysis took longer than {allowed / 60:.0f} min, far longer than it should on "
                            "this server, so it was stopped. Try again later, or with a shorter clip.")

    def done(self) -> None:
        self.bar.empty()
