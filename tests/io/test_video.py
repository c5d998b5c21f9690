"""Video input/output: what a user relies on (right frames, right times, upright, clear errors, no half-written files)."""

from __future__ import annotations

import errno
import os
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.clips import make_audio_only
from support.paths import TREADMILL, TWO_PEOPLE

from formcheck.errors import CameraError, OutputError, VideoError
from formcheck.io import metadata, video
from formcheck.io.camera import Camera
from formcheck.io.video import Frame, VideoFile, VideoInfo, probe
from formcheck.io.writer import H264Writer

needs_clips = pytest.mark.skipif(not TREADMILL.exists(), reason="shared test videos not available")


def make_clip(
    path: Path,
    n: int = 12,
    width: int = 64,
    height: int = 48,
    fmt: str | None = None,
    rotation: int | None = None,
    pts_ms: list[int] | None = None,
    rate: int = 30,
) -> Path:
    """Small H.264 clip; frame i is gray level 20*i with a white block in the top-left corner."""
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)  # counter-clockwise, like VideoFrame.rotation
        for i in range(n):
            img = np.full((height, width, 3), (20 * i) % 200, np.uint8)
            img[: height // 2, : width // 4] = 255
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def faststart_copy(src: Path, dst: Path) -> Path:
    """Remux (no re-encode) with the index at the front, as phones and our writer produce."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "+faststart"}) as out:
        in_stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(in_stream)
        for packet in inp.demux(in_stream):
            if packet.dts is not None:
                packet.stream = out_stream
                out.mux(packet)
    return dst


def thumb(bgr: np.ndarray) -> np.ndarray:
    return bgr[::16, ::16].copy()


@pytest.fixture(scope="module")
def treadmill_frames() -> list[tuple[int, float, tuple[int, ...], np.ndarray]]:
    """The whole treadmill clip decoded once: (index, t_ms, shape, thumbnail)."""
    if not TREADMILL.exists():
        pytest.skip("shared test videos not available")
    with VideoFile(TREADMILL) as clip:
        return [(f.index, f.t_ms, f.bgr.shape, thumb(f.bgr)) for f in clip]


# --- real clips -------------------------------------------------------------------------


@needs_clips
def test_real_clip_metadata() -> None:
    info = probe(TREADMILL)
    assert (info.width, info.height, info.frames, info.rotation) == (720, 1280, 360, 0)
    assert info.fps == pytest.approx(30.0)
    assert info.duration_s == pytest.approx(12.0)
    assert set(info.to_dict()) == {"path", "fps", "frames", "duration_s", "width", "height", "rotation",
                                   "fps_source"}
    assert info.fps_source == "container"

    other = probe(TWO_PEOPLE)
    assert (other.width, other.height, other.frames) == (1768, 994, 230)
    assert other.fps == pytest.approx(30.0)


@needs_clips
def test_real_clip_every_frame_upright_with_increasing_33ms_timestamps(treadmill_frames) -> None:
    assert [i for i, *_ in treadmill_frames] == list(range(360))
    assert all(shape == (1280, 720, 3) for _, _, shape, _ in treadmill_frames)
    times = np.array([t for _, t, _, _ in treadmill_frames])
    assert times[0] == 0.0
    assert np.diff(times) == pytest.approx(1000 / 30, abs=0.5)


@needs_clips
def test_slowmo_gives_real_time() -> None:
    # filmed at 120 fps, played at 30: each frame is 1/120 s of the run, not 1/30
    with VideoFile(TREADMILL, slowmo=4, max_frames=10) as clip:
        frames = list(clip)
    assert len(frames) == 10
    assert [f.t_ms for f in frames] == pytest.approx([i * 1000 / 120 for i in range(10)], abs=0.5)


@needs_clips
def test_start_stop_keeps_absolute_index_time_and_picture(treadmill_frames) -> None:
    with VideoFile(TREADMILL, start=151, stop=155) as clip:
        frames = list(clip)
    assert [f.index for f in frames] == [151, 152, 153, 154]
    assert [f.t_ms for f in frames] == pytest.approx([i * 1000 / 30 for i in range(151, 155)], abs=0.5)
    for f in frames:  # the seek lands on exactly the frame sequential decoding gives
        assert np.array_equal(thumb(f.bgr), treadmill_frames[f.index][3])


@needs_clips
def test_only_wanted_frames_come_out_each_with_its_own_time_and_picture(treadmill_frames) -> None:
    """The scenery check skips most frames: the ones it asks for are the frames a full read gives."""
    wanted = {200, 201, 260, 261, 299}
    with VideoFile(TREADMILL, start=200, stop=300) as clip:
        frames = list(clip.frames(wanted.__contains__))
    assert [f.index for f in frames] == sorted(wanted)
    for f in frames:
        assert f.t_ms == pytest.approx(treadmill_frames[f.index][1], abs=0.5)
        assert np.array_equal(thumb(f.bgr), treadmill_frames[f.index][3])


def test_max_frames_and_stop_count_from_start(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "clip.mp4", n=12)
    with VideoFile(path, start=6, max_frames=3) as clip:
        assert [f.index for f in clip] == [6, 7, 8]
    with VideoFile(path, start=10) as clip:
        assert [f.index for f in clip] == [10, 11]
    with VideoFile(path, start=2, stop=4, max_frames=5) as clip:
        assert [f.index for f in clip] == [2, 3]
    with VideoFile(path, start=20) as clip:
        assert list(clip) == []


@needs_clips
def test_truncated_download_yields_what_it_can(tmp_path: Path) -> None:
    whole = faststart_copy(TREADMILL, tmp_path / "whole.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: int(len(whole) * 0.4)])
    with VideoFile(cut) as clip:
        frames = list(clip)
    assert 0 < len(frames) < 360
    assert [f.index for f in frames] == list(range(len(frames)))


@needs_clips
def test_truncated_file_with_index_at_the_end_is_a_clear_error(tmp_path: Path) -> None:
    # The shared clip keeps its moov index at the end: without it nothing is decodable.
    data = TREADMILL.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.4)])
    with pytest.raises(VideoError, match="cut.mp4"):
        probe(cut)


# --- synthetic clips --------------------------------------------------------------------


def white_block_corner(bgr: np.ndarray) -> str:
    """Which corner holds the white block (frames are otherwise darker)."""
    h, w = bgr.shape[:2]
    quads = {
        "top-left": bgr[: h // 2, : w // 2],
        "top-right": bgr[: h // 2, w // 2 :],
        "bottom-left": bgr[h // 2 :, : w // 2],
        "bottom-right": bgr[h // 2 :, w // 2 :],
    }
    return max(quads, key=lambda k: float(quads[k].mean()))


@pytest.mark.skipif(not hasattr(av.video.stream.VideoStream, "set_display_rotation"), reason="PyAV too old")
@pytest.mark.parametrize(
    ("ccw", "rotation", "size", "corner"),
    [
        (0, 0, (64, 48), "top-left"),
        (90, 270, (48, 64), "bottom-left"),  # phone held one way ...
        (-90, 90, (48, 64), "top-right"),  # ... or the other
        (180, 180, (64, 48), "bottom-right"),
    ],
)
def test_rotated_phone_clip_comes_out_upright(tmp_path: Path, ccw, rotation, size, corner) -> None:
    path = make_clip(tmp_path / "rot.mp4", n=3, rotation=ccw)
    with VideoFile(path) as clip:
        assert clip.info.rotation == rotation
        assert (clip.info.width, clip.info.height) == size
        frames = list(clip)
    assert len(frames) == 3
    assert all(f.bgr.shape == (size[1], size[0], 3) for f in frames)
    assert white_block_corner(frames[0].bgr) == corner


@pytest.mark.skipif(not hasattr(av.video.stream.VideoStream, "set_display_rotation"), reason="PyAV too old")
def test_manual_rotation_matches_opencv_auto_rotation(tmp_path: Path, monkeypatch) -> None:
    # Guards the fallback for OpenCV builds that ignore rotation metadata.
    path = make_clip(tmp_path / "rot.mp4", n=2, rotation=90)
    with VideoFile(path) as clip:
        auto = [f.bgr for f in clip]
    real_open = video._open_capture

    def open_without_auto(p: Path) -> cv2.VideoCapture:
        cap = real_open(p)
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
        return cap

    monkeypatch.setattr(video, "_open_capture", open_without_auto)
    with VideoFile(path) as clip:
        assert (clip.info.width, clip.info.height) == (48, 64)
        manual = [f.bgr for f in clip]
    assert all(np.array_equal(a, m) for a, m in zip(auto, manual, strict=True))


def test_variable_frame_rate_keeps_real_timestamps(tmp_path: Path) -> None:
    pts = [0, 33, 70, 100, 180, 200, 233, 266, 300, 400]
    path = make_clip(tmp_path / "vfr.mp4", n=len(pts), pts_ms=pts)
    with VideoFile(path) as clip:
        assert [f.t_ms for f in clip] == pytest.approx(pts)
    with VideoFile(path, start=4, stop=6) as clip:
        assert [(f.index, f.t_ms) for f in clip] == [(4, pytest.approx(180)), (5, pytest.approx(200))]


def test_stream_without_timestamps_or_frame_count(tmp_path: Path) -> None:
    # A raw .h264 stream: OpenCV reports a nonsense frame count and every timestamp as 0.
    path = make_clip(tmp_path / "raw.h264", n=12, fmt="h264")
    info = probe(path)
    assert info.frames == 12
    with VideoFile(path) as clip:
        times = [f.t_ms for f in clip]
    assert times == pytest.approx([i * 1000 / info.fps for i in range(12)])
    with VideoFile(path, start=5, stop=8) as clip:
        frames = list(clip)
    assert [f.index for f in frames] == [5, 6, 7]
    assert [f.t_ms for f in frames] == pytest.approx(times[5:8])
    # Frame i is gray 20*i: the right pictures, not just the right labels.
    assert [round(float(f.bgr[-1, -1].mean()) / 20) for f in frames] == [5, 6, 7]


def test_a_file_without_a_frame_count_is_counted_once_and_again_when_it_changes(tmp_path: Path, monkeypatch) -> None:
    """An analysis opens its clip many times; counting means decoding the whole file, so it is done
    once per file, and a file rewritten in place (another upload of the same name) is counted anew."""
    counts = []
    count = VideoFile._count_frames
    monkeypatch.setattr(VideoFile, "_count_frames", lambda self: counts.append(self.path) or count(self))
    path = make_clip(tmp_path / "raw.h264", n=12, fmt="h264")
    assert [probe(path).frames for _ in range(3)] == [12, 12, 12]
    with VideoFile(path, start=5) as clip:
        assert [f.index for f in clip] == list(range(5, 12))
    assert len(counts) == 1
    make_clip(path, n=7, fmt="h264")
    assert probe(path).frames == 7 and len(counts) == 2


def test_raw_stream_is_timed_at_the_rate_it_states(tmp_path: Path) -> None:
    """A raw 60 fps .h264 (no container): FFmpeg says 25 fps, the stream's own header says 60.
    Timed at 25 fps, every time and the cadence would be 2.4x off."""
    path = make_clip(tmp_path / "raw60.h264", n=12, fmt="h264", rate=60)
    with VideoFile(path) as clip:
        assert (clip.info.fps, clip.info.fps_source) == (60.0, "container")
        assert [f.t_ms for f in clip] == pytest.approx([i * 1000 / 60 for i in range(12)])


def test_raw_mjpeg_stream_is_a_video_with_an_assumed_rate(tmp_path: Path) -> None:
    """A raw MJPEG stream (a webcam dump) states no rate at all, and its first frame alone is a
    JPEG: it is read as a video, at the assumed rate, and says so (the report's notes follow)."""
    path = tmp_path / "camera.mjpeg"
    with av.open(str(path), "w", format="mjpeg") as out:
        stream = out.add_stream("mjpeg", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i, np.uint8), format="bgr24")
            for packet in stream.encode(frame.reformat(format="yuvj420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with VideoFile(path) as clip:
        assert (clip.info.fps, clip.info.fps_source) == (metadata.DEFAULT_FPS, "assumed")
        frames = list(clip)
    assert len(frames) == 10
    assert [round(float(f.bgr.mean()) / 20) for f in frames] == list(range(10))


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=30))
def test_timeline_always_increases(raw: list[float]) -> None:
    timeline = video._Timeline(30.0)
    out = [timeline.at(i, t) for i, t in enumerate(raw)]
    assert all(np.isfinite(out))
    assert all(b > a for a, b in zip(out, out[1:]))


def test_fps_fallbacks() -> None:
    assert metadata._fps_or_fallback(29.97) == 29.97
    assert metadata._fps_or_fallback(0.0, step_ms=40.0) == pytest.approx(25.0)
    assert metadata._fps_or_fallback(90000.0, step_ms=None) == 30.0
    assert metadata._fps_or_fallback(float("nan"), step_ms=0.0) == 30.0


# --- unusable inputs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expect"),
    [
        ("missing", "does not exist"),
        ("empty", "empty"),
        ("text", "text file"),
        ("random", "re-export"),
        ("image", "image"),
        ("audio", "audio"),
        ("folder", "folder"),
    ],
)
def test_unusable_input_is_one_clear_video_error(tmp_path: Path, kind: str, expect: str) -> None:
    path = tmp_path / "clip.mp4"
    if kind == "empty":
        path.touch()
    elif kind == "text":
        path.write_text("this is my training log, not a video\n" * 20)
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    elif kind == "image":
        ok, png = cv2.imencode(".png", np.zeros((40, 60, 3), np.uint8))
        path.write_bytes(png.tobytes())
    elif kind == "audio":
        make_audio_only(path)
    elif kind == "folder":
        path.mkdir()
    with pytest.raises(VideoError) as caught:
        with VideoFile(path) as clip:
            list(clip)
    message = str(caught.value)
    assert "clip.mp4" in message and expect.lower() in message.lower()
    assert "\n" not in message


def test_camera_that_does_not_exist_fails_fast() -> None:
    began = time.monotonic()
    with pytest.raises(CameraError, match="No camera found at index 99"):
        Camera(99)
    assert time.monotonic() - began < 5


# --- writer -----------------------------------------------------------------------------


def test_writer_makes_browser_playable_h264_from_odd_sized_frames(tmp_path: Path) -> None:
    out = tmp_path / "annotated.mp4"
    rng = np.random.default_rng(1)
    with H264Writer(out, fps=30, width=641, height=479) as writer:
        for _ in range(7):
            writer.write(rng.integers(0, 256, (479, 641, 3), dtype=np.uint8))
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.width % 2, stream.height % 2) == (0, 0)
        assert abs(stream.width - 641) <= 1 and abs(stream.height - 479) <= 1
        assert sum(1 for _ in container.decode(stream)) == 7
    data = out.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # faststart: playable while downloading
    assert os.listdir(tmp_path) == ["annotated.mp4"]  # no temp file left behind


def test_writer_round_trips_frames_and_real_times(tmp_path: Path) -> None:
    out = tmp_path / "live.mp4"
    times = [5000.0, 5033.0, 5070.0, 5100.0, 5180.0]
    with H264Writer(out, fps=30, width=64, height=48) as writer:
        for i, t in enumerate(times):
            writer.write(np.full((48, 64, 3), 40 * i, np.uint8), t_ms=t)
    with VideoFile(out) as clip:
        frames = list(clip)
    assert [f.t_ms for f in frames] == pytest.approx([t - times[0] for t in times], abs=0.1)
    assert [round(float(f.bgr.mean()) / 40) for f in frames] == [0, 1, 2, 3, 4]


def test_writer_leaves_nothing_when_the_body_raises(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="pose failed"):
        with H264Writer(out, fps=30, width=64, height=48) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
            raise RuntimeError("pose failed")
    assert os.listdir(tmp_path) == []


def test_writer_keeps_the_previous_file_on_failure_and_writes_nothing_without_frames(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    with pytest.raises(ValueError):
        with H264Writer(out, fps=30, width=64, height=48) as writer:
            writer.write(np.zeros((10, 10, 3), np.uint8))  # wrong size
    assert out.read_bytes() == b"previous result"
    out.unlink()
    with H264Writer(out, fps=30, width=64, height=48):
        pass
    assert os.listdir(tmp_path) == []


def test_writer_into_missing_folder_is_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        H264Writer(tmp_path / "no" / "such" / "out.mp4", fps=30, width=64, height=48)


def _unwritable_dir(tmp_path: Path) -> Path:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if not os.access(locked, os.W_OK):
        return locked
    # Running as root ignores mode bits; sysfs still refuses new files, even for root.
    try:
        (Path("/sys") / "formcheck-probe.mp4").touch()
    except PermissionError:
        return Path("/sys")
    except OSError:
        pass
    pytest.skip("cannot make an unwritable folder here")


def test_writer_into_unwritable_folder_is_output_error(tmp_path: Path) -> None:
    folder = _unwritable_dir(tmp_path)
    try:
        with pytest.raises(OutputError, match="permission"):
            H264Writer(folder / "out.mp4", fps=30, width=64, height=48)
    finally:
        (tmp_path / "locked").chmod(0o700)


def test_full_disk_at_close_is_output_error_and_cleans_up(tmp_path: Path, monkeypatch) -> None:
    def disk_full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OutputError, match="disk is full"):
        with H264Writer(tmp_path / "out.mp4", fps=30, width=64, height=48) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
    assert os.listdir(tmp_path) == []


def test_public_types() -> None:
    info = VideoInfo(path="a.mp4", fps=30.0, frames=3, duration_s=0.1, width=2, height=4, rotation=90)
    assert info.to_dict()["rotation"] == 90
    frame = Frame(index=0, t_ms=0.0, bgr=np.zeros((4, 2, 3), np.uint8))
    assert frame.bgr.shape == (4, 2, 3)
