"""Hostile files: each is refused (or bounded) before it costs the server memory, time or file handles.

A server takes uploads from anyone on the team; these files are cheap to make and used to be
expensive to read. Each case asserts what the user sees and what the read may cost.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from formcheck.errors import VideoError
from formcheck.io.video import VideoFile


def _avi(path: Path, frames: int, size: tuple[int, int] = (64, 48), stated: int | None = None) -> Path:
    """A small MJPEG AVI; ``stated`` patches the frame count its headers give."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (i * 7) % 255, np.uint8))
    writer.release()
    if stated is not None:
        data = bytearray(path.read_bytes())
        struct.pack_into("<I", data, data.find(b"strh") + 8 + 32, stated)  # strh dwLength
        struct.pack_into("<I", data, data.find(b"avih") + 8 + 16, stated)  # avih dwTotalFrames
        path.write_bytes(data)
    return path


PLAYLISTS = {
    # a 40-byte concat playlist that names itself: FFmpeg used to open it again and again
    "concat_self.mp4": "ffconcat version 1.0\nfile concat_self.mp4\n",
    "concat_other.mp4": "ffconcat version 1.0\nfile '/etc/passwd'\n",
    "hls.mp4": "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nconcat_self.mp4\n#EXT-X-ENDLIST\n",
    "dash.mp4": '<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011"></MPD>',
    "bare_concat.mov": "file a.mp4\nfile b.mp4\n",
    "notes.webm": "Monday: 5 x 30 s backward jog, felt good.\n",
}


@pytest.mark.parametrize("name", sorted(PLAYLISTS))
def test_a_playlist_or_text_file_is_refused_without_being_followed(tmp_path, name):
    path = tmp_path / name
    path.write_text(PLAYLISTS[name])
    with pytest.raises(VideoError, match="text file") as caught:
        VideoFile(path)
    assert name in str(caught.value) and "\n" not in str(caught.value)


def test_a_concat_playlist_opens_no_more_files_than_itself(tmp_path):
    """In a process allowed only a few more file handles than it has, the refusal still comes cleanly."""
    path = tmp_path / "loop.mp4"
    path.write_text(PLAYLISTS["concat_self.mp4"].replace("concat_self", "loop"))
    script = textwrap.dedent(f"""
        import os, resource
        from formcheck.io.video import VideoFile
        from formcheck.errors import VideoError
        spare = len(os.listdir("/proc/self/fd")) + 8
        resource.setrlimit(resource.RLIMIT_NOFILE, (spare, spare))
        try:
            VideoFile({str(path)!r})
        except VideoError as exc:
            print("refused:", exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "refused:" in out.stdout and "text file" in out.stdout, out.stderr


@pytest.mark.parametrize("size", [(7680, 7680), (8200, 64)], ids=["59 megapixels", "8200 pixels wide"])
def test_frames_beyond_8k_are_refused_before_they_are_decoded(tmp_path, size):
    """A three-frame 7680x7680 clip used to take 1.5 GB in the CLI; now it is one line, exit 2, little memory."""
    path = _avi(tmp_path / "huge.avi", 3, size)
    script = ("import re, sys\nfrom formcheck.cli import main\ncode = main(sys.argv[1:])\n"  # VmHWM: this process's peak
              "print(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) // 1024)\n"
              "sys.exit(code)")
    out = subprocess.run([sys.executable, "-c", script, "analyze", str(path), "--out-dir", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2 and len(lines) == 1 and f"{size[0]}x{size[1]}" in lines[0], out.stderr
    assert "4K or less" in lines[0]
    assert int(out.stdout.split()[-1]) < 400  # MB: the frames were never decoded
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_header_that_understates_the_frame_count_cannot_make_a_clip_longer(tmp_path):
    """Limits are judged from the stated length; reading stops not far past it (2 s or half again)."""
    path = _avi(tmp_path / "under.avi", 300, stated=10)
    with VideoFile(path) as video:
        assert video.info.frames == 10
        read = sum(1 for _ in video)
    assert read == 10 + 60  # 2 s at 30 fps past the stated end, not the 300 frames in the file


def test_an_honest_header_reads_every_frame(tmp_path):
    with VideoFile(_avi(tmp_path / "honest.avi", 300)) as video:
        assert video.info.frames == 300 and sum(1 for _ in video) == 300


def test_a_stream_without_a_frame_count_is_counted_without_decoding(tmp_path):
    """A raw H.264 stream (a Raspberry Pi's .h264) has no count: its packets are counted, not decoded."""
    path = tmp_path / "pi.h264"
    with av.open(str(path), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(45):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 5, np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with VideoFile(path) as video:
        assert video.info.frames == 45 and sum(1 for _ in video) == 45


def test_a_video_stream_with_no_frames_is_a_clear_error(tmp_path):
    path = tmp_path / "empty_stream.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    with pytest.raises(VideoError, match="empty_stream.mp4") as caught:
        VideoFile(path)
    assert "\n" not in str(caught.value)


def test_reading_a_file_costs_no_more_file_handles_afterwards(tmp_path):
    path = _avi(tmp_path / "ok.avi", 30)
    before = len(list(Path("/proc/self/fd").iterdir()))
    for _ in range(20):
        with VideoFile(path) as video:
            sum(1 for _ in video)
    assert len(list(Path("/proc/self/fd").iterdir())) <= before + 1

