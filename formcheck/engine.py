"""One engine for clips and live streams: frames, or the people found in them, in one at a time;
verdicts out, for any run of recent frames (the live check's rolling window) or for
everything seen (a clip, a whole live session).

    engine = Engine(thresholds, estimator=estimator)
    for frame in frames:
        seen = engine.process(frame.bgr, frame.t_ms, frame.index)   # seen.runner: this frame's runner
    report, evidence = engine.finish(video)

Clip analysis finds the people on all cores and hands them in with ``take``; the live check
calls ``process`` on each camera frame and ``judge`` on its last seconds. What only a whole
recording allows runs in ``finish``: the runner tracked over all of it (a passer-by never
becomes the runner), the scenery's motion (a probe the caller gives), and the zero-phase
filtering of the analysis. Frame by frame the runner is followed causally (nearest to where
they were), which is all a rolling verdict can use.
"""

from __future__ import annotations

import collections
import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from formcheck.analysis.gait import SceneryProbe
from formcheck.analysis.rules import Evidence
from formcheck.config import Thresholds
from formcheck.errors import NoPersonError
from formcheck.outputs.report import Report, VideoRecord
from formcheck.pipeline import analyse_pose
from formcheck.pose import N_LANDMARKS, PoseEstimator, PoseSeries, hip_centre, select_runner, torso_length

RESAMPLE_FPS = 30.0  # an irregular stream is judged on this uniform grid (see resample_uniform)
MAX_GAP_S = 0.25  # longer gaps between processed frames are left empty, not interpolated


@dataclass(frozen=True)
class Seen:
    """One frame: every person found in it, and the runner as followed frame by frame."""

    t_ms: float
    index: int
    people: np.ndarray  # (K, 33, 3) pixel x, pixel y, visibility
    runner: np.ndarray  # (33, 3), NaN when nobody was found
    width: int
    height: int


class Engine:
    """Takes frames one at a time and judges any run of them, or all of them.

    ``max_frames`` bounds the record (oldest frames are dropped), for endless streams.
    ``faces_right``: the pose model is shown each frame mirrored, so it always sees the runner
    facing left (it is not mirror-symmetric); ``judge`` keeps it up to date.
    """

    def __init__(self, thresholds: Thresholds | None = None, *, estimator: PoseEstimator | None = None,
                 max_frames: int | None = None, faces_right: bool = False):
        self.thresholds = thresholds or Thresholds()
        self.estimator = estimator
        self.faces_right = faces_right
        self._record: collections.deque[Seen] = collections.deque(maxlen=max_frames)
        self._runner_hips: np.ndarray | None = None

    # -- frames in -------------------------------------------------------------

    def process(self, bgr: np.ndarray, t_ms: float, index: int | None = None) -> Seen:
        """Find everyone in one frame and take them in."""
        self.estimator.mirror = self.faces_right  # between frames, never mid-detect
        return self.take(self.estimator.detect(bgr, t_ms), t_ms, index, bgr.shape[1], bgr.shape[0])

    def take(self, people: np.ndarray, t_ms: float, index: int | None, width: int, height: int) -> Seen:
        """Take in the people found in one frame elsewhere (a worker process, say)."""
        last = self._record[-1] if self._record else None
        if last is not None and (last.width, last.height) != (width, height):
            self.forget()  # the camera changed resolution: old pixels mean nothing now (one size kept)
            last = None
        if index is None:
            index = last.index + 1 if last is not None else 0
        seen = Seen(float(t_ms), int(index), people, self._follow(people), width, height)
        self._record.append(seen)
        return seen

    def forget(self) -> None:
        self._record.clear()
        self._runner_hips = None

    def __len__(self) -> int:
        return len(self._record)

    def _follow(self, people: np.ndarray) -> np.ndarray:
        """The person nearest the runner of the previous frames (the largest one at first)."""
        if not len(people):
            return np.full((N_LANDMARKS, 3), np.nan)
        hips = hip_centre(people)
        if self._runner_hips is None or len(people) == 1:
            best = int(np.argmax(torso_length(people)))
        else:
            best = int(np.argmin(np.linalg.norm(hips - self._runner_hips, axis=1)))
        self._runner_hips = hips[best]
        return people[best]

    # -- verdicts out -----------------------------------------------------------

    def judge(self, frames: list[Seen], video: VideoRecord) -> Report | None:
        """The runner of these frames as followed frame by frame, on a uniform time grid, judged
        (None without frames)."""
        if not frames:
            return None
        report, _ = analyse_pose(resample_uniform(_followed(frames)), video, self.thresholds)
        self.faces_right = report.runner.facing == "right"
        return report

    def record(self) -> list[Seen]:
        """A copy of every frame kept (call it where no frame is being taken in meanwhile)."""
        return list(self._record)

    @property
    def max_frames(self) -> int | None:
        return self._record.maxlen

    def finish(self, video: VideoRecord | Callable[[PoseSeries], VideoRecord], scenery: SceneryProbe | None = None, *,
               uniform: bool = False, frames: list[Seen] | None = None) -> tuple[Report, Evidence]:
        """Judge everything seen (or ``frames``, a copy of the record), the runner tracked over all of it.

        ``video`` describes the source, or is a function making that description from the
        tracked series (a live stream knows its rate only then). ``uniform``: resample first (a
        live stream's processed frames are irregular; a clip's are its own).
        """
        frames = self.record() if frames is None else frames
        series = None
        if frames:
            series = select_runner([f.people for f in frames], [f.t_ms for f in frames],
                                   [f.index for f in frames], frames[-1].width, frames[-1].height)
            series = resample_uniform(series) if uniform else series
        if series is None or not series.detected.any():
            raise NoPersonError("No runner was seen: film them side-on, with the whole body in view.")
        about = video(series) if callable(video) else video
        return analyse_pose(series, dataclasses.replace(about, frames=len(series)), self.thresholds, scenery=scenery)


def _followed(frames: list[Seen]) -> PoseSeries:
    rows = np.stack([f.runner for f in frames]).astype(np.float64)
    return PoseSeries.from_frames(rows, [f.t_ms for f in frames], np.arange(len(frames)), frames[-1].width,
                                  frames[-1].height)


def resample_uniform(series: PoseSeries, fps: float = RESAMPLE_FPS, max_gap_s: float = MAX_GAP_S) -> PoseSeries:
    """The series on a uniform ``fps`` grid, by linear interpolation between the frames that were processed.

    A live stream's processed frames are irregular (stale ones are dropped, so the spacing
    jitters between one and several camera frames) and often fewer than 30 a second. The
    analysis counts frames (a contact must last a few of them) and filters at a fixed
    rate, so it gets a regular grid: at 12-16 processed fps this keeps the rolling cadence
    right where the raw irregular series loses steps. Gaps longer than ``max_gap_s``, or
    next to a frame without the runner, stay empty (NaN), as in the raw series.
    """
    t = series.t_ms
    if len(t) < 2:
        return series
    grid = np.arange(t[0], t[-1] + 1e-6, 1000.0 / fps)
    hi = np.clip(np.searchsorted(t, grid), 0, len(t) - 1)
    lo = np.clip(hi - 1, 0, len(t) - 1)
    exact = np.isclose(t[hi], grid, atol=1e-3)
    lo[exact] = hi[exact]
    seen = series.detected
    empty = ((t[hi] - t[lo]) > max_gap_s * 1000.0) | ~seen[lo] | ~seen[hi]
    n = series.xy.shape[1]
    flat_xy = series.xy.reshape(len(t), -1)
    xy = np.full((len(grid), flat_xy.shape[1]), np.nan)
    for col in range(flat_xy.shape[1]):
        v = flat_xy[:, col]
        ok = np.isfinite(v)
        if ok.sum() >= 2:
            xy[:, col] = np.interp(grid, t[ok], v[ok])
    vis = np.stack([np.interp(grid, t, series.visibility[:, k]) for k in range(n)], axis=1)
    xy[empty] = np.nan
    vis[empty] = 0.0
    return PoseSeries(xy.reshape(len(grid), n, 2), vis, grid, np.arange(len(grid)), series.width, series.height)
