"""Clips made for tests: an audio-only file, reversed and mirrored copies of a real clip."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def make_audio_only(path: Path) -> Path:
    """An .mp4 holding only an AAC audio track (a voice memo uploaded by mistake)."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def transformed_clip(src: Path, dst: Path, reverse: bool = False, mirror: bool = False) -> Path:
    """Write a reversed and/or mirrored copy of a clip (frames transformed before any pose estimation)."""
    from formcheck.io.video import VideoFile
    from formcheck.io.writer import H264Writer

    with VideoFile(src) as video:
        info = video.info
        frames = [f.bgr for f in video]
    if reverse:
        frames.reverse()
    with H264Writer(dst, fps=info.fps, width=info.width, height=info.height, crf=17) as writer:
        for bgr in frames:
            writer.write(np.ascontiguousarray(bgr[:, ::-1]) if mirror else bgr)
    return dst
