"""Live form check: the same analysis as for clips, on the last seconds of a webcam stream.

``LiveSession`` takes frames one at a time (``process(bgr, t_ms)``), finds the pose
on each, keeps a bounded buffer of poses, re-judges the last ``window_s`` seconds
with the engine clips use (``formcheck.engine``) every ``analyse_every_s`` seconds, and
draws the skeleton plus one traffic light per cue on the frame. ``summary()``
judges the whole session (up to ``max_session_s``) the same way and returns a
Report. Front ends:

* the Streamlit app's "Live treadmill check" tab (``streamlit-webrtc``), and
* ``formcheck.live.window.run_camera_window(index)``: an OpenCV window on a local
  camera (``formcheck live --camera 0``).

Both drop stale frames instead of queueing them: only the newest frame is
processed, so the picture stays current when pose estimation is slower than
the camera.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass

import numpy as np

from formcheck import pose as P
from formcheck.coaching.intervals import IntervalTimer, TimerState, activity_check
from formcheck.config import Thresholds
from formcheck.cues import CUES
from formcheck.engine import Engine, Seen
from formcheck.errors import NoPersonError
from formcheck.outputs.render import TIMER_BAND_SHARE, draw_panel, draw_skeleton, draw_timer_banner, key_frame_still
from formcheck.outputs.report import Report, VideoRecord
from formcheck.pose import PoseEstimator, PoseSeries

WINDOW_S = 10.0  # rolling analysis window
ANALYSE_EVERY_S = 0.5  # how often the window is re-judged (stream time)
MIN_WINDOW_S = 3.0  # no verdicts until this much of the runner has been seen
MAX_SESSION_S = 600.0  # summary() judges at most the last 10 minutes
MAX_FPS = 60.0  # buffer sizes assume at most this many frames per second
MAX_POSE_EVERY = 3  # at 30 fps, 10 poses a second: about the fewest that still catch each foot contact
MIN_GOOD_FPS = 12  # below this a ~0.25 s ground contact spans too few processed frames to be found
KEY_FRAME_EVERY_S = 30.0  # a still of the runner for the history this often while judging (the last 3 kept)
KEY_FRAME_WIDTH = 480


@dataclass
class LiveStats:
    """What the last processed frame measured; safe to read from another thread."""

    frames: int = 0  # frames processed
    dropped: int = 0  # frames skipped because a newer one had arrived (front ends count these)
    fps: float = 0.0  # processed frames per second (wall clock, smoothed)
    latency_ms: float = 0.0  # pose + drawing time of the last frame
    detected: bool = False
    cadence_spm: float | None = None
    trunk_lean_deg: float | None = None
    elbow_angle_deg: float | None = None
    strikes: tuple[str, ...] = ()  # recent contacts, oldest first, e.g. ("L forefoot", "R flat")
    window_s: float = 0.0  # seconds of pose in the rolling window
    analysed_at_ms: float | None = None  # stream time of the last rolling analysis
    lag_ms: float | None = None  # how far behind the camera clock processing runs (see StreamClock)
    state: str = "starting"  # starting | no runner | warming up | no clear steps | judging
    timer: TimerState | None = None  # the interval timer, when one runs
    on_plan: bool | None = None  # does the runner do what the timer's phase asks? None: cannot tell yet
    plan_check: str = ""  # that, in words
    pose_every: int = 1  # the pose is found on every Nth frame

    def advice(self) -> str | None:
        """One sentence for the user when there are no verdicts yet."""
        if self.state == "no runner":
            return "No runner in view: stand side-on with the whole body in the picture."
        if self.state == "warming up":
            return f"Warming up: {min(self.window_s, MIN_WINDOW_S):.0f} of {MIN_WINDOW_S:.0f} s seen."
        if self.state == "no clear steps":
            slow = f" Only {self.fps:.0f} fps are processed; foot contacts need about {MIN_GOOD_FPS} or more." \
                if 0 < self.fps < MIN_GOOD_FPS else ""
            return "No clear running steps in the last seconds yet." + slow
        return None

    def timing(self) -> str:
        """How fast frames are processed, and how far behind the camera."""
        return (f"{self.fps:.1f} fps  latency {self.latency_ms:.0f} ms"
                + (f"  lag {self.lag_ms:.0f} ms" if self.lag_ms is not None else "")
                + (f"  pose 1 frame in {self.pose_every}" if self.pose_every > 1 else ""))

    def readings(self) -> list[str]:
        """The rolling window's measures in words (ASCII, so the frame's panel can draw them too)."""
        out = []
        if self.cadence_spm is not None:
            out.append(f"cadence {self.cadence_spm:.0f} steps/min")
        if self.trunk_lean_deg is not None:
            out.append(f"trunk lean {self.trunk_lean_deg:+.0f} deg")
        if self.elbow_angle_deg is not None:
            out.append(f"elbow angle {self.elbow_angle_deg:.0f} deg")
        if self.strikes:
            out.append("recent strikes " + ", ".join(self.strikes[-2:]))
        return out

    def lines(self) -> list[str]:
        """Short text lines for the on-frame panel."""
        return [self.timing()] + self.readings()


class LiveSession:
    """Rolling form analysis of a live stream. Feed frames with ``process``.

    Timestamps must increase (ms, any origin). Memory is bounded: the rolling
    window holds at most ``window_s * MAX_FPS`` poses, the session record at most
    ``max_session_s * MAX_FPS``.

    With ``background=True`` the rolling analysis runs in a worker thread so a
    frame never waits for it (for interactive front ends); with ``False`` it runs
    inline (deterministic, for tests and offline replays).
    """

    def __init__(self, model=None, thresholds: Thresholds | None = None, *, window_s: float = WINDOW_S,
                 analyse_every_s: float = ANALYSE_EVERY_S, max_session_s: float = MAX_SESSION_S,
                 background: bool = False, estimator: PoseEstimator | None = None, source: str = "live camera",
                 panel: str = "side", interval_timer: IntervalTimer | None = None, pose_every: int = 1):
        """``pose_every``: find the pose on every Nth frame only (the others show the last pose),
        for a slow computer: 2 halves the pose model's CPU and keeps 15 poses a second at 30 fps."""
        if not (isinstance(pose_every, int) and 1 <= pose_every <= MAX_POSE_EVERY):
            raise ValueError(f"pose_every must be a whole number from 1 to {MAX_POSE_EVERY}, not {pose_every!r}")
        self.pose_every = pose_every
        self._frame_count = 0
        self._last_row: np.ndarray | None = None
        self.thresholds = thresholds or Thresholds()
        self.window_s = float(window_s)
        self.analyse_every_s = float(analyse_every_s)
        self.source = source
        self.background = background
        if panel not in ("side", "overlay"):
            raise ValueError(f"panel must be 'side' or 'overlay', not {panel!r}")
        self.panel = panel
        self._window: collections.deque[Seen] = collections.deque(maxlen=int(window_s * MAX_FPS) + 1)
        self._own_estimator = estimator is None
        # One pose: MediaPipe then tracks the runner and skips its person detector on most frames
        # (about 40 % faster than looking for two); the engine still keeps to the same person.
        self._estimator = (estimator if estimator is not None
                           else PoseEstimator(model, live=True, num_poses=1).__enter__())
        # The same engine as clip analysis; like a clip's, a runner facing image-right is shown to the
        # model mirrored (it is not mirror-symmetric), once the rolling analysis has seen the facing.
        self._engine = Engine(self.thresholds, estimator=self._estimator,
                              max_frames=int(max_session_s * MAX_FPS) + 1)
        self._lock = threading.Lock()  # guards _rolling / stats against the analysis thread
        # One frame at a time, and never while summary() copies the record or close() frees the model
        # (front ends call process() from a frame thread and summary()/close() from another).
        self._frame_lock = threading.RLock()
        self._worker: threading.Thread | None = None
        self._rolling: Report | None = None
        self._rolling_near = "left"
        self._last_analysis_ms: float | None = None
        self._last_t_ms: float | None = None
        self._size: tuple[int, int] = (0, 0)  # width, height
        self._wall_last: float | None = None
        self._started = time.time()
        self._timer = interval_timer  # runs on stream time: starts with the next frame
        self._key_frames: collections.deque = collections.deque(maxlen=3)  # (caption, JPEG bytes)
        self._last_key_frame_ms: float | None = None
        self._first_t_ms: float | None = None
        self.stats = LiveStats(pose_every=pose_every)
        self.closed = False

    def set_interval_timer(self, timer: IntervalTimer | None) -> None:
        """Start (with the next frame), replace or stop the interval timer."""
        with self._lock:
            self._timer = timer
            if timer is None:
                self.stats.timer, self.stats.on_plan, self.stats.plan_check = None, None, ""

    @property
    def interval_timer(self) -> IntervalTimer | None:
        return self._timer

    # -- frames in ---------------------------------------------------------

    def process(self, bgr: np.ndarray, t_ms: float, draw: bool = True, *, lag_ms: float | None = None,
                dropped: int | None = None) -> np.ndarray:
        """Find the pose on one frame, update the rolling analysis when due, and return the annotated
        frame: the skeleton is drawn on ``bgr`` in place, and the cue panel beside it (a new, wider
        image) or, with ``panel="overlay"``, over it (``bgr`` itself is returned).
        ``t_ms`` must not go backwards (it is clamped if it does).
        ``lag_ms`` and ``dropped`` are the front end's measurements, shown with the stats."""
        with self._frame_lock:
            return self._process(bgr, t_ms, draw, lag_ms, dropped)

    def _process(self, bgr, t_ms, draw, lag_ms, dropped) -> np.ndarray:
        if self.closed:
            raise ValueError("LiveSession is closed")
        t0 = time.perf_counter()
        h, w = bgr.shape[:2]
        if self._size != (w, h):
            if self._size != (0, 0):  # the camera changed resolution: old pixels mean nothing now
                self._window.clear()
                self._last_row = None
            self._size = (w, h)
        if self._last_t_ms is not None and t_ms <= self._last_t_ms:
            t_ms = self._last_t_ms + 1.0  # tolerate duplicate stamps; never go back
        self._last_t_ms = t_ms
        with self._lock:
            if lag_ms is not None:
                self.stats.lag_ms = lag_ms
            if dropped is not None:
                self.stats.dropped = dropped
        self._frame_count += 1
        if self._last_row is None or (self._frame_count - 1) % self.pose_every == 0:
            seen = self._engine.process(bgr, t_ms)
            row = self._last_row = seen.runner
            self._window.append(seen)
            self._trim_window(t_ms)
            self._maybe_analyse(t_ms)
            self._maybe_keep_key_frame(bgr, row, t_ms)
        else:
            row = self._last_row  # a frame between poses shows the last one
        self._update_timer(t_ms)
        out = self._draw(bgr, row) if draw else bgr
        self._update_timing(time.perf_counter() - t0)
        return out

    def _trim_window(self, t_ms: float) -> None:
        while self._window and self._window[0].t_ms < t_ms - self.window_s * 1000.0:
            self._window.popleft()

    def _maybe_keep_key_frame(self, bgr: np.ndarray, row: np.ndarray, t_ms: float) -> None:
        """Every KEY_FRAME_EVERY_S while the runner is being judged, a small still with the skeleton
        (for the history's before/after view); taken before the panel is drawn."""
        if self._first_t_ms is None:
            self._first_t_ms = t_ms
        with self._lock:
            judging, near = self.stats.state == "judging", self._rolling_near
        due = self._last_key_frame_ms is None or t_ms - self._last_key_frame_ms >= KEY_FRAME_EVERY_S * 1000.0
        if not (judging and due and np.isfinite(row[[P.LEFT_HIP, P.RIGHT_HIP], :2]).all()):
            return
        import cv2

        small = key_frame_still(bgr, row[:, :2], near, KEY_FRAME_WIDTH)
        ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            self._key_frames.append((f"live, {(t_ms - self._first_t_ms) / 1000:.0f} s in", jpeg.tobytes()))
            self._last_key_frame_ms = t_ms

    def key_frames(self) -> list[tuple[str, bytes]]:
        """Up to three (caption, JPEG) stills of the runner from this session, oldest first."""
        with self._frame_lock:
            return list(self._key_frames)

    def _update_timer(self, t_ms: float) -> None:
        """The timer's phase at this frame's stream time, and whether the runner follows it."""
        with self._lock:
            timer, report = self._timer, self._rolling
            if timer is None:
                return
            state = timer.state(now=t_ms / 1000.0)
            on_plan, words = activity_check(state, report.direction if report else None,
                                            report.gait_type if report else None)
            self.stats.timer, self.stats.on_plan, self.stats.plan_check = state, on_plan, words

    # -- rolling analysis ----------------------------------------------------

    def _maybe_analyse(self, t_ms: float) -> None:
        if self._last_analysis_ms is not None and t_ms - self._last_analysis_ms < self.analyse_every_s * 1000.0:
            return
        if self._worker is not None and self._worker.is_alive():
            return  # still busy with the previous window: skip, never queue
        self._last_analysis_ms = t_ms
        snapshot = list(self._window)
        if self.background:
            self._worker = threading.Thread(target=self._analyse_window, args=(snapshot, t_ms), daemon=True,
                                            name="formcheck-live-analysis")
            self._worker.start()
        else:
            self._analyse_window(snapshot, t_ms)

    def _analyse_window(self, frames: list[Seen], t_ms: float) -> None:
        seen = [f.t_ms for f in frames if np.isfinite(f.runner[P.LEFT_HIP, 0])]
        span = (seen[-1] - seen[0]) / 1000.0 if len(seen) > 1 else 0.0
        report = None
        if span >= MIN_WINDOW_S and len(seen) >= 0.5 * len(frames):
            try:
                report = self._engine.judge(frames, VideoRecord(path=self.source, live=True))
            except Exception:  # noqa: BLE001 - a bad window must never stop the stream
                report = None
        with self._lock:
            self._rolling = report
            if report is not None:
                self._rolling_near = report.runner.near_side
            s = self.stats
            s.window_s = span
            s.analysed_at_ms = t_ms
            if span < MIN_WINDOW_S:
                s.state = "warming up" if seen else "no runner"
            else:
                s.state = "judging" if report is not None and report.cadence_spm is not None else "no clear steps"
            if report is None:
                s.cadence_spm = s.trunk_lean_deg = s.elbow_angle_deg = None
                s.strikes = ()
            else:
                s.cadence_spm = report.cadence_spm
                s.trunk_lean_deg = report.metrics.trunk_lean_deg.median
                s.elbow_angle_deg = report.metrics.elbow_angle_deg.median
                s.strikes = tuple(f"{c.foot[0].upper()} {c.strike}" for c in report.contacts[-4:])

    @property
    def rolling(self) -> Report | None:
        """The report of the latest rolling window (None until enough has been seen)."""
        with self._lock:
            return self._rolling

    def wait_for_analysis(self, timeout: float = 5.0) -> None:
        """Block until a background analysis in progress has finished."""
        if self._worker is not None:
            self._worker.join(timeout)

    @property
    def buffered(self) -> int:
        """Poses in the rolling window."""
        return len(self._window)

    @property
    def recorded(self) -> int:
        """Poses kept for the session summary."""
        return len(self._engine)

    @property
    def buffer_limits(self) -> tuple[int, int]:
        return self._window.maxlen, self._engine.max_frames

    # -- drawing -------------------------------------------------------------

    def _draw(self, bgr: np.ndarray, row: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        scale = max(h, w) / 1000.0
        with self._lock:
            report, near, stats = self._rolling, self._rolling_near, self.stats
            lines = stats.lines()
            span = stats.window_s
        if np.isfinite(row[[P.LEFT_HIP, P.RIGHT_HIP], :2]).all():
            draw_skeleton(bgr, row[:, :2], near, scale)
        if not np.isfinite(row[P.LEFT_HIP, 0]):
            lines.append("no runner in view")
        elif stats.state == "warming up":
            lines.append(f"warming up: {min(span, MIN_WINDOW_S):.0f}/{MIN_WINDOW_S:.0f} s")
        elif stats.state == "no clear steps":
            lines.append("no clear steps yet")
        if report is None:
            findings = []
        else:
            findings = [f for f in report.rules if CUES[f.id].live]
        title = f"live: {report.motion}" if report else "live"
        with self._lock:
            timer, on_plan, plan_check = stats.timer, stats.on_plan, stats.plan_check
        if self.panel == "overlay":
            top = int(TIMER_BAND_SHARE * h) if timer is not None else 0
            draw_panel(bgr[top:], findings, scale, lines, title=title)
            if timer is not None:
                draw_timer_banner(bgr[:top], timer, on_plan, plan_check)
            return bgr
        # A panel beside the picture, sized to the frame height, so it never hides the runner
        # (a webcam frame is small and often portrait: an overlay would cover half of it).
        pscale = h / 780.0
        panel = np.full((h, int(360 * pscale) + 40, 3), 32, np.uint8)
        draw_panel(panel, findings, pscale, lines, title=title)
        out = np.hstack([bgr, panel])
        if timer is None:
            return out
        # the interval timer above both, for the same reason
        band = np.zeros((int(TIMER_BAND_SHARE * h), out.shape[1], 3), np.uint8)
        draw_timer_banner(band, timer, on_plan, plan_check)
        return np.vstack([band, out])

    def _update_timing(self, elapsed_s: float) -> None:
        now = time.perf_counter()
        with self._lock:
            s = self.stats
            s.frames += 1
            s.latency_ms = elapsed_s * 1000.0 if s.frames == 1 else 0.8 * s.latency_ms + 200.0 * elapsed_s
            if self._wall_last is not None:
                dt = now - self._wall_last
                if dt > 0:
                    s.fps = 1.0 / dt if s.fps == 0 else 0.9 * s.fps + 0.1 / dt
            self._wall_last = now
            s.detected = bool(self._window) and bool(np.isfinite(self._window[-1].runner[P.LEFT_HIP, 0]))

    def snapshot(self) -> LiveStats:
        """A copy of the current stats (for display in another thread)."""
        with self._lock:
            return LiveStats(**vars(self.stats))

    # -- the whole session -----------------------------------------------------

    def summary(self) -> Report:
        """Judge everything recorded (at most the last ``max_session_s``); raises NoPersonError if
        the runner was never seen long enough."""
        self.wait_for_analysis()
        with self._frame_lock:
            frames = self._engine.record()
        try:
            return self._engine.finish(self._describe, uniform=True, frames=frames)[0]
        except NoPersonError:
            raise NoPersonError("No runner was seen in this live session: stand side-on to the camera "
                                "with the whole body in view.") from None

    def _describe(self, series: PoseSeries) -> VideoRecord:
        """The session as a video: its rate and length are those of the judged series."""
        seen = series.t_ms[series.detected]
        duration = (series.t_ms[-1] - series.t_ms[0]) / 1000.0
        fps = (len(series) - 1) / duration if duration > 0 else 0.0
        return VideoRecord(path=self.source, live=True, fps=round(fps, 2), duration_s=round(duration, 2),
                           width=series.width, height=series.height, seen_s=round((seen[-1] - seen[0]) / 1000.0, 2),
                           started=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self._started)))

    def close(self) -> None:
        with self._frame_lock:
            if self.closed:
                return
            self.closed = True
        self.wait_for_analysis()
        with self._frame_lock:
            if self._own_estimator:
                self._estimator.__exit__(None, None, None)

    def __enter__(self) -> "LiveSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["LiveSession", "LiveStats"]
