"""Upright, timestamped frames of video files.

Reading uses OpenCV's FFmpeg backend (fast, frame-accurate seeking, applies rotation
metadata itself).
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from formcheck.errors import InputError, VideoError
from formcheck.io.metadata import (_REEXPORT, _ROTATE_CODES, DEFAULT_FPS, MAX_FPS, _avi_frame_rate_missing,
                                   _check_readable_file, _fps_or_fallback, _frame_count, _quiet_opencv,
                                   _raw_stream_frame_rate, _rotation, _why_unreadable, file_key)

# OpenCV's bundled FFmpeg prints decoder chatter ("moov atom not found", "partial file") to
# stderr; users get one VideoError sentence instead. Only fatal messages unless overridden.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "0")

MAX_FRAME_PIXELS = 7680 * 4320  # 8K UHD
MAX_FRAME_SIDE = 8192
MAX_GAP_MS = 10_000.0  # a longer jump between consecutive frames means broken timestamps
_COUNTED: dict[tuple[str, int, int], int] = {}  # file_key -> frames, for files whose metadata has no count
_COUNTED_KEPT = 16


@dataclass(frozen=True)
class VideoInfo:
    """Metadata of a video file as stored (not slow-motion scaled; Frame.t_ms is)."""

    path: str
    fps: float
    frames: int
    duration_s: float
    width: int  # after rotation
    height: int  # after rotation
    rotation: int  # clockwise degrees applied to make the picture upright: 0/90/180/270
    # where `fps` came from: "container" (its header or timestamps), "assumed" (the file gives no
    # plausible rate, DEFAULT_FPS is used) or "set" (the caller's `fps`, e.g. --fps)
    fps_source: str = "container"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Frame:
    index: int  # 0-based decode order, absolute within the file
    t_ms: float  # own timestamp in ms of real time (first frame of the file = 0): file time / VideoFile.slowmo
    bgr: np.ndarray  # HxWx3 uint8, upright


class _Timeline:
    """Turns per-frame container timestamps into monotonic ms.

    Trusts the container while its timestamps keep increasing by sane steps; after the
    first bad one (non-monotonic, all-zero, huge jump) it extrapolates at 1/fps from the
    last good time, so times stay continuous and increasing.
    """

    def __init__(self, fps: float, trusted: bool = True) -> None:
        self._frame_ms = 1000.0 / fps
        self._last: tuple[int, float] | None = None
        self._trusted = trusted

    def at(self, index: int, t_ms: float) -> float:
        if not self._trusted and self._last is None:
            t = index * self._frame_ms  # timestamps known to be nonsense: a plain 1/fps grid
        elif self._last is None:
            # A later frame at time 0 is the "no timestamp" value, not a real time.
            sane = math.isfinite(t_ms) and (0 < t_ms <= index * MAX_GAP_MS if index > 0 else t_ms == 0)
            t = t_ms if sane else index * self._frame_ms
        else:
            last_index, last_t = self._last
            if self._trusted and not (math.isfinite(t_ms) and last_t < t_ms <= last_t + MAX_GAP_MS):
                self._trusted = False
            t = t_ms if self._trusted else last_t + (index - last_index) * self._frame_ms
        self._last = (index, t)
        return t


def _open_capture(path: Path) -> cv2.VideoCapture:
    with _quiet_opencv():
        # Force FFmpeg so CAP_IMAGES and other backends never guess at the file.
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise VideoError(_why_unreadable(path))
    try:
        _check_frame_size(path, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    except BaseException:
        cap.release()
        raise
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # the default in OpenCV 5; make it explicit
    return cap


def _check_frame_size(path: Path, width: int, height: int) -> None:
    """Refuse, before any frame is decoded, frames bigger than 8K: each would take hundreds of MB in
    every process that reads the clip, and the model sees a 256-pixel picture anyway."""
    if width * height > MAX_FRAME_PIXELS or max(width, height) > MAX_FRAME_SIDE:
        raise VideoError(f"'{path.name}' has {width}x{height} frames; formcheck takes frames up to 8K "
                         f"({MAX_FRAME_SIDE} pixels a side, {MAX_FRAME_PIXELS / 1e6:.0f} megapixels). "
                         "Export the clip at 4K or less.")


def _read(cap: cv2.VideoCapture, picture: bool = True) -> tuple[np.ndarray | None, float] | None:
    """Next frame and its own timestamp (POS_MSEC after read = that frame's pts), or None at the end.
    Without ``picture`` the frame is decoded (the next ones need it) but not converted: no picture."""
    try:
        if picture:
            ok, bgr = cap.read()
        else:
            ok, bgr = cap.grab(), None
    except cv2.error:  # damaged data: end the clip quietly, as for a truncated file
        return None
    if not ok or (picture and bgr is None):
        return None
    return bgr, cap.get(cv2.CAP_PROP_POS_MSEC)


def check_time_scale(slowmo: float, fps: float | None = None, names: tuple[str, str] = ("The slow-motion factor",
                                                                                    "The frame rate")) -> None:
    """InputError for a slow-motion factor or frame rate no clip can have (nan, inf, 0, negative);
    ``names`` are what the user set them as (the CLI's options, say)."""
    if not (isinstance(slowmo, (int, float)) and math.isfinite(slowmo) and slowmo > 0):
        raise InputError(f"{names[0]} must be a positive number (capture fps / playback fps), not {slowmo!r}.")
    if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise InputError(f"{names[1]} must be the clip's frame rate, a number above 0 and at most {MAX_FPS:g}, "
                         f"not {fps!r}.")


MAX_COUNTED_FRAMES = 10_000_000  # hours even at 480 fps: a count that goes on is a hostile file


def _count_packets(path: Path) -> int | None:
    """The number of video packets (one per frame for every codec FFmpeg parses into frames), or None
    when PyAV cannot demux the file. Stops at ``MAX_COUNTED_FRAMES``."""
    import av

    count = 0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            for packet in container.demux(stream):
                if packet.size:
                    count += 1
                    if count >= MAX_COUNTED_FRAMES:
                        break
    except (av.FFmpegError, OSError, IndexError, ValueError):
        return None
    return count


class VideoFile:
    """Upright, timestamped frames of a video file; a context manager and an iterable of Frame.

    `start`/`stop` select frames by absolute index (stop exclusive); `max_frames` caps how
    many are yielded. Frame.index and Frame.t_ms stay absolute within the file.
    `fps` overrides the file's frame rate (for a rate that is missing or wrong in the file):
    frame times are rescaled to it, and `slowmo` then holds the whole factor real time runs slower
    than the file's clock by, so a copy opened with `VideoFile(path, slowmo=video.slowmo)` times
    frames the same. A clip filmed at 120 fps and played at 30 (slowmo 4) spans a quarter of its
    playing time: real time is file time / slowmo.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        slowmo: float = 1.0,
        max_frames: int | None = None,
        start: int = 0,
        stop: int | None = None,
        fps: float | None = None,
    ) -> None:
        check_time_scale(slowmo, fps)
        if start < 0 or (stop is not None and stop < start) or (max_frames is not None and max_frames < 0):
            raise ValueError(f"invalid frame range start={start} stop={stop} max_frames={max_frames}")
        self.path = Path(path)
        self.slowmo = float(slowmo)
        self.max_frames = max_frames
        self.start = start
        self.stop = stop
        _check_readable_file(self.path)
        self._cap: cv2.VideoCapture | None = _open_capture(self.path)
        self._pending: tuple[np.ndarray, float] | None = None  # frame 0, already decoded
        try:
            self.info = self._read_info()
        except BaseException:
            self.close()
            raise
        self._file_fps = self.info.fps  # the rate frames are timed at before scaling by slowmo
        if fps is not None:
            self.slowmo *= fps / self._file_fps
            self.info = replace(self.info, fps=float(fps), duration_s=self.info.frames / fps, fps_source="set")

    def _read_info(self) -> VideoInfo:
        cap = self._require_open()
        first = _read(cap)
        if first is None:
            raise VideoError(f"Could not decode any frames from '{self.path}'. {_REEXPORT}")
        rotation = _rotation(cap.get(cv2.CAP_PROP_ORIENTATION_META))
        # Older/other builds may ignore ORIENTATION_AUTO; then rotate ourselves.
        self._rotate_code = None if cap.get(cv2.CAP_PROP_ORIENTATION_AUTO) else _ROTATE_CODES.get(rotation)
        bgr, self._origin_ms = first
        height, width = self._upright(bgr).shape[:2]
        self._pending = first
        fps, fps_source = self._frame_rate(cap)
        frames = _frame_count(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if frames is None:
            frames = self._counted_frames()
        return VideoInfo(
            path=str(self.path),
            fps=fps,
            frames=frames,
            duration_s=frames / fps,
            width=width,
            height=height,
            rotation=rotation,
            fps_source=fps_source,
        )

    def _frame_rate(self, cap: cv2.VideoCapture) -> tuple[float, str]:
        """The clip's frame rate and where it came from.

        Also decides whether the frames' own timestamps are trusted, and the step of the
        container's clock (seeks are checked against it, whatever rate frames are timed at).
        """
        reported = cap.get(cv2.CAP_PROP_FPS)
        self._trust_pts = True
        self._seek_frame_ms: float | None = 1000.0 / reported if _fps_or_fallback(reported) == reported else None
        if _avi_frame_rate_missing(self.path):
            # FFmpeg's 25 fps stand-in is no better a guess than ours; its timestamps follow it
            self._trust_pts = False
            return DEFAULT_FPS, "assumed"
        # a raw stream has no frame count; only then is the file probed again (~10 ms) to tell
        counted = _frame_count(cap.get(cv2.CAP_PROP_FRAME_COUNT)) is not None
        stated = False if counted else _raw_stream_frame_rate(self.path)
        if stated is not False:  # a raw stream: FFmpeg's clock runs at 25 fps, frames are timed by index
            self._trust_pts = False
            if stated is not None and _fps_or_fallback(stated) == stated:
                return stated, "container"
            return DEFAULT_FPS, "assumed"
        if self._seek_frame_ms is not None:
            return reported, "container"
        second = _read(cap)
        self._pending = None
        step_ms = second[1] - self._origin_ms if second else None
        if step_ms is not None and math.isfinite(step_ms) and step_ms > 0:
            self._seek_frame_ms = step_ms
        step_plausible = step_ms is not None and math.isfinite(step_ms) and step_ms >= 1000.0 / MAX_FPS
        # Header and timestamps both implausible (e.g. 1000 fps, 1 ms apart): the frames are
        # timed on the fallback grid, so frame times agree with info.fps.
        self._trust_pts = step_ms is None or step_plausible
        return _fps_or_fallback(reported, step_ms), "container" if step_plausible else "assumed"

    def _counted_frames(self) -> int:
        """The frame count of a file whose metadata has none, counted once per file and process:
        an analysis opens the clip many times (ranges, scenery, key frames, drawing)."""
        key = file_key(self.path)
        if key is None:
            return self._count_frames()
        if key not in _COUNTED:
            if len(_COUNTED) >= _COUNTED_KEPT:
                _COUNTED.pop(next(iter(_COUNTED)))
            _COUNTED[key] = self._count_frames()
        return _COUNTED[key]

    def _count_frames(self) -> int:
        """The frames of a file whose metadata has no count: its video packets, counted without
        decoding them; failing that, the whole file decoded once (grab skips the BGR conversion)."""
        counted = _count_packets(self.path)
        if counted is not None:
            return counted
        self._reopen()
        cap = self._require_open()
        count = 0
        with contextlib.suppress(cv2.error):
            while cap.grab():
                count += 1
        self._pending = None
        return count

    def _require_open(self) -> cv2.VideoCapture:
        if self._cap is None:
            raise ValueError(f"VideoFile '{self.path}' is closed")
        return self._cap

    def _reopen(self) -> None:
        self._require_open().release()
        self._cap = _open_capture(self.path)
        self._pending = None

    def _upright(self, bgr: np.ndarray) -> np.ndarray:
        return bgr if self._rotate_code is None else cv2.rotate(bgr, self._rotate_code)

    def _first_of_range(self) -> tuple[np.ndarray, float] | None:
        """Decode frame `start` and leave the capture right after it."""
        if self.start == 0:
            if self._pending is not None:
                first, self._pending = self._pending, None
                return first
            self._reopen()
            return _read(self._require_open())
        cap = self._require_open()
        self._pending = None
        if cap.set(cv2.CAP_PROP_POS_FRAMES, self.start) and cap.get(cv2.CAP_PROP_POS_FRAMES) == self.start:
            first = _read(cap)
            if first is not None and self._landed_on_start(first[1]):
                return first
        # The seek missed (variable frame rate, broken index): decode forward instead.
        self._reopen()
        cap = self._require_open()
        for _ in range(self.start):
            if not cap.grab():
                return None
        return _read(cap)

    def _landed_on_start(self, pos_ms: float) -> bool:
        """Did the seek land on frame `start`? Checked via its timestamp on the 1/fps grid."""
        frame_ms = self._seek_frame_ms or 1000.0 / self._file_fps
        return abs(pos_ms - self._origin_ms - self.start * frame_ms) <= frame_ms / 2

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def frames(self, wanted: Callable[[int], bool] | None = None) -> Iterator[Frame]:
        """The frames in order; with ``wanted``, only those whose index it accepts (the first
        always): the others are decoded but never converted to pictures, which is cheaper."""
        # Read to the real end (metadata counts can be short or long), but not far past the stated
        # count: a header that under-states it cannot slip a longer clip past a limit.
        last = self.info.frames + max(self.info.frames // 2, int(2 * self._file_fps))
        if self.stop is not None:
            last = min(last, self.stop)  # exclusive
        if self.max_frames is not None:
            last = min(last, self.start + self.max_frames)
        if last <= self.start:
            return
        timeline = _Timeline(self._file_fps, trusted=self._trust_pts)
        current = self._first_of_range()
        index = self.start
        while current is not None:
            bgr, pos_ms = current
            t_ms = timeline.at(index, pos_ms - self._origin_ms)
            if bgr is not None:
                yield Frame(index=index, t_ms=t_ms / self.slowmo, bgr=self._upright(bgr))
            index += 1
            if index >= last:
                return  # stop before decoding a frame nobody asked for
            current = _read(self._require_open(), picture=wanted is None or wanted(index))

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._pending = None

    def __enter__(self) -> VideoFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Metadata of a video file; raises VideoError if it is missing or unusable."""
    with VideoFile(path) as video:
        return video.info
