"""Browser-playable H.264 out, written atomically.

Writing uses PyAV because OpenCV cannot set pix_fmt/movflags/CRF.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

from formcheck.errors import OutputError
from formcheck.io.files import create_part, flush_to_disk, target_of

_PTS_PER_SECOND = 90_000  # MPEG clock: exact for 24/25/30/60 fps and fine for VFR


def _output_error(path: Path, exc: BaseException) -> OutputError:
    """One actionable sentence for an OS/FFmpeg error while writing `path`."""
    code = getattr(exc, "errno", None)
    path = target_of(path)
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
        try:
            return create_part(self.path)
        except OSError as exc:
            raise _output_error(self.path, exc) from exc

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
                flush_to_disk(self._tmp)
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
