"""What starting a frame range costs: the key frames a seek lands on, and the decoding after it."""

from __future__ import annotations

import bisect
import functools

import av

from formcheck.io.metadata import file_key


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
    """Indices (display order) of the key frames of a file, read from its packets; None if unknown.
    Read once per file and process (the pose and the drawing both plan their ranges on them)."""
    file = file_key(path)
    keys = _key_frames_of(file) if file else _read_key_frames(path)
    return None if keys is None else list(keys)


@functools.lru_cache(maxsize=8)
def _key_frames_of(file: tuple[str, int, int]) -> tuple[int, ...] | None:
    return _read_key_frames(file[0])


def _read_key_frames(path) -> tuple[int, ...] | None:
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            packets = sorted((pkt.pts, pkt.is_keyframe) for pkt in container.demux(stream)
                             if pkt.pts is not None and pkt.size)
    except (av.FFmpegError, OSError, IndexError, ValueError):
        return None
    return tuple(i for i, (_, key) in enumerate(packets) if key)
