"""Video in and out: upright, timestamped frames from files and cameras; browser-playable H.264 out.

Reading uses OpenCV's FFmpeg backend (fast, frame-accurate seeking, applies rotation
metadata itself). Writing uses PyAV because OpenCV cannot set pix_fmt/movflags/CRF.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import secrets
import struct
import time
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Iterator

import av
import cv2
import numpy as np

from formcheck.errors import CameraError, OutputError, VideoError

# OpenCV's bundled FFmpeg prints decoder chatter ("moov atom not found", "partial file") to
# stderr; users get one VideoError sentence instead. Only fatal messages unless overridden.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "0")

DEFAULT_FPS = 30.0
MAX_FPS = 480.0
MAX_GAP_MS = 10_000.0  # a longer jump between consecutive frames means broken timestamps
_MAX_FRAME_COUNT = 2**31  # OpenCV reports ~-9.2e18 or huge values when it does not know
_CAMERA_READ_RETRIES = 10  # webcams often return a few empty reads while warming up
_PTS_PER_SECOND = 90_000  # MPEG clock: exact for 24/25/30/60 fps and fine for VFR

# CAP_PROP_ORIENTATION_META is the clockwise rotation needed to show the frame upright.
_ROTATE_CODES = {
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}

_REEXPORT = "Try re-exporting it as MP4 (H.264)."


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
    t_ms: float  # own timestamp in ms (first frame of the file = 0), times VideoFile.slowmo
    bgr: np.ndarray  # HxWx3 uint8, upright


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own WARN/ERROR logging while probing files or cameras."""
    logging = cv2.utils.logging
    old = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(old)


def _fps_or_fallback(reported: float, step_ms: float | None = None) -> float:
    """Use the container's fps if plausible, else derive it from one frame step, else 30."""
    if math.isfinite(reported) and 0 < reported <= MAX_FPS:
        return float(reported)
    if step_ms is not None and math.isfinite(step_ms) and step_ms >= 1000.0 / MAX_FPS:
        return 1000.0 / step_ms
    return DEFAULT_FPS


def _avi_frame_rate_missing(path: Path) -> bool:
    """True for an AVI whose headers state no frame rate (FFmpeg then silently reports 25 fps).

    FFmpeg takes the rate from the video stream's strh dwRate/dwScale, else from avih
    dwMicroSecPerFrame; only when both are zero is the rate unknown.
    """
    try:
        with path.open("rb") as file:
            riff = file.read(12)
            if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"AVI ":
                return False
            hdrl = _riff_chunk(file.read(_AVI_HEADER_BYTES), b"LIST:hdrl")
    except OSError:
        return False
    if hdrl is None:
        return False
    avih = _riff_chunk(hdrl, b"avih")
    micro_s_per_frame = struct.unpack_from("<I", avih)[0] if avih and len(avih) >= 4 else 0
    for kind, strl in _riff_items(hdrl):
        strh = _riff_chunk(strl, b"strh") if kind == b"LIST:strl" else None
        if strh and len(strh) >= 28 and strh[:4] == b"vids":
            scale, rate = struct.unpack_from("<II", strh, 20)
            return (scale == 0 or rate == 0) and micro_s_per_frame == 0
    return False


_AVI_HEADER_BYTES = 1 << 20  # the hdrl list is a few KB; never read more than this

# Elementary streams without a container (a Raspberry Pi's .h264, say): FFmpeg times their
# frames at 25 fps whatever the stream's own headers state.
_RAW_STREAM_FORMATS = {"h264", "hevc", "mjpeg", "mpegvideo", "m4v", "vc1"}


def _raw_stream_frame_rate(path: Path) -> float | None | bool:
    """False if ``path`` is not a raw video stream; else the frame rate its headers state
    (an H.264 SPS's timing, say), or None if they state none."""
    try:
        with av.open(str(path)) as container:
            if not set(container.format.name.split(",")) & _RAW_STREAM_FORMATS:
                return False
            rate = container.streams.video[0].codec_context.framerate
    except (av.FFmpegError, OSError, IndexError, ValueError):
        return False
    return float(rate) if rate else None


def _riff_items(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(id, payload) of each RIFF chunk in `data`; a LIST's id is b"LIST:" + its type, payload after the type."""
    pos = 0
    while pos + 8 <= len(data):
        chunk_id, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        payload = data[pos + 8:pos + 8 + size]
        if chunk_id == b"LIST" and len(payload) >= 4:
            yield b"LIST:" + payload[:4], payload[4:]
        else:
            yield chunk_id, payload
        pos += 8 + size + (size & 1)  # chunks are padded to an even length


def _riff_chunk(data: bytes, chunk_id: bytes) -> bytes | None:
    """The payload of the first top-level chunk `chunk_id` (e.g. b"avih", b"LIST:hdrl") in `data`."""
    return next((payload for kind, payload in _riff_items(data) if kind == chunk_id), None)


def _frame_count(reported: float) -> int | None:
    """The container's frame count, or None when it is missing or nonsense."""
    if math.isfinite(reported) and 0 < reported < _MAX_FRAME_COUNT:
        return int(round(reported))
    return None


def _rotation(meta: float) -> int:
    """Snap OpenCV's orientation value to 0/90/180/270 (anything else is treated as 0)."""
    if not math.isfinite(meta):
        return 0
    degrees = int(round(meta)) % 360
    return degrees if degrees in _ROTATE_CODES else 0


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


_MJPEG_SUFFIXES = {".mjpeg", ".mjpg"}  # a stream of JPEGs: its first frame decodes as an image


def _check_readable_file(path: Path) -> None:
    """Reject what OpenCV would otherwise fail on vaguely (or, for images, accept as 1 frame)."""
    if not path.exists():
        raise VideoError(f"Video file '{path}' does not exist. Check the path and try again.")
    if path.is_dir():
        raise VideoError(f"'{path}' is a folder, not a video file. Pass the path of a video file.")
    if not os.access(path, os.R_OK):
        raise VideoError(f"Cannot read '{path}': permission denied. Check the file's permissions.")
    if path.stat().st_size == 0:
        raise VideoError(f"Video file '{path}' is empty (0 bytes). Record or export the clip again.")
    # FFmpeg happily opens a PNG/JPEG renamed .mp4 as a one-frame "video". The signature test
    # alone also claims MP4s with a damaged first box (the AVIF reader shares the ISO format),
    # so only an image OpenCV can actually decode counts as a still image.
    if path.suffix.lower() not in _MJPEG_SUFFIXES and cv2.haveImageReader(str(path)) and _decodes_as_image(path):
        raise VideoError(f"'{path}' is a still image, not a video. Pass a video clip such as an MP4.")


def _decodes_as_image(path: Path) -> bool:
    with _quiet_opencv():
        try:
            return cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_8) is not None
        except cv2.error:
            return False


def _why_unreadable(path: Path) -> str:
    """Best user-facing reason OpenCV could not open `path` (PyAV is only used to diagnose)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video and container.streams.audio:
                return f"'{path}' contains only audio, no video. Pass a video clip of the run."
    except (av.FFmpegError, OSError, ValueError):
        pass
    return f"Could not read '{path}': it is not a complete video file OpenCV can decode. {_REEXPORT}"


def _open_capture(path: Path) -> cv2.VideoCapture:
    with _quiet_opencv():
        # Force FFmpeg so CAP_IMAGES and other backends never guess at the file.
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise VideoError(_why_unreadable(path))
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # the default in OpenCV 5; make it explicit
    return cap


def _read(cap: cv2.VideoCapture) -> tuple[np.ndarray, float] | None:
    """Next frame and its own timestamp (POS_MSEC after read = that frame's pts), or None at the end."""
    try:
        ok, bgr = cap.read()
    except cv2.error:  # damaged data: end the clip quietly, as for a truncated file
        return None
    if not ok or bgr is None:
        return None
    return bgr, cap.get(cv2.CAP_PROP_POS_MSEC)


class VideoFile:
    """Upright, timestamped frames of a video file; a context manager and an iterable of Frame.

    `start`/`stop` select frames by absolute index (stop exclusive); `max_frames` caps how
    many are yielded. Frame.index and Frame.t_ms stay absolute within the file.
    `fps` overrides the file's frame rate (for a rate that is missing or wrong in the file):
    frame times are rescaled to it, and `slowmo` then holds the whole factor frame times are
    scaled by, so a copy opened with `VideoFile(path, slowmo=video.slowmo)` times frames the same.
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
        if not (math.isfinite(slowmo) and slowmo > 0):
            raise ValueError(f"slowmo must be a positive number, got {slowmo!r}")
        if fps is not None and not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
            raise ValueError(f"fps must be a number of frames per second in (0, {MAX_FPS:g}], got {fps!r}")
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
            self.slowmo *= self._file_fps / fps
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
            frames = self._count_frames()
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

    def _count_frames(self) -> int:
        """Decode the whole file once (grab skips the BGR conversion) when metadata has no count."""
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
        # Without stop/max_frames read to the real end: metadata counts can be short or long.
        last = self.stop  # exclusive
        if self.max_frames is not None:
            capped = self.start + self.max_frames
            last = capped if last is None else min(last, capped)
        if last is not None and last <= self.start:
            return
        timeline = _Timeline(self._file_fps, trusted=self._trust_pts)
        current = self._first_of_range()
        index = self.start
        while current is not None:
            bgr, pos_ms = current
            t_ms = timeline.at(index, pos_ms - self._origin_ms)
            yield Frame(index=index, t_ms=t_ms * self.slowmo, bgr=self._upright(bgr))
            index += 1
            if last is not None and index >= last:
                return  # stop before decoding a frame nobody asked for
            current = _read(self._require_open())

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


class Camera:
    """Live frames from a camera; a context manager and an iterable of Frame.

    t_ms is wall-clock (time.monotonic) time since the first frame; width/height are the
    size the camera actually delivers, which may differ from what was asked for.
    """

    def __init__(self, index: int = 0, width: int | None = None, height: int | None = None) -> None:
        self.index = index
        with _quiet_opencv():
            cap = cv2.VideoCapture(index)
        self._cap: cv2.VideoCapture | None = cap
        if cap.isOpened():
            if width:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            if height:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            first = self._read()
        else:
            first = None
        if first is None:
            self.close()
            raise CameraError(
                f"No camera found at index {index}. Check it is connected and not used by another program."
            )
        self._pending: np.ndarray | None = first
        self._t0 = time.monotonic()
        self._next_index = 0
        self.height, self.width = first.shape[:2]

    def _read(self) -> np.ndarray | None:
        """Next frame, tolerating a few empty reads (warm-up, USB hiccups)."""
        if self._cap is None:
            return None
        for _ in range(_CAMERA_READ_RETRIES):
            with contextlib.suppress(cv2.error):
                ok, bgr = self._cap.read()
                if ok and bgr is not None:
                    return bgr
        return None

    def __iter__(self) -> Iterator[Frame]:
        while True:
            if self._pending is not None:
                bgr, self._pending = self._pending, None  # the first frame, read at open
                t_ms = 0.0
            else:
                bgr = self._read()
                if bgr is None:
                    return
                t_ms = (time.monotonic() - self._t0) * 1000.0
            yield Frame(index=self._next_index, t_ms=t_ms, bgr=bgr)
            self._next_index += 1

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._pending = None

    def __enter__(self) -> Camera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _output_error(path: Path, exc: BaseException) -> OutputError:
    """One actionable sentence for an OS/FFmpeg error while writing `path`."""
    code = getattr(exc, "errno", None)
    folder = path.parent
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)) or code in (errno.ENOENT, errno.ENOTDIR):
        reason = f"the folder '{folder}' does not exist. Create it or choose another output path."
    elif isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = f"you do not have permission to write in '{folder}'. Choose a folder you can write to."
    elif code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        reason = "the disk is full. Free some space or choose another output folder."
    elif isinstance(exc, IsADirectoryError) or code == errno.EISDIR:
        reason = "that path is a folder. Give a file name such as 'out.mp4'."
    else:
        detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        reason = f"{detail}. Check the output path and free disk space, then try again."
    return OutputError(f"Could not write '{path}': {reason}")


# Measured on the treadmill clip at crf 23: superfast with veryfast's macroblock tree loses
# 0.3 dB and 8 % in size against veryfast at two thirds of its encode time; ultrafast keeps
# its deblocking filter, which hides blocks at little cost.
_X264_PARAMS = {"superfast": {"x264-params": "mbtree=1:rc-lookahead=10"},
                "ultrafast": {"x264-params": "deblock=1"}}


class H264Writer:
    """Writes browser-playable H.264 MP4 (libx264, yuv420p, +faststart) atomically.

    Frames go to a hidden temp file next to `path`, which replaces `path` only on a clean
    close with at least one frame; otherwise it is deleted, so no partial file is left.
    Odd sizes are cropped by 1 px (yuv420p needs even dimensions).
    """

    def __init__(
        self, path: str | os.PathLike[str], fps: float, width: int, height: int, crf: int = 23,
        threads: int = 0, preset: str = "superfast",
    ) -> None:
        """``threads``: x264 threads, 0 = as many as x264 likes (one per core and more); 1 when
        several writers run in parallel processes, where extra threads only add overhead.
        ``preset``: x264's speed preset, with the tweaks in ``_X264_PARAMS``."""
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be positive, got {fps!r}")
        if width < 2 or height < 2:
            raise ValueError(f"frame size must be at least 2x2, got {width}x{height}")
        self.path = Path(path)
        self.fps = float(fps)
        self.frames_written = 0
        self._in_size = (height, width)
        self._height, self._width = height - height % 2, width - width % 2
        self._last_pts = -1
        self._t_origin: float | None = None
        self._container: av.container.OutputContainer | None = None
        self._tmp: Path | None = None
        self._tmp = self._create_temp()
        try:
            self._container = av.open(
                str(self._tmp),
                mode="w",
                format="mov" if self.path.suffix.lower() == ".mov" else "mp4",
                options={"movflags": "+faststart"},  # moov first: browsers start playing at once
            )
            self._stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
            self._stream.width, self._stream.height = self._width, self._height
            self._stream.pix_fmt = "yuv420p"  # the only H.264 chroma format all browsers play
            self._stream.options = {"crf": str(crf), "preset": preset, **_X264_PARAMS.get(preset, {})}
            self._stream.codec_context.time_base = Fraction(1, _PTS_PER_SECOND)
            self._stream.codec_context.thread_count = threads
        except (OSError, av.FFmpegError) as exc:
            self._abort()
            raise _output_error(self.path, exc) from exc

    def _create_temp(self) -> Path:
        """Same folder so os.replace is atomic; O_EXCL + 0o666 so the umask sets the final mode."""
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.part{self.path.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except OSError as exc:
            raise _output_error(self.path, exc) from exc
        return tmp

    def _next_pts(self, t_ms: float | None) -> int:
        if t_ms is None:
            pts = round(self.frames_written * _PTS_PER_SECOND / self.fps)
        else:
            if self._t_origin is None:
                self._t_origin = t_ms  # output starts at 0 whatever the source clock
            pts = round((t_ms - self._t_origin) * _PTS_PER_SECOND / 1000.0)
        return max(pts, self._last_pts + 1)  # muxers reject non-increasing pts

    def write(self, bgr: np.ndarray, t_ms: float | None = None) -> None:
        """Append one BGR frame of the declared size; t_ms (optional) is its time in ms."""
        if self._container is None:
            raise ValueError(f"H264Writer for '{self.path}' is closed")
        if bgr.shape != (*self._in_size, 3) or bgr.dtype != np.uint8:
            raise ValueError(
                f"expected a {self._in_size[0]}x{self._in_size[1]}x3 uint8 frame, got {bgr.shape} {bgr.dtype}"
            )
        # OpenCV converts to yuv420p (BT.601 limited range, as swscale would) in a third of
        # swscale's time; the view crops odd sizes without a copy.
        yuv = cv2.cvtColor(bgr[: self._height, : self._width], cv2.COLOR_BGR2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = self._last_pts = self._next_pts(t_ms)
        frame.time_base = Fraction(1, _PTS_PER_SECOND)
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (OSError, av.FFmpegError) as exc:
            self._abort()
            raise _output_error(self.path, exc) from exc
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file and move it onto `path` (nothing is created if no frame was written)."""
        container, self._container = self._container, None
        if container is None:
            return
        try:
            if self.frames_written:
                for packet in self._stream.encode():  # flush delayed frames
                    container.mux(packet)
            container.close()
            if self.frames_written:
                os.replace(self._tmp, self.path)
                self._tmp = None
        except (OSError, av.FFmpegError) as exc:
            self._remove_temp()
            raise _output_error(self.path, exc) from exc
        self._remove_temp()

    def _abort(self) -> None:
        """Drop everything written so far; never raises."""
        container, self._container = self._container, None
        if container is not None:
            with contextlib.suppress(Exception):
                container.close()
        self._remove_temp()

    def _remove_temp(self) -> None:
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.unlink(missing_ok=True)
            self._tmp = None

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()

    def __del__(self) -> None:
        # Never leave a stray temp file if the writer is dropped without close().
        if getattr(self, "_tmp", None) is not None:
            self._abort()
