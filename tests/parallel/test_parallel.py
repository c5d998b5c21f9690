"""Pose over several processes (formcheck.parallel) gives the sequential result.

The chunked runs force two participants even on a one-core machine, and hand the second
half to the worker up front (``split``) so there is always a seam to check.
"""

from __future__ import annotations

import errno
import multiprocessing as mp
import time

import numpy as np
import pytest
from support.paths import TWO_PEOPLE

from formcheck import parallel
from formcheck.errors import OutputError, VideoError
from formcheck.io.video import VideoFile
from formcheck.io.writer import H264Writer
from formcheck.outputs.report import VideoRecord
from formcheck.parallel import pose_ranges, processes, render
from formcheck.parallel.board import OPEN, _Board
from formcheck.parallel.seeks import _Seeks
from formcheck.pipeline import analyse_pose
from formcheck.pose import LEFT_ANKLE, LEFT_HIP, RIGHT_ANKLE, RIGHT_HIP


def _run(clip, **kw):
    stats: dict = {}
    with VideoFile(clip) as video:
        raw = parallel.estimate_clip(video, stats=stats, **kw)
        info = video.info
    report, _ = analyse_pose(raw, VideoRecord(**info.to_dict()))
    return raw, report, stats


def _same_series(a, b) -> None:
    assert np.array_equal(a.frame_index, b.frame_index)
    assert np.array_equal(a.t_ms, b.t_ms)
    assert np.array_equal(a.detected, b.detected)
    np.testing.assert_allclose(a.xy[a.detected], b.xy[b.detected], atol=1e-6)


@pytest.fixture(scope="module")
def treadmill_runs(treadmill_clip):
    class NoPool:
        def __init__(self, *a, **k):
            raise AssertionError("the sequential path must not start worker processes")

    real = pose_ranges._Pool  # the name find_people looks up
    pose_ranges._Pool = NoPool
    try:
        sequential = _run(treadmill_clip, workers=1)
    finally:
        pose_ranges._Pool = real
    chunked = _run(treadmill_clip, workers=2, split=180)
    return sequential, chunked


@pytest.mark.slow
def test_chunked_report_matches_sequential(treadmill_runs):
    (raw_s, rep_s, stats_s), (raw_c, rep_c, stats_c) = treadmill_runs
    assert stats_s["parallel"] is False
    assert stats_c["parallel"] is True
    # the worker really did part of the clip, and the pieces meet at a seam
    assert {seg[0] for seg in stats_c["segments"]} == {0, 1}, stats_c
    assert any(seg[1] == 180 for seg in stats_c["segments"]), stats_c

    assert rep_c.direction == rep_s.direction
    assert rep_c.setting == rep_s.setting
    frames_s = [(c.foot, c.frame) for c in rep_s.contacts]
    frames_c = [(c.foot, c.frame) for c in rep_c.contacts]
    assert len(frames_c) == len(frames_s)
    for (foot_s, f_s), (foot_c, f_c) in zip(frames_s, frames_c):
        assert foot_c == foot_s and abs(f_c - f_s) <= 1
    assert rep_c.cadence_spm == pytest.approx(rep_s.cadence_spm, rel=0.005)
    # stronger: the stitched pose series is the sequential one
    _same_series(raw_s, raw_c)


@pytest.mark.slow
def test_mirrored_model_view_maps_back_and_survives_seams(treadmill_clip, treadmill_runs):
    """The model may be shown mirrored frames (so every runner faces the same way for it);
    the landmarks come back in the clip's own picture, with the clip's side labels."""
    (raw_plain, *_), _ = treadmill_runs
    raw_s, _, _ = _run(treadmill_clip, workers=1, mirror=True)
    raw_c, _, stats = _run(treadmill_clip, workers=2, split=180, mirror=True)
    assert stats["parallel"] is True
    _same_series(raw_s, raw_c)
    both = raw_s.detected & raw_plain.detected
    for joint in (LEFT_HIP, RIGHT_HIP, LEFT_ANKLE, RIGHT_ANKLE):
        miss = np.linalg.norm(raw_s.xy[both, joint] - raw_plain.xy[both, joint], axis=1)
        assert np.median(miss) < 0.05 * raw_s.height, joint


@pytest.mark.slow
def test_seam_follows_tracking_with_two_people():
    """With two people MediaPipe tracks instead of detecting, so a fresh landmarker at the seam
    sees fewer people; the seam must still not change the series (the caller extends its
    range until both landmarkers agree)."""
    raw_s, rep_s, _ = _run(TWO_PEOPLE, workers=1)
    raw_c, rep_c, stats = _run(TWO_PEOPLE, workers=2, split=100)
    assert {seg[0] for seg in stats["segments"]} == {0, 1}, stats
    _same_series(raw_s, raw_c)
    assert [c.frame for c in rep_c.contacts] == [c.frame for c in rep_s.contacts]


@pytest.mark.slow
def test_no_ranges_taken_once_several_people_are_in_view():
    """Seams rarely agree while MediaPipe tracks two people (the caller would redo the worker's
    frames), so a worker that finds the scene crowded takes no range."""
    _, _, stats = _run(TWO_PEOPLE, workers=2)
    assert stats["parallel"] is True
    assert [seg[0] for seg in stats["segments"]] == [0], stats
    assert stats["extension_frames"] == 0


def test_sequential_when_one_core_or_short(monkeypatch):
    monkeypatch.delenv("FORMCHECK_WORKERS", raising=False)
    monkeypatch.setattr(processes, "available_cpus", lambda: 1)  # where worker_count looks it up
    assert parallel.worker_count() == 1
    monkeypatch.setattr(processes, "available_cpus", lambda: 2)
    assert parallel.worker_count() == 2
    assert parallel.worker_count(1) == 1
    monkeypatch.setenv("FORMCHECK_WORKERS", "1")
    assert parallel.worker_count() == 1


@pytest.mark.slow
def test_part_of_a_file_stays_sequential(treadmill_clip, monkeypatch):
    """Workers read whole files; a VideoFile limited to some frames is run in this process."""
    monkeypatch.setattr(pose_ranges, "_Pool", None)  # any attempt to start workers would fail
    stats: dict = {}
    with VideoFile(treadmill_clip, max_frames=30) as video:
        raw = parallel.estimate_clip(video, workers=2, min_frames=10, stats=stats)
    assert stats["parallel"] is False
    assert len(raw) == 30


def test_worker_errors_surface_unchanged(tmp_path):
    """A FormcheckError raised in a worker process reaches the caller with its type and message."""
    from formcheck.pose.model import find_model

    ctx = processes._context()
    board = _Board(ctx, 2, 100)
    board.assign(1, 50)
    board.mirror.value = 0  # the caller's facing look is done
    missing = tmp_path / "gone.mp4"
    job = pose_ranges._Job(str(missing), 1.0, str(find_model()), 2, 0.5, n_est=100, overlap=5, min_left=25)
    pool = processes._Pool(ctx, board, job, 1, fn=pose_ranges._work)
    try:
        with pytest.raises(VideoError, match="does not exist"):
            pool.results([1], lambda: None)
    finally:
        board.close(aborted=True)
        pool.shutdown()


def test_board_steals_half_of_the_largest_range():
    board = _Board(mp.get_context("spawn"), 3, 300)
    assert board.steal(1, 300, overlap=5, min_left=25) == (153, OPEN)  # (0 + 300 + 5 + 1) // 2
    assert board.end[0] == 153
    for i in range(100):
        assert board.claim(0, i)
    assert board.steal(2, 300, overlap=5, min_left=25) == (229, OPEN)  # from participant 1
    assert not board.claim(1, 229) and board.claim(1, 228)
    board.cur[1] = board.end[1]
    board.cur[2] = 290
    assert board.steal(1, 300, overlap=5, min_left=25) == (129, 153)  # from the caller, 53 left
    assert board.steal(0, 300, overlap=5, min_left=100) is None  # nothing worth a warm-up
    # a seam that never agreed: participant 0 takes everything from 140 on alone
    board.done[2] = 200
    board.go_solo(0, 140)
    assert board.done[2] == 50  # its 150 frames past 140 no longer count
    assert not board.claim(1, 140) and board.claim(1, 139)  # ranges end at 140 now
    assert board.steal(2, 300, overlap=5, min_left=30) is None  # 29 and 0 frames left before 140


def _seg(p, start, frames, main_end=None, **lock):
    s = pose_ranges._Segment(p, start)
    s.index = list(frames)
    s.candidates = [np.zeros((0, 33, 3))] * len(s.index)
    s.t_ms = [float(i) for i in s.index]
    s.main_end = main_end if main_end is not None else (s.index[-1] + 1 if s.index else start)
    for k, v in lock.items():
        setattr(s, k, v)
    return s


def test_chain_follows_agreements():
    # caller: 0..59 own, extended to 64, where worker 1 agreed; worker 1 own 60..119, file ends
    a = _seg(0, 0, range(0, 65), main_end=60, lock_with=1, lock_at=64)
    b = _seg(1, 60, range(60, 120), exhausted=True)
    _, _, index, missing = pose_ranges._chain([b, a])
    assert index == list(range(120)) and missing is None
    # agreement already on the warm-up: the worker's range continues at once
    a = _seg(0, 0, range(0, 60), lock_with=1, lock_at=59, lock_warm=True)
    _, _, index, missing = pose_ranges._chain([a, b])
    assert index == list(range(120)) and missing is None
    # the worker died after agreeing: the chain says where to resume
    _, _, index, missing = pose_ranges._chain([a])
    assert index == list(range(60)) and missing == 60


def _decoded(path):
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        frames = [(f.pts, f.to_ndarray(format="gray")[::8, ::8].astype(np.int16)) for f in container.decode(stream)]
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat"), "not faststart"
    return frames


@pytest.mark.slow
def test_annotated_video_in_parts_matches_sequential(treadmill_clip, treadmill_runs, tmp_path, monkeypatch):
    """Parts encoded by two processes and joined without re-encoding: same frames, same times."""
    from formcheck.api import write_annotated_video

    _, (raw, _, _) = treadmill_runs
    with VideoFile(treadmill_clip) as video:
        report, evidence = analyse_pose(raw, VideoRecord(**video.info.to_dict()))
    monkeypatch.setenv("FORMCHECK_WORKERS", "1")
    write_annotated_video(treadmill_clip, tmp_path / "seq.mp4", report, evidence)
    stats: dict = {}
    title = f"{report.direction} {report.gait_type}"
    assert parallel.render_video(treadmill_clip, tmp_path / "par.mp4", evidence, report.rules, title, workers=2,
                                 stats=stats)
    assert len(stats["parts"]) >= 2, stats
    seq, par = _decoded(tmp_path / "seq.mp4"), _decoded(tmp_path / "par.mp4")
    assert [p for p, _ in par] == [p for p, _ in seq] == [3000 * i for i in range(360)]
    # lossy encodes of the same drawn frames (key frames differ at the joins): close, frame by frame
    diffs = [np.abs(a - b).mean() for (_, a), (_, b) in zip(seq, par)]
    assert max(diffs) < 4, max(diffs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["par.mp4", "seq.mp4"]  # no part files left


def test_steal_counts_the_seek_and_prefers_key_frames():
    ctx = mp.get_context("spawn")
    # a key frame just before the middle: the thief starts its warm-up right on it
    board = _Board(ctx, 2, 300)
    seeks = _Seeks([0, 150], decode=0.12)
    assert board.steal(1, 300, overlap=5, min_left=25, seeks=seeks) == (155, OPEN)
    # far from any key frame: the split moves so the decoding the seek needs is shared too
    board = _Board(ctx, 2, 300)
    seeks = _Seeks([0], decode=0.12)
    lo, _ = board.steal(1, 300, overlap=5, min_left=25, seeks=seeks)
    assert lo > 153 and abs(lo - (300 - lo + 5 + (lo - 5) * 0.12)) <= 2
    # not worth it: what is left would be spent decoding up to the seek point
    board = _Board(ctx, 2, 300)
    for i in range(260):
        board.claim(0, i)
    assert board.steal(1, 300, overlap=5, min_left=25, seeks=_Seeks([0], decode=0.5)) is None


class _FullDisk:
    """An output container whose disk has just filled up."""

    def __init__(self, container):
        self._container = container

    def mux(self, packet):
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self):
        self._container.close()


def _disk_fills_after(monkeypatch, frames: int, before=lambda writer: None) -> None:
    """Every H.264 writer in this process hits a full disk after ``frames`` frames."""
    real_write = H264Writer.write

    def write(self, bgr, t_ms=None):
        if self.frames_written == frames:
            before(self)
            self._container = _FullDisk(self._container)
        real_write(self, bgr, t_ms)

    monkeypatch.setattr(H264Writer, "write", write)


@pytest.fixture(scope="module")
def treadmill_evidence(treadmill_clip, treadmill_runs):
    _, (raw, _, _) = treadmill_runs
    with VideoFile(treadmill_clip) as video:
        report, evidence = analyse_pose(raw, VideoRecord(**video.info.to_dict()))
    return report, evidence


def _assert_names_output(error, dst) -> None:
    message = str(error)
    assert f"'{dst}'" in message and "disk is full" in message, message


@pytest.mark.slow
def test_full_disk_while_rendering_in_parts(treadmill_clip, treadmill_evidence, tmp_path, monkeypatch):
    """The caller's part hits a full disk while a worker is writing its own part: the error
    names the user's output and no part or temp file is left."""
    report, evidence = treadmill_evidence
    dst = tmp_path / "out.mp4"

    def once_a_worker_writes(writer) -> None:
        deadline = time.monotonic() + 30
        while not any(".part" in p.name and f"{writer.path.name}." not in p.name for p in tmp_path.iterdir()):
            assert time.monotonic() < deadline, "the worker never started a part"
            time.sleep(0.05)

    _disk_fills_after(monkeypatch, 100, before=once_a_worker_writes)
    with pytest.raises(OutputError) as err:
        parallel.render_video(treadmill_clip, dst, evidence, report.rules, "title", workers=2)
    _assert_names_output(err.value, dst)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_full_disk_in_a_render_worker(treadmill_clip, treadmill_evidence, tmp_path, monkeypatch):
    """A worker's part hits a full disk: it raises an error naming the user's output (the caller
    re-raises it unchanged) and leaves no temp file."""
    report, evidence = treadmill_evidence
    dst = tmp_path / "out.mp4"
    board = _Board(mp.get_context("spawn"), 2, 0)
    board.assign(1, 300)  # as a worker would be given frames 300.. of the clip
    with VideoFile(treadmill_clip) as video:
        info = video.info
    job = render._RenderJob(str(treadmill_clip), 1.0, str(dst), str(tmp_path / ".out.mp4.0123abcd"), info.fps,
                            info.width, info.height, info.frames, evidence, report.rules, "title")
    monkeypatch.setattr(processes, "_BOARD", board)  # as _init_worker sets it in a worker
    _disk_fills_after(monkeypatch, 5)
    with pytest.raises(OutputError) as err:
        render._render_work(job, 1)
    _assert_names_output(err.value, dst)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_annotated_video_panel_matches_the_drawn_panel(treadmill_clip, treadmill_evidence):
    """The annotated video lays its panel's fixed lines (title, cues), drawn once, over each
    frame: what the coach sees must be the panel ``draw_panel`` draws line by line."""
    from formcheck.outputs.render import Annotator, draw_panel

    report, evidence = treadmill_evidence
    annotator = Annotator(evidence, report.rules, title="forward run")
    with VideoFile(treadmill_clip, max_frames=30) as video:
        for frame in video:
            scale = max(frame.bgr.shape[:2]) / 1000.0
            values = annotator._live_values(frame.index)
            fast, drawn = frame.bgr.copy(), frame.bgr.copy()
            annotator._draw_panel(fast, scale, values)
            draw_panel(drawn, annotator.findings, scale, values, annotator.title)
            diff = np.abs(fast.astype(int) - drawn.astype(int))
            assert diff.mean() < 1.0 and (diff > 40).mean() < 0.005  # anti-aliased edges only
