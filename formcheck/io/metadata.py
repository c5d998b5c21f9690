"""What a video file states about itself (frame rate, frame count, rotation), read before its frames
are decoded, and why a file OpenCV cannot open is unusable, in one sentence for the user."""

from __future__ import annotations

import contextlib
import math
import os
import struct
from pathlib import Path
from typing import Iterator

import av
import cv2

from formcheck.errors import VideoError

DEFAULT_FPS = 30.0
MAX_FPS = 480.0
_MAX_FRAME_COUNT = 2**31  # OpenCV reports ~-9.2e18 or huge values when it does not know

# CAP_PROP_ORIENTATION_META is the clockwise rotation needed to show the frame upright.
_ROTATE_CODES = {
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}

_REEXPORT = "Try re-exporting it as MP4 (H.264)."


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


def file_key(path: Path) -> tuple[str, int, int] | None:
    """The file's identity for caching what was read from it: path, size and modification time
    (None if it cannot be stat'ed); a replaced or rewritten file gets a new key."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return str(Path(path).resolve()), st.st_size, st.st_mtime_ns


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
    if _is_text(path):
        raise VideoError(f"'{path}' is a text file (a playlist or a note, say), not a video. Pass the video clip "
                         "itself, such as an MP4.")
    # FFmpeg happily opens a PNG/JPEG renamed .mp4 as a one-frame "video". The signature test
    # alone also claims MP4s with a damaged first box (the AVIF reader shares the ISO format),
    # so only an image OpenCV can actually decode counts as a still image.
    if path.suffix.lower() not in _MJPEG_SUFFIXES and cv2.haveImageReader(str(path)) and _decodes_as_image(path):
        raise VideoError(f"'{path}' is a still image, not a video. Pass a video clip such as an MP4.")


_PLAYLIST_MAGIC = (b"ffconcat", b"#extm3u", b"<?xml", b"<mpd", b"file ", b"[playlist]")
_TEXT_HEAD_BYTES = 4096


def _is_text(path: Path) -> bool:
    """A playlist (FFmpeg's concat, HLS, DASH) or any small text file. FFmpeg would follow a playlist to
    the files it names, itself included, opening thousands of them: such files are never opened."""
    try:
        with path.open("rb") as file:
            head = file.read(_TEXT_HEAD_BYTES)
    except OSError:
        return False
    if head.lstrip().lower().startswith(_PLAYLIST_MAGIC):
        return True
    if b"\0" in head or path.stat().st_size > (1 << 20):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the end of the head is still text
        return exc.start >= len(head) - 3
    return True


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
