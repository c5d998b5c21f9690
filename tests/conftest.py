"""Shared fixtures: the real clips in ../shared/videos and derived versions of them."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_VIDEOS = ROOT.parent / "shared" / "videos"
TREADMILL = SHARED_VIDEOS / "treadmill_forward_male_side.mp4"
TREADMILL_CADENCE = 168.9  # from treadmill_forward_male_side.groundtruth.json (pose-free measurement)
TWO_PEOPLE = SHARED_VIDEOS / "overground_two_people_sports2d_demo.mp4"


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


@pytest.fixture(scope="session")
def treadmill_clip() -> Path:
    if not TREADMILL.exists():
        pytest.fail(f"missing test clip {TREADMILL}: ../shared/videos must sit beside the repo")
    return TREADMILL


@pytest.fixture(scope="session")
def reversed_treadmill_clip(tmp_path_factory, treadmill_clip) -> Path:
    return transformed_clip(treadmill_clip, tmp_path_factory.mktemp("rev") / "reversed.mp4", reverse=True)


@pytest.fixture(scope="session")
def mirrored_treadmill_clip(tmp_path_factory, treadmill_clip) -> Path:
    return transformed_clip(treadmill_clip, tmp_path_factory.mktemp("mir") / "mirrored.mp4", mirror=True)
